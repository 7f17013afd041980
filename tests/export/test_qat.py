"""Quantization-aware training: placement, export contract, parity, resume (tiny ENet, seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, SAMPLES, tiny_train_overrides

from edgeseg.cli import main

HEIGHT, WIDTH = 32, 48


@pytest.fixture(scope="module")
def qat_run(tiny_checkpoint, calib_dir, tmp_path_factory) -> Path:
    """One QAT epoch from the tiny checkpoint, through the CLI."""
    out = tmp_path_factory.mktemp("qat_run")
    args = ["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(out), "--no-progress",
            "--qat-from", str(tiny_checkpoint), "--qat-calib", str(calib_dir)]
    for item in tiny_train_overrides(epochs=2, lr=1e-3):
        args += ["--set", item]
    assert main(args + ["--stop-after", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def qat_onnx(qat_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qat_onnx") / "tiny.qat.onnx"
    assert main(["export", str(qat_run / "last.pt"), "-o", str(out), "--height", str(HEIGHT), "--width", str(WIDTH),
                 "--parity-images", str(SAMPLES / "val"), "--parity-count", "4"]) == 0
    return out


def _quantized_conv_inputs(path) -> list[tuple[str, tuple[bool, ...]]]:
    """Per Conv/ConvTranspose/Gemm in graph order: (op type, which of its inputs come from a DequantizeLinear)."""
    import onnx

    graph = onnx.load(str(path)).graph
    dq_outputs = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    return [(n.op_type, tuple(name in dq_outputs for name in n.input[:2]))
            for n in graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")]


def test_fake_quant_placement_matches_ptq_export(qat_onnx, tiny_int8):
    qat = _quantized_conv_inputs(qat_onnx)
    ptq = _quantized_conv_inputs(tiny_int8)
    assert len(qat) == len(ptq) > 10
    assert qat == ptq
    assert all(inputs == (True, True) for _, inputs in qat)  # every conv: activation and weight quantized


def test_qat_onnx_contract_and_float_pre_post(qat_onnx):
    import onnx
    import onnxruntime as ort

    from edgeseg.export.onnx_io import read_metadata

    model = onnx.load(str(qat_onnx))
    onnx.checker.check_model(model, full_check=True)
    meta = read_metadata(model, str(qat_onnx))
    assert meta.precision == "int8" and meta.calibration["method"] == "qat"
    assert meta.calibration["qat_from_epoch"] == 1
    graph = model.graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["labels"]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dq_consumers = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    for node in graph.node:  # Q/DQ feeds only the quantized op types; normalisation and ArgMax read float
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm", "QuantizeLinear", "DequantizeLinear"):
            assert not dq_consumers.intersection(node.input), node.name
    session = ort.InferenceSession(str(qat_onnx), providers=["CPUExecutionProvider"])
    labels = session.run(None, {"image": np.zeros((1, HEIGHT, WIDTH, 3), np.uint8)})[0]
    assert labels.dtype == np.uint8 and labels.shape == (1, HEIGHT, WIDTH)


def test_qat_onnx_labels_agree_with_fake_quant_torch(qat_run, qat_onnx):
    import onnxruntime as ort
    import torch

    from edgeseg.export.wrapper import DeployWrapper
    from edgeseg.images import load_image_folder
    from edgeseg.train.checkpoint import load_checkpoint
    from edgeseg.train.qat import qat_model_from_checkpoint

    model, meta = qat_model_from_checkpoint(load_checkpoint(qat_run / "last.pt"))
    wrapper = DeployWrapper(model, meta.input.mean, meta.input.std)
    images = load_image_folder(SAMPLES / "val", HEIGHT, WIDTH, count=6).images
    session = ort.InferenceSession(str(qat_onnx), providers=["CPUExecutionProvider"])
    equal = 0
    for image in images:
        got = session.run(None, {"image": image[None]})[0]
        with torch.no_grad():
            want = wrapper(torch.from_numpy(image[None])).numpy()
        equal += int((got == want).sum())
    assert equal / (len(images) * HEIGHT * WIDTH) >= 0.99


def test_qat_run_records_and_resumes(qat_run, tiny_checkpoint, calib_dir):
    import json

    from edgeseg.train.checkpoint import load_checkpoint

    first = load_checkpoint(qat_run / "last.pt")
    assert first["epoch"] == 1 and set(first["qat"]["input_amax"]) and all(v > 0 for v in first["qat"]["input_amax"].values())
    args = ["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(qat_run), "--no-progress", "--resume",
            "--qat-from", str(tiny_checkpoint), "--qat-calib", str(calib_dir)]
    for item in tiny_train_overrides(epochs=2, lr=1e-3):
        args += ["--set", item]
    assert main(args) == 0
    second = load_checkpoint(qat_run / "last.pt")
    assert second["epoch"] == 2
    assert second["qat"]["input_amax"] == first["qat"]["input_amax"]  # ranges fixed after calibration
    lines = (qat_run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_qat_from_wrong_architecture_is_a_clear_error(tiny_checkpoint, tmp_path, capsys):
    args = ["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(tmp_path / "run"), "--no-progress",
            "--qat-from", str(tiny_checkpoint)]
    for item in tiny_train_overrides(epochs=1, **{"model.name": "lednet"}):
        args += ["--set", item]
    assert main(args) != 0
    assert "--qat-from" in capsys.readouterr().err
    assert not (tmp_path / "run" / "last.pt").exists()
