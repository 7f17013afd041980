"""Fixtures of the export tests: a tiny ENet exported at 32x48 and its variants (seconds on a CPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import ROOT, SAMPLES

from edgeseg.cli import main

HEIGHT, WIDTH = 32, 48


@pytest.fixture(scope="session")
def calib_dir(tmp_path_factory) -> Path:
    """Six calibration images (CamVid train frames) and one non-image file."""
    folder = tmp_path_factory.mktemp("calib")
    for path in sorted((ROOT / "calib_data" / "camvid").glob("*.jpg"))[:6]:
        shutil.copy(path, folder / path.name)
    (folder / "notes.txt").write_text("not an image\n")
    return folder


@pytest.fixture(scope="session")
def tiny_onnx(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny checkpoint exported at 32x48 with the extra ``logits`` output."""
    out = tmp_path_factory.mktemp("tiny_onnx") / "tiny.onnx"
    code = main(["export", str(tiny_checkpoint), "-o", str(out), "--height", str(HEIGHT), "--width", str(WIDTH),
                 "--logits", "--parity-images", str(SAMPLES / "val"), "--parity-count", "4"])
    assert code == 0 and out.is_file()
    return out


@pytest.fixture(scope="session")
def tiny_fp16(tiny_onnx) -> Path:
    out = tiny_onnx.with_name("tiny.fp16.onnx")
    assert main(["quantize", str(tiny_onnx), "--precision", "fp16", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_int8(tiny_onnx, calib_dir) -> Path:
    out = tiny_onnx.with_name("tiny.int8.onnx")
    assert main(["quantize", str(tiny_onnx), "--precision", "int8", "--calib", str(calib_dir),
                 "--method", "minmax", "-o", str(out)]) == 0
    return out
