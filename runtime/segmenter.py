"""The Python API: load any artifact, segment frames of any size, draw the result.

::

    from edgeseg.runtime import Segmenter, open_sink, open_source

    with Segmenter("models/camvid_enet.pt") as seg:      # .pt, .onnx or .engine
        labels = seg.segment(frame)                       # uint8 H x W class indices, the frame's size
        image = seg.overlay(frame, labels, legend=True)   # uint8 H x W x 3 BGR

:class:`Segmenter` does what ``edgeseg run`` does per frame -- resize the
frame to the model's input (bilinear), infer, resize the labels back
(``point`` or ``linear``, :mod:`.upsample`) -- without threads, so a user's
own loop stays a plain ``while``. For a camera at full rate with frame
dropping, use :class:`~.pipeline.Pipeline` (what ``edgeseg run`` uses).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata

from .backend_flags import check_backend_flags
from .backends import open_backend
from .overlay import OverlayRenderer
from .upsample import upsample_labels


class Segmenter:
    """A semantic-segmentation model ready for frames.

    Args:
        artifact: checkpoint ``.pt`` (torch), ``.onnx`` (onnxruntime) or ``.engine`` (TensorRT).
        backend: ``auto`` (by suffix), ``onnxruntime``, ``tensorrt`` or ``torch``.
        providers: onnxruntime execution providers in order (``["cuda", "cpu"]``); None: CPU.
        threads: onnxruntime intra-op threads (0: its default).
        filter: how labels are resized to the frame: ``point`` or ``linear``.

    Attributes:
        metadata: the artifact's :class:`~edgeseg.metadata.ModelMetadata`.
        classes: class names, index = label value.
        input_size: (height, width) the model runs at.
    """

    def __init__(self, artifact: str | os.PathLike, *, backend: str = "auto", providers: Sequence[str] | None = None,
                 threads: int = 0, filter: str = "point"):
        check_backend_flags(artifact, backend, providers, threads)
        self.backend = open_backend(artifact, backend, providers=list(providers) if providers else None, threads=threads)
        try:
            self.backend.require_semantic("Segmenter (it returns label maps)")
        except BaseException:
            self.backend.close()
            raise
        self.metadata: ModelMetadata = self.backend.metadata
        self.classes: list[str] = list(self.metadata.classes)
        self.input_size: tuple[int, int] = self.backend.frame_size
        self.filter = filter
        upsample_labels(np.zeros((1, 1), np.uint8), 1, 1, filter)  # checks the name now
        self._renderers: dict[tuple[Any, ...], OverlayRenderer] = {}

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """uint8 H x W x C frame (C = 3 BGR, 4 BGR + depth for RGB-D models), any size ->
        uint8 H x W class indices at the frame's size."""
        channels = self.metadata.input.channels
        if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == channels):
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise EdgesegError(f"Segmenter.segment wants one uint8 H x W x {channels} {'BGR' if channels == 3 else 'BGR + depth'} "
                               f"frame (as OpenCV reads it); got {got}")
        height, width = self.input_size
        small = frame if frame.shape[:2] == (height, width) else cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
        labels = self.backend.infer(np.ascontiguousarray(small)[None])[0]
        return upsample_labels(labels, frame.shape[0], frame.shape[1], self.filter)

    def overlay(self, frame: np.ndarray, labels: np.ndarray | None = None, *, view: str = "overlay", alpha: float = 0.5,
                legend: bool = False, ignore: Sequence[int | str] = (), fps: float | None = None) -> np.ndarray:
        """The frame with its labels drawn (``labels`` None: segment it first).

        Args:
            frame: uint8 H x W x 3 BGR.
            labels: uint8 class indices of any size (resized to the frame), e.g. from :meth:`segment`.
            view: ``overlay``, ``mask`` or ``side-by-side`` (2W wide).
            alpha: colour weight over the frame; legend: list the classes in view;
            ignore: class names or indices not drawn; fps: a figure to print top right.

        Returns:
            uint8 BGR image, a new array.
        """
        if labels is None:
            labels = self.segment(frame)
        key = (view, alpha, legend, tuple(ignore))
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = self._renderers[key] = OverlayRenderer(
                self.metadata.palette, self.classes, alpha=alpha, mode=view, legend=legend, filter=self.filter,
                ignore=ignore, show_fps=fps is not None)
        return renderer.render(np.ascontiguousarray(frame[..., :3]), labels, fps)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Segmenter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Segmenter"]
