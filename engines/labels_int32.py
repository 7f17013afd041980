"""The TensorRT 8.x form of an edgeseg ONNX: ``labels`` as int32 instead of uint8.

TensorRT 8.5/8.6 (JetPack 5.1, 6.0) convert uint8 only to and from float
types, so the export's ``ArgMax -> Cast(uint8) -> labels`` does not build
there. Its nearest form that does: the same Cast to int32 (ArgMax's indices
are integers already), ``labels`` int32 N x H x W. The TensorRT backend
accepts int32 labels and narrows them to uint8 on the host (values are class
indices < 256, so nothing is lost).

``edgeseg build`` applies this automatically, in memory, when the TensorRT on
the machine is 8.x: the ONNX on disk stays the uint8 contract that every
other runtime takes, and the engine's sidecar records ``labels_dtype``.
"""

from __future__ import annotations

from edgeseg.errors import EdgesegError, require


def int32_labels(model_bytes: bytes, casts: list[str], source: str) -> bytes:
    """``model_bytes`` with each Cast named in ``casts`` (ArgMax -> uint8) casting to int32 instead.

    Args:
        model_bytes: a serialized ONNX model.
        casts: names of the Cast(to=uint8) nodes fed by an integer op (``OnnxFacts.uint8_casts_from_int``).
        source: the file name, for messages.

    Every graph output those casts write becomes int32 (the shape is unchanged).
    """
    onnx = require("onnx", "export")
    from onnx import TensorProto

    model = onnx.load_from_string(model_bytes)
    wanted = set(casts)
    outputs: set[str] = set()
    for i, node in enumerate(model.graph.node):
        if (node.name or f"Cast_{i}") not in wanted:
            continue
        for attr in node.attribute:
            if attr.name == "to":
                attr.i = TensorProto.INT32
        outputs.update(node.output)
    if not outputs:
        raise EdgesegError(f"{source}: none of the casts {sorted(wanted)} is in the graph; re-export the model")
    for value in model.graph.output:
        if value.name in outputs:
            value.type.tensor_type.elem_type = TensorProto.INT32
    return bytes(model.SerializeToString())
