"""FP32 ONNX -> mixed-precision FP16 ONNX that keeps numerically sensitive ops in FP32.

Tool: onnxconverter-common's ``convert_float_to_float16`` with an op block
list and a node block list. It is pure Python, runs on the CPU and inserts
a Cast at every FP32/FP16 boundary, giving an explicitly typed graph that
TensorRT builds as a strongly typed network. (ModelOpt AutoCast does the
same job with a data-driven choice of nodes, but ``nvidia-modelopt`` depends
on torch and CUDA-oriented packages, which the CPU-only export extra avoids.)

Kept in FP32:

- :data:`FP32_OPS`: reductions, softmax and normalisation statistics, whose
  sums overflow or lose precision in FP16, and ArgMax/TopK, which turn tiny
  differences into different labels;
- the in-graph pre-processing (``/preprocess/``: Cast, channel swap,
  ``(x - mean) / std``, transpose) and post-processing (``/postprocess/``:
  ArgMax and the uint8 Cast), so the uint8 input and output stay exactly as
  in FP32 and the first convolution gets its input as a single rounding of
  the FP32 value.

Everything else (convolutions, PReLU, adds, pooling) runs in FP16. The graph
I/O is unchanged: ``image`` uint8 in, ``labels`` uint8 out (``logits``, if
present, stays float32 through a final Cast).
"""

from __future__ import annotations

import copy
import logging
import warnings

from edgeseg.errors import EdgesegError, require

from .wrapper import POSTPROCESS_SCOPE, PREPROCESS_SCOPE

log = logging.getLogger("edgeseg.export")

FP32_OPS = (
    # reductions whose sums overflow FP16 (max 65504) or lose small terms
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceProd", "CumSum",
    # softmax and its exponentials
    "Softmax", "LogSoftmax", "Exp", "Log", "Pow", "Sqrt", "Reciprocal",
    # normalisation statistics
    "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization",
    "LpNormalization", "MeanVarianceNormalization",
    # label decisions
    "ArgMax", "ArgMin", "TopK",
    # index and resampling ops the converter cannot type in FP16
    "Range", "Resize", "Upsample", "NonMaxSuppression", "RoiAlign",
)


def fp32_node_names(model) -> list[str]:
    """Names of the pre/post-processing nodes, kept in FP32 (see :mod:`.wrapper`)."""
    return [n.name for n in model.graph.node if n.name.startswith((PREPROCESS_SCOPE, POSTPROCESS_SCOPE))]


def _unshared_initializers(model):
    """A copy of ``model`` in which each float initializer feeds one node only.

    onnxslim merges equal initializers (an untrained model's PReLU slopes are
    all 0.25), and onnxconverter-common then leaves a node whose initializer is
    shared with an FP32-blocked node in FP32 without casting its output,
    so the next FP16 node meets FP32 data. One copy per consumer avoids that.
    """
    onnx = require("onnx", "export")
    model = copy.deepcopy(model)
    floats = {i.name: i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT}
    seen: set[str] = set()
    for node in model.graph.node:
        for k, name in enumerate(node.input):
            if name not in floats:
                continue
            if name in seen:
                clone = copy.deepcopy(floats[name])
                clone.name = f"{name}__{node.name}__{k}"
                model.graph.initializer.append(clone)
                node.input[k] = clone.name
            seen.add(name)
    return model


def _split_logits_output(model):
    """``(model without its graph output 'logits', that output's ValueInfo or None)``.

    When ``logits`` comes straight from an FP32-blocked op (a final Resize:
    LEDNet, LSTM-CF) that also feeds the blocked ArgMax, onnxconverter-common's
    Cast clean-up loses the output's producer. So the converter never sees
    ``logits`` as an output; :func:`_restore_logits_output` adds it back.
    """
    outputs = list(model.graph.output)
    logits = next((o for o in outputs if o.name == "logits"), None)
    if logits is None:
        return model, None
    model = copy.deepcopy(model)
    del model.graph.output[:]
    model.graph.output.extend(o for o in outputs if o.name != "logits")
    for node in model.graph.node:  # the network's tensor gets a name of its own
        node.input[:] = ["logits__network" if name == "logits" else name for name in node.input]
        node.output[:] = ["logits__network" if name == "logits" else name for name in node.output]
    return model, logits


def _restore_logits_output(converted, logits) -> None:
    """Output ``logits`` = the FP32 tensor the post-processing ArgMax reads (the labels' own scores)."""
    onnx = require("onnx", "export")
    argmax = next(n for n in converted.graph.node if n.op_type == "ArgMax" and n.name.startswith(POSTPROCESS_SCOPE))
    converted.graph.node.append(
        onnx.helper.make_node("Identity", [argmax.input[0]], ["logits"], name=f"{POSTPROCESS_SCOPE}logits"))
    converted.graph.output.append(logits)


def fp16_from_fp32(model):
    """A mixed-precision copy of the FP32 ``onnx.ModelProto`` ``model``."""
    require("onnxconverter_common", "export")
    from onnxconverter_common.float16 import convert_float_to_float16

    model, logits = _split_logits_output(_unshared_initializers(model))
    blocked_nodes = fp32_node_names(model)
    network_casts = {n.name for n in model.graph.node if n.op_type == "Cast"} - set(blocked_nodes)
    if not any(name.startswith(POSTPROCESS_SCOPE) for name in blocked_nodes):
        raise EdgesegError(
            "the model has no /postprocess/ nodes: it was not written by 'edgeseg export' (or was renamed), "
            "so its pre/post-processing cannot be kept in FP32; re-export it"
        )
    log.info("converting to FP16; %d pre/post-processing nodes and ops %s stay FP32", len(blocked_nodes), ", ".join(FP32_OPS[:6]) + ", ...")
    with warnings.catch_warnings():
        # The converter warns for every weight it clamps to the FP16 range
        # (|x| < 1e-7 -> 1e-7); such weights contribute nothing at FP16 anyway.
        warnings.simplefilter("ignore")
        converted = convert_float_to_float16(
            model, keep_io_types=True, op_block_list=list(FP32_OPS), node_block_list=blocked_nodes,
        )
    # The converter leaves Cast(to=FLOAT) nodes alone, so a float made from a
    # bool or integer inside the network (ENet's unpooling masks) would meet
    # FP16 data; such Casts of the network now produce FP16 (not those of the
    # FP32 blocks, nor the converter's own Casts back to FP32 outputs).
    onnx = require("onnx", "export")
    for node in converted.graph.node:
        if node.op_type == "Cast" and node.name in network_casts:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == onnx.TensorProto.FLOAT:
                    attr.i = onnx.TensorProto.FLOAT16
    if logits is not None:
        _restore_logits_output(converted, logits)
    # The converter renames tensors around the Casts it inserts but leaves
    # their old value_info (with the old element type) behind, which
    # onnx.checker then rejects; drop it and infer the types afresh.
    del converted.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(converted, strict_mode=True)
