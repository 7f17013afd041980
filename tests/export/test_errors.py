"""Bad input to export and quantize: a clear message, exit code 2, and no output file."""

from __future__ import annotations

import os

import pytest
import torch
from helpers import SAMPLES, make_contract_onnx

from edgeseg.cli import main


def _run(capsys, argv, out):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]  # no temporary file left
    return err


def test_corrupt_and_foreign_onnx(tmp_path, capsys):
    out = tmp_path / "out.onnx"
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01garbage that is not a protobuf model" * 10)
    err = _run(capsys, ["quantize", str(junk), "--precision", "fp16", "-o", str(out)], out)
    assert f"{junk} is not an ONNX model" in err and "edgeseg export" in err

    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert "is empty (0 bytes)" in _run(capsys, ["quantize", str(empty), "--precision", "fp16", "-o", str(out)], out)

    foreign, _, _ = make_contract_onnx(tmp_path / "foreign.onnx", metadata=False)
    err = _run(capsys, ["quantize", str(foreign), "--precision", "fp16", "-o", str(out)], out)
    assert "has no edgeseg metadata" in err

    assert "does not exist" in _run(capsys, ["quantize", str(tmp_path / "missing.onnx"), "--precision", "fp16",
                                             "-o", str(out)], out)


def test_quantizing_a_variant_again_is_refused(tiny_int8, tmp_path, capsys):
    out = tmp_path / "again.onnx"
    err = _run(capsys, ["quantize", str(tiny_int8), "--precision", "fp16", "-o", str(out)], out)
    assert "is already int8" in err and "FP32 ONNX" in err


def test_checkpoint_of_unknown_architecture(tiny_checkpoint, tmp_path, capsys):
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt["metadata"]["architecture"] = "segformer_b9"
    bad = tmp_path / "unknown_arch.pt"
    torch.save(ckpt, bad)
    out = tmp_path / "out.onnx"
    err = _run(capsys, ["export", str(bad), "-o", str(out), "--height", "32", "--width", "48"], out)
    assert "unknown architecture 'segformer_b9'" in err and "valid names: " in err and "enet" in err


def test_not_a_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    out = tmp_path / "out.onnx"
    err = _run(capsys, ["export", str(bad), "-o", str(out)], out)
    assert f"checkpoint {bad}" in err  # the loader's own message (edgeseg.train.checkpoint)


@pytest.mark.parametrize(("height", "width", "expected"), [
    (30, 48, "height 30 is not a positive multiple of 8, which architecture 'enet' needs for H and W; use --height 24 or 32"),
    (32, 50, "width 50 is not a positive multiple of 8, which architecture 'enet' needs for H and W; use --width 48 or 56"),
    (0, 48, "--height: expected an integer from 1 to 16384, got 0"),
])
def test_size_the_model_cannot_take(tiny_checkpoint, tmp_path, capsys, height, width, expected):
    out = tmp_path / "out.onnx"
    err = _run(capsys, ["export", str(tiny_checkpoint), "-o", str(out), "--height", str(height), "--width", str(width)], out)
    assert expected in err


def test_bad_opset_and_batch(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out.onnx"
    assert "opset 9 is not supported" in _run(capsys, ["export", str(tiny_checkpoint), "-o", str(out), "--opset", "9"], out)
    assert "--batch: expected an integer from 1 to 4096, got 0" in _run(capsys, ["export", str(tiny_checkpoint), "-o", str(out), "--batch", "0"], out)


def test_export_into_missing_folder(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "no_such_dir" / "out.onnx"
    code = main(["export", str(tiny_checkpoint), "-o", str(out), "--height", "32", "--width", "48",
                 "--parity-images", str(SAMPLES / "val"), "--parity-count", "1"])
    assert code == 2 and "no_such_dir does not exist; create it" in capsys.readouterr().err and not out.exists()


def test_bad_calibration_folders(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "out.int8.onnx"
    base = ["quantize", str(tiny_onnx), "--precision", "int8", "-o", str(out)]
    assert "needs --calib DIR" in _run(capsys, base, out)
    err = _run(capsys, [*base, "--calib", str(tmp_path / "nowhere")], out)
    assert "calibration folder" in err and "does not exist" in err

    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no image files" in _run(capsys, [*base, "--calib", str(empty)], out)

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.txt").write_text("text")
    (junk / "b.jpg").write_bytes(b"not really a jpeg")
    err = _run(capsys, [*base, "--calib", str(junk)], out)
    assert "holds no readable image (1 file(s) could not be decoded)" in err

    a_file = tmp_path / "file.jpg"
    a_file.write_bytes(b"x")
    assert "is not a folder" in _run(capsys, [*base, "--calib", str(a_file)], out)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders regardless of their permissions")
def test_unreadable_calibration_folder(tiny_onnx, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    out = tmp_path / "out.int8.onnx"
    try:
        err = _run(capsys, ["quantize", str(tiny_onnx), "--precision", "int8", "--calib", str(locked), "-o", str(out)], out)
    finally:
        locked.chmod(0o755)
    assert "is not readable" in err


def test_gate_needs_a_data_folder(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "out.fp16.onnx"
    err = _run(capsys, ["quantize", str(tiny_onnx), "--precision", "fp16", "-o", str(out),
                        "--eval-data", str(tmp_path / "nodata")], out)
    assert "--eval-data" in err and "is not a folder" in err
