"""The TensorRT ONNX operator allowlist flags what TensorRT 8.5's and 10's parsers reject."""

from __future__ import annotations

import pytest

from edgeseg.engines.trt_onnx_ops import (
    TRT8_MISSING_ONNX_OPS,
    TRT_SUPPORTED_ONNX_OPS,
    node_problem,
    unsupported_nodes,
)


def _node(op, inputs=("x",), outputs=("y",), domain="", **attrs):
    from onnx import helper

    return helper.make_node(op, list(inputs), list(outputs), name=f"{op.lower()}_0", domain=domain, **attrs)


def test_known_gaps_are_absent_and_common_ops_present():
    # Marked "N" in onnx-tensorrt's operators.md for TensorRT 10.15 (AffineGrid included).
    assert {"MaxUnpool", "Col2Im", "Unique", "AffineGrid", "ConvInteger", "DFT"}.isdisjoint(TRT_SUPPORTED_ONNX_OPS)
    assert TRT8_MISSING_ONNX_OPS < TRT_SUPPORTED_ONNX_OPS
    assert {"Conv", "Resize", "GRU", "LSTM", "QuantizeLinear", "DequantizeLinear", "ArgMax"} <= TRT_SUPPORTED_ONNX_OPS


@pytest.mark.parametrize(("node", "problem"), [
    (_node("MaxUnpool", ("x", "i")), "MaxUnpool node maxunpool_0: MaxUnpool is not supported"),
    (_node("MaxPool", outputs=("y", "idx"), kernel_shape=[2, 2]), "MaxPool with an Indices output is not supported"),
    (_node("ArgMax", select_last_index=1), "select_last_index=1 is not supported"),
    (_node("Resize", ("x", "", "s"), coordinate_transformation_mode="tf_crop_and_resize"),
     "coordinate_transformation_mode 'tf_crop_and_resize' is not supported"),
    (_node("GRU", ("x", "w", "r"), activations=["Tanh", "Tanh"]), "custom activations are not supported"),
    (_node("LSTM", ("x", "w", "r", "", "", "", "", "p")), "peephole weights are not supported"),
    (_node("MyPlugin", domain="com.example"), "custom domain 'com.example'"),
])
def test_rejected_nodes_are_explained(node, problem):
    assert problem in node_problem(node)


@pytest.mark.parametrize("node", [
    _node("MaxPool", kernel_shape=[2, 2]),
    _node("Resize", ("x", "", "s"), coordinate_transformation_mode="align_corners", mode="linear"),
    _node("GRU", ("x", "w", "r"), direction="bidirectional", hidden_size=4),
    _node("ArgMax", axis=1, keepdims=0),
])
def test_supported_nodes_pass(node):
    assert node_problem(node) is None


def test_unsupported_nodes_walks_the_graph():
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [_node("Relu", ("x",), ("a",)), _node("MaxUnpool", ("a", "i"), ("y",))], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
    )
    problems = unsupported_nodes(helper.make_model(graph))
    assert len(problems) == 1 and problems[0].startswith("MaxUnpool node")


def test_ops_new_in_tensorrt_10_are_refused_for_jetpack_5_only():
    node = _node("LayerNormalization", ("x", "scale"))
    assert node_problem(node, trt_major=10) is None
    assert "not supported by TensorRT 8.5's ONNX parser (JetPack 5)" in node_problem(node)
