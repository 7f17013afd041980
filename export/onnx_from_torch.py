"""Checkpoint -> FP32 (or, for a QAT checkpoint, Q/DQ INT8) ONNX with its task's contract, checked and parity-tested.

The one export path of every task (:mod:`.tasks`: semantic labels, object
proposals). Steps (each a function, logged before it runs):

1. rebuild the model from the checkpoint (a quantization-aware one with its
   fake quantization, :mod:`edgeseg.train.qat`); the architecture's task
   plans the export: sizes (checked against the architecture), batch and the
   exported metadata;
2. wrap it in the task's module with in-graph pre/post-processing
   (:class:`~.wrapper.DeployWrapper` for labels) and trace it with the
   TorchScript exporter (``dynamo=False``: deterministic node names, which the
   FP16 step relies on, and no onnxscript dependency);
3. simplify (:mod:`.simplify`: onnxslim by default, onnxsim or none on
   request; never a QAT graph: constant folding would fold the weight Q/DQ
   pairs back into float weights) and run ``onnx.checker`` with ``full_check``;
4. compare ONNX Runtime with the eager model on real inputs, with the task's
   checks (:mod:`.parity`);
5. drop the outputs kept only for parity (``logits`` unless asked for), attach
   the metadata and write the file atomically. Nothing is written if any step fails.

``torch.fake_quantize_*`` of a QAT model become QuantizeLinear /
DequantizeLinear on the inputs and weights of Conv, ConvTranspose and Gemm;
BatchNorm stays a separate node after the convolution (TensorRT fuses it;
ONNX Runtime fuses it at session creation), and the result is an INT8 variant
that ``edgeseg build`` takes as it is.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError, require
from edgeseg.hashing import sha256_file
from edgeseg.metadata import ModelMetadata

from .onnx_io import check_model, drop_output, save_onnx, set_metadata, tool_versions
from .parity import ParityReport, onnx_vs_reference
from .simplify import DEFAULT_SIMPLIFIER, check_simplifier, simplified
from .tasks.semantic import check_input_size

log = logging.getLogger("edgeseg.export")

DEFAULT_OPSET = 17  # TensorRT 8.5 (JetPack 5) parses up to opset 17
MIN_OPSET = 13  # uint8 Cast and ArgMax semantics used by the wrapper; per-channel DequantizeLinear (QAT)
@dataclass
class ExportResult:
    """What :func:`export_checkpoint` wrote.

    Attributes:
        output_shapes: the written outputs (in graph order) and their shapes.
        qat: a quantization-aware checkpoint, written as a Q/DQ INT8 ONNX.
        simplifier: the simplifier that ran (``none`` for QAT).
    """

    path: Path
    metadata: ModelMetadata
    parity: ParityReport
    batch: int
    output_shapes: dict[str, tuple[int, ...]]
    qat: bool = False
    simplifier: str = DEFAULT_SIMPLIFIER


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


def onnx_from_torch(wrapper: Any, height: int, width: int, batch: int, opset: int, channels: int = 3, *,
                    input_name: str = "image", output_names: tuple[str, ...] = ("labels", "logits")) -> Any:
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


def simplified_onnx(model: Any, simplifier: str = DEFAULT_SIMPLIFIER) -> Any:
    """Constant folding, BatchNorm fusion and dead-node removal by ``simplifier`` (:mod:`.simplify`)."""
    return simplified(model, simplifier)[0]


def _output_shapes(graph: Any) -> dict[str, tuple[int, ...]]:
    return {o.name: tuple(d.dim_value for d in o.type.tensor_type.shape.dim) for o in graph.graph.output}


def export_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike, *, height: int | None = None,
                      width: int | None = None, batch: int | None = None, opset: int = DEFAULT_OPSET,
                      with_logits: bool = False, parity_images: str | os.PathLike | None = None,
                      parity_count: int = 8, parity_data: str | os.PathLike | None = None,
                      parity_split: str = "val", simplifier: str = DEFAULT_SIMPLIFIER) -> ExportResult:
    """Export ``checkpoint`` to ``output`` (see the module docstring).

    Args:
        height, width: input size (proposals: the frame size); None means the checkpoint's.
        batch: fixed batch of the input; None means the task's default (1 image; one frame's windows).
        with_logits: keep the float32 ``logits`` output (N x C x H x W; semantic FP32 only).
        parity_images: folder of images for the parity check; None means the
            bundled ``samples/camvid/val``.
        parity_count: how many of them to use (evenly spaced).
        parity_data, parity_split: RGB-D models only: an RGB-D data set whose
            ``parity_split`` gives the parity frames (colour + real depth). None
            means the parity images with a made-up depth ramp
            (:func:`.rgbd_frames.with_ramp_depth`).
        simplifier: ``onnxslim``, ``onnxsim`` or ``none`` (:mod:`.simplify`).

    Raises:
        EdgesegError: bad checkpoint, unknown architecture, bad size or opset,
            checker failure or parity outside tolerance. ``output`` is not written.
    """
    require("torch", "export")
    require("onnxruntime", "export")
    import onnxruntime as ort

    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    from .tasks import export_task

    checkpoint = Path(checkpoint)
    output = Path(output)
    check_export_args(output, 1 if batch is None else batch, opset)
    check_simplifier(simplifier)
    ckpt = load_checkpoint(checkpoint)
    qat = "qat" in ckpt
    if qat:
        from edgeseg.train.qat import qat_model_from_checkpoint

        model, meta = qat_model_from_checkpoint(ckpt, str(checkpoint))
        if simplifier != "none":
            log.info("a QAT export is never simplified; --simplifier %s does not apply", simplifier)
            simplifier = "none"
        if with_logits:
            log.warning("--logits is not available for QAT exports; writing labels only")
            with_logits = False
    else:
        model, meta = model_from_checkpoint(ckpt, str(checkpoint))  # unknown architectures fail here
    try:
        task = export_task(meta.architecture)
    except KeyError as exc:
        raise EdgesegError(f"{checkpoint}: {exc.args[0]}") from None
    task.check_args(meta, with_logits=with_logits, parity_data=parity_data, qat=qat)
    plan = task.plan(ckpt, model, meta, height=height, width=width, batch=batch)
    check_export_args(output, plan.batch, opset)
    parity_inputs = task.parity_inputs(plan, images=parity_images, count=parity_count, data=parity_data,
                                       split=parity_split)

    spec = plan.metadata.input
    log.info("exporting %s%s (%s, %s) at %dx%d, batch %d, opset %d", "QAT " if qat else "", checkpoint,
             meta.architecture, task.name, spec.height, spec.width, plan.batch, opset)
    height_in, width_in, channels_in = plan.input_shape
    traced = onnx_from_torch(task.wrapper(model, meta), height_in, width_in, plan.batch, opset, channels_in,
                             input_name=task.core.input_name, output_names=task.traced_outputs)
    graph, used = simplified(traced, simplifier)
    check_model(graph, str(output))

    log.info("checking parity with PyTorch on %d %s from %s", len(parity_inputs.inputs), task.parity_unit,
             parity_inputs.source)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
    model.eval()
    parity = onnx_vs_reference(session, lambda chunk: task.training.reference_outputs(model, meta, chunk),
                               parity_inputs.inputs, plan.batch, task.parity_checks(qat),
                               input_name=task.core.input_name, unit=task.parity_unit)
    if not parity.passed:
        raise EdgesegError(f"ONNX Runtime disagrees with PyTorch beyond tolerance ({parity.describe()}); nothing written")
    log.info("parity: %s", parity.describe())

    kept = task.kept_outputs(with_logits)
    for name in task.traced_outputs:
        if name not in kept:
            drop_output(graph, name)
    source_sha256 = sha256_file(checkpoint)
    calibration = {"method": "qat", **ckpt["qat"].get("record", {}), "checkpoint_sha256": source_sha256} if qat else None
    exported = replace(
        plan.metadata, precision="int8" if qat else "fp32", calibration=calibration, opset=opset,
        source_sha256=source_sha256,
        tool_versions=tool_versions("torch", "onnx", *([used] if used != "none" else []), "onnxruntime"),
    )
    set_metadata(graph, exported)
    check_model(graph, str(output))
    save_onnx(graph, output)
    return ExportResult(output, exported, parity, plan.batch, _output_shapes(graph), qat, used)


__all__ = ["DEFAULT_OPSET", "ExportResult", "check_export_args", "check_input_size",
           "check_opset", "export_checkpoint", "onnx_from_torch", "simplified_onnx"]
