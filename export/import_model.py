"""A user's own segmentation model -> an ordinary edgeseg FP32 ONNX, parity-checked against that model.

``edgeseg import MODEL`` and :func:`export_module` (an ``nn.Module`` in
memory) both come here. Steps, each before anything is written:

1. the model as a float ONNX at the import size (:mod:`.foreign`);
2. the logits output picked (by ``output``; else the one output, or the one
   called ``logits``), its classes checked against ``classes``;
3. wrapped in the contract's pre/post-processing (:mod:`.contract_graph`),
   simplified (:mod:`.simplify`), checked by ``onnx.checker``;
4. the operator check against TensorRT releases, when the caller passes one;
5. parity on real frames: the wrapped ONNX (onnxruntime) against the user's
   model itself, its logits resized to the input size the way the graph does,
   with the export stage's tolerances (:mod:`.tolerances`);
6. metadata written (:class:`~edgeseg.metadata.ModelMetadata`) and the file
   saved atomically.

The result needs no flag anywhere later: quantize, build, eval, compare,
run, bench and info read it like an export of a zoo model.

An ONNX that already has the contract's I/O (``image`` uint8 NHWC BGR in,
``labels`` uint8 out) but no metadata only gets the metadata
(:func:`add_metadata_to_contract_onnx`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, require
from edgeseg.hashing import sha256_file
from edgeseg.images import load_image_folder
from edgeseg.metadata import InputSpec, ModelMetadata
from edgeseg.palettes import default_palette

from .contract_graph import InputConvention, logits_nchw, wrap_foreign
from .foreign import ForeignGraph, foreign_from_module, load_foreign, sniff_format
from .onnx_from_torch import DEFAULT_OPSET, check_opset
from .onnx_io import check_model, drop_output, load_onnx, save_onnx, set_metadata, tool_versions
from .parity import ParityReport, default_parity_images, onnx_vs_reference
from .simplify import DEFAULT_SIMPLIFIER, check_simplifier, simplified
from .tasks.semantic import label_parity_checks
from .wrapper import POSTPROCESS_SCOPE, PREPROCESS_SCOPE

log = logging.getLogger("edgeseg.export")

OpCheck = Callable[[Any], dict]  # onnx.ModelProto -> {"TensorRT x.y": [problems]} (may raise)


@dataclass
class ImportResult:
    """What was written: the file, its metadata, the parity figures and the operator report."""

    path: Path
    metadata: ModelMetadata
    parity: ParityReport | None
    simplifier: str = "none"
    nodes_before: int = 0
    nodes_after: int = 0
    trt_issues: dict = field(default_factory=dict)


def normalisation(mean: Sequence[float] | None, std: Sequence[float] | None,
                  scale: float | None) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """``(mean, std)`` in 0..255 units from ``--mean/--std`` (0..255) or ``--scale S`` (``x * S``)."""
    if scale is not None:
        if mean is not None or std is not None:
            raise EdgesegError("give either --scale or --mean/--std, not both")
        if not scale > 0:
            raise EdgesegError(f"--scale must be positive, got {scale}")
        return (0.0, 0.0, 0.0), (1.0 / scale,) * 3  # x * S == (x - 0) / (1 / S)
    if mean is None or std is None:
        raise EdgesegError("the model's normalisation is needed: --mean R,G,B --std R,G,B (0..255 units, e.g. "
                           "--mean 123.675,116.28,103.53 --std 58.395,57.12,57.375 for ImageNet), or --scale S "
                           "(e.g. --scale 0.00392156862745098 for float RGB in [0, 1])")
    if len(mean) != 3 or len(std) != 3:
        raise EdgesegError(f"--mean and --std need 3 values each (R,G,B), got {len(mean)} and {len(std)}")
    if any(not s > 0 for s in std):
        raise EdgesegError(f"--std values must be positive, got {list(std)}")
    return (float(mean[0]), float(mean[1]), float(mean[2])), (float(std[0]), float(std[1]), float(std[2]))


def _check_choices(channel_order: str, layout: str) -> None:
    if channel_order not in ("rgb", "bgr"):
        raise EdgesegError(f"--channel-order must be rgb or bgr, got {channel_order!r}")
    if layout not in ("nchw", "nhwc"):
        raise EdgesegError(f"--layout must be nchw or nhwc, got {layout!r}")


def _check_output_path(output: Path, source: str | None) -> None:
    if not output.parent.is_dir():
        raise EdgesegError(f"cannot write {output}: folder {output.parent} does not exist; create it or choose another path")
    if source is not None and output.resolve() == Path(source).resolve():
        raise EdgesegError(f"output {output} would overwrite the model being imported; choose another -o")


def pick_output(outputs: dict[str, list[int]], wanted: str | None, source: str) -> str:
    """The logits output: ``wanted``, else the only output, else the one named ``logits``."""
    listing = ", ".join(f"{n} {list(s)}" for n, s in outputs.items())
    if wanted is not None:
        if wanted not in outputs:
            raise EdgesegError(f"{source} has no output {wanted!r}; its outputs: {listing}")
        return wanted
    if len(outputs) == 1:
        return next(iter(outputs))
    if "logits" in outputs:
        log.info("%s has %d outputs; using 'logits' (pass --output NAME for another)", source, len(outputs))
        return "logits"
    raise EdgesegError(f"{source} has {len(outputs)} outputs ({listing}); pass --output NAME for the per-pixel class scores")


def _classes_and_palette(classes: Sequence[str], palette: Sequence[Sequence[int]] | None) -> tuple[list[str], list[list[int]]]:
    names = [str(c) for c in classes]
    if not names:
        raise EdgesegError("--classes names no classes")
    if palette is None:
        return names, [list(c) for c in default_palette(len(names))]
    colours = [[int(v) for v in c] for c in palette]
    if len(colours) != len(names):
        raise EdgesegError(f"the palette has {len(colours)} colours for {len(names)} classes; give one per class")
    return names, colours


def _parity_frames(parity_images, height: int, width: int, count: int) -> np.ndarray:
    folder = Path(parity_images) if parity_images is not None else default_parity_images()
    return load_image_folder(folder, height, width, count=count, what="parity image").images


def resized_logits(logits: np.ndarray, layout: str, height: int, width: int) -> np.ndarray:
    """Foreign logits (``layout``) -> float32 N x C x ``height`` x ``width``, bilinear, half-pixel (the graph's Resize)."""
    torch = require("torch", "export")
    x = torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))
    if layout == "nhwc":
        x = x.permute(0, 3, 1, 2)
    if tuple(x.shape[2:]) != (height, width):
        x = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return x.contiguous().numpy()


def import_foreign(foreign: ForeignGraph, output: str | os.PathLike, *, classes: Sequence[str],
                   palette: Sequence[Sequence[int]] | None, convention: InputConvention, logits_output: str | None,
                   opset: int | None, simplifier: str = DEFAULT_SIMPLIFIER, with_logits: bool = False,
                   parity_images=None, parity_count: int = 8, op_check: OpCheck | None = None,
                   source_file: str | os.PathLike | None = None) -> ImportResult:
    """Wrap, check and write ``foreign`` (see the module docstring); nothing is written if a step fails."""
    require("onnxruntime", "export")
    from .foreign import _ort_session

    output = Path(output)
    names, colours = _classes_and_palette(classes, palette)
    batch = foreign.input_shape[0]
    height, width = (foreign.input_shape[2:] if convention.layout == "nchw" else foreign.input_shape[1:3])
    chosen = pick_output(foreign.outputs, logits_output, foreign.source)
    _, num_classes, lh, lw = logits_nchw(foreign.outputs[chosen], convention.layout)
    if num_classes != len(names):
        raise EdgesegError(
            f"{foreign.source}: output {chosen} {foreign.outputs[chosen]} has {num_classes} classes at the "
            f"{convention.layout.upper()} class axis, but --classes names {len(names)}; "
            + ("pass --layout nhwc if the model outputs N x H x W x C" if convention.layout == "nchw"
               else "pass --layout nchw if the model outputs N x C x H x W"))
    if (lh, lw) != (height, width):
        log.info("output %s is %dx%d for a %dx%d input: resized up in the graph (bilinear) before the argmax",
                 chosen, lh, lw, height, width)

    graph = wrap_foreign(foreign.model, foreign.input_name, chosen, foreign.outputs[chosen], convention,
                         batch, height, width)
    nodes_before = len(graph.graph.node)
    graph, used = simplified(graph, simplifier)
    check_model(graph, str(output))
    log.info("simplified with %s: %d -> %d nodes", used, nodes_before, len(graph.graph.node))
    trt_issues = op_check(graph) if op_check is not None else {}

    frames = _parity_frames(parity_images, height, width, parity_count)
    log.info("checking parity with the model itself (%s) on %d frames", foreign.kind, len(frames))
    session = _ort_session(graph.SerializeToString())

    def reference(chunk: np.ndarray) -> dict[str, np.ndarray]:
        raw = foreign.reference(convention.model_input(chunk))[chosen]
        logits = resized_logits(raw, convention.layout, height, width)
        return {"logits": logits, "labels": logits.argmax(1)}

    parity = onnx_vs_reference(session, reference, frames, batch, label_parity_checks(), input_name="image")
    if not parity.passed:
        raise EdgesegError(f"the wrapped ONNX disagrees with the model beyond tolerance ({parity.describe()}); "
                           "check --mean/--std/--scale, --channel-order and --layout; nothing written")
    log.info("parity: %s", parity.describe())

    if not with_logits:
        drop_output(graph, "logits")
    default_opset = next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))
    source_name = Path(source_file).name if source_file is not None else foreign.source
    meta = ModelMetadata(
        architecture=f"imported:{Path(source_name).stem}",
        classes=names, palette=colours,
        input=InputSpec(height=height, width=width, mean=list(convention.mean), std=list(convention.std)),
        arch_args={"import": {"format": foreign.kind, "source": source_name, "channel_order": convention.channel_order,
                              "layout": convention.layout, "output": chosen, "logits_size": [lh, lw],
                              "simplifier": used}},
        precision="fp32", opset=default_opset if opset is None else opset,
        source_sha256=sha256_file(source_file) if source_file is not None else None,
        tool_versions=tool_versions("torch", "onnx", *([used] if used != "none" else []), "onnxruntime"),
    )
    set_metadata(graph, meta)
    check_model(graph, str(output))
    save_onnx(graph, output)
    return ImportResult(output, meta, parity, used, nodes_before, len(graph.graph.node), trt_issues)


def import_model(source: str | os.PathLike, output: str | os.PathLike, *, classes: Sequence[str],
                 palette: Sequence[Sequence[int]] | None = None, input_size: tuple[int, int] | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None, scale: float | None = None,
                 channel_order: str = "rgb", layout: str = "nchw", logits_output: str | None = None, batch: int = 1,
                 opset: int = DEFAULT_OPSET, simplifier: str = DEFAULT_SIMPLIFIER, with_logits: bool = False,
                 parity_images=None, parity_count: int = 8, op_check: OpCheck | None = None) -> ImportResult:
    """Import the ONNX, TorchScript or ExportedProgram file ``source`` to ``output`` (an edgeseg ONNX).

    Args:
        classes: class names, in label order (one per logits channel).
        palette: RGB colour per class; None means the default palette.
        input_size: (H, W) of the deployed input; None means the model's own fixed size.
        mean, std: the model's normalisation, R, G, B order, 0..255 units; or ``scale``: input = pixel * scale.
        channel_order: ``rgb`` or ``bgr``, what the model expects.
        layout: ``nchw`` or ``nhwc``, of the model's input and logits.
        logits_output: name of the logits output when there are several (None: the only one, or ``logits``).
        batch: fixed batch of the deployed input.
        opset: ONNX opset for PyTorch sources (an ONNX source keeps its own).
        simplifier: ``onnxslim``, ``onnxsim`` or ``none``.
        with_logits: keep the float32 ``logits`` output (N x C x H x W, at the input size).
        parity_images: folder of frames for the parity check (None: the bundled samples).
        op_check: called with the wrapped graph before anything is written (TensorRT operator check).
    """
    source = Path(source)
    output = Path(output)
    _check_choices(channel_order, layout)
    check_simplifier(simplifier)
    check_opset(opset)
    _check_output_path(output, str(source))
    if batch < 1:
        raise EdgesegError(f"--batch must be at least 1, got {batch}")
    kind = sniff_format(source) if source.is_file() else None
    if kind == "onnx" and _has_contract_io(source):
        return add_metadata_to_contract_onnx(source, output, classes=classes, palette=palette)
    mean_, std_ = normalisation(mean, std, scale)
    foreign = load_foreign(source, input_size=input_size, layout=layout, batch=batch, opset=opset)
    convention = InputConvention(mean_, std_, channel_order, layout)
    return import_foreign(foreign, output, classes=classes, palette=palette, convention=convention,
                          logits_output=logits_output, opset=None if kind == "onnx" else opset, simplifier=simplifier,
                          with_logits=with_logits, parity_images=parity_images, parity_count=parity_count,
                          op_check=op_check, source_file=source)


def export_module(module, example_size: tuple[int, int], *, output: str | os.PathLike, classes: Sequence[str],
                  mean: Sequence[float] | None = None, std: Sequence[float] | None = None, scale: float | None = None,
                  palette: Sequence[Sequence[int]] | None = None, channel_order: str = "rgb", layout: str = "nchw",
                  logits_output: str | None = None, batch: int = 1, opset: int = DEFAULT_OPSET,
                  simplifier: str = DEFAULT_SIMPLIFIER, with_logits: bool = False, parity_images=None,
                  parity_count: int = 8, op_check: OpCheck | None = None) -> ImportResult:
    """Deploy an ``nn.Module`` in memory: the same wrapping, checks and file as ``edgeseg import``.

    Args:
        module: takes float32 N x 3 x H x W (``layout="nhwc"``: N x H x W x 3) normalised as ``mean``/``std``
            (or ``scale``) say, in ``channel_order``; returns logits N x C x h x w (any h x w: resized up
            in the graph), a tuple or a dict of tensors (``logits_output`` picks one).
        example_size: (H, W) of the deployed input.
        output: the ONNX file to write.
        classes, mean, std, scale, palette, channel_order, layout, logits_output, batch, opset, simplifier,
        with_logits, parity_images, parity_count, op_check: as in :func:`import_model`.

    Returns:
        :class:`ImportResult`, whose ``parity`` compares the file with ``module`` itself on real frames.

    Example::

        from edgeseg.export import export_module
        export_module(model, (512, 512), output="model.onnx", classes=names,
                      mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
    """
    output = Path(output)
    _check_choices(channel_order, layout)
    check_simplifier(simplifier)
    check_opset(opset)
    _check_output_path(output, None)
    height, width = (int(v) for v in example_size)
    if height <= 0 or width <= 0 or batch < 1:
        raise EdgesegError(f"example_size must be two positive integers (H, W) and batch >= 1, got {example_size}, {batch}")
    mean_, std_ = normalisation(mean, std, scale)
    shape = [batch, 3, height, width] if layout == "nchw" else [batch, height, width, 3]
    foreign = foreign_from_module(module, shape, opset=opset, kind="module", source=type(module).__name__)
    return import_foreign(foreign, output, classes=classes, palette=palette,
                          convention=InputConvention(mean_, std_, channel_order, layout), logits_output=logits_output,
                          opset=opset, simplifier=simplifier, with_logits=with_logits, parity_images=parity_images,
                          parity_count=parity_count, op_check=op_check)


# -- ONNX files that already have the contract's I/O ---------------------------------------------

def _has_contract_io(path: Path) -> bool:
    model = load_onnx(path)
    initializers = {i.name for i in model.graph.initializer}
    inputs = {v.name: v for v in model.graph.input if v.name not in initializers}
    outputs = {v.name: v for v in model.graph.output}
    u8 = 2  # TensorProto.UINT8
    return ("image" in inputs and inputs["image"].type.tensor_type.elem_type == u8
            and "labels" in outputs and outputs["labels"].type.tensor_type.elem_type == u8)


def _scope_contract_nodes(model) -> int:
    """Put the pre/post-processing of a contract ONNX from elsewhere into the ``/preprocess/`` and
    ``/postprocess/`` scopes that FP16 conversion keeps in FP32; returns how many nodes were renamed.

    Pre-processing: the nodes from ``image`` up to (not including) the first op that is not elementwise
    arithmetic, a Cast, Gather or Transpose. Post-processing: the ArgMax that feeds ``labels`` and what
    lies between them.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    light = {"Cast", "Gather", "Sub", "Div", "Mul", "Add", "Transpose", "Slice", "Concat", "Unsqueeze", "Identity"}
    renamed, frontier, seen = 0, ["image"], set()
    while frontier:
        tensor = frontier.pop()
        for node in consumers.get(tensor, []):
            if node.op_type not in light or id(node) in seen:
                continue
            seen.add(id(node))
            if not node.name.startswith(PREPROCESS_SCOPE):
                node.name = f"{PREPROCESS_SCOPE}{node.name or node.op_type}"
                renamed += 1
            frontier.extend(node.output)
    tensor = "labels"
    while tensor in producers:
        node = producers[tensor]
        if not node.name.startswith(POSTPROCESS_SCOPE):
            node.name = f"{POSTPROCESS_SCOPE}{node.name or node.op_type}"
            renamed += 1
        if node.op_type == "ArgMax":
            break
        tensor = node.input[0]
    return renamed


def add_metadata_to_contract_onnx(source: str | os.PathLike, output: str | os.PathLike, *, classes: Sequence[str],
                                  palette: Sequence[Sequence[int]] | None = None) -> ImportResult:
    """Write ``source`` (``image`` uint8 N x H x W x 3 BGR in, ``labels`` uint8 out) with edgeseg metadata.

    The graph is unchanged but for node names (:func:`_scope_contract_nodes`); the class count is checked
    against a ``logits`` output where there is one.
    """
    source, output = Path(source), Path(output)
    _check_output_path(output, str(source))
    model = load_onnx(source)
    names, colours = _classes_and_palette(classes, palette)
    image = next(v for v in model.graph.input if v.name == "image")
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in image.type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[3] != 3 or dims[1] <= 0 or dims[2] <= 0:
        raise EdgesegError(f"{source}: input 'image' must be uint8 N x H x W x 3 with fixed H and W, got {dims}")
    labels = next(v for v in model.graph.output if v.name == "labels")
    label_dims = [d.dim_value if d.HasField("dim_value") else 0 for d in labels.type.tensor_type.shape.dim]
    if len(label_dims) != 3 or label_dims[1:] != dims[1:3]:
        raise EdgesegError(f"{source}: output 'labels' must be N x {dims[1]} x {dims[2]} (the input size), got "
                           f"{label_dims}; the contract needs one label per input pixel")
    logits = next((v for v in model.graph.output if v.name == "logits"), None)
    if logits is not None:
        c = logits.type.tensor_type.shape.dim[1]
        if c.HasField("dim_value") and c.dim_value != len(names):
            raise EdgesegError(f"{source}: output 'logits' has {c.dim_value} classes but --classes names {len(names)}")
    renamed = _scope_contract_nodes(model)
    log.info("%s already has the contract's I/O: adding metadata only (%d nodes moved into the pre/post scopes)",
             source, renamed)
    meta = ModelMetadata(
        architecture=f"imported:{source.stem}", classes=names, palette=colours,
        # The graph normalises; the metadata's mean/std are not known and not used for an ONNX.
        input=InputSpec(height=dims[1], width=dims[2], mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0]),
        arch_args={"import": {"format": "contract_onnx", "source": source.name}},
        precision="fp32", opset=next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        source_sha256=sha256_file(source), tool_versions=tool_versions("onnx"),
    )
    set_metadata(model, meta)
    check_model(model, str(output))
    save_onnx(model, output)
    return ImportResult(output, meta, None)
