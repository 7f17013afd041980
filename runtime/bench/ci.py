"""Latency regression tests in a user's CI, as one parametrised pytest test.

Put baselines (``edgeseg bench ART --save-baseline bench/baselines/NAME.json``,
recorded on the CI runner itself) in a folder and add to your tests::

    import pytest
    from edgeseg.runtime.bench.ci import baseline_params, check_baseline

    @pytest.mark.parametrize("baseline", baseline_params("bench/baselines"))
    def test_latency(baseline):
        check_baseline(baseline)

Each baseline becomes a test case that re-measures its artifact with the
baseline's own timing plan and backend. A baseline from another environment
(other GPU, driver, TensorRT, power mode, ...) is skipped with the
differences as the reason; a regression fails with the ratio and its
confidence interval in the message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

from ..backends import open_backend
from . import environment
from .command import check_against_baseline, load_result, measure_artifact, result_from_samples
from .measure import TimingPlan
from .preflight import resolve_baseline_artifact


def baseline_params(folder: str | os.PathLike) -> list:
    """``pytest.param`` per ``*.json`` baseline in ``folder``, with the file stem as id."""
    import pytest

    paths = sorted(Path(folder).glob("*.json"))
    if not paths:
        raise EdgesegError(f"no baselines (*.json) in {folder}; record them with 'edgeseg bench ART --save-baseline'")
    return [pytest.param(p, id=p.stem) for p in paths]


def rerun(baseline_path: Path, baseline: dict[str, Any]) -> dict[str, Any]:
    """Measure the baseline's artifact again with the baseline's plan, backend and threads."""
    plan_data = dict(baseline.get("plan", {}))
    blocks = int(plan_data.pop("blocks", 20))
    plan = TimingPlan(**{k: v for k, v in plan_data.items() if k in TimingPlan.__dataclass_fields__})
    env_before = baseline["environment"]
    artifact = resolve_baseline_artifact(baseline_path, baseline["artifact"])
    if not artifact.is_file():
        raise EdgesegError(f"{baseline_path}: its artifact {baseline['artifact']} is not at {artifact} (paths are "
                           "relative to the baseline file); rebuild it there or re-record the baseline")
    backend_name = {"onnxruntime": "onnxruntime", "openvino": "openvino", "tensorrt": "tensorrt",
                    "torch": "torch"}.get(env_before.get("backend"), "auto")
    threads = int(env_before.get("threads") or 0)
    with open_backend(artifact, backend_name, threads=threads) as backend:
        env = environment.collect(backend.name, getattr(backend, "providers", None), threads, env_before.get("engine_key"))
        samples = measure_artifact(backend, baseline["scenario"], plan, baseline.get("images_per_call", 0)
                                   if baseline["scenario"] == "offline" else 0)
    return result_from_samples(samples, baseline["scenario"], artifact, plan, blocks, env)


def check_baseline(baseline_path: str | os.PathLike, tolerance: float | None = None, confidence: float = 0.99) -> dict[str, Any]:
    """Re-measure and decide; ``pytest.skip`` on another environment, ``pytest.fail`` on a regression."""
    import pytest

    path = Path(baseline_path)
    baseline = load_result(path)
    diffs = environment.differences(baseline["environment"], environment.collect(
        baseline["environment"].get("backend"), baseline["environment"].get("providers"),
        int(baseline["environment"].get("threads") or 0)))
    if diffs:
        pytest.skip(f"{path.name} was recorded on another environment: " + "; ".join(diffs))
    tol = tolerance if tolerance is not None else float(os.environ.get("EDGESEG_BENCH_TOLERANCE", "0.05"))
    result = rerun(path, baseline)
    check = check_against_baseline(result, baseline, tolerance=tol, confidence=confidence, compare_anyway=False,
                                   source=str(path))
    if check["regression"]:
        pytest.fail(f"{path.name}: {check['reason']}", pytrace=False)
    return check
