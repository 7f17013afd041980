"""``make demo``: the whole pipeline on the committed CamVid ENet and the bundled samples.

checkpoint -> eval -> ONNX export (parity-checked) -> FP16 and INT8 (gated on
mIoU) -> build for the ``cpu`` target -> eval of the built artifact -> run on
the sample clip into an overlay video with stats -> a latency benchmark.

Runs the stages through the same ``edgeseg`` CLI a user types and writes
everything under ``out/demo/``. Each step prints the command it runs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from edgeseg.cli import main

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "demo"
MODEL = ROOT / "models" / "camvid_enet.pt"
SAMPLES = ROOT / "samples" / "camvid"
VIDEO = ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4"


def step(*argv: str) -> None:
    print(f"\n$ edgeseg {shlex.join(argv)}", flush=True)
    code = main(list(argv))
    if code:
        sys.exit(f"demo step failed with exit code {code}")


def run() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    step("info", str(MODEL))
    step("eval", str(MODEL), "--data", str(SAMPLES), "--split", "val",
         "--json", str(OUT / "eval_pt.json"), "--overlay-dir", str(OUT / "overlays"))
    onnx = OUT / "camvid_enet.onnx"
    step("export", str(MODEL), "-o", str(onnx), "--parity-count", "4")
    step("quantize", str(onnx), "--precision", "fp16", "-o", str(OUT / "camvid_enet.fp16.onnx"))
    step("quantize", str(onnx), "--precision", "int8", "--calib", str(ROOT / "calib_data" / "camvid"),
         "--num-images", "32", "-o", str(OUT / "camvid_enet.int8.onnx"),
         "--eval-data", str(SAMPLES), "--max-miou-drop", "1.0")
    step("info", str(OUT / "camvid_enet.int8.onnx"))
    step("compare", str(onnx), str(OUT / "camvid_enet.fp16.onnx"), "--data", str(SAMPLES))
    # On a Jetson this would be --target auto; here it is OpenVINO's compiled model (.blob) where openvino is
    # installed, else onnxruntime's optimised model (.onnx), plus its sidecar.
    step("build", str(OUT / "camvid_enet.int8.onnx"), "--target", "cpu", "-o", str(OUT / "engines"))
    built = next(p for p in (OUT / "engines" / f"camvid_enet.int8.cpu{s}" for s in (".blob", ".onnx")) if p.is_file())
    step("eval", str(built), "--data", str(SAMPLES), "--json", str(OUT / "eval_int8_cpu.json"))
    # The CPU fallback runs FP32: onnxruntime's INT8 kernels are slower than FP32 on most CPUs.
    step("run", str(onnx), "--source", str(VIDEO), "--sink", str(OUT / "overlay.mp4"), "--legend",
         "--stats", str(OUT / "run_stats.json"))
    step("bench", str(onnx), "--min-time-s", "2", "--json", str(OUT / "bench.json"), "--plot", str(OUT / "latency.png"))
    print(f"\ndemo outputs in {OUT}: overlay.mp4, run_stats.json, eval_*.json, latency.png, the ONNX variants")


if __name__ == "__main__":
    run()
