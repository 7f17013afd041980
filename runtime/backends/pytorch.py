"""PyTorch backend: runs a checkpoint eagerly, for debugging and evaluation.

This backend alone imports torch and the model zoo (``edgeseg.train``), and
only when constructed; the rest of the runtime never needs them.
"""

from __future__ import annotations

import os

import numpy as np

from edgeseg.errors import require
from edgeseg.preprocess import normalize_image

from .base import Backend


class TorchBackend(Backend):
    """Runs an edgeseg checkpoint (``.pt``) on the CPU or a CUDA device."""

    name = "torch"

    def __init__(self, path: str | os.PathLike, device: str = "cpu"):
        self.torch = require("torch", "train")
        from edgeseg.errors import EdgesegError
        from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint
        from edgeseg.train.models import get_entry

        self.model, self.metadata = model_from_checkpoint(load_checkpoint(path), str(path))
        if get_entry(self.metadata.architecture).task != "semantic":
            # A proposals checkpoint records the window, not the frame size the runtime needs.
            raise EdgesegError(f"{path} is a proposals model ({self.metadata.architecture}); the torch backend runs "
                               f"semantic checkpoints only: export it first (edgeseg export {path} -o MODEL.onnx) "
                               "and run the ONNX")
        self.device = self.torch.device(device)
        self.model.to(self.device)
        self.batch_size = 1
        self.dynamic_batch = True  # eager PyTorch has no fixed batch: any N runs at once

    def logits(self, images: np.ndarray) -> np.ndarray:
        """float32 N x C x H x W logits for uint8 N x H x W x 3 BGR images."""
        spec = self.metadata.input
        x = self.torch.from_numpy(normalize_image(images, spec.mean, spec.std)).to(self.device)
        with self.torch.no_grad():
            return self.model(x).float().cpu().numpy()

    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {"labels": self.logits(feed["image"]).argmax(1).astype(np.uint8)}
