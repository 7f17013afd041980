"""The backend contract every inference engine implements.

Semantic models (``metadata.task == "semantic"``): ``infer(images) -> labels``:
``images`` is uint8, N x H x W x 3, BGR (what OpenCV delivers), H and W the
model's input size; ``labels`` is uint8, N x H x W, class indices.

Proposal models (``metadata.task == "proposals"``, DeepMask/SharpMask):
``infer_outputs(windows) -> {"mask_logits": ..., "scores": ...}``: ``windows``
is uint8 N x S x S x 3 BGR (S = ``arch_args["window"]``); ``mask_logits`` is
float32 N x M x M (logits), ``scores`` float32 N (objectness probabilities,
0..1). ``infer`` refuses them: they have no labels.

Returned arrays belong to the caller (a backend that reuses an output buffer
returns a copy).

A backend is a context manager; ``close()`` frees what it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata


class Backend(ABC):
    """One loaded model. Subclasses set ``name``, ``metadata`` and ``batch_size``."""

    name: str = "base"
    metadata: ModelMetadata
    batch_size: int = 1

    @property
    def task(self) -> str:
        """``semantic`` (labels out, :meth:`infer`) or ``proposals`` (masks and scores out, :meth:`infer_outputs`)."""
        return self.metadata.task

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) frames are resized to: the input of a semantic model, the frame windows are cut from for proposals."""
        return self.metadata.input.height, self.metadata.input.width

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(N, H, W, C): the uint8 batch the model takes.

        Semantic: BGR (C = 3) or BGR + depth (C = 4, RGB-D models) frames at
        the model size. Proposals: BGR windows, H = W = the window side.
        """
        if self.task == "proposals":
            window, _ = self.metadata.window_geometry
            return (self.batch_size, window, window, 3)
        spec = self.metadata.input
        return (self.batch_size, spec.height, spec.width, spec.channels)

    def check_input(self, images: np.ndarray) -> None:
        """Raise naming the expected shape and dtype if ``images`` does not fit."""
        _, height, width, channels = self.input_shape
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (height, width, channels):
            what = "BGR" if channels == 3 else "BGR + depth"
            if self.task == "proposals":
                what, fix = "BGR windows", "cut windows with edgeseg.runtime.proposals.cut_windows"
            else:
                what, fix = f"{what} images", "resize frames to the model input first"
            raise EdgesegError(
                f"{self.name} backend expects uint8 N x {height} x {width} x {channels} {what}, "
                f"got {images.dtype} {tuple(images.shape)}; {fix}"
            )

    def require_semantic(self, what: str = "this") -> None:
        """Raise a clear error when a proposals model reaches code that needs class labels."""
        if self.task != "semantic":
            raise EdgesegError(
                f"{what} needs a semantic model (per-pixel class labels), but {self.metadata.architecture} is a "
                f"{self.task} model (object masks with scores); run it with 'edgeseg run MODEL --source ... --sink ...'"
            )

    def infer(self, images: np.ndarray) -> np.ndarray:
        """uint8 N x H x W x 3 BGR -> uint8 N x H x W labels (any N; split into the model's batch)."""
        self.require_semantic("labels inference (infer)")
        self.check_input(images)
        return self._in_batches(images, lambda chunk: {"labels": self._infer(chunk)})["labels"]

    def _in_batches(self, inputs: np.ndarray, run) -> dict[str, np.ndarray]:
        """``run`` (exactly ``batch_size`` inputs -> outputs by name) over any N inputs.

        The last chunk of a fixed-batch model is padded with zeros (black
        frames or windows) and the padding's outputs are dropped.
        """
        n = inputs.shape[0]
        if n == self.batch_size:
            return run(inputs)
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, n, self.batch_size):
            chunk = inputs[start:start + self.batch_size]
            real = chunk.shape[0]
            if real < self.batch_size:
                chunk = np.concatenate([chunk, np.zeros((self.batch_size - real, *chunk.shape[1:]), np.uint8)])
            parts.append({name: value[:real] for name, value in run(chunk).items()})
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    @abstractmethod
    def _infer(self, images: np.ndarray) -> np.ndarray:
        """Run exactly ``batch_size`` images."""

    def infer_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the model, by name, for a uint8 batch of :attr:`input_shape` (any N).

        Proposals: uint8 N x S x S x 3 BGR windows -> ``mask_logits`` float32
        N x M x M and ``scores`` float32 N (probabilities). A fixed-batch model
        runs chunks of ``batch_size``, the last padded with black windows whose
        outputs are dropped.
        """
        self.check_input(inputs)
        return self._in_batches(inputs, self._infer_outputs)

    def _infer_outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run exactly ``batch_size`` inputs, returning every output (backends that run proposals override this)."""
        raise EdgesegError(f"the {self.name} backend does not run {self.task} models; use --backend onnxruntime")

    def close(self) -> None:
        """Free resources; the backend cannot be used afterwards."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
