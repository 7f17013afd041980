"""Without TensorRT: a clear message, non-zero exit, nothing written; no module imports tensorrt at import time."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import ROOT

from edgeseg.cli import main


@pytest.mark.parametrize("how", ["absent", "stubs only"])
def test_build_without_tensorrt(tmp_path, contract_onnx, monkeypatch, capsys, how):
    if how == "absent":
        monkeypatch.setitem(sys.modules, "tensorrt", None)  # import raises ImportError
    else:  # what `pip install tensorrt-stubs` gives: an importable, empty namespace package
        import types

        monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    out = tmp_path / "engines"
    code = main(["build", str(contract_onnx), "--target", "jetson-orin-nano", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 3
    assert "TensorRT is not installed here" in err and "built on the target device (a jetson-orin-nano)" in err
    assert "same GPU and TensorRT version" in err and "python3-libnvinfer" in err and "pip install tensorrt" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]


def test_nothing_imports_tensorrt_or_cuda_at_import_time():
    code = (
        "import sys\n"
        "sys.modules['tensorrt'] = None; sys.modules['cuda'] = None\n"
        "import edgeseg.engines.build, edgeseg.engines.cache, edgeseg.engines.detect, edgeseg.sidecar\n"
        "import edgeseg.engines.targets, edgeseg.engines.trt_compat, edgeseg.cuda_rt\n"
        "import edgeseg.runtime.backends.trt\n"
        "from edgeseg.cli import main\n"
        "assert main(['targets']) == 0\n"
        "print('imported')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout
