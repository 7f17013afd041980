"""Two ``edgeseg build`` processes writing the same output and cache at once (issue 8).

Real processes, started together: the cpu target (real onnxruntime) into the
same output folder, and the TensorRT path with a FAKE tensorrt (tests/fakes)
sharing one timing cache. The final files must be valid and equal to what a
single run writes (build times and timestamps aside).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import ROOT, make_contract_onnx

from edgeseg.sidecar import check_artifact, sidecar_path

VOLATILE = {"build_seconds", "built_at", "seconds", "timestamp", "created"}


def _stable(sidecar: Path) -> dict:
    """The sidecar less the build time and the timing cache's path and size (they depend on the cache folder)."""
    data = json.loads(sidecar.read_text())
    data.get("build_options", {}).pop("timing_cache", None)
    return {k: v for k, v in data.items() if k not in VOLATILE}


def _start(argv: list[str], cache: Path) -> subprocess.Popen:
    env = {**os.environ, "EDGESEG_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT / "tests")}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(procs: list[subprocess.Popen]) -> list[str]:
    errs = []
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        errs.append(err)
    return errs


def test_two_cpu_builds_into_the_same_folder(tmp_path):
    import onnxruntime

    model, _, _ = make_contract_onnx(tmp_path / "model.onnx")
    argv = [sys.executable, "-m", "edgeseg", "build", str(model), "--target", "cpu", "--backend", "onnxruntime", "-o"]
    errs = _wait([_start([*argv, str(tmp_path / "shared")], tmp_path / "cache") for _ in range(2)])
    # the builds were serialised by the artifact lock: the second found the first's result
    assert sum("up to date" in e for e in errs) == 1, errs
    _wait([_start([*argv, str(tmp_path / "single")], tmp_path / "cache1")])

    shared, single = tmp_path / "shared" / "model.cpu.onnx", tmp_path / "single" / "model.cpu.onnx"
    assert shared.read_bytes() == single.read_bytes()
    side_shared, side_single = _stable(sidecar_path(shared)), _stable(sidecar_path(single))
    assert side_shared == side_single
    check_artifact(shared, runtime="onnxruntime", runtime_version=onnxruntime.__version__, gpu=None)
    leftovers = sorted(p.name for p in (tmp_path / "shared").iterdir())
    assert leftovers == ["model.cpu.onnx", "model.cpu.onnx.json"]


FAKE_BUILD = """
import sys
from fakes.fake_tensorrt import make_fake_tensorrt
sys.modules["tensorrt"] = make_fake_tensorrt("10.3.0.30")
from edgeseg.engines.build import build
from edgeseg.cuda_rt import GpuInfo
from edgeseg.engines.targets import get_target
build(sys.argv[1], get_target("jetson-orin-nano"), sys.argv[2], gpu_probe=lambda: GpuInfo("Orin", "8.7"))
"""


def test_two_fake_tensorrt_builds_share_the_timing_cache(tmp_path):
    """Different models at once: the shared timing cache ends with both builds' entries, as JSON."""
    models = [make_contract_onnx(tmp_path / f"m{i}.onnx", seed=i, height=32 + 8 * i)[0] for i in range(2)]
    cache = tmp_path / "cache"
    procs = [_start([sys.executable, "-c", FAKE_BUILD, str(m), str(tmp_path / "engines")], cache) for m in models]
    procs.append(_start([sys.executable, "-c", FAKE_BUILD, str(models[0]), str(tmp_path / "engines")], cache))
    _wait(procs)
    (timing,) = (cache / "timing").glob("*.cache")
    entries = json.loads(timing.read_bytes())
    assert len(entries) == 2 and all(e.startswith("tactics:") for e in entries)

    # each engine equals the one a single build writes
    for m in models:
        _wait([_start([sys.executable, "-c", FAKE_BUILD, str(m), str(tmp_path / "single")], tmp_path / "cache1")])
        engine = next((tmp_path / "engines").glob(f"{m.stem}*.engine"))
        alone = tmp_path / "single" / engine.name
        assert engine.read_bytes() == alone.read_bytes()
        assert _stable(sidecar_path(engine)) == _stable(sidecar_path(alone))
    assert not [p for p in (tmp_path / "engines").iterdir() if ".tmp" in p.name]
