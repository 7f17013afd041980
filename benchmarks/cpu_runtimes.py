"""edgeseg's cpu target against stock onnxruntime and stock OpenVINO on the same ONNX, with mIoU beside latency.

For every committed model (``models/*.pt``, or ``--models NAME ...``) it runs,
in a work folder (``--out``, default a temporary one):

1. ``edgeseg export`` (FP32 contract ONNX, 360x480, batch 1) and ``edgeseg
   quantize --precision int8 --calib calib_data/camvid`` (the Q/DQ INT8 the
   cpu build may pick);
2. ``edgeseg build --target cpu --threads N --eval-data DATA`` for each
   thread count (the build times its candidates at N threads and keeps the
   fastest that passes the accuracy gate);
3. interleaved rounds: in each round every (model, threads, variant) runs
   ``--calls`` single-image calls, the order reversed every other round, so
   a load that comes and goes falls on all variants alike. Variants:

   - ``ort``: stock onnxruntime on the FP32 ONNX: ``InferenceSession`` with
     only ``intra_op_num_threads`` set, ``session.run``;
   - ``openvino``: stock OpenVINO on the FP32 ONNX: ``compile_model(path,
     "CPU", {"INFERENCE_NUM_THREADS": N})`` and an infer request (its
     defaults otherwise, which on a bf16 CPU means bf16);
   - ``edgeseg``: the built ``.blob`` through ``edgeseg.runtime`` (what
     ``edgeseg run`` uses).

   No edgeseg code is on the stock runtimes' timed path.
4. mIoU on ``DATA`` val (``--limit`` images, 0: all) of each variant, through
   the same evaluation harness (resize in, labels resized back).

Reported per (model, threads): median latency of each variant over all its
calls, the per-round ratios' medians (edgeseg vs each stock runtime), each
variant's mIoU and drop against ORT FP32, and the load average before and
after. Usage::

    python benchmarks/cpu_runtimes.py [--models camvid_enet camvid_ddrnet23_slim] [--threads 1 2]
        [--rounds 12] [--calls 10] [--limit 0] [--out DIR] [--json cpu_runtimes.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "camvid"
GATES = {"fp32": 0.0, "bf16": 0.2, "f16": 0.2, "int8": 1.0}


def edgeseg(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "edgeseg", *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"edgeseg {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


class StockOrt:
    """Stock onnxruntime: the session as its documentation opens it, threads set, nothing else."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"image": x})[0]


class StockOpenVino:
    """Stock OpenVINO: ``compile_model`` on the ONNX with only the thread count set, one infer request."""

    def __init__(self, path: Path, threads: int):
        import openvino as ov

        self.compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads})
        self.request = self.compiled.create_infer_request()
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.hint = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.request.infer({0: x})[self.compiled.output(0)]


class Edgeseg:
    """The cpu target's artifact through edgeseg's runtime, as ``edgeseg run`` opens it."""

    def __init__(self, path: Path, threads: int):
        from edgeseg.runtime.backends import open_backend

        self.backend = open_backend(path, threads=threads)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.backend.infer(x)


def miou(call, metadata, limit: int) -> float:
    """mIoU of ``call`` (uint8 1 x H x W x 3 -> labels) through edgeseg's eval harness."""
    from edgeseg.metrics import scores_from_confusion
    from edgeseg.runtime.backends.base import Backend
    from edgeseg.runtime.eval import evaluate

    class Adapter(Backend):
        name = "benchmark adapter"

        def __init__(self) -> None:
            self.metadata = metadata

        def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
            return {"labels": call(feed["image"])}

    return scores_from_confusion(evaluate(Adapter(), DATA, "val", limit=limit).confusion).miou


def prepare(name: str, work: Path, threads: list[int], limit: int) -> dict:
    """Export, quantize and build ``models/NAME.pt``; returns the paths and what each build picked."""
    onnx = work / f"{name}.onnx"
    if not onnx.is_file():
        edgeseg("export", str(ROOT / "models" / f"{name}.pt"), "-o", str(onnx), "--parity-count", "2")
    int8 = work / f"{name}.int8.onnx"
    if not int8.is_file():
        edgeseg("quantize", str(onnx), "--precision", "int8", "--calib", str(ROOT / "calib_data" / "camvid"), "-o", str(int8))
    builds = {}
    for n in threads:
        out = work / f"threads{n}"
        args = ["build", str(onnx), "--target", "cpu", "--threads", str(n), "-o", str(out), "--int8", str(int8)]
        if limit >= 0:
            args += ["--eval-data", str(DATA), "--eval-limit", str(limit)]
        started = time.perf_counter()
        edgeseg(*args)
        blob = out / f"{name}.cpu.blob"
        selection = json.loads((out / f"{name}.cpu.blob.json").read_text())["selection"]
        builds[n] = {"blob": blob, "picked": selection["picked"], "why": selection["why"],
                     "candidates": selection["candidates"], "seconds": time.perf_counter() - started}
        print(f"{name}, {n} thread(s): built {blob.name}, picked {selection['picked']} ({time.perf_counter() - started:.0f} s)",
              flush=True)
    return {"onnx": onnx, "int8": int8, "builds": builds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", help="model stems in models/ (default: every committed *.pt)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--calls", type=int, default=10, help="timed calls per variant and round (after 2 untimed)")
    parser.add_argument("--limit", type=int, default=0, help="val images scored for mIoU and the build's gate (0: all 101)")
    parser.add_argument("--out", help="work folder (kept; default: a temporary one)")
    parser.add_argument("--json")
    args = parser.parse_args()
    from edgeseg.metadata import ModelMetadata  # noqa: F401  (edgeseg importable before the long part)
    from edgeseg.runtime.backends import open_backend

    names = args.models or sorted(p.stem for p in (ROOT / "models").glob("*.pt"))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="edgeseg-cpu-runtimes-") as tmp:
        work = Path(args.out) if args.out else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        prepared = {name: prepare(name, work, args.threads, args.limit) for name in names}
        runners: dict[tuple[str, int, str], object] = {}
        for name, p in prepared.items():
            for n in args.threads:
                runners[name, n, "ort"] = StockOrt(p["onnx"], n)
                runners[name, n, "openvino"] = StockOpenVino(p["onnx"], n)
                runners[name, n, "edgeseg"] = Edgeseg(p["builds"][n]["blob"], n)
        keys = list(runners)
        frames = {name: [np.random.default_rng(i).integers(0, 256, (1, 360, 480, 3), dtype=np.uint8) for i in range(2)]
                  for name in names}
        times: dict = {k: [] for k in keys}
        per_round: dict = {k: [] for k in keys}
        round_load = []
        started = time.perf_counter()
        for r in range(args.rounds):
            for key in keys if r % 2 == 0 else keys[::-1]:
                call = runners[key]
                x = frames[key[0]]
                lat = []
                for k in range(args.calls + 2):
                    t0 = time.perf_counter()
                    call(x[k % 2])
                    if k >= 2:
                        lat.append((time.perf_counter() - t0) * 1000)
                times[key] += lat
                per_round[key].append(statistics.median(lat))
            round_load.append(os.getloadavg()[0])
            print(f"round {r + 1}/{args.rounds} ({time.perf_counter() - started:.0f} s, load {round_load[-1]:.2f})", flush=True)
        # mIoU: numerics do not depend on the thread count for ORT/OpenVINO stock; each edgeseg build may pick differently
        scores: dict = {}
        for name, p in prepared.items():
            with open_backend(p["onnx"], "onnxruntime") as reference:
                meta = reference.metadata
            top = max(args.threads)
            scores[name, "ort"] = miou(runners[name, top, "ort"], meta, args.limit)
            scores[name, "openvino"] = miou(runners[name, top, "openvino"], meta, args.limit)
            for n in args.threads:
                scores[name, n, "edgeseg"] = miou(runners[name, n, "edgeseg"], meta, args.limit)
        load_after = os.getloadavg()

    rows = []
    print(f"\nload average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"during rounds {min(round_load):.2f}..{max(round_load):.2f}, after {load_after[0]:.2f}; "
          f"{os.cpu_count()} logical CPUs; {args.rounds} interleaved rounds x {args.calls} calls")
    print("| model, threads | stock ORT FP32 | stock OpenVINO | edgeseg cpu (pick) | edgeseg vs ORT | edgeseg vs OpenVINO "
          "| mIoU ORT / OpenVINO / edgeseg | holds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        for n in args.threads:
            med = {v: statistics.median(times[name, n, v]) for v in ("ort", "openvino", "edgeseg")}
            rounds_ort = np.array(per_round[name, n, "ort"]) / np.array(per_round[name, n, "edgeseg"])
            rounds_ov = np.array(per_round[name, n, "openvino"]) / np.array(per_round[name, n, "edgeseg"])
            speed_ort, speed_ov = float(np.median(rounds_ort)), float(np.median(rounds_ov))
            build = prepared[name]["builds"][n]
            picked = build["picked"]
            gate_class = "int8" if picked.startswith("int8") else {"fp32": "fp32"}.get(picked, "bf16")
            m_ort, m_ov, m_es = scores[name, "ort"], scores[name, "openvino"], scores[name, n, "edgeseg"]
            drop = 100 * (m_ort - m_es)
            holds = {"at_least_stock_openvino": speed_ov >= 1.0, "at_least_2x_ort": speed_ort >= 2.0,
                     "miou_within_gate": drop <= GATES[gate_class] + 1e-9}
            row = {"model": name, "threads": n, "median_ms": med, "edgeseg_speedup_vs_ort": speed_ort,
                   "edgeseg_speedup_vs_openvino": speed_ov,
                   "speedup_vs_openvino_per_round": rounds_ov.round(4).tolist(),
                   "speedup_vs_ort_per_round": rounds_ort.round(4).tolist(), "picked": picked, "why": build["why"],
                   "build_candidates": build["candidates"], "stock_openvino_hint": runners[name, n, "openvino"].hint,
                   "miou": {"ort": m_ort, "openvino": m_ov, "edgeseg": m_es}, "edgeseg_miou_drop_points": drop,
                   "gate_points": GATES[gate_class], "holds": holds}
            rows.append(row)
            print(f"| {name}, {n} | {med['ort']:.1f} ms | {med['openvino']:.1f} ms ({row['stock_openvino_hint']}) "
                  f"| {med['edgeseg']:.1f} ms ({picked}) | {speed_ort:.2f}x | {speed_ov:.2f}x "
                  f"(rounds {rounds_ov.min():.2f}..{rounds_ov.max():.2f}) "
                  f"| {100 * m_ort:.2f} / {100 * m_ov:.2f} / {100 * m_es:.2f} ({-drop:+.2f}) "
                  f"| {', '.join(k for k, v in holds.items() if v) or '-'}"
                  f"{'; NOT ' + ', '.join(k for k, v in holds.items() if not v) if not all(holds.values()) else ''} |")
    if args.json:
        import onnxruntime
        import openvino

        report = {"rows": rows, "rounds": args.rounds, "calls": args.calls, "limit": args.limit,
                  "load_average": {"before": load_before, "rounds": round_load, "after": load_after},
                  "machine": {"cpu": platform.processor() or platform.machine(), "logical_cpus": os.cpu_count(),
                              "onnxruntime": onnxruntime.__version__, "openvino": openvino.get_version()}}
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
