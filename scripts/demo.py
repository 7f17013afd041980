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
    print(f"\ndemo outputs in {OUT}")


if __name__ == "__main__":
    run()
