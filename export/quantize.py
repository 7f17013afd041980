"""``edgeseg quantize``: an FP32 edgeseg ONNX -> its FP16 or INT8 variant, optionally gated on mIoU.

The variant is written through a temporary file; if the conversion, the
checker or the accuracy gate fails, the temporary file is deleted and
nothing appears under the output name.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from edgeseg.atomic import atomic_path
from edgeseg.datasets import frame_depth_scale
from edgeseg.errors import EdgesegError, require
from edgeseg.gates import DEFAULT_MAX_MIOU_DROP
from edgeseg.hashing import sha256_file
from edgeseg.metadata import ModelMetadata
from edgeseg.paths import Named, check_outputs
from edgeseg.tasks import task_of

from .gate import GateResult, miou_gate
from .onnx_io import check_model, load_onnx, read_metadata, set_metadata, tool_versions

log = logging.getLogger("edgeseg.export")

VARIANT_PRECISIONS = ("fp16", "int8")


@dataclass
class QuantizeResult:
    path: Path
    metadata: ModelMetadata
    gate: GateResult | None


def default_output(source: Path, precision: str) -> Path:
    """``MODEL.onnx`` -> ``MODEL.fp16.onnx`` / ``MODEL.int8.onnx`` beside it."""
    return source.with_name(f"{source.stem}.{precision}.onnx")


def batch_size_of(model, source: str) -> int:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if not dims or not dims[0].HasField("dim_value"):
        raise EdgesegError(f"{source}: input 'image' has no fixed batch size; re-export with --batch N")
    return dims[0].dim_value


def quantize_onnx(source: str | os.PathLike, output: str | os.PathLike | None, precision: str, *,
                  calib: str | os.PathLike | None = None, calib_split: str = "train", method: str = "entropy",
                  num_images: int = 0,
                  exclude_nodes: list[str] | None = None, eval_data: str | os.PathLike | None = None,
                  split: str = "val", max_miou_drop: float = DEFAULT_MAX_MIOU_DROP, eval_limit: int = 0,
                  eval_kind: str = "auto") -> QuantizeResult:
    """Write the ``precision`` variant of the FP32 ONNX ``source`` to ``output``.

    Args:
        calib: folder of calibration images (INT8 only, required there); for
            RGB-D models (4 input channels) an RGB-D data set, whose
            ``calib_split`` gives colour + depth frames.
        method: INT8 calibration method (``entropy``, ``minmax``, ``percentile``).
        num_images: use this many calibration images, evenly spaced (0: all).
        exclude_nodes: node names kept in float (INT8 only).
        eval_data: labelled data set for the accuracy gate (None: no gate).
        max_miou_drop: largest allowed mIoU loss in points against ``source``.
        eval_limit: score only the first N images in the gate (0: all).
        eval_kind: layout of ``eval_data`` (``auto``: guessed from the folder).
    """
    from edgeseg.images import load_image_folder

    from .fp16 import fp16_from_fp32
    from .int8 import CALIBRATION_METHODS, calibration_record, int8_from_fp32

    source = Path(source)
    if precision not in VARIANT_PRECISIONS:
        raise EdgesegError(f"--precision must be one of {', '.join(VARIANT_PRECISIONS)}, got {precision!r}")
    output = Path(output) if output else default_output(source, precision)
    # Also for the default name (MODEL.<precision>.onnx), which the command line's check cannot see.
    check_outputs([Named("model", str(source))], [Named("-o", str(output))])
    model = load_onnx(source)
    meta = read_metadata(model, str(source))
    if "labels" not in task_of(meta).output_names:
        # FP16/INT8 here are gated on labels and mIoU and calibrate on whole frames; proposals have neither.
        raise EdgesegError(
            f"{source} is a {meta.task} model ({meta.architecture}); 'edgeseg quantize' makes FP16/INT8 variants of "
            "semantic models only. Run the FP32 ONNX as it is: edgeseg run MODEL.onnx --source ... --sink ..."
        )
    if meta.precision != "fp32":
        raise EdgesegError(f"{source} is already {meta.precision}; quantize the FP32 ONNX written by 'edgeseg export'")
    if eval_data is not None and not Path(eval_data).is_dir():
        raise EdgesegError(f"--eval-data {eval_data} is not a folder; pass a labelled data set (CamVid layout or classes.txt)")

    if precision == "fp16":
        if calib is not None:
            log.warning("--calib is ignored for fp16 (only INT8 calibrates)")
        variant = fp16_from_fp32(model)
        calibration = None
        tools = tool_versions("onnx", "onnxconverter-common")
    else:
        depth_scale = frame_depth_scale(meta.input)
        if calib is None and depth_scale is not None:
            raise EdgesegError(
                f"--precision int8 needs calibration frames with depth for this RGB-D model ({meta.architecture}): "
                "pass --calib ROOT, an RGB-D data set (images/SPLIT/, depth/SPLIT/ 16-bit PNG millimetres, masks/SPLIT/), "
                "and --calib-split SPLIT (default train); or use --precision fp16"
            )
        if calib is None:
            raise EdgesegError("--precision int8 needs --calib DIR, a folder of images like the camera's (e.g. calib_data/camvid)")
        if method not in CALIBRATION_METHODS:
            raise EdgesegError(f"unknown --method {method!r}; choose one of {', '.join(CALIBRATION_METHODS)}")
        if depth_scale is not None:
            from .rgbd_frames import load_rgbd_frames

            images = load_rgbd_frames(calib, calib_split, meta.input.height, meta.input.width, depth_scale,
                                      count=num_images, what="calibration")
        else:
            images = load_image_folder(calib, meta.input.height, meta.input.width, count=num_images)
        variant = int8_from_fp32(model, images, method, batch=batch_size_of(model, str(source)), exclude_nodes=exclude_nodes)
        calibration = calibration_record(images, method, sha256_file(source))
        if exclude_nodes:
            calibration["excluded_nodes"] = list(exclude_nodes)
        tools = tool_versions("onnx", "onnxruntime")

    variant_meta = replace(meta, precision=precision, calibration=calibration,
                           tool_versions={**meta.tool_versions, **tools})
    set_metadata(variant, variant_meta)
    check_model(variant, str(output))
    onnx = require("onnx", "export")
    gate = None
    with atomic_path(output) as tmp:
        onnx.save(variant, str(tmp))
        if eval_data is not None:
            gate = miou_gate(tmp, source, eval_data, split=split, max_drop=max_miou_drop, limit=eval_limit, kind=eval_kind,
                             candidate_name=str(output))
    return QuantizeResult(output, variant_meta, gate)
