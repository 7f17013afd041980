"""The export stage's light modules import no torch, onnx or onnxruntime until used."""

from __future__ import annotations

import subprocess
import sys


def test_export_package_imports_nothing_heavy():
    code = (
        "import sys, edgeseg.cli, edgeseg.export, edgeseg.export.cli, edgeseg.runtime.compare, edgeseg.export.tolerances\n"
        "edgeseg.cli.build_parser().parse_args(['quantize', 'x.onnx', '--precision', 'int8'])\n"
        "heavy = sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'onnxslim', 'onnxconverter_common') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
