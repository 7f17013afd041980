"""Latency regression tests in a user's CI, as one parametrised pytest test.

Put baselines (``edgeseg bench ART --save-baseline bench/baselines/NAME.json``,
recorded on the CI runner itself) in a folder and add to your tests::

    import pytest
    from edgeseg.runtime.bench.ci import baseline_params, check_baseline

    @pytest.mark.parametrize("baseline", baseline_params("bench/baselines"))
    def test_latency(baseline):
        check_baseline(baseline)

Each baseline becomes a test case that re-measures its artifact with the
baseline's own timing plan and backend: in interleaved trials with the
baseline's reference copy where it has one (``--save-baseline`` keeps it),
which cancels the machine's drift between runs. A baseline from another environment
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
from .check import decide_against_reference
from .command import check_against_baseline, load_result, measure_artifact, result_from_samples
from .measure import TimingPlan
from .paired import time_pair_until_decided
from .preflight import resolve_baseline_artifact
from .reference import find_reference


def baseline_params(folder: str | os.PathLike) -> list:
    """``pytest.param`` per ``*.json`` baseline in ``folder``, with the file stem as id."""
    import pytest

    paths = sorted(Path(folder).glob("*.json"))
    if not paths:
        raise EdgesegError(f"no baselines (*.json) in {folder}; record them with 'edgeseg bench ART --save-baseline'")
    return [pytest.param(p, id=p.stem) for p in paths]


def _plan_of(baseline: dict[str, Any]) -> tuple[TimingPlan, int]:
    plan_data = dict(baseline.get("plan", {}))
    blocks = int(plan_data.pop("blocks", 20))
    return TimingPlan(**{k: v for k, v in plan_data.items() if k in TimingPlan.__dataclass_fields__}), blocks


def _artifact_of(baseline_path: Path, baseline: dict[str, Any]) -> Path:
    artifact = resolve_baseline_artifact(baseline_path, baseline["artifact"])
    if not artifact.is_file():
        raise EdgesegError(f"{baseline_path}: its artifact {baseline['artifact']} is not at {artifact} (paths are "
                           "relative to the baseline file); rebuild it there or re-record the baseline")
    return artifact


def _backend_of(baseline: dict[str, Any]) -> tuple[str, int]:
    env_before = baseline["environment"]
    backend_name = {"onnxruntime": "onnxruntime", "openvino": "openvino", "tensorrt": "tensorrt",
                    "torch": "torch"}.get(env_before.get("backend"), "auto")
    return backend_name, int(env_before.get("threads") or 0)


def rerun(baseline_path: Path, baseline: dict[str, Any]) -> dict[str, Any]:
    """Measure the baseline's artifact again with the baseline's plan, backend and threads."""
    plan, blocks = _plan_of(baseline)
    artifact = _artifact_of(baseline_path, baseline)
    backend_name, threads = _backend_of(baseline)
    env_before = baseline["environment"]
    with open_backend(artifact, backend_name, threads=threads) as backend:
        env = environment.collect(backend.name, getattr(backend, "providers", None), threads, env_before.get("engine_key"))
        samples = measure_artifact(backend, baseline["scenario"], plan, baseline.get("images_per_call", 0)
                                   if baseline["scenario"] == "offline" else 0)
    return result_from_samples(samples, baseline["scenario"], artifact, plan, blocks, env)


def rerun_against_reference(baseline_path: Path, baseline: dict[str, Any], reference: Path, *, tolerance: float,
                            confidence: float, clock: str = "wall") -> dict[str, Any]:
    """Interleaved trials of the reference copy and the current artifact; the decision as a dict."""
    plan, blocks = _plan_of(baseline)
    artifact = _artifact_of(baseline_path, baseline)
    backend_name, threads = _backend_of(baseline)
    with open_backend(reference, backend_name, threads=threads) as reference_backend, \
            open_backend(artifact, backend_name, threads=threads) as backend:
        paired = time_pair_until_decided(reference_backend, backend, plan, blocks, confidence=confidence,
                                         threshold=1 + tolerance / 2, clock=clock)
    return decide_against_reference(paired, baseline, reference, tolerance=tolerance, diffs=[], clock=clock)


def check_baseline(baseline_path: str | os.PathLike, tolerance: float | None = None, confidence: float = 0.99,
                   clock: str = "wall") -> dict[str, Any]:
    """Re-measure and decide; ``pytest.skip`` on another environment, ``pytest.fail`` on a regression.

    ``clock="cpu"`` (CPU backends, with a reference copy) compares CPU time: for a runner shared with other jobs.
    """
    import pytest

    path = Path(baseline_path)
    baseline = load_result(path)
    diffs = environment.differences(baseline["environment"], environment.collect(
        baseline["environment"].get("backend"), baseline["environment"].get("providers"),
        int(baseline["environment"].get("threads") or 0)))
    if diffs:
        pytest.skip(f"{path.name} was recorded on another environment: " + "; ".join(diffs))
    tol = tolerance if tolerance is not None else float(os.environ.get("EDGESEG_BENCH_TOLERANCE", "0.05"))
    reference, why_not = (find_reference(path, baseline) if baseline["scenario"] == "single-stream"
                          else (None, f"a {baseline['scenario']} baseline is not interleaved"))
    if reference is not None:
        check = rerun_against_reference(path, baseline, reference, tolerance=tol, confidence=confidence, clock=clock)
    elif clock != "wall":
        raise EdgesegError(f"{path}: clock={clock!r} needs the baseline's reference copy ({why_not})")
    else:
        result = rerun(path, baseline)
        check = check_against_baseline(result, baseline, tolerance=tol, confidence=confidence, compare_anyway=False,
                                       source=str(path))
    if check["regression"]:
        pytest.fail(f"{path.name}: {check['reason']} [{check['mode']}]", pytrace=False)
    return check
