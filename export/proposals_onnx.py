"""Proposals checkpoint (DeepMask, SharpMask) -> FP32 ONNX with the proposals contract, parity-tested.

The deployed graph (see :mod:`edgeseg.metadata`, ``task = "proposals"``):

- input ``windows``: uint8 K x S x S x 3 BGR, S = the model's window
  (``arch_args["window"]``), cut from a frame by
  :func:`edgeseg.runtime.proposals.cut_windows`;
- in graph: the same :class:`~.wrapper.Preprocess` as semantic models
  (Cast, BGR -> RGB, ``(x - mean) / std``, NHWC -> NCHW);
- output ``mask_logits``: float32 K x M x M, the model's mask logits
  (the runtime thresholds only the few masks it keeps, so the per-pixel
  sigmoid stays out of the graph);
- output ``scores``: float32 K, objectness *probabilities* (the sigmoid of
  the score logit is applied in the graph, under ``/postprocess/`` so an FP16
  conversion would keep it in FP32).

K is fixed (TensorRT-friendly): by default the number of grid windows of one
frame at the exported frame size (``window_boxes(height, width, window,
stride)``), so one frame is one inference; ``--batch`` overrides it (the
runtime then runs a frame's windows in chunks of K, padding the last).

The frame size (``--height``/``--width``; default the training config's
``data.height``/``data.width``) becomes the metadata's ``input.height``/``width``:
the runtime resizes frames to it before cutting windows, as the semantic path
resizes frames to the model input.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, require
from edgeseg.hashing import sha256_file
from edgeseg.images import load_image_folder
from edgeseg.metadata import ModelMetadata

from .onnx_io import check_model, save_onnx, set_metadata, tool_versions
from .tolerances import PROPOSALS_MASK_AGREEMENT, PROPOSALS_MASK_LOGITS_ATOL, PROPOSALS_SCORES_ATOL

log = logging.getLogger("edgeseg.export")

INPUT_NAME = "windows"
OUTPUT_NAMES = ("mask_logits", "scores")


@dataclass
class ProposalsParityReport:
    """PyTorch vs. ONNX Runtime on the windows of ``images`` frames.

    Attributes:
        windows: how many windows were compared.
        mask_logits_max_abs: largest absolute mask logit difference.
        scores_max_abs: largest absolute score (probability) difference.
        mask_agreement: fraction of mask pixels on the same side of logit 0 (probability 0.5).
    """

    images: int
    windows: int
    mask_logits_max_abs: float
    scores_max_abs: float
    mask_agreement: float

    @property
    def passed(self) -> bool:
        return (self.mask_logits_max_abs <= PROPOSALS_MASK_LOGITS_ATOL and self.scores_max_abs <= PROPOSALS_SCORES_ATOL
                and self.mask_agreement >= PROPOSALS_MASK_AGREEMENT)

    def describe(self) -> str:
        return (
            f"{self.images} images, {self.windows} windows: mask logits max abs error {self.mask_logits_max_abs:.2e} "
            f"(allowed {PROPOSALS_MASK_LOGITS_ATOL:g}), scores max abs error {self.scores_max_abs:.2e} "
            f"(allowed {PROPOSALS_SCORES_ATOL:g}), mask pixels agreeing {100 * self.mask_agreement:.3f} % "
            f"(required {100 * PROPOSALS_MASK_AGREEMENT:g} %)"
        )


@dataclass
class ProposalsExportResult:
    path: Path
    metadata: ModelMetadata
    parity: ProposalsParityReport
    batch: int
    mask_size: int


def proposals_wrapper(model, mean, std):
    """``model`` between :class:`~.wrapper.Preprocess` and a sigmoid on the score (an ``nn.Module``)."""
    torch = require("torch", "export")
    from torch import nn

    from .wrapper import Preprocess

    class ScoreProbability(nn.Module):
        """float K objectness logits -> float K probabilities."""

        def forward(self, score_logits):
            return torch.sigmoid(score_logits)

    class ProposalsWrapper(nn.Module):
        """uint8 K x S x S x 3 BGR -> (float32 mask_logits K x M x M, float32 scores K in 0..1)."""

        def __init__(self):
            super().__init__()
            self.preprocess = Preprocess(mean, std)
            self.model = model.eval()
            self.postprocess = ScoreProbability()
            self.eval()  # see DeployWrapper: the exporter restores the training flag after tracing

        def forward(self, windows):
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


def window_geometry(model, meta: ModelMetadata) -> tuple[int, int]:
    """``(window, stride)``: the checkpoint's ``arch_args``, else the model's own attributes."""
    window = meta.arch_args.get("window", getattr(model, "window", None))
    stride = meta.arch_args.get("stride", getattr(model, "grid_stride", None))
    if not isinstance(window, int) or not isinstance(stride, int) or window <= 0 or stride <= 0:
        raise EdgesegError(f"the checkpoint's window ({window!r}) and stride ({stride!r}) must be positive integers")
    return window, stride


def parity_windows(images: np.ndarray, boxes: np.ndarray, limit: int) -> np.ndarray:
    """uint8 N x S x S x 3: at most ``limit`` windows per frame, evenly spread over the grid."""
    from edgeseg.runtime.proposals import cut_windows

    keep = boxes if len(boxes) <= limit else boxes[np.linspace(0, len(boxes) - 1, limit).round().astype(int)]
    return np.concatenate([cut_windows(image, keep) for image in images])


def proposals_onnx_vs_torch(model, meta: ModelMetadata, session, windows: np.ndarray, batch: int,
                            images: int) -> ProposalsParityReport:
    """Run the ONNX and the bare model on ``windows`` (uint8 N x S x S x 3 BGR) in chunks of ``batch``."""
    import torch

    from edgeseg.preprocess import normalize_bgr

    model.eval()
    mask_errors, score_errors, same, total = [], [], 0, 0
    for start in range(0, len(windows), batch):
        chunk = windows[start:start + batch]
        real = len(chunk)
        if real < batch:  # the ONNX batch is fixed: pad with copies of the last window
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - real, axis=0)])
        masks, scores = session.run(list(OUTPUT_NAMES), {INPUT_NAME: chunk})
        with torch.no_grad():
            ref_masks, ref_logits = model(torch.from_numpy(normalize_bgr(chunk, meta.input.mean, meta.input.std)))
        ref_masks, ref_scores = ref_masks.numpy()[:real], torch.sigmoid(ref_logits).numpy()[:real]
        mask_errors.append(np.abs(masks[:real] - ref_masks).max())
        score_errors.append(np.abs(scores[:real] - ref_scores).max())
        same += int(((masks[:real] > 0) == (ref_masks > 0)).sum())
        total += ref_masks.size
    return ProposalsParityReport(images, len(windows), float(max(mask_errors)), float(max(score_errors)),
                                 same / total)


def export_proposals_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike, *,
                                height: int | None = None, width: int | None = None, batch: int | None = None,
                                opset: int = 17, parity_images: str | os.PathLike | None = None,
                                parity_count: int = 4, parity_windows_per_image: int = 16,
                                simplifier: str = "onnxslim") -> ProposalsExportResult:
    """Export a DeepMask/SharpMask checkpoint to ``output`` (see the module docstring).

    Args:
        height, width: frame size; None means the training config's.
        batch: fixed number K of windows per inference; None means the window count of one frame.
        parity_images: folder of images for the parity check; None means the bundled ``samples/camvid/val``.
        parity_count: how many of them (evenly spaced); each is resized to the frame size and cut into windows.
        parity_windows_per_image: windows compared per image (evenly spread over the grid).

    Raises:
        EdgesegError: bad checkpoint or arguments, checker failure or parity
            outside tolerance. ``output`` is not written.
    """
    require("torch", "export")
    require("onnxruntime", "export")
    import onnxruntime as ort

    from edgeseg.runtime.proposals import window_boxes
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint
    from edgeseg.train.models import get_entry

    from .onnx_from_torch import DEFAULT_PARITY_IMAGES, check_export_args, onnx_from_torch, simplified_onnx

    checkpoint, output = Path(checkpoint), Path(output)
    ckpt = load_checkpoint(checkpoint)
    model, meta = model_from_checkpoint(ckpt, str(checkpoint))
    entry = get_entry(meta.architecture)
    if entry.task != "proposals" or entry.in_channels != 3:
        raise EdgesegError(f"{checkpoint}: architecture '{meta.architecture}' is not a 3-channel proposals model "
                           "(DeepMask, SharpMask); export it with 'edgeseg export' as a semantic model")
    window, stride = window_geometry(model, meta)
    height, width = frame_size(ckpt, height, width, str(checkpoint))
    boxes = window_boxes(height, width, window, stride)
    batch = len(boxes) if batch is None else batch
    check_export_args(output, batch, opset)
    if parity_images is None:
        parity_images = DEFAULT_PARITY_IMAGES
        if not parity_images.is_dir():
            raise EdgesegError(f"the bundled parity images ({parity_images}) are not here; pass --parity-images DIR")
    images = load_image_folder(parity_images, height, width, count=parity_count, what="parity image").images
    windows = parity_windows(images, boxes, parity_windows_per_image)

    log.info("exporting %s (%s, proposals) for %dx%d frames: %d windows of %d px at stride %d, batch %d, opset %d",
             checkpoint, meta.architecture, height, width, len(boxes), window, stride, batch, opset)
    wrapper = proposals_wrapper(model, meta.input.mean, meta.input.std)
    graph = simplified_onnx(onnx_from_torch(wrapper, window, window, batch, opset, input_name=INPUT_NAME,
                                            output_names=OUTPUT_NAMES), simplifier)
    check_model(graph, str(output))

    log.info("checking parity with PyTorch on %d windows of %d images from %s", len(windows), len(images), parity_images)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
    parity = proposals_onnx_vs_torch(model, meta, session, windows, batch, len(images))
    if not parity.passed:
        raise EdgesegError(f"ONNX Runtime disagrees with PyTorch beyond tolerance ({parity.describe()}); nothing written")
    log.info("parity: %s", parity.describe())

    exported = replace(
        meta, task="proposals",
        # input is the frame now (windows are cut from it); any size works, so no multiple.
        input=replace(meta.input, height=height, width=width, multiple=1),
        arch_args={**meta.arch_args, "window": window, "stride": stride},
        precision="fp32", calibration=None, opset=opset, source_sha256=sha256_file(checkpoint),
        tool_versions=tool_versions("torch", "onnx", "onnxslim", "onnxruntime"),
    )
    set_metadata(graph, exported)
    check_model(graph, str(output))
    save_onnx(graph, output)
    return ProposalsExportResult(output, exported, parity, batch, int(model.mask_size))
