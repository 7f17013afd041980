"""Benchmark statistics on synthetic samples with known answers, baselines, plots."""

import json

import numpy as np
import pytest
from helpers import make_contract_onnx

from edgeseg.cli import main
from edgeseg.runtime.bench.stats import (
    BLOCK_QUANTILE,
    block_medians,
    block_statistics,
    bootstrap_ratio,
    decide,
    paired_bootstrap_ratio,
    summarize,
)


def _run(rng, median, spread, n=400):
    # Log-normal latencies with a heavy right tail, like real ones.
    return median * np.exp(rng.normal(0, spread, n))


@pytest.mark.parametrize("seed", range(5))
def test_identical_distribution_is_not_flagged(seed):
    rng = np.random.default_rng(seed)
    a, b = _run(rng, 10.0, 0.1), _run(rng, 10.0, 0.1)
    d = decide(bootstrap_ratio(block_medians(a, 20), block_medians(b, 20)), 0.05)
    assert not d.regression, d.reason


@pytest.mark.parametrize("seed", range(5))
def test_shifted_distribution_is_flagged(seed):
    rng = np.random.default_rng(seed)
    a, b = _run(rng, 10.0, 0.1), _run(rng, 11.5, 0.1)
    d = decide(bootstrap_ratio(block_medians(a, 20), block_medians(b, 20)), 0.05)
    assert d.regression, d.reason
    assert d.estimate.ratio == pytest.approx(1.15, abs=0.03)


def test_wider_distribution_with_same_median_is_not_flagged():
    rng = np.random.default_rng(7)
    a, b = _run(rng, 10.0, 0.05), _run(rng, 10.0, 0.3)
    assert np.median(b) == pytest.approx(10.0, rel=0.05) and b.std() > 3 * a.std()
    d = decide(bootstrap_ratio(block_medians(a, 20), block_medians(b, 20)), 0.05)
    assert not d.regression, d.reason


def test_small_significant_slowdown_below_the_midpoint_passes():
    rng = np.random.default_rng(3)
    a, b = _run(rng, 10.0, 0.02, 2000), _run(rng, 10.15, 0.02, 2000)
    d = decide(bootstrap_ratio(block_statistics(a, 20), block_statistics(b, 20)), 0.05)
    assert not d.regression and d.estimate.low > 1 and "below the midpoint 1.025" in d.reason


def test_a_slowdown_of_the_tolerance_is_caught_and_equal_speed_is_not():
    """Midpoint rule: +5 % is caught 9 times in 10 or more, equal speed flagged at most 1 in 20 (8 % log-normal spread)."""
    caught = alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        a, same, slower = _run(rng, 10.0, 0.08, 400), _run(rng, 10.0, 0.08, 400), _run(rng, 10.5, 0.08, 400)
        ref = block_statistics(a, 20)
        caught += decide(bootstrap_ratio(ref, block_statistics(slower, 20)), 0.05).regression
        alarms += decide(bootstrap_ratio(ref, block_statistics(same, 20)), 0.05).regression
    assert caught >= 18 and alarms <= 1, (caught, alarms)


def test_block_statistics_takes_the_low_quantile_of_each_block():
    x = np.concatenate([np.arange(1.0, 5.0), np.arange(10.0, 14.0)])  # two blocks: 1..4, 10..13
    assert block_statistics(x, 2, 0.25).tolist() == [1.75, 10.75]
    assert block_statistics(x, 2).tolist() == block_statistics(x, 2, BLOCK_QUANTILE).tolist()
    assert block_medians(x, 2).tolist() == [2.5, 11.5]


def test_paired_ratio_cancels_common_drift():
    drift = np.linspace(1.0, 1.5, 20)  # the machine slows by 50 % during the run
    a = 10.0 * drift
    b = 10.5 * drift
    est = paired_bootstrap_ratio(a, b)
    assert est.ratio == pytest.approx(1.05) and est.low == pytest.approx(1.05) and est.high == pytest.approx(1.05)


def test_summary_values():
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.p50, s.max, s.min, s.count) == (3.0, 100.0, 1.0, 5)
    assert s.mean == pytest.approx(22.0)


BENCH_FAST = ["--warmup-s", "0.1", "--min-iters", "40", "--min-time-s", "0.2", "--threads", "1"]


def test_bench_json_baseline_check_and_plot(tmp_path, capsys):
    model, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=64, width=96)
    base, out, plot = tmp_path / "base.json", tmp_path / "r.json", tmp_path / "p.png"
    assert main(["bench", str(model), *BENCH_FAST, "--save-baseline", str(base)]) == 0
    assert main(["bench", str(model), *BENCH_FAST, "--check", str(base), "--json", str(out), "--plot", str(plot)]) in (0, 1)
    result = json.loads(out.read_text())
    assert {"scenario", "latency_ms", "throughput_fps", "environment", "check"} <= set(result)
    assert {"p50", "p90", "p99", "mean", "std"} <= set(result["latency_ms"])
    assert result["latency_ms"]["count"] >= 40 and result["throughput_fps"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_baseline_from_other_environment_is_refused(tmp_path, capsys):
    model, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=64, width=96)
    base = tmp_path / "base.json"
    assert main(["bench", str(model), *BENCH_FAST, "--save-baseline", str(base)]) == 0
    data = json.loads(base.read_text())
    data["environment"]["gpu"] = "NVIDIA Jetson AGX Orin"
    data["environment"]["onnxruntime"] = "0.0.1"
    base.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["bench", str(model), *BENCH_FAST, "--check", str(base)]) == 2
    err = capsys.readouterr().err
    assert "different environment" in err and "gpu: baseline 'NVIDIA Jetson AGX Orin', now None" in err
    assert "onnxruntime: baseline '0.0.1'" in err
    assert main(["bench", str(model), *BENCH_FAST, "--check", str(base), "--compare-anyway"]) in (0, 1)


def test_against_reports_interleaved_ratio(tmp_path, capsys):
    a, _, _ = make_contract_onnx(tmp_path / "a.onnx", height=64, width=96)
    out = tmp_path / "ab.json"
    assert main(["bench", str(a), "--against", str(a), *BENCH_FAST, "--blocks", "6", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert len(result["a"]["trial_medians_ms"]) == 6
    assert result["ratio_b_over_a"]["low"] <= result["ratio_b_over_a"]["ratio"] <= result["ratio_b_over_a"]["high"]


def test_ci_helper_checks_skips_and_parametrises(tmp_path):
    from _pytest.outcomes import Skipped

    from edgeseg.runtime.bench.ci import baseline_params, check_baseline

    model, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=64, width=96)
    folder = tmp_path / "baselines"
    folder.mkdir()
    assert main(["bench", str(model), *BENCH_FAST, "--save-baseline", str(folder / "tiny.json")]) == 0
    (params,) = baseline_params(folder)
    assert params.id == "tiny"
    check = check_baseline(folder / "tiny.json", tolerance=10.0)  # a huge tolerance: this must pass
    assert not check["regression"] and check["ratio"] > 0
    data = json.loads((folder / "tiny.json").read_text())
    data["environment"]["cpu_model"] = "some other CPU"
    (folder / "tiny.json").write_text(json.dumps(data))
    with pytest.raises(Skipped, match="cpu_model: baseline 'some other CPU'"):
        check_baseline(folder / "tiny.json")


def test_pipeline_scenario_reports_frame_times_and_stages(tmp_path):
    model, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=96, width=128, num_classes=11)
    out = tmp_path / "p.json"
    assert main(["bench", str(model), "--scenario", "pipeline", "--warmup-s", "0.2", "--min-iters", "30",
                 "--min-time-s", "0.5", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["scenario"] == "pipeline" and result["latency_ms"]["count"] >= 30
    assert set(result["stage_ms"]) >= {"capture", "infer", "render", "sink"}
    # FPS from the frame intervals agrees with the mean interval.
    assert result["throughput_fps"] == pytest.approx(1000.0 / result["latency_ms"]["mean"], rel=1e-6)
