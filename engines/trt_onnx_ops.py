"""ONNX operators that TensorRT's ONNX parsers support, and a checker for a graph.

Source: onnx-tensorrt's ``docs/operators.md``, the support matrix of the
TensorRT 10.15 parser (ops marked "Y"), checked against the TensorRT 8.5
matrix (JetPack 5.1, the oldest parser edgeseg targets): the operators that
8.5 lacks are :data:`TRT8_MISSING_ONNX_OPS`. The list is deliberately
conservative: an op whose support in the parser is partial for the uses we
have (sequence ops, string ops, training ops) is left out too, so a model that
passes :func:`unsupported_nodes` should parse. The parser is the final judge:
``edgeseg build`` runs it on a GPU.

Notable absences and restrictions (operators.md notes):
- ``MaxUnpool`` is not supported: SegNet/ENet unpool with masks instead
  (``edgeseg.train.models.unpool``). ``MaxPool`` is supported only without its
  second output (``Indices``); ``Col2Im``, ``Unique``, ``StringNormalizer``,
  ``TfIdfVectorizer``, sequence and optional ops are absent.
- ``GRU``, ``LSTM``, ``RNN``: supported with the default activations only
  (``activations``, ``activation_alpha``/``beta`` not customisable); for
  ``LSTM`` no peephole weights (``P``) and ``input_forget=0``; sequence lengths
  must be uniform (``sequence_lens`` unsupported or all equal), ``layout=0``.
- ``ArgMax``/``ArgMin``: ``select_last_index=0`` only.
- ``Resize``: modes nearest, linear (bilinear) and cubic; coordinate
  transformation modes ``align_corners``, ``asymmetric``, ``half_pixel``,
  ``pytorch_half_pixel``, ``tf_crop_and_resize`` not; ``antialias=0``.
- ``Pad``: modes constant, reflect, edge (reflect/edge need constant pads).
- ``Cast``: no DOUBLE or string types on the device (INT64 is narrowed to
  INT32 by the parser).
- ``QuantizeLinear``/``DequantizeLinear``: INT8 (and FP8/INT4 on new GPUs),
  per-tensor or per-channel scales, zero point 0.
- ``Einsum``: a subset of equations; ``NonZero``, ``Loop``, ``If``, ``Scan``
  exist but make engines dynamic and slow: avoided by edgeseg's models.
"""

from __future__ import annotations

from typing import Any

TRT_SUPPORTED_ONNX_OPS: frozenset[str] = frozenset({
    "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
    "AveragePool", "BatchNormalization", "BlackmanWindow", "Cast", "CastLike", "Ceil", "Celu", "Clip", "Concat",
    "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Cosh", "CumSum", "DeformConv", "DepthToSpace",
    "DequantizeLinear", "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten",
    "Floor", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool",
    "GlobalMaxPool", "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization", "GRU", "HammingWindow",
    "HannWindow", "Hardmax", "HardSigmoid", "HardSwish", "Identity", "If", "InstanceNormalization", "IsInf", "IsNaN",
    "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Loop", "LpNormalization",
    "LpPool", "LRN", "LSTM", "MatMul", "Max", "MaxPool", "Mean", "MeanVarianceNormalization", "Min", "Mish", "Mod",
    "Mul", "Neg", "NonMaxSuppression", "NonZero", "Not", "OneHot", "Or", "Pad", "Pow", "PRelu", "QuantizeLinear",
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1",
    "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
    "ReduceSumSquare", "Relu", "Reshape", "Resize", "ReverseSequence", "RNN", "RoiAlign", "Round", "Scan",
    "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice",
    "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh",
    "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Unsqueeze", "Upsample", "Where", "Xor",
})

# In the TensorRT 10.x matrix but marked "N" or absent in TensorRT 8.5's
# (JetPack 5.1 on Xavier and Orin): a graph for those targets must avoid them.
TRT8_MISSING_ONNX_OPS: frozenset[str] = frozenset({
    "BlackmanWindow", "CastLike", "DeformConv", "Gelu", "GroupNormalization", "HammingWindow", "HannWindow",
    "Hardmax", "IsInf", "LayerNormalization", "Mish",
})

_SUPPORTED_RESIZE_COORDINATES = frozenset({"align_corners", "asymmetric", "half_pixel", "pytorch_half_pixel"})
_RECURRENT_OPS = frozenset({"GRU", "LSTM", "RNN"})


def _attributes(node: Any) -> dict[str, Any]:
    """A node's attributes as Python values (ints, floats, bytes, lists) without importing onnx."""
    values: dict[str, Any] = {}
    for attr in node.attribute:
        if attr.type == 2:  # INT
            values[attr.name] = attr.i
        elif attr.type == 1:  # FLOAT
            values[attr.name] = attr.f
        elif attr.type == 3:  # STRING
            values[attr.name] = attr.s.decode()
        elif attr.type == 8:  # STRINGS
            values[attr.name] = [s.decode() for s in attr.strings]
        elif attr.type == 6:  # FLOATS
            values[attr.name] = list(attr.floats)
    return values


def node_problem(node: Any, trt_major: int = 8) -> str | None:
    """Why TensorRT ``trt_major``'s parser would reject ``node`` (an ``onnx.NodeProto``), or ``None``.

    Checks the op type against :data:`TRT_SUPPORTED_ONNX_OPS` (default ONNX
    domain only; less :data:`TRT8_MISSING_ONNX_OPS` for ``trt_major`` 8, the
    default because every target must take the graph) and the restrictions
    above that can be read from the node.
    """
    op = node.op_type
    where = f"{op} node {node.name or '(unnamed)'}"
    if node.domain not in ("", "ai.onnx"):
        return f"{where}: custom domain {node.domain!r} (TensorRT needs a plugin)"
    if op not in TRT_SUPPORTED_ONNX_OPS:
        return f"{where}: {op} is not supported by TensorRT's ONNX parser"
    if trt_major < 10 and op in TRT8_MISSING_ONNX_OPS:
        return f"{where}: {op} is not supported by TensorRT 8.5's ONNX parser (JetPack 5)"
    attrs = _attributes(node)
    if op == "MaxPool" and len([o for o in node.output if o]) > 1:
        return f"{where}: MaxPool with an Indices output is not supported"
    if op in ("ArgMax", "ArgMin") and attrs.get("select_last_index", 0) != 0:
        return f"{where}: select_last_index=1 is not supported"
    if op == "Resize":
        mode = attrs.get("coordinate_transformation_mode", "half_pixel")
        if mode not in _SUPPORTED_RESIZE_COORDINATES:
            return f"{where}: coordinate_transformation_mode {mode!r} is not supported"
        if attrs.get("antialias", 0):
            return f"{where}: antialias is not supported"
    if op in _RECURRENT_OPS:
        if "activations" in attrs or "activation_alpha" in attrs or "activation_beta" in attrs:
            return f"{where}: custom activations are not supported"
        if attrs.get("layout", 0) != 0:
            return f"{where}: layout=1 is not supported"
        if op == "LSTM" and (attrs.get("input_forget", 0) or (len(node.input) > 7 and node.input[7])):
            return f"{where}: input_forget and peephole weights are not supported"
    return None


def unsupported_nodes(model: Any, trt_major: int = 8) -> list[str]:
    """Problems of every node of ``model`` (an ``onnx.ModelProto``), subgraphs included; empty when
    TensorRT ``trt_major``'s parser should take it (default 8: every target)."""
    problems: list[str] = []

    def visit(graph: Any) -> None:
        for node in graph.node:
            problem = node_problem(node, trt_major)
            if problem:
                problems.append(problem)
            for attr in node.attribute:
                if attr.type == 5:  # GRAPH
                    visit(attr.g)

    visit(model.graph)
    return problems
