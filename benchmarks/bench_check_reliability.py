"""How reliable is `edgeseg bench --check`? False alarms and detection power, measured.

Exports the committed ENet at a base input size (the reference) and at
larger ones (more pixels, so slower by an amount measured here, not assumed),
then runs ``--trials`` trials of the two decisions ``bench --check`` can make:

- ``reference`` (the default of ``--check`` for a baseline saved with its
  reference copy): per trial, the decision of the same interleaved
  measurement ``bench --check`` runs (``time_pair`` then ``decide_against_reference``,
  the default timing plan): the reference against a *copy* of itself (a
  regression reported here is a false alarm) and against each slower variant
  (a detection). The true slowdown of a variant is the median of all its
  paired ratios.
- ``recorded`` (``--no-reference``, or an old baseline): cycles of separate
  single-stream runs ``A, B1, B2, ...``; trial i compares A_{i+1} against
  A_i (false alarm) and B_k,i against A_i (detection), with the recorded-latency
  decision.

Usage::

    python benchmarks/bench_check_reliability.py --backend openvino --base 240x320 --variants 240x336 248x320 \\
        [--trials 20] [--mode reference|recorded|both] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.bench import environment
from edgeseg.runtime.bench.check import decide_against_reference
from edgeseg.runtime.bench.command import check_against_baseline, measure_artifact, result_from_samples
from edgeseg.runtime.bench.measure import TimingPlan
from edgeseg.runtime.bench.paired import time_pair_until_decided
from edgeseg.runtime.bench.stats import DEFAULT_BLOCKS

ROOT = Path(__file__).resolve().parent.parent


def shape(text: str) -> tuple[int, int]:
    height, width = (int(v) for v in text.lower().split("x"))
    if height % 8 or width % 8:
        raise argparse.ArgumentTypeError(f"{text}: ENet needs height and width divisible by 8")
    return height, width


def name(hw: tuple[int, int]) -> str:
    return f"{hw[0]}x{hw[1]}"


def export(hw: tuple[int, int], out: Path) -> Path:
    path = out / f"enet_{name(hw)}.onnx"
    subprocess.run([sys.executable, "-m", "edgeseg", "export", str(ROOT / "models" / "camvid_enet.pt"), "-o", str(path),
                    "--height", str(hw[0]), "--width", str(hw[1]), "--parity-count", "1"], check=True,
                   capture_output=True)
    return path


def reference_mode(paths: list[Path], variants: list[tuple[int, int]], base: tuple[int, int], args, plan) -> dict:
    """Trials of the interleaved decision, reference vs its copy and vs each variant."""
    copy = paths[0].with_name("copy_" + paths[0].name)
    shutil.copyfile(paths[0], copy)
    backends = [open_backend(p, args.backend, threads=args.threads) for p in [paths[0], copy, *paths[1:]]]
    fake_baseline = {"latency_ms": {"p50": 1.0}}  # only its recorded p50 is read, for the drift line
    false_alarms, detected = 0, [0] * len(variants)
    ratios: list[list[float]] = [[] for _ in range(len(variants) + 1)]
    # per check: the per-trial medians and 25th percentiles of both sides, to decide again with --reanalyze
    saved: list[list[dict]] = [[] for _ in range(len(variants) + 1)]
    started = time.perf_counter()
    for trial in range(args.trials):
        for k, other in enumerate(backends[1:]):
            paired = time_pair_until_decided(backends[0], other, plan, DEFAULT_BLOCKS, threshold=1 + args.tolerance / 2,
                                             clock=args.clock)
            check = decide_against_reference(paired, fake_baseline, paths[0], tolerance=args.tolerance, diffs=[],
                                             clock=args.clock)
            ratios[k].extend((np.array(paired.b_medians) / np.array(paired.a_medians)).tolist())
            saved[k].append({"a_median": paired.a_medians, "b_median": paired.b_medians,
                             "a_q25": paired.a_statistics(0.25), "b_q25": paired.b_statistics(0.25)})
            if k == 0:
                false_alarms += int(check["regression"])
            else:
                detected[k - 1] += int(check["regression"])
        print(f"trial {trial + 1}/{args.trials} ({time.perf_counter() - started:.0f} s): false alarms {false_alarms}, "
              f"detected {detected}", flush=True)
    seconds_per_check = (time.perf_counter() - started) / (args.trials * (len(variants) + 1))
    report = {"trials": args.trials, "tolerance": args.tolerance, "false_alarms": false_alarms,
              "seconds_per_check": seconds_per_check, "same_pair_ratio_std": float(np.std(ratios[0])),
              "variants": [], "checks": saved}
    report["mean_trials"] = [float(np.mean([len(c["a_q25"]) for c in checks])) for checks in saved]
    print(f"\n`bench --check` with a reference copy (interleaved, {DEFAULT_BLOCKS} trials, more while undecided; "
          f"about {seconds_per_check:.1f} s a check; mean trials per check {report['mean_trials']})")
    print("| comparison | true slowdown (median paired ratio) | regressions reported |\n| --- | --- | --- |")
    print(f"| {name(base)} against a copy of itself (false alarms) | {np.median(ratios[0]) - 1:+.1%} | "
          f"{false_alarms}/{args.trials} |")
    for k, hw in enumerate(variants, start=1):
        slowdown = float(np.median(ratios[k]) - 1)
        pixels = hw[0] * hw[1] / (base[0] * base[1])
        report["variants"].append({"shape": name(hw), "pixels_ratio": pixels, "slowdown": slowdown,
                                   "detected": detected[k - 1]})
        print(f"| {name(hw)} ({pixels - 1:+.1%} pixels) | {slowdown:+.1%} | {detected[k - 1]}/{args.trials} |")
    return report


def recorded_mode(paths: list[Path], variants: list[tuple[int, int]], base: tuple[int, int], args, plan) -> dict:
    """Cycles of separate runs; decisions against the previous cycle's recorded latencies."""
    backends = [open_backend(p, args.backend, threads=args.threads) for p in paths]
    env = environment.collect(args.backend, backends[0].providers, args.threads)
    runs: list[list[dict]] = [[] for _ in backends]
    started = time.perf_counter()
    for cycle in range(args.trials + 1):
        for k, (path, backend) in enumerate(zip(paths, backends)):
            samples = measure_artifact(backend, "single-stream", plan)
            runs[k].append(result_from_samples(samples, "single-stream", path, plan, DEFAULT_BLOCKS, env))
        print(f"cycle {cycle + 1}/{args.trials + 1} done ({time.perf_counter() - started:.0f} s)", flush=True)
    report = analyze_recorded(runs, variants, base, args.trials, args.tolerance)
    report["runs"] = [[{"latencies_ms": r["latencies_ms"]} for r in variant] for variant in runs]
    return report


def analyze_recorded(runs: list[list[dict]], variants: list[tuple[int, int]], base: tuple[int, int], trials: int,
                     tolerance: float) -> dict:
    """False alarms (A_{i+1} vs A_i) and detections (B_k,i vs A_i) with the recorded-latency decision."""
    def check(current, baseline) -> bool:
        return check_against_baseline(current, baseline, tolerance=tolerance, confidence=0.99,
                                      compare_anyway=True)["regression"]

    false_alarms = sum(check(runs[0][i + 1], runs[0][i]) for i in range(trials))
    a_pooled = np.median(np.concatenate([r["latencies_ms"] for r in runs[0]]))
    report = {"trials": trials, "tolerance": tolerance, "false_alarms": int(false_alarms), "variants": []}
    print("\n`bench --check --no-reference` (separate runs against recorded latencies)")
    print("| comparison | true slowdown (pooled medians) | regressions reported |\n| --- | --- | --- |")
    print(f"| {name(base)} against its previous run (false alarms) | - | {false_alarms}/{trials} |")
    for k, hw in enumerate(variants, start=1):
        detected = sum(check(runs[k][i], runs[0][i]) for i in range(trials))
        slowdown = np.median(np.concatenate([r["latencies_ms"] for r in runs[k]])) / a_pooled - 1
        pixels = hw[0] * hw[1] / (base[0] * base[1])
        report["variants"].append({"shape": name(hw), "pixels_ratio": pixels, "slowdown": float(slowdown),
                                   "detected": int(detected)})
        print(f"| {name(hw)} ({pixels - 1:+.1%} pixels) | {slowdown:+.1%} | {detected}/{trials} |")
    return report


def reanalyze_reference(saved: dict, tolerance: float) -> None:
    """The reference mode's decisions again, with the per-trial median and with the 25th percentile."""
    from edgeseg.runtime.bench.stats import decide, paired_bootstrap_ratio

    labels = ["itself (false alarms)"] + [v["shape"] for v in saved["variants"]]
    print("| comparison | regressions, per-trial median | regressions, per-trial 25th percentile |\n| --- | --- | --- |")
    for label, checks in zip(labels, saved["checks"]):
        counts = [sum(decide(paired_bootstrap_ratio(c[f"a_{stat}"], c[f"b_{stat}"]), tolerance).regression
                      for c in checks) for stat in ("median", "q25")]
        print(f"| {label} | {counts[0]}/{len(checks)} | {counts[1]}/{len(checks)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--base", type=shape, default=(240, 320), help="the reference's input, HxW (default 240x320)")
    parser.add_argument("--variants", type=shape, nargs="+", default=[(240, 336), (248, 320)],
                        help="the slower variants, HxW (default 240x336: +5.0 %% pixels; 248x320: +3.3 %%)")
    parser.add_argument("--mode", choices=["reference", "recorded", "both"], default="reference")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="reference mode's clock (bench --clock)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backend", default="openvino", help="openvino (default, f32) or onnxruntime")
    parser.add_argument("--json")
    parser.add_argument("--reanalyze", metavar="JSON",
                        help="decide the recorded mode again on the latencies a previous run saved (no measuring)")
    args = parser.parse_args()
    if args.reanalyze:
        report = json.loads(Path(args.reanalyze).read_text())
        if "checks" in report.get("reference", {}):
            reanalyze_reference(report["reference"], args.tolerance)
        if "recorded" not in report:
            return 0
        saved = report["recorded"]
        runs = [[{"latencies_ms": r["latencies_ms"], "scenario": "single-stream", "environment": {},
                  "latency_ms": {}} for r in variant] for variant in saved["runs"]]
        variants = [shape(v["shape"]) for v in saved["variants"]]
        analyze_recorded(runs, variants, shape(saved["base"]), saved["trials"], args.tolerance)
        return 0
    plan = TimingPlan()  # the CLI defaults
    report: dict = {"base": name(args.base), "backend": args.backend, "threads": args.threads, "clock": args.clock,
                    "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = [export(hw, Path(tmp)) for hw in [args.base, *args.variants]]
        if args.mode in ("reference", "both"):
            report["reference"] = reference_mode(paths, args.variants, args.base, args, plan)
        if args.mode in ("recorded", "both"):
            report["recorded"] = {**recorded_mode(paths, args.variants, args.base, args, plan), "base": name(args.base)}
    report["load_average_after"] = os.getloadavg()
    print(f"load average before {report['load_average_before'][0]:.2f}, after {report['load_average_after'][0]:.2f} "
          f"({os.cpu_count()} logical CPUs)")
    if args.json:
        Path(args.json).write_text(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
