"""``edgeseg export``: the ONNX contract, metadata and parity with PyTorch (real torch, onnx, onnxruntime)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from helpers import SAMPLES

from edgeseg.cli import main
from edgeseg.export.tolerances import FP32_LABEL_AGREEMENT, FP32_LOGITS_ATOL, FP32_LOGITS_MAX_OUTLIERS
from edgeseg.hashing import sha256_file
from edgeseg.images import load_image_folder
from edgeseg.metadata import ONNX_METADATA_KEY, ModelMetadata
from edgeseg.preprocess import normalize_bgr
from edgeseg.runtime.backends import open_backend
from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

HEIGHT, WIDTH = 32, 48  # the size tests/export/conftest.py exports at


def _shape(value_info) -> list[int]:
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_export_contract_and_metadata(tiny_onnx, tiny_checkpoint):
    model = onnx.load(str(tiny_onnx))
    onnx.checker.check_model(model, full_check=True)
    (image,) = model.graph.input
    assert image.name == "image" and image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert _shape(image) == [1, HEIGHT, WIDTH, 3]
    outputs = {o.name: o for o in model.graph.output}
    assert list(outputs) == ["labels", "logits"]
    assert outputs["labels"].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert _shape(outputs["labels"]) == [1, HEIGHT, WIDTH]
    assert outputs["logits"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert _shape(outputs["logits"]) == [1, 11, HEIGHT, WIDTH]
    ops = [n.op_type for n in model.graph.node]
    assert ops[:5] == ["Cast", "Gather", "Sub", "Div", "Transpose"] and ops[-2:] == ["ArgMax", "Cast"]
    assert "MaxUnpool" not in ops and "BatchNormalization" in ops  # simplified: only the post-concat BN is left
    assert ops.count("BatchNormalization") == 1

    meta = ModelMetadata.from_json({p.key: p.value for p in model.metadata_props}[ONNX_METADATA_KEY])
    source = ModelMetadata.from_dict(load_checkpoint(tiny_checkpoint)["metadata"])
    assert meta.precision == "fp32" and meta.opset == 17 and meta.calibration is None
    assert (meta.input.height, meta.input.width, meta.input.multiple) == (HEIGHT, WIDTH, 8)
    assert meta.input.mean == source.input.mean and meta.input.std == source.input.std
    assert meta.classes == source.classes and meta.architecture == "enet"
    assert meta.source_sha256 == sha256_file(tiny_checkpoint)
    assert {"edgeseg", "torch", "onnx", "onnxslim", "onnxruntime"} <= set(meta.tool_versions)


def test_export_parity_with_pytorch_on_real_images(tiny_onnx, tiny_checkpoint):
    model, meta = model_from_checkpoint(load_checkpoint(tiny_checkpoint))
    images = load_image_folder(SAMPLES / "val", HEIGHT, WIDTH, count=6).images
    session = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    errors, agree = [], []
    for image in images:
        labels, logits = session.run(["labels", "logits"], {"image": image[None]})
        with torch.no_grad():
            reference = model(torch.from_numpy(normalize_bgr(image[None], meta.input.mean, meta.input.std))).numpy()
        errors.append(np.abs(logits - reference).ravel())
        agree.append(labels == reference.argmax(1))
    error = np.concatenate(errors)
    assert (error > FP32_LOGITS_ATOL).mean() <= FP32_LOGITS_MAX_OUTLIERS, f"max diff {error.max():.3g}"
    assert np.median(error) < 1e-4
    assert np.concatenate([a.ravel() for a in agree]).mean() >= FP32_LABEL_AGREEMENT


def test_export_without_logits_and_with_batch(tiny_checkpoint, calib_dir, tmp_path):
    out = tmp_path / "b2.onnx"
    assert main(["export", str(tiny_checkpoint), "-o", str(out), "--height", "40", "--width", "56", "--batch", "2",
                 "--parity-images", str(SAMPLES / "val"), "--parity-count", "3"]) == 0
    model = onnx.load(str(out))
    assert [o.name for o in model.graph.output] == ["labels"]
    assert _shape(model.graph.input[0]) == [2, 40, 56, 3]
    labels = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"image": np.zeros((2, 40, 56, 3), np.uint8)})[0]
    assert labels.dtype == np.uint8 and labels.shape == (2, 40, 56)
    # INT8 of a batch-2 model: 3 calibration images fill two batches (the last one repeats from the start).
    int8 = tmp_path / "b2.int8.onnx"
    assert main(["quantize", str(out), "--precision", "int8", "--calib", str(calib_dir), "--num-images", "3",
                 "-o", str(int8)]) == 0
    with open_backend(int8) as backend:
        images = load_image_folder(SAMPLES / "val", 40, 56, count=3).images
        assert backend.infer(images).shape == (3, 40, 56)  # 3 frames through a batch-2 model


@pytest.mark.parametrize("channel_swap", [False, True])
def test_parity_check_catches_a_wrong_preprocessing(tiny_checkpoint, channel_swap):
    """The parity check must fail for an export whose normalisation differs from training's."""
    from edgeseg.export.onnx_from_torch import onnx_from_torch, simplified_onnx
    from edgeseg.export.parity import onnx_vs_torch
    from edgeseg.export.wrapper import DeployWrapper

    model, meta = model_from_checkpoint(load_checkpoint(tiny_checkpoint))
    mean = meta.input.mean[::-1] if channel_swap else [m + 20 for m in meta.input.mean]
    wrapper = DeployWrapper(model, mean, meta.input.std, with_logits=True)
    graph = simplified_onnx(onnx_from_torch(wrapper, HEIGHT, WIDTH, 1, 17))
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    images = load_image_folder(SAMPLES / "val", HEIGHT, WIDTH, count=3).images
    report = onnx_vs_torch(model, meta, session, images, batch=1)
    assert not report.passed and report.measures["logits_outliers"] > 0.05
