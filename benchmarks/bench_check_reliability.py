"""How reliable is `edgeseg bench --check`? False alarms and detection power, measured.

Exports the committed ENet at 176x240 (the reference; a quarter of CamVid's
pixels keeps 20 trials of every variant within minutes) and at wider inputs
(more pixels, so slower by a known-ish amount), then runs cycles of
``A, B1, B2, ...`` single-stream measurements with the default timing plan.
Trial i compares:

- A_{i+1} against A_i as baseline: a regression reported here is a false alarm;
- B_k,i against A_i: a regression reported here is a detection.

The true slowdown of each B_k is estimated from all its runs against all of
A's (ratio of pooled medians).

With ``--interleaved-width W`` it also measures ``edgeseg bench --against``'s
decision (interleaved A/B trials, paired ratio): per trial, A against A (a
regression here is a false alarm) and the W-wide variant against A. Usage::

    python benchmarks/bench_check_reliability.py [--trials 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.bench import environment
from edgeseg.runtime.bench.command import check_against_baseline, measure_artifact, result_from_samples
from edgeseg.runtime.bench.measure import TimingPlan, synthetic_frames, time_interleaved
from edgeseg.runtime.bench.stats import DEFAULT_BLOCKS, decide, paired_bootstrap_ratio

ROOT = Path(__file__).resolve().parent.parent


BASE_HEIGHT, BASE_WIDTH = 176, 240


def export(width: int, out: Path) -> Path:
    path = out / f"enet_{BASE_HEIGHT}x{width}.onnx"
    subprocess.run([sys.executable, "-m", "edgeseg", "export", str(ROOT / "models" / "camvid_enet.pt"), "-o", str(path),
                    "--height", str(BASE_HEIGHT), "--width", str(width), "--parity-count", "1"], check=True,
                   capture_output=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--widths", type=int, nargs="+", default=[248, 256, 264, 272],
                        help=f"widths of the slower variants (the reference is {BASE_WIDTH}; height {BASE_HEIGHT})")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backend", default="onnxruntime", help="onnxruntime (default) or openvino (f32)")
    parser.add_argument("--interleaved-width", type=int, default=0,
                        help="also measure the interleaved A/B decision against this variant (0: skip)")
    parser.add_argument("--json")
    parser.add_argument("--reanalyze", metavar="JSON",
                        help="decide again on the latencies a previous run saved with --json (no measuring)")
    args = parser.parse_args()
    plan = TimingPlan()  # the CLI defaults
    if args.reanalyze:
        saved = json.loads(Path(args.reanalyze).read_text())
        runs = [[{"latencies_ms": r["latencies_ms"], "scenario": "single-stream", "environment": {},
                  "latency_ms": {}} for r in variant] for variant in saved["runs"]]
        analyze(runs, saved["widths"], saved["trials"], args.tolerance, saved["seconds_per_default_run"], plan)
        return 0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [export(w, Path(tmp)) for w in [BASE_WIDTH, *args.widths]]
        backends = [open_backend(p, args.backend, threads=args.threads) for p in paths]
        env = environment.collect(args.backend, backends[0].providers, args.threads)
        runs: list[list[dict]] = [[] for _ in backends]
        started = time.perf_counter()
        for cycle in range(args.trials + 1):
            for k, (path, backend) in enumerate(zip(paths, backends)):
                samples = measure_artifact(backend, "single-stream", plan)
                runs[k].append(result_from_samples(samples, "single-stream", path, plan, DEFAULT_BLOCKS, env))
            print(f"cycle {cycle + 1}/{args.trials + 1} done ({time.perf_counter() - started:.0f} s)", flush=True)
        run_seconds = np.mean([r["latency_ms"]["count"] * r["latency_ms"]["mean"] / 1000 for r in runs[0]]) + plan.warmup_s
        interleaved = None
        if args.interleaved_width:
            b_index = [BASE_WIDTH, *args.widths].index(args.interleaved_width)
            interleaved = {"aa": 0, "ab": 0, "ratios_ab": []}
            for _ in range(args.trials):
                for key, other in (("aa", backends[0]), ("ab", backends[b_index])):
                    a_trials, b_trials = time_interleaved(
                        backends[0].infer, other.infer, synthetic_frames((1, *backends[0].input_shape[1:])),
                        synthetic_frames((1, *other.input_shape[1:])), plan, 20)
                    est = paired_bootstrap_ratio([np.median(t) for t in a_trials], [np.median(t) for t in b_trials])
                    interleaved[key] += int(decide(est, args.tolerance).regression)
                    if key == "ab":
                        interleaved["ratios_ab"].append(est.ratio)

    report = analyze(runs, args.widths, args.trials, args.tolerance, run_seconds, plan)
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    print(f"load average before {load_before[0]:.2f}, after {report['load_average']['after'][0]:.2f} "
          f"({os.cpu_count()} logical CPUs)")
    if interleaved is not None:
        report["interleaved"] = {"width": args.interleaved_width, "false_alarms": interleaved["aa"],
                                 "detected": interleaved["ab"], "median_ratio": float(np.median(interleaved["ratios_ab"]))}
        print(f"\ninterleaved A/B (--against), {args.trials} trials: A vs A {interleaved['aa']}/{args.trials} false alarms; "
              f"{args.interleaved_width}x{BASE_HEIGHT} vs A (median ratio {np.median(interleaved['ratios_ab']):.3f}) "
              f"detected {interleaved['ab']}/{args.trials}")
    if args.json:
        report["runs"] = [[{"latencies_ms": r["latencies_ms"]} for r in variant] for variant in runs]
        report["widths"] = args.widths
        Path(args.json).write_text(json.dumps(report) + "\n")
    return 0


def analyze(runs: list[list[dict]], widths: list[int], trials: int, tolerance: float, run_seconds: float,
            plan: TimingPlan) -> dict:
    """False alarms (A_{i+1} vs A_i) and detections (B_k,i vs A_i) with the current decision of ``bench --check``."""
    def check(current, baseline) -> bool:
        return check_against_baseline(current, baseline, tolerance=tolerance, confidence=0.99,
                                      compare_anyway=True)["regression"]

    false_alarms = sum(check(runs[0][i + 1], runs[0][i]) for i in range(trials))
    a_pooled = np.median(np.concatenate([r["latencies_ms"] for r in runs[0]]))
    report = {"trials": trials, "tolerance": tolerance, "false_alarms": int(false_alarms),
              "seconds_per_default_run": float(run_seconds), "variants": []}
    print(f"\nsame artifact against itself: {false_alarms}/{trials} false alarms")
    print(f"default run: about {run_seconds:.1f} s (warm-up {plan.warmup_s} s + >= {plan.min_time_s} s and >= {plan.min_iters} calls)")
    print("| variant | true slowdown (pooled medians) | detected |\n| --- | --- | --- |")
    for k, w in enumerate(widths, start=1):
        detected = sum(check(runs[k][i], runs[0][i]) for i in range(trials))
        slowdown = np.median(np.concatenate([r["latencies_ms"] for r in runs[k]])) / a_pooled - 1
        report["variants"].append({"width": w, "pixels_ratio": w / BASE_WIDTH, "slowdown": float(slowdown),
                                   "detected": int(detected)})
        print(f"| {w}x{BASE_HEIGHT} ({w / BASE_WIDTH - 1:+.1%} pixels) | {slowdown:+.1%} | {detected}/{trials} |")
    return report


if __name__ == "__main__":
    sys.exit(main())
