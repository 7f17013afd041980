"""The :class:`ExportTask` interface: a task's export part (wrapper, sizes, parity inputs and checks, metadata).

Light to import (no torch, onnx or onnxruntime until a method needs them), like the rest of the export stage.

:func:`edgeseg.export.onnx_from_torch.export_checkpoint` is the one export
path for every task (and for QAT checkpoints): it asks the architecture's
task for the export plan (sizes, batch), the wrapped module it traces, the
parity inputs and the checks of :mod:`..parity`, and the exported metadata.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeseg.metadata import ModelMetadata
from edgeseg.tasks import Task

from ..parity import OutputCheck

if TYPE_CHECKING:
    from torch import nn

    from edgeseg.train.tasks import TrainTask

    from ..onnx_from_torch import ExportResult


@dataclass(frozen=True)
class ExportPlan:
    """What one export writes.

    Attributes:
        metadata: the exported model's metadata, before precision, opset, hashes and tool versions.
        batch: the ONNX's fixed batch.
        input_shape: sizes of the traced input after the batch (H, W, C).
    """

    metadata: ModelMetadata
    batch: int
    input_shape: tuple[int, int, int]


@dataclass(frozen=True)
class ParityInputs:
    """uint8 inputs at the model's input size for the parity check, and where they came from (for the log)."""

    inputs: np.ndarray
    source: str


class ExportTask(ABC):
    """A task's export part. Subclasses set :attr:`core`, :attr:`training` and the traced output names."""

    core: Task
    traced_outputs: tuple[str, ...] = ()
    """The wrapper's outputs, in order: the task's outputs, then any kept only on request (``logits``)."""
    parity_unit: str = "images"

    @property
    def name(self) -> str:
        return self.core.name

    @property
    def training(self) -> TrainTask:
        """The task's training part: the eager reference outputs the parity check compares with (imports torch)."""
        from edgeseg.train.tasks import TRAIN_TASKS

        return TRAIN_TASKS[self.name]

    def check_args(self, meta: ModelMetadata, *, with_logits: bool, parity_data: Any, qat: bool) -> None:
        """Refuse a checkpoint or export options this task does not take (default: none)."""

    @abstractmethod
    def plan(self, ckpt: dict[str, Any], model: nn.Module, meta: ModelMetadata, *, height: int | None,
             width: int | None, batch: int | None) -> ExportPlan:
        """Sizes and batch of the export (None: the checkpoint's), checked; raises naming a fix."""

    @abstractmethod
    def wrapper(self, model: nn.Module, meta: ModelMetadata) -> nn.Module:
        """``model`` with in-graph pre/post-processing: uint8 input -> :attr:`traced_outputs`."""

    def kept_outputs(self, with_logits: bool) -> tuple[str, ...]:
        """The outputs written (the others are dropped after the parity check)."""
        return self.traced_outputs

    @abstractmethod
    def parity_inputs(self, plan: ExportPlan, *, images: str | os.PathLike | None, count: int,
                      data: str | os.PathLike | None, split: str) -> ParityInputs:
        """uint8 inputs for the parity check at the plan's input size."""

    @abstractmethod
    def parity_checks(self, qat: bool = False) -> tuple[OutputCheck, ...]:
        """How the ONNX's outputs are compared with the eager model's (``qat``: a fake-quantized model)."""

    @abstractmethod
    def summary(self, result: ExportResult, with_logits: bool) -> str:
        """The ``wrote ...`` line of ``edgeseg export``: the written I/O in words."""

    @abstractmethod
    def next_step(self, result: ExportResult) -> str:
        """The command to run next (``edgeseg quantize ...``)."""
