"""Test helpers shared across test folders (importable as ``helpers``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "camvid"
COMMITTED_ENET = ROOT / "models" / "camvid_enet.pt"
def tiny_train_overrides(**extra) -> list[str]:
    """Overrides that train ENet on 4 sample images at 96x128 in seconds."""
    values = {
        "data.root": str(SAMPLES), "data.train_split": "val", "data.val_split": "val",
        "data.height": 96, "data.width": 128, "augment.crop_height": 96, "augment.crop_width": 128,
        "augment.scale_min": 0.25, "augment.scale_max": 0.35,
        "max_train_images": 4, "max_val_images": 2, "batch_size": 2, "warmup_epochs": 0,
        "lr": 5e-3, "threads": 1,
    }
    values.update(extra)
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, str):
            value = f'"{value}"'
        out.append(f"{key}={value}")
    return out


def make_contract_onnx(path, *, height: int = 32, width: int = 48, num_classes: int = 3, batch: int | str = 1,
                       seed: int = 0, metadata: bool = True, opset: int = 17, channels: int = 3):
    """Write a tiny ONNX that honours edgeseg's contract, without torch.

    ``image`` uint8 N x H x W x C (C = ``channels``: 3 BGR, 4 BGR + depth with
    depth_scale 40 in the metadata) -> Cast -> Transpose (NCHW) -> 1x1 Conv
    (random weights) -> ArgMax over channels -> Cast -> ``labels`` uint8 N x H x W.
    With ``metadata``, the edgeseg metadata (identity normalisation) is attached.
    Returns ``(path, weight, bias)`` so a test can compute the expected labels.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgeseg.metadata import ONNX_METADATA_KEY, InputSpec, ModelMetadata
    from edgeseg.palettes import default_palette

    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((num_classes, channels, 1, 1)).astype(np.float32)
    bias = rng.standard_normal(num_classes).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["image_f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "weight", "bias"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["argmax"], axis=1, keepdims=0),
        helper.make_node("Cast", ["argmax"], ["labels"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes, "tiny_contract",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [batch, height, width, channels])],
        [helper.make_tensor_value_info("labels", TensorProto.UINT8, [batch, height, width])],
        initializer=[numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if metadata:
        meta = ModelMetadata(
            architecture="tiny_conv1x1", classes=[f"class{i}" for i in range(num_classes)],
            palette=[list(c) for c in default_palette(num_classes)],
            input=InputSpec(height=height, width=width, mean=[0.0] * channels, std=[1.0] * channels,
                            channels=channels, depth_scale=40.0 if channels == 4 else None), opset=opset,
        )
        helper.set_model_props(model, {ONNX_METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path, weight, bias


def contract_onnx_expected_labels(images, weight, bias):
    """Reference labels of :func:`make_contract_onnx` for uint8 N x H x W x 3 ``images``."""
    import numpy as np

    x = images.astype(np.float32).transpose(0, 3, 1, 2)  # BGR order is what the graph sees
    logits = np.einsum("nchw,kc->nkhw", x, weight[:, :, 0, 0]) + bias[None, :, None, None]
    return logits.argmax(1).astype(np.uint8)


def rewrite_contract_onnx(path, *, precision: str | None = None, labels_int32: bool = False):
    """Rewrite a contract ONNX in place: metadata precision, or int32 labels (the TensorRT 8.x form)."""
    import json

    import onnx
    from onnx import TensorProto

    model = onnx.load(str(path))
    if precision is not None:
        for prop in model.metadata_props:
            if prop.key == "edgeseg":
                meta = json.loads(prop.value)
                meta["precision"] = precision
                prop.value = json.dumps(meta)
    if labels_int32:
        cast = model.graph.node[-1]
        for attr in cast.attribute:
            if attr.name == "to":
                attr.i = TensorProto.INT32
        model.graph.output[0].type.tensor_type.elem_type = TensorProto.INT32
    onnx.save(model, str(path))
    return path
