"""The :class:`RuntimeTask` interface: a task's runtime part (numpy and OpenCV; no torch).

Per frame, the pipeline asks the model's task for a :class:`Predictor`
(resized frame -> the task's prediction, through any backend's
:meth:`~edgeseg.runtime.backends.base.Backend.run`) and a :class:`Renderer`
(frame + prediction -> the image the sinks get). ``edgeseg run`` asks it for
both from its command line.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from typing import Any, Protocol

import numpy as np

from edgeseg.errors import EdgesegError

from ..backends.base import Backend


class Predictor(Protocol):
    """image uint8 h x w x C at the backend's frame size -> the task's prediction for that frame."""

    def __call__(self, image: np.ndarray, /) -> Any: ...


class Renderer(Protocol):
    """Draws one prediction over its frame."""

    def render(self, frame: np.ndarray, prediction: Any, fps: float | None = None) -> np.ndarray:
        """uint8 H x W x 3 BGR frame (source size) -> uint8 H x W x 3 BGR image for the sinks (a new array)."""
        ...


class RuntimeTask(ABC):
    """A task's runtime part. Subclasses set :attr:`name` (the core task's) and :attr:`flags`."""

    name: str = ""
    models: str = ""
    """The task's models in messages: ``proposal models (DeepMask, SharpMask)``."""
    flags: dict[str, str] = {}
    """``edgeseg run`` options only this task takes: argparse dest -> flag (refused for models of other tasks)."""

    @abstractmethod
    def predictor(self, backend: Backend, args: argparse.Namespace | None = None) -> Predictor:
        """The per-frame predictor (``args``: ``edgeseg run``'s options; None: the defaults)."""

    @abstractmethod
    def renderer(self, backend: Backend, args: argparse.Namespace, view: str) -> Renderer:
        """The renderer ``edgeseg run`` draws with (``view``: overlay, mask, side-by-side)."""

    @abstractmethod
    def describe(self, backend: Backend, predictor: Predictor) -> str:
        """What one frame's prediction is, for the run's log line (``11 classes``)."""

    def sink_labels(self, prediction: Any) -> np.ndarray | None:
        """uint8 h x w class labels of a prediction, for sinks that write label maps; None: it has none."""
        return None

    def check_flags(self, args: argparse.Namespace, artifact: str, others: list[RuntimeTask]) -> None:
        """Refuse the ``edgeseg run`` options of the ``others`` tasks given for this task's model."""
        for other in others:
            given = [flag for dest, flag in other.flags.items() if getattr(args, dest, None) is not None]
            if given:
                raise EdgesegError(f"{', '.join(given)}: for {other.models}; {artifact} is a {self.name} model")
