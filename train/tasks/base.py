"""The :class:`TrainTask` interface: a task's torch part (data, loss, validation, checkpoint metadata).

:func:`edgeseg.train.trainer.train` is one loop for every task: run folder,
device, data-parallel ranks, speed plan, optimizer, poly schedule, resume,
divergence checks, metrics lines and checkpoints. It asks the architecture's
task (``ModelEntry.task``) for what differs: :meth:`TrainTask.start` loads the
data and returns a :class:`TaskRun`, which turns batches into inputs and a
loss, scores the validation set and writes the checkpoint's metadata.

The same part gives :meth:`TrainTask.reference_outputs`: the eager model's
outputs under the deployed contract's names, which the export's parity check
and the torch backend both use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec, ModelMetadata

from ..config import TrainConfig
from ..distributed import DistContext
from ..models import get_entry
from ..speed import SpeedPlan, plan_speed


def input_spec_from_config(cfg: TrainConfig) -> InputSpec:
    """The model input the config trains: channels (4 for ``rgbd`` data: BGR + depth) and depth scale.

    The one place a training config's input spec is read; raises if the
    architecture takes another channel count or ``mean``/``std`` do not fit.
    """
    entry = get_entry(cfg.model.name)
    data = cfg.data
    channels = 4 if data.kind == "rgbd" else 3
    if entry.in_channels != channels:
        raise EdgesegError(
            f"{entry.name} takes {entry.in_channels}-channel input but data.kind {data.kind!r} gives {channels}; "
            + ("use an RGB-D data set (data.kind = \"rgbd\")" if entry.in_channels == 4 else "use an RGB data set")
        )
    if len(data.mean) != channels or len(data.std) != channels:
        raise EdgesegError(f"data.mean and data.std need {channels} entries for data.kind {data.kind!r} "
                           "(R, G, B" + (", depth)" if channels == 4 else ")"))
    return InputSpec(height=data.height, width=data.width, mean=list(data.mean), std=list(data.std),
                     multiple=entry.input_multiple, channels=channels,
                     depth_scale=data.depth_scale if channels == 4 else None)


class EpochDataset(Protocol):
    """A map-style data set whose samples are drawn anew (seeded) each epoch."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...

    def set_epoch(self, epoch: int) -> None: ...


class TaskRun(ABC):
    """One training run's task state: its data sets and what the loop asks per batch and per epoch."""

    train_set: EpochDataset
    """Samples of the training split; ``set_epoch(epoch)`` reseeds their augmentation."""

    @abstractmethod
    def inputs(self, batch: Any, device: torch.device, channels_last: bool) -> tuple[torch.Tensor, Any]:
        """A collated batch -> (the model's float input on ``device``, the loss's targets on ``device``)."""

    @abstractmethod
    def loss_sum(self, outputs: Any, targets: Any, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | float]:
        """(sum, normaliser) of the loss: ``sum / normaliser`` is the batch loss; normalisers add over ranks.

        Runs inside the compiled step (:class:`~edgeseg.train.step_loss.ForwardLoss`): keep the
        normaliser a detached tensor (or a constant float), never ``float(tensor)``, which splits the graph.
        """

    @abstractmethod
    def evaluate(self, model: nn.Module, device: torch.device, ctx: DistContext) -> dict[str, Any]:
        """Validation metrics for the metrics line (the same on every rank); the task's best metric among them."""

    @abstractmethod
    def metadata(self, cfg: TrainConfig, model: nn.Module, record: dict[str, Any], best: float) -> ModelMetadata:
        """The checkpoint's metadata after the epoch of ``record`` (``best``: the best metric so far)."""


class TrainTask(ABC):
    """A task's training part. Subclasses set :attr:`name` (the core task's) and the best metric."""

    name: str = ""
    best_metric: str = ""
    """The validation metric ``best.pt`` follows (higher is better), stored as the checkpoint's ``best_miou``."""
    best_metric_text: str = ""
    """Its name in the log line: ``val mIoU``."""
    scalar_metrics: tuple[str, ...] = ()
    """Validation metrics written to TensorBoard."""

    def check_config(self, cfg: TrainConfig, *, qat: bool) -> None:
        """Raise for a config this task cannot train (before anything is read or written)."""

    def speed(self, cfg: TrainConfig, device: torch.device) -> SpeedPlan:
        """How the run uses the hardware (:func:`~edgeseg.train.speed.plan_speed`)."""
        return plan_speed(cfg, device)

    @abstractmethod
    def num_outputs(self, cfg: TrainConfig) -> int:
        """The ``num_classes`` the architecture is built with."""

    def item_size(self, model: nn.Module, height: int, width: int) -> tuple[int, int]:
        """(H, W) of one input item of ``model`` for frames of ``height`` x ``width`` (default: the frame)."""
        return height, width

    def parameters(self, model: nn.Module) -> Iterable[nn.Parameter]:
        """The parameters the optimizer updates."""
        return model.parameters()

    @abstractmethod
    def start(self, cfg: TrainConfig, model: nn.Module, ctx: DistContext, device: torch.device) -> TaskRun:
        """Load the data for ``model`` (built, on ``device``) and return the run's task state."""

    @abstractmethod
    def reference_outputs(self, model: nn.Module, meta: ModelMetadata, inputs: np.ndarray,
                          device: torch.device | None = None) -> dict[str, np.ndarray]:
        """The eager model's outputs, by the deployed contract's names, for the contract's uint8 input."""
