"""A foreign float ONNX graph between the contract's in-graph pre- and post-processing, in ONNX.

The ONNX counterpart of :class:`~.wrapper.DeployWrapper`, for graphs that
are not PyTorch modules of edgeseg's zoo::

    image uint8 N x H x W x 3 BGR
      /preprocess/:  Cast(float) -> [Gather BGR->RGB] -> Sub(mean) -> Div(std) -> [Transpose NHWC->NCHW]
      net/...:       the foreign graph, every name prefixed with ``net/`` (no clash with ours)
      /postprocess/: [Transpose NHWC->NCHW] -> [Resize to H x W, linear, half_pixel] -> ArgMax -> Cast(uint8)
    labels uint8 N x H x W      (and ``logits`` float32 N x C x H x W, the ArgMax input)

The bracketed steps appear only when the model needs them. The pre/post
nodes carry the ``/preprocess/`` and ``/postprocess/`` scopes the FP16 step
keeps in FP32 (:mod:`.fp16`). The pieces are joined with ``onnx.compose``,
which requires one IR version and one opset per domain: the pre/post models
are built at the foreign graph's own (opset >= 13, whose Cast, Gather,
Resize and ArgMax have the semantics used here at every later opset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseg.errors import EdgesegError, require

from .wrapper import POSTPROCESS_SCOPE, PREPROCESS_SCOPE

NET_PREFIX = "net/"
MAX_CLASSES = 256  # labels are uint8


@dataclass(frozen=True)
class InputConvention:
    """What the foreign model's float input is, in terms of the uint8 BGR frame.

    ``model_input = (frame_in_channel_order - mean) / std``, laid out as ``layout``.

    Attributes:
        mean, std: per channel, R, G, B order, 0..255 units (as in :class:`~edgeseg.metadata.InputSpec`).
        channel_order: ``rgb`` or ``bgr``, the order the model expects.
        layout: ``nchw`` or ``nhwc``, of the input and of the logits output.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channel_order: str = "rgb"
    layout: str = "nchw"

    def model_order(self, values: Sequence[float]) -> list[float]:
        """``values`` given R, G, B, in the order of the model's channels."""
        return list(values) if self.channel_order == "rgb" else list(values)[::-1]

    def model_input(self, frames: np.ndarray) -> np.ndarray:
        """uint8 N x H x W x 3 BGR -> the model's float32 input, the graph's operations in the graph's order."""
        x: np.ndarray = frames.astype(np.float32)
        if self.channel_order == "rgb":
            x = x[..., ::-1]
        x = (x - np.asarray(self.model_order(self.mean), np.float32)) / np.asarray(self.model_order(self.std), np.float32)
        if self.layout == "nchw":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=np.float32)


def logits_nchw(shape: Sequence[int], layout: str) -> tuple[int, int, int, int]:
    """(N, C, h, w) of a logits output of ``shape`` in ``layout``."""
    if len(shape) != 4:
        raise EdgesegError(f"a logits output has 4 dimensions (N x C x h x w), this one has shape {list(shape)}")
    n, a, b, c = (int(d) for d in shape)
    return (n, a, b, c) if layout == "nchw" else (n, c, a, b)


def _default_opset(model) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _piece(nodes, inputs, outputs, initializers, like, name: str):
    """A model of ``nodes`` with the IR version and opset imports of ``like`` (what onnx.compose requires)."""
    onnx = require("onnx", "export")
    graph = onnx.helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", _default_opset(like))])
    model.ir_version = like.ir_version
    return model


def preprocess_model(like, convention: InputConvention, batch: int, height: int, width: int, output: str):
    """uint8 ``image`` N x H x W x 3 BGR -> the foreign model's float32 input, named ``output``."""
    onnx = require("onnx", "export")
    h, tensor = onnx.helper, onnx.numpy_helper.from_array
    s = PREPROCESS_SCOPE
    nodes = [h.make_node("Cast", ["image"], [f"{s}float"], name=f"{s}Cast", to=onnx.TensorProto.FLOAT)]
    current = f"{s}float"
    inits = [tensor(np.asarray(convention.model_order(convention.mean), np.float32), f"{s}mean"),
             tensor(np.asarray(convention.model_order(convention.std), np.float32), f"{s}std")]
    if convention.channel_order == "rgb":
        inits.append(tensor(np.array([2, 1, 0], np.int64), f"{s}bgr_to_rgb"))
        nodes.append(h.make_node("Gather", [current, f"{s}bgr_to_rgb"], [f"{s}rgb"], name=f"{s}Gather", axis=3))
        current = f"{s}rgb"
    last = output if convention.layout == "nhwc" else f"{s}normalised"
    nodes += [h.make_node("Sub", [current, f"{s}mean"], [f"{s}centred"], name=f"{s}Sub"),
              h.make_node("Div", [f"{s}centred", f"{s}std"], [last], name=f"{s}Div")]
    if convention.layout == "nchw":
        nodes.append(h.make_node("Transpose", [last], [output], name=f"{s}Transpose", perm=[0, 3, 1, 2]))
    shape = [batch, 3, height, width] if convention.layout == "nchw" else [batch, height, width, 3]
    return _piece(nodes, [h.make_tensor_value_info("image", onnx.TensorProto.UINT8, [batch, height, width, 3])],
                  [h.make_tensor_value_info(output, onnx.TensorProto.FLOAT, shape)], inits, like, "preprocess")


def postprocess_model(like, logits_name: str, logits_shape: Sequence[int], layout: str, height: int, width: int):
    """Foreign logits ``logits_name`` -> ``labels`` uint8 N x H x W and ``logits`` float32 N x C x H x W."""
    onnx = require("onnx", "export")
    h, tensor = onnx.helper, onnx.numpy_helper.from_array
    s = POSTPROCESS_SCOPE
    n, c, lh, lw = logits_nchw(logits_shape, layout)
    nodes, inits, current = [], [], logits_name
    steps = []
    if layout == "nhwc":
        steps.append("transpose")
    if (lh, lw) != (height, width):
        steps.append("resize")
    for k, step in enumerate(steps):
        out = "logits" if k == len(steps) - 1 else f"{s}{step}d"
        if step == "transpose":
            nodes.append(h.make_node("Transpose", [current], [out], name=f"{s}Transpose", perm=[0, 3, 1, 2]))
        else:
            # Bilinear with half-pixel centres: torch's interpolate(align_corners=False), OpenCV's INTER_LINEAR,
            # and a mode every TensorRT version parses. Logits, not labels, are resized: labels do not interpolate.
            inits.append(tensor(np.array([n, c, height, width], np.int64), f"{s}size"))
            nodes.append(h.make_node("Resize", [current, "", "", f"{s}size"], [out], name=f"{s}Resize", mode="linear",
                                     coordinate_transformation_mode="half_pixel"))
        current = out
    if not steps:
        nodes.append(h.make_node("Identity", [current], ["logits"], name=f"{s}Identity"))
    nodes += [h.make_node("ArgMax", ["logits"], [f"{s}argmax"], name=f"{s}ArgMax", axis=1, keepdims=0),
              h.make_node("Cast", [f"{s}argmax"], ["labels"], name=f"{s}Cast", to=onnx.TensorProto.UINT8)]
    return _piece(
        nodes, [h.make_tensor_value_info(logits_name, onnx.TensorProto.FLOAT, list(logits_shape))],
        [h.make_tensor_value_info("labels", onnx.TensorProto.UINT8, [n, height, width]),
         h.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [n, c, height, width])],
        inits, like, "postprocess")


def _pruned(model, outputs: Sequence[str]) -> None:
    """Drop the nodes and initializers nothing in ``outputs`` depends on (other heads of the foreign model)."""
    needed, kept = set(outputs), []
    for node in reversed(model.graph.node):
        if needed & set(node.output):
            kept.append(node)
            needed |= {name for name in node.input if name}
            for attr in node.attribute:  # subgraphs read outer names too
                if attr.type == 5:
                    needed |= {name for sub in attr.g.node for name in sub.input}
    del model.graph.node[:]
    model.graph.node.extend(reversed(kept))
    inits = [i for i in model.graph.initializer if i.name in needed]
    del model.graph.initializer[:]
    model.graph.initializer.extend(inits)


def _merge_opset_imports(model) -> None:
    """One opset import per domain: onnx.compose concatenates the pieces' lists (checked equal per domain),
    which leaves duplicates that onnxruntime's quantizer, among others, cannot read."""
    versions: dict[str, int] = {}
    for entry in model.opset_import:
        domain = "" if entry.domain == "ai.onnx" else entry.domain
        versions[domain] = max(versions.get(domain, 0), entry.version)
    del model.opset_import[:]
    for domain, version in versions.items():
        entry = model.opset_import.add()
        entry.domain, entry.version = domain, version


def wrap_foreign(model, input_name: str, logits_name: str, logits_shape: Sequence[int],
                 convention: InputConvention, batch: int, height: int, width: int):
    """The contract ONNX around ``model`` (see the module docstring); its other outputs are dropped."""
    onnx = require("onnx", "export")
    n, c, _, _ = logits_nchw(logits_shape, convention.layout)
    if c > MAX_CLASSES:
        raise EdgesegError(f"output {logits_name} has {c} classes; uint8 labels hold at most {MAX_CLASSES}")
    net = onnx.compose.add_prefix(model, NET_PREFIX)
    # onnx.compose wants one IR version and equal opsets per domain: the pieces take the foreign graph's.
    pre = preprocess_model(net, convention, batch, height, width, f"{PREPROCESS_SCOPE}out")
    post = postprocess_model(net, f"{POSTPROCESS_SCOPE}in", logits_shape, convention.layout, height, width)
    merged = onnx.compose.merge_models(pre, net, io_map=[(f"{PREPROCESS_SCOPE}out", NET_PREFIX + input_name)],
                                       outputs=[NET_PREFIX + logits_name])
    merged = onnx.compose.merge_models(merged, post, io_map=[(NET_PREFIX + logits_name, post.graph.input[0].name)],
                                       outputs=["labels", "logits"])
    _merge_opset_imports(merged)
    _pruned(merged, ["labels", "logits"])
    del merged.graph.value_info[:]
    merged.graph.name = "edgeseg_import"
    return merged
