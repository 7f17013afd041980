"""How reliable is `edgeseg bench --check`? False alarms and detection power, measured.

Exports the committed ENet at 360x480 (the reference) and at taller inputs
(more pixels, so slower by a known-ish amount), then runs cycles of
``A, B1, B2, ...`` single-stream measurements with the default timing plan.
Trial i compares:

- A_{i+1} against A_i as baseline: a regression reported here is a false alarm;
- B_k,i against A_i: a regression reported here is a detection.

The true slowdown of each B_k is estimated from all its runs against all of
A's (ratio of pooled medians). Usage::

    python benchmarks/bench_check_reliability.py [--trials 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.bench import environment
from edgeseg.runtime.bench.command import check_against_baseline, measure_artifact, result_from_samples
from edgeseg.runtime.bench.measure import TimingPlan

ROOT = Path(__file__).resolve().parent.parent


def export(height: int, out: Path) -> Path:
    path = out / f"enet_{height}x480.onnx"
    subprocess.run([sys.executable, "-m", "edgeseg", "export", str(ROOT / "models" / "camvid_enet.pt"), "-o", str(path),
                    "--height", str(height), "--width", "480", "--skip-parity"], check=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--heights", type=int, nargs="+", default=[368, 376, 384, 400],
                        help="heights of the slower variants (the reference is 360)")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    plan = TimingPlan()  # the CLI defaults
    with tempfile.TemporaryDirectory() as tmp:
        paths = [export(h, Path(tmp)) for h in [360, *args.heights]]
        backends = [open_backend(p, "onnxruntime", threads=args.threads) for p in paths]
        env = environment.collect("onnxruntime", backends[0].providers, args.threads)
        runs: list[list[dict]] = [[] for _ in backends]
        started = time.perf_counter()
        for cycle in range(args.trials + 1):
            for k, (path, backend) in enumerate(zip(paths, backends)):
                samples = measure_artifact(backend, "single-stream", plan)
                runs[k].append(result_from_samples(samples, "single-stream", path, plan, 20, env))
            print(f"cycle {cycle + 1}/{args.trials + 1} done ({time.perf_counter() - started:.0f} s)", flush=True)
        run_seconds = np.mean([r["latency_ms"]["count"] * r["latency_ms"]["mean"] / 1000 for r in runs[0]]) + plan.warmup_s

    def check(current, baseline) -> bool:
        return check_against_baseline(current, baseline, tolerance=args.tolerance, confidence=0.99,
                                      compare_anyway=False)["regression"]

    false_alarms = sum(check(runs[0][i + 1], runs[0][i]) for i in range(args.trials))
    a_pooled = np.median(np.concatenate([r["latencies_ms"] for r in runs[0]]))
    report = {"trials": args.trials, "tolerance": args.tolerance, "false_alarms": int(false_alarms),
              "seconds_per_default_run": float(run_seconds), "variants": []}
    print(f"\nsame artifact against itself: {false_alarms}/{args.trials} false alarms")
    print(f"default run: about {run_seconds:.1f} s (warm-up {plan.warmup_s} s + >= {plan.min_time_s} s and >= {plan.min_iters} calls)")
    print("| variant | true slowdown (pooled medians) | detected |\n| --- | --- | --- |")
    for k, h in enumerate(args.heights, start=1):
        detected = sum(check(runs[k][i], runs[0][i]) for i in range(args.trials))
        slowdown = np.median(np.concatenate([r["latencies_ms"] for r in runs[k]])) / a_pooled - 1
        report["variants"].append({"height": h, "pixels_ratio": h / 360, "slowdown": float(slowdown), "detected": int(detected)})
        print(f"| 480x{h} ({h / 360 - 1:+.1%} pixels) | {slowdown:+.1%} | {detected}/{args.trials} |")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
