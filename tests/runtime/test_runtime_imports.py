"""The video runtime never pulls in torch, edgeseg.train or edgeseg.export (a Jetson has none of them)."""

from __future__ import annotations

from helpers import heavy_modules_after_run


def test_run_imports_no_torch(small_onnx, tmp_path):
    assert heavy_modules_after_run(small_onnx[0], tmp_path / "out.avi", 64, 48) == []
