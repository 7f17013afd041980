"""A user's own model, whatever it was saved as, as a plain float ONNX graph plus the model itself.

Sources (:func:`sniff_format` tells them apart by content, not suffix):

- ``onnx``: an ONNX file from any framework; its graph is used as it is,
  with dynamic dimensions fixed to the import size;
- ``torchscript``: ``torch.jit.save`` output, loaded with ``torch.jit.load``;
- ``exported_program``: ``torch.export.save`` output (``.pt2``), loaded with
  ``torch.export.load``;
- ``module``: an ``nn.Module`` in memory (:func:`foreign_from_module`).

PyTorch sources are traced to ONNX here at the fixed import size. Every
source keeps a *reference*: the user's model itself (onnxruntime on the
original ONNX, or the PyTorch module), which the parity check of
:mod:`.import_model` compares the wrapped graph against.

Loading TorchScript or an ExportedProgram runs no pickled Python code
(neither format is a pickle of Python objects), but both run the user's
graph: import only files you trust, as with any model.
"""

from __future__ import annotations

import io
import logging
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError, require

log = logging.getLogger("edgeseg.export")

FORMATS = ("onnx", "torchscript", "exported_program", "checkpoint")
MIN_IMPORT_OPSET = 13  # the wrapper's Cast/ArgMax/Resize semantics; older graphs are converted up
Reference = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass
class ForeignGraph:
    """The foreign model as ONNX at a fixed size, and the model itself.

    Attributes:
        model: ``onnx.ModelProto``; one float32 input ``input_name`` of shape
            ``input_shape`` (fixed), default-domain opset >= 13.
        outputs: name -> concrete shape of every graph output at that size (from one run).
        reference: float32 input (``input_shape``) -> ``{output name: float32 array}``, computed
            by the user's model itself.
        kind: one of :data:`FORMATS` less ``checkpoint``, or ``module``.
        source: file path, or a description of an in-memory module.
    """

    model: object
    input_name: str
    input_shape: list[int]
    outputs: dict[str, list[int]]
    reference: Reference
    kind: str
    source: str


def sniff_format(path: str | Path) -> str | None:
    """``onnx``, ``torchscript``, ``exported_program``, ``checkpoint`` (a ``torch.save`` pickle) or None.

    PyTorch's three formats are zip archives told apart by their members;
    an ONNX file is a protobuf whose first field is the IR version (byte 0x08).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return None
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return None
        if any(n.endswith("/archive_format") for n in names):
            return "exported_program"
        if any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names):
            return "torchscript"
        if any(n.endswith("/data.pkl") for n in names):
            return "checkpoint"
        return None
    if head[:1] == b"\x08" or path.suffix.lower() == ".onnx":
        return "onnx"
    return None


def _split_shape(layout: str, batch: int, height: int, width: int, channels: int = 3) -> list[int]:
    return [batch, channels, height, width] if layout == "nchw" else [batch, height, width, channels]


def load_foreign(path: str | Path, *, input_size: tuple[int, int] | None, layout: str, batch: int,
                 opset: int) -> ForeignGraph:
    """The model in ``path`` (ONNX, TorchScript or ``.pt2``) at ``input_size`` (H, W; None: the file's own)."""
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"model {path} does not exist")
    kind = sniff_format(path)
    if kind == "onnx":
        return foreign_from_onnx(path, input_size=input_size, layout=layout, batch=batch)
    if kind in ("torchscript", "exported_program"):
        torch = require("torch", "export")
        if kind == "torchscript":
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
                    module = torch.jit.load(str(path), map_location="cpu")
            except Exception as exc:  # torch raises RuntimeError and others for bad archives
                raise EdgesegError(f"{path}: torch.jit.load cannot read this TorchScript file ({str(exc).splitlines()[0][:200]})") from None
            example = None
        else:
            try:
                program = torch.export.load(str(path))
            except Exception as exc:
                raise EdgesegError(f"{path}: torch.export.load cannot read this ExportedProgram ({str(exc).splitlines()[0][:200]})") from None
            module = program.module()
            example = _example_shape(program)
        if input_size is None:
            if example is None or len(example) != 4:
                raise EdgesegError(f"{path}: a {kind} file does not say its input size; pass --input-size HxW")
            input_size = (example[2], example[3]) if layout == "nchw" else (example[1], example[2])
        shape = _split_shape(layout, batch, *input_size)
        return foreign_from_module(module, shape, opset=opset, kind=kind, source=str(path))
    if kind == "checkpoint":
        raise EdgesegError(
            f"{path} is a torch.save pickle, not a TorchScript or ExportedProgram file; 'edgeseg import' does not "
            "unpickle Python objects. Save the model with torch.jit.save(torch.jit.trace(model, example), 'model.pt') "
            "or torch.export.save(torch.export.export(model, (example,)), 'model.pt2'), or call "
            "edgeseg.export.export_module(model, ...) from Python; an edgeseg checkpoint goes through 'edgeseg export'"
        )
    raise EdgesegError(f"{path} is neither an ONNX, a TorchScript nor an ExportedProgram (.pt2) file")


def _example_shape(program) -> list[int] | None:
    """The static shape of an ExportedProgram's first example input, if it kept one."""
    try:
        args, _ = program.example_inputs
        return [int(d) for d in args[0].shape]
    except Exception:  # older archives have no example inputs, or symbolic ones
        return None


# -- ONNX ----------------------------------------------------------------------------------

def _ort_session(model_bytes: bytes):
    ort = require("onnxruntime", "export")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def foreign_from_onnx(path: Path, *, input_size: tuple[int, int] | None, layout: str, batch: int) -> ForeignGraph:
    """The ONNX file ``path`` with its input fixed to ``batch`` x ``input_size`` (see :class:`ForeignGraph`)."""
    onnx = require("onnx", "export")
    from .onnx_io import load_onnx

    model = load_onnx(path)
    initializers = {i.name for i in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializers]
    if len(inputs) != 1:
        raise EdgesegError(f"{path}: the model has {len(inputs)} inputs ({', '.join(v.name for v in inputs)}); "
                           "'edgeseg import' wraps models with one image input")
    value = inputs[0]
    elem = value.type.tensor_type.elem_type
    if elem != onnx.TensorProto.FLOAT:
        raise EdgesegError(f"{path}: input {value.name} is {onnx.TensorProto.DataType.Name(elem)}, not FLOAT; "
                           "'edgeseg import' feeds float32 (an ONNX that already takes uint8 'image' and returns "
                           "'labels' needs only --classes)")
    dims = value.type.tensor_type.shape.dim
    if len(dims) != 4:
        raise EdgesegError(f"{path}: input {value.name} has {len(dims)} dimensions; an image input has 4 (NCHW or NHWC)")
    fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]
    h_axis, w_axis, c_axis = (2, 3, 1) if layout == "nchw" else (1, 2, 3)
    if fixed[c_axis] not in (None, 3):
        other = "nhwc" if layout == "nchw" else "nchw"
        raise EdgesegError(f"{path}: input {value.name} is {fixed} with {fixed[c_axis]} channels at the "
                           f"{layout.upper()} channel axis; pass --layout {other} if it is {other.upper()}")
    if input_size is None:
        fixed_h, fixed_w = fixed[h_axis], fixed[w_axis]
        if fixed_h is None or fixed_w is None:
            raise EdgesegError(f"{path}: input {value.name} has dynamic height or width ({_shape_text(fixed)}); "
                               "pass --input-size HxW")
        input_size = (fixed_h, fixed_w)
    for axis, want, what in ((h_axis, input_size[0], "height"), (w_axis, input_size[1], "width")):
        if fixed[axis] is not None and fixed[axis] != want:
            raise EdgesegError(f"{path}: input {value.name} has a fixed {what} of {fixed[axis]}, not {want}; "
                               f"drop --input-size or re-export the model at {input_size[0]}x{input_size[1]}")
    if fixed[0] is not None and fixed[0] != batch:
        raise EdgesegError(f"{path}: input {value.name} has a fixed batch of {fixed[0]}; pass --batch {fixed[0]}")
    shape = _split_shape(layout, batch, *input_size)
    reference_session = _ort_session(model.SerializeToString())

    def reference(x: np.ndarray) -> dict[str, np.ndarray]:
        names = [o.name for o in reference_session.get_outputs()]
        return dict(zip(names, reference_session.run(names, {value.name: x})))

    fixed_model = _fixed_input(model, shape)
    outputs = {name: list(array.shape) for name, array in reference(np.zeros(shape, np.float32)).items()}
    _set_output_shapes(fixed_model, outputs)
    return ForeignGraph(fixed_model, value.name, shape, outputs, reference, "onnx", str(path))


def _shape_text(dims: list[int | None]) -> str:
    return "x".join("?" if d is None else str(d) for d in dims)


def _fixed_input(model, shape: list[int]):
    """A copy of ``model`` with its input dims set to ``shape``, opset >= 13, stale inner shapes dropped."""
    import copy

    onnx = require("onnx", "export")
    model = copy.deepcopy(model)
    default = next((o for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if default is not None and default.version < MIN_IMPORT_OPSET:
        log.info("converting the graph from opset %d to %d (the wrapper's minimum)", default.version, MIN_IMPORT_OPSET)
        try:
            model = onnx.version_converter.convert_version(model, MIN_IMPORT_OPSET)
        except Exception as exc:  # the converter raises RuntimeError and others for ops it cannot adapt
            raise EdgesegError(f"the graph is at opset {default.version} and onnx cannot convert it to "
                               f"{MIN_IMPORT_OPSET} ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}); "
                               f"re-export it at opset {MIN_IMPORT_OPSET} or newer") from None
    initializers = {i.name for i in model.graph.initializer}
    value = next(v for v in model.graph.input if v.name not in initializers)
    for dim, size in zip(value.type.tensor_type.shape.dim, shape):
        dim.Clear()
        dim.dim_value = size
    # value_info recorded for symbolic sizes would contradict the fixed ones; shape inference redoes it.
    del model.graph.value_info[:]
    return model


def _set_output_shapes(model, outputs: dict[str, list[int]]) -> None:
    for value in model.graph.output:
        if value.name in outputs:
            shape = value.type.tensor_type.shape
            del shape.dim[:]
            for size in outputs[value.name]:
                shape.dim.add().dim_value = size


# -- PyTorch -------------------------------------------------------------------------------

def _flat_outputs(result) -> tuple[list[str], list]:
    """Names and tensors of a module's result: a tensor (``logits``), a dict (its keys), a tuple/list."""
    torch = require("torch", "export")
    if isinstance(result, torch.Tensor):
        return ["logits"], [result]
    if isinstance(result, dict):  # also transformers' ModelOutput, an OrderedDict
        items = [(str(k), v) for k, v in result.items() if isinstance(v, torch.Tensor)]
        return [k for k, _ in items], [v for _, v in items]
    if isinstance(result, (tuple, list)):
        tensors = [v for v in result if isinstance(v, torch.Tensor)]
        return [f"output{i}" for i in range(len(tensors))], tensors
    raise EdgesegError(f"the model returned a {type(result).__name__}; it must return a tensor, a tuple or a dict of tensors")


def _flat_module():
    import torch  # export's own dependency; _Flat checks it is installed first

    class Flat(torch.nn.Module):
        """A module's result flattened to a tuple of tensors (ONNX outputs are a flat list)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.training = False

        def train(self, mode: bool = True):
            # The exporter switches the model to eval and back; an ExportedProgram's module refuses
            # train()/eval() (its mode was fixed at torch.export time), so this wrapper does not pass it on.
            return self

        def forward(self, x):
            return tuple(_flat_outputs(self.inner(x))[1])

    return Flat


def _Flat(module):
    require("torch", "export")
    return _flat_module()(module)


def _eval_mode(module) -> None:
    """Put a user's module in eval mode; an ExportedProgram's module is fixed at export and refuses ``eval()``."""
    try:
        module.eval()
    except NotImplementedError:
        pass


def foreign_from_module(module, input_shape: list[int], *, opset: int, kind: str = "module",
                        source: str = "nn.Module") -> ForeignGraph:
    """Trace ``module`` (float32 ``input_shape`` in) to ONNX; its outputs flattened and named (see :func:`_flat_outputs`)."""
    torch = require("torch", "export")
    onnx = require("onnx", "export")
    _eval_mode(module)
    example = torch.rand(*input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        try:
            names, tensors = _flat_outputs(module(example))
        except EdgesegError:
            raise
        except Exception as exc:  # the user's forward fails at this size or layout
            raise EdgesegError(f"{source}: the model fails on a float32 input of shape {input_shape} "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                               "check --input-size and --layout") from None

    if isinstance(module, torch.jit.ScriptModule):
        # TorchScript is exported as it is (the exporter flattens its outputs in the same order);
        # tracing it inside another module fails ("not part of the active trace").
        flat = module
    else:
        flat = _Flat(module)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        try:
            torch.onnx.export(flat, (example,), buffer, dynamo=False, opset_version=opset, input_names=["input"],
                              output_names=names, do_constant_folding=True)
        except Exception as exc:  # the exporter's own errors: unsupported ops and such
            raise EdgesegError(f"{source}: torch.onnx.export failed at opset {opset} "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''})") from None
    model = onnx.load_from_string(buffer.getvalue())

    def reference(x: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            _, tensors = _flat_outputs(module(torch.from_numpy(x)))
            return {n: t.float().numpy() for n, t in zip(names, tensors)}

    outputs = {n: list(t.shape) for n, t in zip(names, tensors)}
    return ForeignGraph(model, "input", list(input_shape), outputs, reference, kind, source)


_KIND_NAMES = {"onnx": "an ONNX file", "torchscript": "a TorchScript file", "exported_program": "an ExportedProgram (.pt2)"}


def refuse_for_export(path: str | Path) -> None:
    """Raise, pointing to ``edgeseg import``, if ``path`` is a model file that is not an edgeseg checkpoint."""
    kind = sniff_format(path) if Path(path).is_file() else None
    if kind in _KIND_NAMES:
        raise EdgesegError(
            f"{path} is {_KIND_NAMES[kind]}, not an edgeseg checkpoint; 'edgeseg export' takes checkpoints from "
            f"'edgeseg train'. Deploy your own model with: edgeseg import {path} -o model.onnx --classes classes.txt "
            "--mean R,G,B --std R,G,B (or --scale S); see docs/own_model.md"
        )
