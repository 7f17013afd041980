"""INT8 calibration and the accuracy gate show progress on a terminal (stderr), none in logs."""

from __future__ import annotations

import io
import sys

from helpers import SAMPLES

from edgeseg import progress
from edgeseg.cli import main


class Terminal(io.StringIO):
    """stderr as a terminal would be (the one thing a test run has not got)."""

    def isatty(self) -> bool:
        return True


def test_int8_calibration_and_gate_show_bars_on_a_terminal(tiny_onnx, calib_dir, tmp_path, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)  # in the test body: pytest's capture replaces it between phases
    try:
        assert main(["quantize", str(tiny_onnx), "--precision", "int8", "--calib", str(calib_dir), "--method", "minmax",
                     "--eval-data", str(SAMPLES), "--limit", "2", "--max-miou-drop", "100",
                     "-o", str(tmp_path / "t.int8.onnx")]) == 0
    finally:
        progress.set_quiet(False)
    shown = terminal.getvalue()
    assert "calibrating (minmax):" in shown and "batch" in shown
    assert "camvid [val]:" in shown and "/2 [" in shown  # the gate scores FP32 and INT8 on 2 images each
