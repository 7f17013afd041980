"""Object proposals (DeepMask, SharpMask), export part: windows in, mask logits and score probabilities out.

The deployed graph (see :mod:`edgeseg.tasks.proposals`):

- input ``windows``: uint8 K x S x S x 3 BGR, S = the model's window
  (``arch_args["window"]``), cut from a frame by :func:`edgeseg.tasks.proposals.cut_windows`;
- in graph: the same :class:`~..wrapper.Preprocess` as semantic models
  (Cast, BGR -> RGB, ``(x - mean) / std``, NHWC -> NCHW);
- output ``mask_logits``: float32 K x M x M, the model's mask logits
  (the runtime thresholds only the few masks it keeps, so the per-pixel
  sigmoid stays out of the graph);
- output ``scores``: float32 K, objectness *probabilities* (the sigmoid of
  the score logit is applied in the graph, under ``/postprocess/`` so an FP16
  conversion would keep it in FP32).

K is fixed (TensorRT-friendly): by default the number of grid windows of one
frame at the exported frame size, so one frame is one inference; ``--batch``
overrides it (the runtime then runs a frame's windows in chunks of K, padding the last).

The frame size (``--height``/``--width``; default the training config's
``data.height``/``data.width``) becomes the metadata's ``input.height``/``width``:
the runtime resizes frames to it before cutting windows, as the semantic path
resizes frames to the model input.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.images import load_image_folder
from edgeseg.metadata import ModelMetadata
from edgeseg.tasks import TASKS
from edgeseg.tasks.proposals import cut_windows, window_boxes

from ..parity import Agree, Close, OutputCheck, default_parity_images
from ..tolerances import PROPOSALS_MASK_AGREEMENT, PROPOSALS_MASK_LOGITS_ATOL, PROPOSALS_SCORES_ATOL
from .base import ExportPlan, ExportTask, ParityInputs

if TYPE_CHECKING:
    from torch import nn

    from ..onnx_from_torch import ExportResult

PARITY_WINDOWS_PER_IMAGE = 16
"""Windows compared per parity image, evenly spread over the grid."""


def proposals_wrapper(model: nn.Module, mean: list[float], std: list[float]) -> nn.Module:
    """``model`` between :class:`~..wrapper.Preprocess` and a sigmoid on the score (an ``nn.Module``)."""
    import torch
    from torch import nn

    from ..wrapper import Preprocess

    class ScoreProbability(nn.Module):
        """float K objectness logits -> float K probabilities."""

        def forward(self, score_logits: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(score_logits)

    class ProposalsWrapper(nn.Module):
        """uint8 K x S x S x 3 BGR -> (float32 mask_logits K x M x M, float32 scores K in 0..1)."""

        def __init__(self) -> None:
            super().__init__()
            self.preprocess = Preprocess(mean, std)
            self.model = model.eval()
            self.postprocess = ScoreProbability()
            self.eval()  # see DeployWrapper: the exporter restores the training flag after tracing

        def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            mask_logits, score_logits = self.model(self.preprocess(windows))
            return mask_logits, self.postprocess(score_logits)

    return ProposalsWrapper()


def frame_size(ckpt: dict[str, Any], height: int | None, width: int | None, source: str) -> tuple[int, int]:
    """The frame size to export for: the arguments, else the training config's ``data.height``/``width``."""
    data = ckpt.get("config", {}).get("data", {}) if isinstance(ckpt.get("config"), dict) else {}
    height = data.get("height") if height is None else height
    width = data.get("width") if width is None else width
    if not isinstance(height, int) or not isinstance(width, int):
        raise EdgesegError(f"{source} does not record the frame size it was trained on; pass --height and --width "
                           "(the size frames are resized to before windows are cut, e.g. --height 360 --width 480)")
    if height <= 0 or width <= 0:
        raise EdgesegError(f"frame size {height}x{width} must be positive; pass --height and --width")
    return height, width


def window_geometry(model: Any, meta: ModelMetadata) -> tuple[int, int]:
    """``(window, stride)``: the checkpoint's ``arch_args``, else the model's own attributes."""
    window = meta.arch_args.get("window", getattr(model, "window", None))
    stride = meta.arch_args.get("stride", getattr(model, "grid_stride", None))
    if not isinstance(window, int) or not isinstance(stride, int) or window <= 0 or stride <= 0:
        raise EdgesegError(f"the checkpoint's window ({window!r}) and stride ({stride!r}) must be positive integers")
    return window, stride


def parity_windows(images: np.ndarray, boxes: np.ndarray, limit: int) -> np.ndarray:
    """uint8 N x S x S x 3: at most ``limit`` windows per frame, evenly spread over the grid."""
    keep = boxes if len(boxes) <= limit else boxes[np.linspace(0, len(boxes) - 1, limit).round().astype(int)]
    return np.concatenate([cut_windows(image, keep) for image in images])


class ProposalsExport(ExportTask):
    core = TASKS["proposals"]
    traced_outputs = ("mask_logits", "scores")
    parity_unit = "windows"

    def check_args(self, meta: ModelMetadata, *, with_logits: bool, parity_data: Any, qat: bool) -> None:
        if with_logits:
            raise EdgesegError("--logits is for semantic models; a proposals ONNX always outputs mask_logits and scores")
        if qat or meta.input.channels != 3:
            raise EdgesegError(f"architecture '{meta.architecture}' is a proposals model: its export takes a plain "
                               "(not quantization-aware) 3-channel checkpoint")

    def plan(self, ckpt: dict[str, Any], model: nn.Module, meta: ModelMetadata, *, height: int | None,
             width: int | None, batch: int | None) -> ExportPlan:
        window, stride = window_geometry(model, meta)
        height, width = frame_size(ckpt, height, width, str(meta.architecture))
        exported = replace(
            meta, task=self.name,
            # input is the frame now (windows are cut from it); any size works, so no multiple.
            input=replace(meta.input, height=height, width=width, multiple=1),
            arch_args={**meta.arch_args, "window": window, "stride": stride},
        )
        boxes = window_boxes(height, width, window, stride)
        return ExportPlan(exported, len(boxes) if batch is None else batch, (window, window, 3))

    def wrapper(self, model: nn.Module, meta: ModelMetadata) -> nn.Module:
        return proposals_wrapper(model, meta.input.mean, meta.input.std)

    def parity_inputs(self, plan: ExportPlan, *, images: str | os.PathLike | None, count: int,
                      data: str | os.PathLike | None, split: str) -> ParityInputs:
        """Windows of frames of ``images`` (resized to the frame size), evenly spread over the window grid."""
        folder = default_parity_images() if images is None else images
        meta = plan.metadata
        frames = load_image_folder(folder, meta.input.height, meta.input.width, count=count, what="parity image").images
        window, stride = meta.window_geometry
        boxes = window_boxes(meta.input.height, meta.input.width, window, stride)
        windows = parity_windows(frames, boxes, PARITY_WINDOWS_PER_IMAGE)
        return ParityInputs(windows, f"{len(frames)} images of {folder}")

    def parity_checks(self, qat: bool = False) -> tuple[OutputCheck, ...]:
        # No unpooling, so no switch near-ties: every value is bounded (tolerances.py says why these).
        return (Close("mask_logits", PROPOSALS_MASK_LOGITS_ATOL), Close("scores", PROPOSALS_SCORES_ATOL),
                Agree("mask_logits", PROPOSALS_MASK_AGREEMENT, "mask_agreement", "mask pixels agreeing", sign=True))

    def summary(self, result: ExportResult, with_logits: bool) -> str:
        meta, batch = result.metadata, result.batch
        window, stride = meta.window_geometry
        masks = "x".join(map(str, result.output_shapes["mask_logits"]))
        return (f"wrote {result.path}: windows uint8 {batch}x{window}x{window}x3 BGR -> mask_logits float32 "
                f"{masks}, scores float32 {batch} (probabilities); frames "
                f"{meta.input.height}x{meta.input.width}, stride {stride}; opset {meta.opset}")

    def next_step(self, result: ExportResult) -> str:
        return f"next: edgeseg run {result.path} --source VIDEO --sink out.mp4"
