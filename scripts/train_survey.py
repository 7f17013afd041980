"""Train the survey's models under the honest protocol, a few at a time, resumably.

    python scripts/train_survey.py --list                 # the plan and each run's state
    python scripts/train_survey.py --jobs 2 --threads 1   # run what is unfinished, two at a time
    python scripts/train_survey.py --only enet_recipe,enet
    python scripts/train_survey.py --plan claims          # the claims study's runs (docs/claims.md)
    python scripts/train_survey.py --plan proposals       # DeepMask / SharpMask (docs/proposals.md)

Each entry of :data:`PLAN` is one ``edgeseg train`` run in ``training_state/NAME``
(committed between sessions, so a later session resumes it): a *recipe*
run trains on drives 0001TP + 0016E5 and scores the held-out drive 0006R0
every few epochs; a *published* run trains on all of train and scores val.
A run that exists is resumed (``--resume``); a finished run is skipped.
Runs end when the session does; `--resume` continues them exactly.
When a published run finishes, publish it with
``python scripts/publish_checkpoint.py training_state/NAME/last.pt models/camvid_NAME.pt``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / "training_state"

# Recipe runs: validate on a drive the model never trained on (docs/protocol.md).
HELD_OUT_DRIVE = ["--set", 'data.train_prefixes=["0001TP", "0016E5"]', "--set", "data.val_split=train",
                  "--set", 'data.val_prefixes=["0006R0"]']


@dataclass(frozen=True)
class Run:
    name: str
    config: str
    overrides: tuple[str, ...] = ()

    @property
    def out(self) -> Path:
        return STATE / self.name


def _pair(model: str, epochs: int, extra: tuple[str, ...] = ()) -> list[Run]:
    schedule = ("--set", f"epochs={epochs}", "--set", "val_every=5", *extra)
    return [Run(f"{model}_recipe", f"configs/camvid_{model}.toml", (*schedule, *HELD_OUT_DRIVE)),
            Run(model, f"configs/camvid_{model}.toml", schedule)]


# The order is the order of value: the two models the README leads with first, then the survey.
PLAN: list[Run] = [
    *_pair("enet", 150), *_pair("lednet", 120),
    *_pair("fcn8s", 100), *_pair("segnet", 100), *_pair("deeplab_largefov", 100), *_pair("pspnet", 100),
    *_pair("parsenet", 100), *_pair("refinenet", 100), *_pair("reseg", 80), *_pair("bisenetv2", 100),
]

# The claims study (docs/claims.md, scripts/claims_table.py): each paper's claim against its ablation on one
# small budget, every run a recipe run scored on the held-out drive. 256x192 is a multiple of 32, so every
# architecture takes it; 30 epochs of 266 frames keep the whole study near a day of one core.
CLAIMS_BUDGET = ("--set", "epochs=30", "--set", "val_every=5", "--set", "data.height=192", "--set", "data.width=256",
                 "--set", "augment.crop_height=192", "--set", "augment.crop_width=256", *HELD_OUT_DRIVE)


def _claim(name: str, model: str, *overrides: str) -> Run:
    return Run(f"claims_{name}", f"configs/camvid_{model}.toml", (*CLAIMS_BUDGET, *overrides))


# Ordered so that each claim's runs finish together; the last run measures seed-to-seed noise.
CLAIMS: list[Run] = [
    # compile=false: torch 2.13 miscompiles CRF-as-RNN's backward here and the trainer falls back to eager
    # after 3-4 minutes of compiling, on every resume (a speed-only key: --resume accepts the change).
    _claim("fcn8s", "fcn8s"), _claim("crfasrnn", "crfasrnn", "--set", "compile=false"),
    _claim("deeplab_largefov", "deeplab_largefov"),  # with and without the CRF: one run, the CRF is eval-only
    _claim("fcn16s", "fcn16s"), _claim("fcn32s", "fcn32s"),
    _claim("parsenet", "parsenet"), _claim("parsenet_no_context", "parsenet", "--set", "model.args.global_context=false"),
    _claim("pspnet", "pspnet"), _claim("pspnet_no_pyramid", "pspnet", "--set", "model.args.pyramid=false"),
    _claim("segnet", "segnet"), _claim("segnet_nearest", "segnet", "--set", 'model.args.upsampling="nearest"'),
    _claim("fcn8s_seed1", "fcn8s", "--set", "seed=1"),
]

# Object proposals (docs/proposals.md): CamVid instances, windows of 160 px, 20 epochs (about 12 000 windows
# an epoch). The two recipe runs choose the objectness weight on the held-out drive's instances (the paper's
# 1/32 against 1); the published runs and SharpMask use the chosen one. SharpMask trains end to end.
PROPOSAL_SCHEDULE = ("--set", "epochs=20", "--set", "val_every=2")
PROPOSALS: list[Run] = [
    Run("deepmask_recipe", "configs/camvid_deepmask.toml", (*PROPOSAL_SCHEDULE, *HELD_OUT_DRIVE)),
    Run("deepmask_score1_recipe", "configs/camvid_deepmask.toml",
        (*PROPOSAL_SCHEDULE, *HELD_OUT_DRIVE, "--set", "score_weight=1.0")),
]


def state_of(run: Run) -> str:
    from edgeseg.train.published import read_metrics

    last_metrics = run.out / "metrics.jsonl"
    config = run.out / "config.json"
    if not last_metrics.is_file() or not config.is_file():
        return "not started"
    lines = read_metrics(last_metrics)
    epochs = json.loads(config.read_text())["epochs"]
    done = lines[-1]["epoch"] if lines else 0
    scored = [x for x in lines if "val_miou" in x]
    score = f", last score {scored[-1]['val_miou'] * 100:.1f} at epoch {scored[-1]['epoch']}" if scored else ""
    if done >= epochs:
        return "finished" + score
    # The median epoch of the last ten (the first carries the compile; machines here are noisy).
    recent = sorted(x["seconds"] for x in lines[-10:] if "seconds" in x)
    left = f", about {recent[len(recent) // 2] * (epochs - done) / 3600:.1f} h left" if recent else ""
    return f"epoch {done}/{epochs}{score}{left}"


def command(run: Run, threads: int) -> list[str]:
    resume = ["--resume"] if (run.out / "last.pt").is_file() else []
    return [sys.executable, "-m", "edgeseg", "train", run.config, "--out", str(run.out), *run.overrides,
            "--set", f"threads={threads}", "--no-progress", *resume]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true", help="print the plan and each run's state")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per run")
    p.add_argument("--plan", choices=("survey", "claims", "proposals"), default="survey",
                   help="the published models and their recipe runs (default), the claims study, or the proposal "
                        "models' runs")
    p.add_argument("--only", default="", help="comma-separated run names, from either plan")
    args = p.parse_args(argv)
    plans = {"survey": PLAN, "claims": CLAIMS, "proposals": PROPOSALS}
    runs = [r for r in PLAN + CLAIMS + PROPOSALS if r.name in args.only.split(",")] if args.only else plans[args.plan]
    if args.list:
        for run in runs:
            print(f"{run.name:24s} {state_of(run)}")
        return 0
    pending = [r for r in runs if state_of(r) != "finished"]
    active: list[tuple[Run, subprocess.Popen]] = []
    STATE.mkdir(exist_ok=True)
    while pending or active:
        while pending and len(active) < args.jobs:
            run = pending.pop(0)
            log = open(STATE / f"{run.name}.log", "a")
            print(f"start {run.name}: {state_of(run)}", flush=True)
            active.append((run, subprocess.Popen(command(run, args.threads), cwd=ROOT, stdout=log, stderr=log)))
        time.sleep(10)
        for run, proc in list(active):
            if proc.poll() is not None:
                active.remove((run, proc))
                print(f"end {run.name}: exit {proc.returncode}, {state_of(run)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
