"""The video runtime never pulls in torch, edgeseg.train or edgeseg.export (a Jetson has none of them)."""

from __future__ import annotations

import subprocess
import sys


def test_run_imports_no_torch(small_onnx, tmp_path):
    code = f"""
import sys
from edgeseg.cli import main
assert main(["run", {str(small_onnx[0])!r}, "--source", "synthetic://?fps=200&frames=3&width=64&height=48",
             "--sink", {str(tmp_path / "out.avi")!r}, "--sink", "null"]) == 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx") or m.startswith(("edgeseg.train", "edgeseg.export")))
print("HEAVY", heavy)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert (tmp_path / "out.avi").exists()
