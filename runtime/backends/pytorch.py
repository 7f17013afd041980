"""PyTorch backend: runs a checkpoint eagerly, for debugging and evaluation.

This backend alone imports torch and the model zoo (``edgeseg.train``), and
only when constructed; the rest of the runtime never needs them. Its outputs
are the architecture's task's reference outputs
(:meth:`edgeseg.train.tasks.TrainTask.reference_outputs`: what the export's
parity check compares an ONNX with), by the deployed contract's names.
"""

from __future__ import annotations

import os

import numpy as np

from edgeseg.errors import EdgesegError, require

from .base import Backend


class TorchBackend(Backend):
    """Runs an edgeseg checkpoint (``.pt``) on the CPU or a CUDA device, any batch at once."""

    name = "torch"

    def __init__(self, path: str | os.PathLike, device: str = "cpu"):
        self.torch = require("torch", "train")
        from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint
        from edgeseg.train.tasks import train_task

        self.model, self.metadata = model_from_checkpoint(load_checkpoint(path), str(path))
        self.training_task = train_task(self.metadata.architecture)
        if self.training_task.name != self.metadata.task:
            # A proposals checkpoint's metadata records its training window, not the frame size (and task) the
            # runtime needs: only its export writes those.
            raise EdgesegError(f"{path} is a {self.training_task.name} model ({self.metadata.architecture}); the torch "
                               f"backend runs semantic checkpoints only: export it first (edgeseg export {path} -o "
                               "MODEL.onnx) and run the ONNX")
        self.device = self.torch.device(device)
        self.model.to(self.device)
        self.batch_size = 1
        self.dynamic_batch = True  # eager PyTorch has no fixed batch

    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        outputs = self.training_task.reference_outputs(self.model, self.metadata, feed[self.input_name], self.device)
        return {name: outputs[name] for name in names}
