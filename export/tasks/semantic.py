"""Semantic segmentation, export part: :class:`~..wrapper.DeployWrapper`, parity on logits and labels."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from edgeseg.datasets import frame_depth_scale
from edgeseg.errors import EdgesegError
from edgeseg.images import load_image_folder
from edgeseg.metadata import ModelMetadata
from edgeseg.tasks import TASKS

from ..parity import Agree, Close, OutputCheck, default_parity_images
from ..tolerances import FP32_LABEL_AGREEMENT, FP32_LOGITS_ATOL, FP32_LOGITS_MAX_OUTLIERS, QAT_LABEL_AGREEMENT
from .base import ExportPlan, ExportTask, ParityInputs

if TYPE_CHECKING:
    from torch import nn

    from ..onnx_from_torch import ExportResult

log = logging.getLogger("edgeseg.export")


def check_input_size(height: int, width: int, multiple: int, architecture: str) -> None:
    """Raise unless ``height`` and ``width`` are positive multiples of ``multiple``."""
    for name, value in (("height", height), ("width", width)):
        if value <= 0 or value % multiple:
            lower = max(multiple, value // multiple * multiple)
            raise EdgesegError(
                f"{name} {value} is not a positive multiple of {multiple}, which architecture '{architecture}' "
                f"needs for H and W; use --{name} {lower} or {lower + multiple}"
            )


def label_parity_checks(qat: bool = False) -> tuple[OutputCheck, ...]:
    """``logits`` close (a bounded fraction beyond the tolerance, see :mod:`..parity`) and ``labels`` agreeing;
    ``qat``: labels only (rounding at INT8 boundaries may differ, so not bitwise logits)."""
    labels = Agree("labels", QAT_LABEL_AGREEMENT if qat else FP32_LABEL_AGREEMENT, "label_agreement", "label agreement")
    if qat:
        return (labels,)
    return (Close("logits", FP32_LOGITS_ATOL, FP32_LOGITS_MAX_OUTLIERS, what="logits"), labels)


class SemanticExport(ExportTask):
    core = TASKS["semantic"]
    traced_outputs = ("labels", "logits")

    def check_args(self, meta: ModelMetadata, *, with_logits: bool, parity_data: Any, qat: bool) -> None:
        from edgeseg.train.models import get_entry

        entry = get_entry(meta.architecture)
        if entry.in_channels != meta.input.channels:
            raise EdgesegError(
                f"architecture '{meta.architecture}' takes {entry.in_channels} input channels, but the checkpoint's "
                f"metadata says {meta.input.channels}; it does not fit the export contract (BGR or BGR + depth in)"
            )
        if parity_data is not None and meta.input.channels != 4:
            raise EdgesegError(f"--parity-data gives colour + depth frames, for RGB-D models; {meta.architecture} "
                               "takes BGR only: use --parity-images DIR")

    def plan(self, ckpt: dict[str, Any], model: nn.Module, meta: ModelMetadata, *, height: int | None,
             width: int | None, batch: int | None) -> ExportPlan:
        from edgeseg.train.models import get_entry

        height = meta.input.height if height is None else height
        width = meta.input.width if width is None else width
        multiple = max(get_entry(meta.architecture).input_multiple, meta.input.multiple)
        check_input_size(height, width, multiple, meta.architecture)
        exported = replace(meta, input=replace(meta.input, height=height, width=width, multiple=multiple))
        return ExportPlan(exported, 1 if batch is None else batch, (height, width, meta.input.channels))

    def wrapper(self, model: nn.Module, meta: ModelMetadata) -> nn.Module:
        from ..wrapper import DeployWrapper

        return DeployWrapper(model, meta.input.mean, meta.input.std, with_logits=True)

    def kept_outputs(self, with_logits: bool) -> tuple[str, ...]:
        return ("labels", "logits") if with_logits else ("labels",)

    def parity_inputs(self, plan: ExportPlan, *, images: str | os.PathLike | None, count: int,
                      data: str | os.PathLike | None, split: str) -> ParityInputs:
        """3 channels: the images of ``images``. 4 channels (RGB-D): the colour + depth frames of the RGB-D
        data set ``data`` if given, else the images with a deterministic vertical depth ramp."""
        from ..rgbd_frames import RAMP_FAR, RAMP_NEAR, load_rgbd_frames, with_ramp_depth

        spec = plan.metadata.input
        depth_scale = frame_depth_scale(spec)
        if data is not None and depth_scale is not None:  # check_args refused parity data for BGR models
            frames = load_rgbd_frames(data, split, spec.height, spec.width, depth_scale, count=count,
                                      what="parity").images
            return ParityInputs(frames, f"{data} [{split}] (colour + depth)")
        folder = default_parity_images() if images is None else images
        loaded = load_image_folder(folder, spec.height, spec.width, count=count, what="parity image").images
        if spec.channels == 3:
            return ParityInputs(loaded, str(folder))
        log.info("no --parity-data: parity frames are the images of %s with a made-up depth channel (vertical ramp "
                 "%d..%d, top to bottom); pass --parity-data ROOT (an RGB-D data set) to check on real depth",
                 folder, RAMP_FAR, RAMP_NEAR)
        return ParityInputs(with_ramp_depth(loaded), f"{folder} + depth ramp {RAMP_FAR}..{RAMP_NEAR}")

    def parity_checks(self, qat: bool = False) -> tuple[OutputCheck, ...]:
        return label_parity_checks(qat)

    def summary(self, result: ExportResult, with_logits: bool) -> str:
        spec = result.metadata.input
        layout = "3 BGR" if spec.channels == 3 else f"4 BGR + depth ({spec.depth_scale:g} mm per step)"
        kind = " (int8, Q/DQ from quantization-aware training)" if result.qat else ""
        outputs = ", ".join(result.output_shapes)
        return (f"wrote {result.path}{kind}: image uint8 {result.batch}x{spec.height}x{spec.width}x{layout} -> "
                f"{outputs}; opset {result.metadata.opset}")

    def next_step(self, result: ExportResult) -> str:
        if result.qat:
            return f"next: edgeseg build {result.path}"
        calib = "calib_data/camvid" if result.metadata.input.channels == 3 else "RGBD_DATA_ROOT"
        return f"next: edgeseg quantize {result.path} --precision int8 --calib {calib}"
