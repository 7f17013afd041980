"""``make demo``: the committed CamVid ENet on the bundled samples.

Runs the pipeline's stages through the same ``edgeseg`` CLI a user types and
writes everything under ``out/demo/``. Each step prints the command it runs.
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
    print(f"\ndemo outputs in {OUT}")


if __name__ == "__main__":
    run()
