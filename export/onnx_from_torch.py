"""Checkpoint -> FP32 ONNX with the deployment contract, checked, simplified and parity-tested.

Steps (each a function, logged before it runs):

1. rebuild the model from the checkpoint; check H and W against the
   architecture's ``input_multiple`` (registry entry);
2. wrap it in :class:`~.wrapper.DeployWrapper` and trace it with the
   TorchScript exporter (``dynamo=False``: deterministic node names, which the
   FP16 step relies on, and no onnxscript dependency);
3. simplify (:mod:`.simplify`: onnxslim by default, onnxsim or none on
   request) and run ``onnx.checker`` with ``full_check``;
4. compare ONNX Runtime with PyTorch on real images (:mod:`.parity`);
5. drop the ``logits`` output unless asked for, attach the metadata and write
   the file atomically. Nothing is written if any step fails.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from edgeseg.errors import EdgesegError, require
from edgeseg.hashing import sha256_file
from edgeseg.images import load_image_folder
from edgeseg.metadata import ModelMetadata

from .onnx_io import check_model, drop_output, save_onnx, set_metadata, tool_versions
from .parity import ParityReport, onnx_vs_torch
from .simplify import DEFAULT_SIMPLIFIER, check_simplifier, simplified

log = logging.getLogger("edgeseg.export")

DEFAULT_OPSET = 17  # TensorRT 8.5 (JetPack 5) parses up to opset 17
MIN_OPSET = 13  # uint8 Cast and ArgMax semantics used by the wrapper
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARITY_IMAGES = REPO_ROOT / "samples" / "camvid" / "val"


@dataclass
class ExportResult:
    path: Path
    metadata: ModelMetadata
    parity: ParityReport


def check_input_size(height: int, width: int, multiple: int, architecture: str) -> None:
    """Raise unless ``height`` and ``width`` are positive multiples of ``multiple``."""
    for name, value in (("height", height), ("width", width)):
        if value <= 0 or value % multiple:
            lower = max(multiple, value // multiple * multiple)
            raise EdgesegError(
                f"{name} {value} is not a positive multiple of {multiple}, which architecture '{architecture}' "
                f"needs for H and W; use --{name} {lower} or {lower + multiple}"
            )


def check_opset(opset: int) -> None:
    onnx = require("onnx", "export")
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise EdgesegError(f"opset {opset} is not supported: choose {MIN_OPSET}..{newest} (default {DEFAULT_OPSET})")


def check_export_args(output: Path, batch: int, opset: int) -> None:
    """Refuse a bad batch, opset or output folder before any slow step (not at the final write)."""
    if batch < 1:
        raise EdgesegError(f"--batch must be at least 1, got {batch}")
    check_opset(opset)
    if not output.parent.is_dir():
        raise EdgesegError(f"cannot write {output}: folder {output.parent} does not exist; create it or choose another path")


def onnx_from_torch(wrapper, height: int, width: int, batch: int, opset: int, channels: int = 3, *,
                    input_name: str = "image", output_names: tuple[str, ...] = ("labels", "logits")):
    """Trace ``wrapper`` to an ``onnx.ModelProto`` with input ``input_name``, uint8 N x H x W x ``channels``.

    ``output_names`` name the wrapper's outputs in order (the semantic
    contract's ``labels`` and optional ``logits`` by default).
    """
    torch = require("torch", "export")
    onnx = require("onnx", "export")
    example = torch.zeros(batch, height, width, channels, dtype=torch.uint8)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export, and
        # warns about Slice steps it cannot fold; neither affects the graph.
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (example,), buffer, dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=list(output_names), do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue())


def simplified_onnx(model, simplifier: str = DEFAULT_SIMPLIFIER):
    """Constant folding, BatchNorm fusion and dead-node removal by ``simplifier`` (:mod:`.simplify`)."""
    return simplified(model, simplifier)[0]


def export_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike, *, height: int | None = None,
                      width: int | None = None, batch: int = 1, opset: int = DEFAULT_OPSET, with_logits: bool = False,
                      parity_images: str | os.PathLike | None = None, parity_count: int = 8,
                      parity_data: str | os.PathLike | None = None, parity_split: str = "val",
                      simplifier: str = DEFAULT_SIMPLIFIER) -> ExportResult:
    """Export ``checkpoint`` to ``output`` (see the module docstring).

    Args:
        height, width: input size; None means the checkpoint's training size.
        batch: fixed batch size of the ``image`` input.
        with_logits: keep the float32 ``logits`` output (N x C x H x W).
        parity_images: folder of images for the parity check; None means the
            bundled ``samples/camvid/val``.
        simplifier: ``onnxslim``, ``onnxsim`` or ``none`` (:mod:`.simplify`).
        parity_count: how many of them to use (evenly spaced).
        parity_data, parity_split: RGB-D models only: an RGB-D data set whose
            ``parity_split`` gives the parity frames (colour + real depth). None
            means the parity images with a made-up depth ramp
            (:func:`.rgbd_frames.with_ramp_depth`).

    Raises:
        EdgesegError: bad checkpoint, unknown architecture, bad size or opset,
            checker failure or parity outside tolerance. ``output`` is not written.
    """
    require("torch", "export")
    require("onnxruntime", "export")
    import onnxruntime as ort

    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint
    from edgeseg.train.models import get_entry

    from .wrapper import DeployWrapper

    checkpoint = Path(checkpoint)
    output = Path(output)
    check_export_args(output, batch, opset)
    check_simplifier(simplifier)
    ckpt = load_checkpoint(checkpoint)
    model, meta = model_from_checkpoint(ckpt, str(checkpoint))  # unknown architectures fail here
    entry = get_entry(meta.architecture)
    channels = meta.input.channels
    if entry.task != "semantic" or entry.in_channels != channels:
        raise EdgesegError(
            f"{checkpoint}: architecture '{meta.architecture}' ({entry.task}, {entry.in_channels} input channels, "
            f"metadata says {channels}) does not fit the export contract (BGR or BGR + depth in, per-pixel class "
            "labels out); proposal models (DeepMask, SharpMask) go through 'edgeseg export', which calls "
            "export.proposals_onnx.export_proposals_checkpoint"
        )
    if parity_data is not None and channels != 4:
        raise EdgesegError(f"--parity-data gives colour + depth frames, for RGB-D models; {meta.architecture} "
                           "takes BGR only: use --parity-images DIR")
    height = meta.input.height if height is None else height
    width = meta.input.width if width is None else width
    multiple = max(entry.input_multiple, meta.input.multiple)
    check_input_size(height, width, multiple, meta.architecture)
    if parity_images is None and parity_data is None:
        parity_images = DEFAULT_PARITY_IMAGES
        if not parity_images.is_dir():
            raise EdgesegError(
                f"the bundled parity images ({parity_images}) are not here; pass --parity-images DIR "
                "(a folder of images like the ones the model will see)"
            )
    images, parity_source = _parity_frames(meta, height, width, parity_images, parity_count, parity_data, parity_split)

    log.info("exporting %s (%s) at %dx%d, batch %d, opset %d", checkpoint, meta.architecture, height, width, batch, opset)
    wrapper = DeployWrapper(model, meta.input.mean, meta.input.std, with_logits=True)
    graph, used = simplified(onnx_from_torch(wrapper, height, width, batch, opset, channels), simplifier)
    check_model(graph, str(output))

    log.info("checking parity with PyTorch on %d images from %s", len(images), parity_source)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
    parity = onnx_vs_torch(model, meta, session, images, batch)
    if not parity.passed:
        raise EdgesegError(f"ONNX Runtime disagrees with PyTorch beyond tolerance ({parity.describe()}); nothing written")
    log.info("parity: %s", parity.describe())

    if not with_logits:
        drop_output(graph, "logits")
    exported = replace(
        meta,
        input=replace(meta.input, height=height, width=width, multiple=multiple),
        precision="fp32", calibration=None, opset=opset,
        source_sha256=sha256_file(checkpoint),
        tool_versions=tool_versions("torch", "onnx", *([used] if used != "none" else []), "onnxruntime"),
    )
    set_metadata(graph, exported)
    check_model(graph, str(output))
    save_onnx(graph, output)
    return ExportResult(output, exported, parity)


def _parity_frames(meta: ModelMetadata, height: int, width: int, parity_images, parity_count: int, parity_data,
                   parity_split: str):
    """uint8 N x H x W x C parity frames and a description of where they came from (for the log).

    3 channels: the images of ``parity_images``. 4 channels (RGB-D): the
    colour + depth frames of the RGB-D data set ``parity_data`` if given, else
    the images of ``parity_images`` with a deterministic vertical depth ramp.
    """
    from .rgbd_frames import RAMP_FAR, RAMP_NEAR, load_rgbd_frames, with_ramp_depth

    if parity_data is not None:
        frames = load_rgbd_frames(parity_data, parity_split, height, width, meta.input.depth_scale,
                                  count=parity_count, what="parity").images
        return frames, f"{parity_data} [{parity_split}] (colour + depth)"
    images = load_image_folder(parity_images, height, width, count=parity_count, what="parity image").images
    if meta.input.channels == 3:
        return images, parity_images
    log.info("no --parity-data: parity frames are the images of %s with a made-up depth channel (vertical ramp "
             "%d..%d, top to bottom); pass --parity-data ROOT (an RGB-D data set) to check on real depth",
             parity_images, RAMP_FAR, RAMP_NEAR)
    return with_ramp_depth(images), f"{parity_images} + depth ramp {RAMP_FAR}..{RAMP_NEAR}"
