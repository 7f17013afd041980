"""Fixtures of the runtime tests: tiny real contract ONNX models and the bundled clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ROOT, make_contract_onnx

SAMPLE_VIDEO = ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4"
SAMPLE_VIDEO_FRAMES = 40


@pytest.fixture(scope="session")
def camvid_onnx(tmp_path_factory) -> tuple[Path, object, object]:
    """(path, weight, bias) of a 360x480, 11-class contract ONNX (the CamVid frame size and class count)."""
    return make_contract_onnx(tmp_path_factory.mktemp("onnx") / "camvid_contract.onnx", height=360, width=480, num_classes=11)


@pytest.fixture(scope="session")
def small_onnx(tmp_path_factory) -> tuple[Path, object, object]:
    """A 96x128, 11-class contract ONNX: frames of any size are resized to it."""
    return make_contract_onnx(tmp_path_factory.mktemp("onnx") / "small_contract.onnx", height=96, width=128, num_classes=11)


@pytest.fixture(scope="session")
def sample_video() -> Path:
    return SAMPLE_VIDEO
