"""``edgeseg bench``: latency and throughput, baselines, A/B comparisons.

Result JSON (also the baseline format)::

    {"scenario", "artifact", "artifact_sha256", "latency_ms": {p50, p90, p99, max, min,
     mean, std, count}, "throughput_fps", "block_medians_ms": [...], "latencies_ms": [...],
     "plan": {...}, "environment": {...}, "check"?: {...}, "against"?: {...}}
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.atomic import atomic_write_text
from edgeseg.checkout import checkout_data
from edgeseg.cli_vocab import provider_list
from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.jsonfile import read_json

from ..backend_flags import check_backend_flags
from ..backends import open_backend
from . import environment
from .check import decide_against_reference, refuse_other_environment
from .measure import Samples, TimingPlan, synthetic_frames, time_calls
from .paired import PairedTiming, time_pair, time_pair_until_decided
from .preflight import baseline_artifact_field, check_flags_against_baseline, check_outputs
from .reference import find_reference, save_reference
from .stats import DEFAULT_BLOCKS, block_medians, block_statistics, bootstrap_ratio, decide, summarize

log = logging.getLogger("edgeseg.bench")
SCENARIOS = ("single-stream", "offline", "pipeline")
# --scenario pipeline's default video, in the source checkout (edgeseg.checkout).
DEFAULT_PIPELINE_SOURCE = "samples/video/camvid_0016E5_40f.mp4"


def _engine_key(path: Path) -> str | None:
    sidecar = path.with_name(path.name + ".json")
    if sidecar.is_file():
        try:
            return json.loads(sidecar.read_text()).get("key")
        except (json.JSONDecodeError, OSError):
            return None
    return None


def measure_artifact(backend, scenario: str, plan: TimingPlan, batch: int = 0) -> Samples:
    """Time ``backend`` in ``scenario``; offline sends ``batch`` images per call (0: the model's batch)."""
    _, height, width, channels = backend.input_shape  # channels: 3 BGR, 4 BGR + depth (RGB-D models)
    if scenario == "single-stream":
        inputs = synthetic_frames((1, height, width, channels))
        return time_calls(backend.infer, inputs, plan, images_per_call=1)
    if scenario == "offline":
        n = batch or max(backend.batch_size, 8)
        inputs = synthetic_frames((n, height, width, channels), count=2)
        return time_calls(backend.infer, inputs, plan, images_per_call=n)
    raise EdgesegError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")


def result_from_samples(samples: Samples, scenario: str, artifact: Path, plan: TimingPlan, blocks: int,
                        env: dict[str, Any]) -> dict[str, Any]:
    lat = np.asarray(samples.latencies_ms)
    return {
        "scenario": scenario,
        "artifact": str(artifact),
        "artifact_sha256": sha256_file(artifact),
        "latency_ms": summarize(lat).to_dict(),
        "throughput_fps": samples.images_per_call * lat.size / (lat.sum() / 1000.0),
        "images_per_call": samples.images_per_call,
        "block_medians_ms": block_medians(lat, blocks).tolist(),
        "latencies_ms": lat.round(4).tolist(),
        "plan": {**asdict(plan), "blocks": blocks},
        "environment": env,
    }


def load_result(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"baseline {path} does not exist; record one with --save-baseline {path}")
    data = read_json(path, "baseline")
    missing = [k for k in ("scenario", "block_medians_ms", "environment", "latency_ms") if k not in data]
    if missing:
        raise EdgesegError(f"baseline {path} lacks {', '.join(missing)}; re-record it with --save-baseline")
    return data


def check_against_baseline(result: dict[str, Any], baseline: dict[str, Any], *, tolerance: float,
                           confidence: float, compare_anyway: bool, source: str = "baseline") -> dict[str, Any]:
    """The decision of ``result`` against ``baseline`` as a dict; refuses a different environment."""
    if baseline["scenario"] != result["scenario"]:
        raise EdgesegError(f"{source} is a {baseline['scenario']} result; this run is {result['scenario']}")
    diffs = refuse_other_environment(baseline, result["environment"], compare_anyway=compare_anyway, source=source)
    if baseline.get("latencies_ms") and result.get("latencies_ms"):  # the statistic from the raw latencies of both
        blocks = int(baseline.get("plan", {}).get("blocks", DEFAULT_BLOCKS))
        reference, current = (block_statistics(r["latencies_ms"], blocks) for r in (baseline, result))
    else:  # a baseline saved without its latencies: its block medians are all there is
        reference, current = baseline["block_medians_ms"], result["block_medians_ms"]
    estimate = bootstrap_ratio(reference, current, confidence=confidence)
    decision = decide(estimate, tolerance)
    return {**decision.to_dict(), "mode": "against the recorded latencies", "environment_differences": diffs}


def run_bench(args: argparse.Namespace) -> int:
    """Handler of ``edgeseg bench``."""
    artifact = Path(args.artifact)
    plan = TimingPlan(warmup_s=args.warmup_s, min_iters=args.min_iters, min_time_s=args.min_time_s)
    check_outputs(args)
    baseline = load_result(args.check) if args.check else None
    if baseline is not None:
        check_flags_against_baseline(args, baseline, str(args.check))
    providers = provider_list(getattr(args, "providers", None))
    check_backend_flags(artifact, args.backend, providers, args.threads)
    with open_backend(artifact, args.backend, providers=providers, threads=args.threads) as backend:
        backend.require_semantic("edgeseg bench (its scenarios feed frames and read labels)")
        env = environment.collect(backend.name, getattr(backend, "providers", None), args.threads, _engine_key(artifact))
        if args.clock == "cpu" and backend.name == "tensorrt":
            raise EdgesegError("--clock cpu times the host process, but a TensorRT engine runs on the GPU; use "
                               "--clock wall (nothing was measured)")
        if args.against:
            return _run_against(args, backend, plan, env)
        extra: dict[str, Any] = {}
        paired, reference, diffs = None, None, []
        if baseline is not None:
            reference = _usable_reference(args, baseline)
        if args.clock == "cpu" and reference is None:
            raise EdgesegError("--clock cpu compares CPU time in interleaved trials: it needs --against B or a "
                               "--check baseline with its reference copy (single-stream); recorded latencies are "
                               "wall time (nothing was measured)")
        if reference is not None:
            assert baseline is not None
            diffs = refuse_other_environment(baseline, env, compare_anyway=args.compare_anyway, source=str(args.check))
            with open_backend(reference, args.backend, providers=providers, threads=args.threads) as reference_backend:
                paired = time_pair_until_decided(reference_backend, backend, plan, args.blocks, confidence=args.confidence,
                                                 threshold=1 + args.tolerance / 2, clock=args.clock)
            samples = Samples(latencies_ms=[x for trial in paired.b_trials for x in trial], images_per_call=1)
        elif args.scenario == "pipeline":
            from .pipeline_scenario import measure_pipeline

            if backend.input_shape[3] != 3:
                raise EdgesegError(
                    f"--scenario pipeline reads a colour video, but {artifact} takes BGR + depth; time the model with "
                    "--scenario single-stream or offline, or the whole pipeline with 'edgeseg run ... --depth DEPTH "
                    "--sink null --stats FILE.json'"
                )
            source = args.source or str(checkout_data(DEFAULT_PIPELINE_SOURCE, "--scenario pipeline's sample clip",
                                                      "--source VIDEO"))
            samples, extra = measure_pipeline(backend, source, plan)
            extra["source"] = source
        else:
            samples = measure_artifact(backend, args.scenario, plan, args.batch)
    result = {**result_from_samples(samples, args.scenario, artifact, plan, args.blocks, env), **extra}
    print(format_result(result))
    code = 0
    if baseline is not None:
        if paired is not None and reference is not None:
            check = decide_against_reference(paired, baseline, reference, tolerance=args.tolerance, diffs=diffs,
                                             clock=args.clock)
        else:
            check = check_against_baseline(result, baseline, tolerance=args.tolerance, confidence=args.confidence,
                                           compare_anyway=args.compare_anyway, source=str(args.check))
        check["same_artifact"] = baseline.get("artifact_sha256") == result["artifact_sha256"]
        result["check"] = {**check, "baseline": str(args.check)}
        print(("REGRESSION " if check["regression"] else "") + check["reason"] + f" [{check['mode']}]")
        if check.get("reference_p50_now_over_recorded") is not None:
            print(f"machine speed: the reference's p50 is {check['reference_p50_now_over_recorded']:.3f}x what was "
                  "recorded with the baseline (cancelled by the interleaving; not judged)")
        code = 1 if check["regression"] else 0
    if args.plot:
        from .plot import plot_latencies

        other = (baseline["latencies_ms"], "baseline") if baseline is not None and "latencies_ms" in baseline else None
        verdict = result["check"]["reason"] if "check" in result else None
        if verdict is not None:
            verdict = ("REGRESSION: " if result["check"]["regression"] else "") + verdict
        plot_latencies(args.plot, (result["latencies_ms"], "current"), other, title=verdict)
        print(f"wrote {args.plot}")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.save_baseline:
        # The artifact relative to the baseline file, so a CI job finds it from any working directory.
        saved = {**result, "artifact": baseline_artifact_field(artifact, args.save_baseline)}
        saved.pop("check", None)
        if not args.no_reference:
            saved["reference"] = save_reference(artifact, args.save_baseline)
        atomic_write_text(args.save_baseline, json.dumps(saved, indent=1) + "\n")
        print(f"saved baseline {args.save_baseline}" + (f" and its reference copy {saved['reference']['path']} "
              "(a later --check times it interleaved with the new build)" if "reference" in saved else ""))
    return code


def _usable_reference(args: argparse.Namespace, baseline: dict[str, Any]) -> Path | None:
    """The baseline's reference copy when ``--check`` can use it, else None (logged: the check is weaker)."""
    if args.no_reference:
        return None
    if args.scenario != "single-stream":
        log.info("--check %s: interleaving covers single-stream only; %s compares with the recorded latencies",
                 args.check, args.scenario)
        return None
    reference, why_not = find_reference(args.check, baseline)
    if reference is None:
        log.warning("--check %s: %s; comparing with the recorded latencies instead, which assumes the machine is "
                    "as fast as when they were recorded (separate runs here differ by 2-3 %%: docs/ci.md). "
                    "Re-record with --save-baseline to keep a reference copy", args.check, why_not)
    return reference


def _run_against(args: argparse.Namespace, backend_a, plan: TimingPlan, env: dict[str, Any]) -> int:
    if args.scenario != "single-stream":
        raise EdgesegError("--against compares single-stream latency; drop --scenario or use single-stream")
    providers = provider_list(getattr(args, "providers", None))
    check_backend_flags(args.against, args.backend, providers, args.threads)
    with open_backend(args.against, args.backend, providers=providers, threads=args.threads) as backend_b:
        paired: PairedTiming = time_pair(backend_a, backend_b, plan, args.blocks, args.confidence, args.clock)
    estimate = paired.estimate
    a_all = np.concatenate(paired.a_trials)
    b_all = np.concatenate(paired.b_trials)
    result: dict[str, Any] = {
        "scenario": "single-stream-ab",
        "a": {"artifact": str(args.artifact), "latency_ms": summarize(a_all).to_dict(), "trial_medians_ms": paired.a_medians},
        "b": {"artifact": str(args.against), "latency_ms": summarize(b_all).to_dict(), "trial_medians_ms": paired.b_medians},
        "ratio_b_over_a": estimate.to_dict(),
        "clock": args.clock,
        "environment": env,
    }
    print(f"A {args.artifact}: p50 {result['a']['latency_ms']['p50']:.2f} ms")
    print(f"B {args.against}: p50 {result['b']['latency_ms']['p50']:.2f} ms")
    print(f"B/A {args.clock}-time ratio {estimate.ratio:.3f} ({estimate.confidence:.0%} CI [{estimate.low:.3f}, {estimate.high:.3f}]) "
          f"over {len(paired.a_trials)} interleaved trials")
    if args.plot:
        from .plot import plot_latencies

        plot_latencies(args.plot, (a_all.tolist(), f"A {Path(args.artifact).name}"), (b_all.tolist(), f"B {Path(args.against).name}"))
        print(f"wrote {args.plot}")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def format_result(result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    if result["scenario"] == "pipeline":
        stages = "  ".join(f"{k} {v:.1f}" for k, v in result["stage_ms"].items() if v is not None)
        e2e = result["pipeline_latency_ms"]
        return (f"pipeline {result['artifact']} on {result['source']}: {lat['count']} frame intervals, "
                f"time per frame p50 {lat['p50']:.2f} ms, p90 {lat['p90']:.2f}, p99 {lat['p99']:.2f}; "
                f"{result['throughput_fps']:.1f} FPS\n  capture->output latency p50 {e2e['p50']:.1f} ms "
                f"p99 {e2e['p99']:.1f} ms (file source: includes queueing)\n  mean ms per frame and stage: {stages}")
    return (f"{result['scenario']} {result['artifact']}: {lat['count']} calls, "
            f"p50 {lat['p50']:.2f} ms, p90 {lat['p90']:.2f}, p99 {lat['p99']:.2f}, max {lat['max']:.2f}, "
            f"mean {lat['mean']:.2f} +- {lat['std']:.2f} ms; {result['throughput_fps']:.1f} images/s")
