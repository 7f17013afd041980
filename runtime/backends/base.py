"""The backend contract every inference engine implements.

``infer(images) -> labels``: ``images`` is uint8, N x H x W x 3, BGR (what
OpenCV delivers), H and W the model's input size; ``labels`` is uint8,
N x H x W, class indices. The returned array belongs to the caller (a backend
that reuses an output buffer returns a copy).

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
    def input_shape(self) -> tuple[int, int, int, int]:
        """(N, H, W, C): the uint8 BGR (C = 3) or BGR + depth (C = 4, RGB-D models) batch ``infer`` takes."""
        spec = self.metadata.input
        return (self.batch_size, spec.height, spec.width, spec.channels)

    def check_input(self, images: np.ndarray) -> None:
        """Raise naming the expected shape and dtype if ``images`` does not fit."""
        _, height, width, channels = self.input_shape
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (height, width, channels):
            what = "BGR" if channels == 3 else "BGR + depth"
            raise EdgesegError(
                f"{self.name} backend expects uint8 N x {height} x {width} x {channels} {what} images, "
                f"got {images.dtype} {tuple(images.shape)}; resize frames to the model input first"
            )

    def infer(self, images: np.ndarray) -> np.ndarray:
        """uint8 N x H x W x 3 BGR -> uint8 N x H x W labels (any N; split into the model's batch)."""
        self.check_input(images)
        n = images.shape[0]
        if n == self.batch_size:
            return self._infer(images)
        outputs = []
        for start in range(0, n, self.batch_size):
            chunk = images[start:start + self.batch_size]
            real = chunk.shape[0]
            if real < self.batch_size:  # pad the last chunk of a fixed-batch model
                pad = np.zeros((self.batch_size - real, *chunk.shape[1:]), np.uint8)
                chunk = np.concatenate([chunk, pad])
            outputs.append(self._infer(chunk)[:real])
        return np.concatenate(outputs)

    @abstractmethod
    def _infer(self, images: np.ndarray) -> np.ndarray:
        """Run exactly ``batch_size`` images."""

    def close(self) -> None:
        """Free resources; the backend cannot be used afterwards."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
