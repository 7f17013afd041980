"""scripts/gpu_smoke.py: skipped, saying why, without a GPU; on a GPU (``-m gpu``) it must pass its checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_smoke.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_without_a_gpu_it_skips_and_says_why():
    done = run("--iterations", "3", "--mib", "1")
    if not done.stdout.startswith("skipped"):
        pytest.skip("a GPU is present here: the gpu-marked test runs the smoke test")
    assert done.returncode == 0
    assert "no usable NVIDIA GPU here (CUDA is not usable here: no NVIDIA driver" in done.stdout


@pytest.mark.gpu
def test_on_a_gpu_every_check_passes(tmp_path):
    done = run("--iterations", "50", "--json", str(tmp_path / "smoke.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "smoke.json").read_text())
    assert result["graph_replays_checked"] == 20 and result["round_trip_gib_s"] > 0
