"""The backend contract every inference engine implements: named tensors in, named tensors out.

:meth:`Backend.run` takes ``{input name: array}`` and returns ``{output name:
array}``, as Polygraphy's runners do, for a model of any task; the names,
dtypes and shapes are the task's (:mod:`edgeseg.tasks`, from the metadata):

- semantic: ``image`` uint8 N x H x W x C (BGR, or BGR + depth) -> ``labels``
  uint8 N x H x W;
- proposals (DeepMask, SharpMask): ``windows`` uint8 K x S x S x 3 BGR ->
  ``mask_logits`` float32 K x M x M and ``scores`` float32 K (probabilities).

Any N: a fixed-batch model runs chunks of ``batch_size``, the last padded
with zeros (black frames or windows) whose outputs are dropped; a dynamic-batch
model runs the whole batch at once. Outputs come in the contract's dtypes.

The label contract (``image`` uint8 NHWC BGR -> ``labels`` uint8) is a thin
layer on top: :meth:`Backend.infer`, and :meth:`Backend.require_semantic` for
code that needs labels.

Returned arrays belong to the caller (a backend that reuses an output buffer
returns a copy). A backend is a context manager; ``close()`` frees what it holds.
Subclasses implement :meth:`Backend._run` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata
from edgeseg.tasks import Task, task_of


class Backend(ABC):
    """One loaded model. Subclasses set ``name``, ``metadata``, ``batch_size`` and ``dynamic_batch``."""

    name: str = "base"
    metadata: ModelMetadata
    batch_size: int = 1
    dynamic_batch: bool = False
    """True when the model takes any N at once (no chunks, no padding)."""

    @property
    def model_task(self) -> Task:
        """The model's :class:`~edgeseg.tasks.Task`: its input and output names, dtypes and shapes."""
        return task_of(self.metadata)

    @property
    def task(self) -> str:
        """The task's name: ``semantic``, ``proposals``."""
        return self.metadata.task

    @property
    def input_name(self) -> str:
        return self.model_task.input_name

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.model_task.output_names

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) frames are resized to: the input of a semantic model, the frame windows are cut from for proposals."""
        return self.model_task.frame_size(self.metadata)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(N, H, W, C): the uint8 batch the model takes (N = ``batch_size``)."""
        height, width, channels = self.model_task.input_spec(self.metadata).shape
        assert height is not None and width is not None and channels is not None
        return (self.batch_size, height, width, channels)

    def check_input(self, images: np.ndarray) -> None:
        """Raise naming the expected shape and dtype if ``images`` does not fit the model's input."""
        _, height, width, channels = self.input_shape
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (height, width, channels):
            what, fix = self.model_task.describe_input(self.metadata)
            raise EdgesegError(
                f"{self.name} backend expects uint8 N x {height} x {width} x {channels} {what}, "
                f"got {images.dtype} {tuple(images.shape)}; {fix}"
            )

    def run(self, feed: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Named inputs (any N) -> named outputs; ``outputs`` None means all of the task's (:attr:`output_names`)."""
        names = tuple(self.output_names if outputs is None else outputs)
        if set(feed) != {self.input_name}:
            raise EdgesegError(f"{self.name} backend: the model takes one input, {self.input_name!r}; "
                               f"got {sorted(feed)}")
        unknown = [name for name in names if name not in self.output_names]
        if unknown:
            raise EdgesegError(f"{self.name} backend: no output {', '.join(map(repr, unknown))} "
                               f"(outputs: {', '.join(self.output_names)})")
        inputs = feed[self.input_name]
        self.check_input(inputs)
        if self.dynamic_batch or inputs.shape[0] == self.batch_size:
            return self._finish(self._run({self.input_name: inputs}, names))
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, inputs.shape[0], self.batch_size):
            chunk = inputs[start:start + self.batch_size]
            real = chunk.shape[0]
            if real < self.batch_size:
                chunk = np.concatenate([chunk, np.zeros((self.batch_size - real, *chunk.shape[1:]), np.uint8)])
            parts.append({name: value[:real] for name, value in self._run({self.input_name: chunk}, names).items()})
        return self._finish({name: np.concatenate([part[name] for part in parts]) for name in names})

    @cached_property
    def _contract_dtypes(self) -> dict[str, np.dtype]:
        # Read once: a loaded backend's metadata never changes, and run() is on the per-frame path.
        return self.model_task.output_dtypes(self.metadata)

    def _finish(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The outputs in the contract's dtypes (copies only where a dtype changes)."""
        dtypes = self._contract_dtypes
        for name, value in outputs.items():
            want = dtypes.get(name)
            if want is not None and value.dtype != want:
                outputs[name] = value.astype(want)
        return outputs

    @abstractmethod
    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The outputs ``names`` for ``feed`` (checked): exactly ``batch_size`` items, or any N for a
        dynamic-batch model. Dtypes may be the ones the file has; :meth:`run` converts them to the contract's."""

    # -- the label contract ----------------------------------------------------------------

    def require_semantic(self, what: str = "this") -> None:
        """Raise a clear error when a model without class labels reaches code that needs them."""
        if "labels" not in self.output_names:
            raise EdgesegError(
                f"{what} needs a semantic model (per-pixel class labels), but {self.metadata.architecture} is a "
                f"{self.task} model ({', '.join(self.output_names)}); run it with "
                "'edgeseg run MODEL --source ... --sink ...'"
            )

    def infer(self, images: np.ndarray) -> np.ndarray:
        """uint8 N x H x W x C BGR(D) ``image`` -> uint8 N x H x W ``labels`` (any N)."""
        self.require_semantic("labels inference (infer)")
        return self.run({"image": images}, ("labels",))["labels"]

    def close(self) -> None:
        """Free resources; the backend cannot be used afterwards."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
