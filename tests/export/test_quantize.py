"""``edgeseg quantize``: FP16 and INT8 variants of the tiny ENet, their graphs, metadata and accuracy gate."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import onnx
import pytest
from helpers import SAMPLES

from edgeseg.artifacts import read_artifact_metadata
from edgeseg.cli import main
from edgeseg.export.wrapper import POSTPROCESS_SCOPE, PREPROCESS_SCOPE
from edgeseg.hashing import sha256_file
from edgeseg.images import load_image_folder
from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.eval import predict_image


def _labels(path, images):
    with open_backend(path) as backend:
        return backend.infer(images)


def _elem_types(model) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    types.update({v.name: v.type.tensor_type.elem_type for v in [*inferred.graph.input, *inferred.graph.output]})
    types.update({t.name: t.data_type for t in inferred.graph.initializer})
    return types


def _sample_images(count=6):
    return load_image_folder(SAMPLES / "val", 32, 48, count=count).images


def test_fp16_keeps_io_and_sensitive_ops_in_fp32(tiny_onnx, tiny_fp16):
    model = onnx.load(str(tiny_fp16))
    onnx.checker.check_model(model, full_check=True)
    types = _elem_types(model)
    assert types["image"] == onnx.TensorProto.UINT8 and types["labels"] == onnx.TensorProto.UINT8
    assert types["logits"] == onnx.TensorProto.FLOAT
    by_name = {n.name: n for n in model.graph.node}
    scoped = [n for n in by_name if n.startswith((PREPROCESS_SCOPE, POSTPROCESS_SCOPE)) and by_name[n].op_type != "Cast"]
    assert {by_name[n].op_type for n in scoped} >= {"Gather", "Sub", "Div", "Transpose", "ArgMax"}
    for name in scoped:  # pre/post-processing computes in FP32
        for tensor in by_name[name].output:
            assert types[tensor] in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64), (name, types[tensor])
    for node in model.graph.node:
        if node.op_type in ("ArgMax", "BatchNormalization"):
            assert types[node.input[0]] == onnx.TensorProto.FLOAT, node.name
        if node.op_type in ("Conv", "ConvTranspose"):
            assert types[node.input[1]] == onnx.TensorProto.FLOAT16, node.name
    meta = read_artifact_metadata(tiny_fp16)[1]
    assert meta.precision == "fp16" and meta.calibration is None and "onnxconverter-common" in meta.tool_versions
    images = _sample_images()
    agreement = (_labels(tiny_fp16, images) == _labels(tiny_onnx, images)).mean()
    assert agreement >= 0.99


def test_int8_qdq_placement_and_metadata(tiny_onnx, tiny_int8, calib_dir):
    model = onnx.load(str(tiny_int8))
    onnx.checker.check_model(model, full_check=True)
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    quantize = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    dequantize = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    produced_by_dq = {n.output[0] for n in dequantize}
    assert quantize and all(c.input[0] in produced_by_dq and c.input[1] in produced_by_dq for c in convs)
    for node in quantize:  # Q feeds only DQ; zero point 0: symmetric
        assert all(c.op_type == "DequantizeLinear" for c in consumers[node.output[0]])
        assert not np.any(inits[node.input[2]])
    for node in dequantize:  # DQ feeds only the inputs of convolutions
        assert {c.op_type for c in consumers[node.output[0]]} <= {"Conv", "ConvTranspose"}, node.name
        assert not np.any(inits[node.input[2]])
    for conv in convs:  # weights: int8 initializer, one scale per output channel
        weight_dq = next(n for n in dequantize if n.output[0] == conv.input[1])
        weight = inits[weight_dq.input[0]]
        axis = 0 if conv.op_type == "Conv" else 1
        assert weight.dtype == np.int8 and inits[weight_dq.input[1]].shape == (weight.shape[axis],)
        if len(conv.input) == 3:  # bias stays float
            assert conv.input[2] in inits and inits[conv.input[2]].dtype == np.float32
    # Pre/post-processing and the unpooling masks are not quantized.
    for node in model.graph.node:
        if node.name.startswith((PREPROCESS_SCOPE, POSTPROCESS_SCOPE)) or node.op_type in ("ArgMax", "Mul", "Equal"):
            assert not any(p.op_type == "DequantizeLinear" for p in model.graph.node if set(p.output) & set(node.input))

    meta = read_artifact_metadata(tiny_int8)[1]
    calib = meta.calibration
    images = load_image_folder(calib_dir, 32, 48)
    assert meta.precision == "int8" and calib["method"] == "minmax" and calib["num_images"] == 6
    assert calib["images_sha256"] == images.sha256 and calib["fp32_onnx_sha256"] == sha256_file(tiny_onnx)
    assert len(calib["images_sha256"]) == len(hashlib.sha256().hexdigest())

    sample = _sample_images()
    assert (_labels(tiny_int8, sample) == _labels(tiny_onnx, sample)).mean() >= 0.8


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_int8_other_methods_and_num_images(tiny_onnx, calib_dir, tmp_path, method):
    out = tmp_path / f"tiny.{method}.onnx"
    assert main(["quantize", str(tiny_onnx), "--precision", "int8", "--calib", str(calib_dir), "--method", method,
                 "--num-images", "3", "-o", str(out)]) == 0
    calib = read_artifact_metadata(out)[1].calibration
    assert calib["method"] == method and calib["num_images"] == 3
    assert calib["images_sha256"] == load_image_folder(calib_dir, 32, 48, count=3).sha256
    sample = _sample_images(3)
    assert (_labels(out, sample) == _labels(tiny_onnx, sample)).mean() >= 0.8


def test_calibration_images_are_what_the_runtime_feeds(calib_dir):
    """Calibration uses exactly the resize of ``edgeseg eval`` (recorded from a backend)."""
    import cv2

    from edgeseg.runtime.backends.base import Backend

    class Recording(Backend):  # records its input; a test double of the contract, not a model
        name = "recording"
        batch_size = 1

        def __init__(self, metadata):
            self.metadata = metadata
            self.seen = []

        def _run(self, feed, names):
            images = feed["image"]
            self.seen.append(images[0].copy())
            return {"labels": np.zeros(images.shape[:3], np.uint8)}

    from edgeseg.metadata import InputSpec, ModelMetadata

    meta = ModelMetadata("x", ["a"], [[0, 0, 0]], InputSpec(height=40, width=56))
    backend = Recording(meta)
    loaded = load_image_folder(calib_dir, 40, 56)
    for path in loaded.paths:
        predict_image(backend, cv2.imread(str(path)))
    assert np.array_equal(np.stack(backend.seen), loaded.images)


def test_non_image_files_are_skipped_with_a_warning(calib_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="edgeseg.export"):
        images = load_image_folder(calib_dir, 32, 48)
    assert len(images.paths) == 6 and all(p.suffix == ".jpg" for p in images.paths)
    assert "skipping" in caplog.text and "notes.txt: not an image file" in caplog.text


def test_gate_passes_and_refuses(tiny_onnx, calib_dir, tmp_path, capsys):
    out = tmp_path / "gated.fp16.onnx"
    assert main(["quantize", str(tiny_onnx), "--precision", "fp16", "-o", str(out), "--eval-data", str(SAMPLES),
                 "--eval-limit", "3", "--max-miou-drop", "1.0"]) == 0
    assert out.is_file() and "accuracy gate passed" in capsys.readouterr().out

    # A negative allowance demands that the variant *gain* 50 points: it must be refused.
    refused = tmp_path / "refused.int8.onnx"
    code = main(["quantize", str(tiny_onnx), "--precision", "int8", "--calib", str(calib_dir), "-o", str(refused),
                 "--eval-data", str(SAMPLES), "--eval-limit", "3", "--max-miou-drop", "-50"])
    err = capsys.readouterr().err
    assert code == 2 and "mIoU points against" in err and "(allowed -50;" in err and "not written" in err
    assert not refused.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["gated.fp16.onnx"]  # no temporary file left


def test_eval_and_info_accept_every_precision(tiny_onnx, tiny_fp16, tiny_int8, capsys):
    for path, precision in ((tiny_onnx, "fp32"), (tiny_fp16, "fp16"), (tiny_int8, "int8")):
        assert main(["eval", str(path), "--data", str(SAMPLES), "--limit", "2"]) == 0
        assert "mIoU" in capsys.readouterr().out
        assert main(["info", str(path), "--json"]) == 0
        assert f'"precision": "{precision}"' in capsys.readouterr().out
        assert main(["info", str(path)]) == 0
        summary = capsys.readouterr().out
        assert f"precision     {precision}\n" in summary
        assert ("calibration   method " in summary) == (precision == "int8")


def test_fp16_keeps_a_logits_output_that_comes_from_a_final_resize(tmp_path):
    """LEDNet ends in a Resize (kept FP32) that feeds both ArgMax and the ``logits`` output."""
    import onnxruntime as ort
    import torch

    from edgeseg.metadata import InputSpec, ModelMetadata
    from edgeseg.train.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
    from edgeseg.train.models import build_model

    torch.manual_seed(0)
    model = build_model("lednet", 4).eval()
    meta = ModelMetadata(architecture="lednet", arch_args={}, classes=list("abcd"), palette=[[0, 0, 0]] * 4,
                         input=InputSpec(height=32, width=48, mean=[105.0, 108.0, 110.0], std=[78.0, 79.0, 78.0]))
    checkpoint = tmp_path / "lednet.pt"
    save_checkpoint(checkpoint, {"format": CHECKPOINT_FORMAT, "metadata": meta.to_dict(), "model": model.state_dict(),
                                 "epoch": 1})
    fp32, fp16 = tmp_path / "lednet.onnx", tmp_path / "lednet.fp16.onnx"
    assert main(["export", str(checkpoint), "-o", str(fp32), "--logits", "--parity-images", str(SAMPLES / "val"),
                 "--parity-count", "2"]) == 0
    assert main(["quantize", str(fp32), "--precision", "fp16", "-o", str(fp16)]) == 0
    images = _sample_images(4)
    outputs = {}
    for path in (fp32, fp16):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == ["labels", "logits"]
        labels, logits = session.run(None, {"image": images[:1]})
        assert logits.dtype == np.float32 and logits.shape == (1, 4, 32, 48)
        assert np.array_equal(labels[0], logits[0].argmax(0))  # the logits are the ones the labels come from
        outputs[path] = logits
    assert np.abs(outputs[fp16] - outputs[fp32]).max() < 0.05 * np.abs(outputs[fp32]).max()
