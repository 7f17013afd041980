"""A real 2-process DDP run (torchrun, gloo, CPU) against a single-process run."""

import json
import os
import subprocess
import sys

import torch
from helpers import ROOT, tiny_train_overrides

from edgeseg.config import load_config
from edgeseg.train.checkpoint import load_checkpoint
from edgeseg.train.config import TrainConfig
from edgeseg.train.trainer import train

CONFIG = ROOT / "configs" / "camvid_enet.toml"


def _overrides():
    # SGD (Adam would amplify float noise in near-zero gradients), no dropout, frozen batch norm
    # (per-rank batch statistics would differ from the global batch's; SyncBatchNorm needs CUDA).
    return tiny_train_overrides(
        epochs=1, batch_size=4, max_train_images=8, max_val_images=4, optimizer="sgd", lr=0.01, freeze_bn=True,
        class_weighting="median_frequency", **{"model.args.dropout_scale": 0.0},
    )


def test_two_process_gloo_run_equals_single_process(tmp_path):
    single = tmp_path / "single"
    train(load_config(CONFIG, TrainConfig, _overrides()), single, progress=False)

    ddp = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "edgeseg", "train", str(CONFIG), "--out", str(ddp), "--no-progress",
           *sum((["--set", o] for o in _overrides()), [])]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    (record,) = [json.loads(line) for line in (ddp / "metrics.jsonl").read_text().splitlines()]
    assert record["world_size"] == 2 and record["samples_per_rank"] == [4, 4]  # both ranks trained
    (reference,) = [json.loads(line) for line in (single / "metrics.jsonl").read_text().splitlines()]
    assert abs(record["loss"] - reference["loss"]) < 1e-5
    assert abs(record["val_miou"] - reference["val_miou"]) < 1e-6

    a, b = load_checkpoint(single / "last.pt")["model"], load_checkpoint(ddp / "last.pt")["model"]
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-6, msg=key)
    # One set of files, written by rank 0 only; nothing stray in the working folder.
    assert sorted(p.name for p in ddp.iterdir()) == ["best.pt", "config.json", "last.pt", "metrics.jsonl", "tb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single"]


def test_resume_with_a_different_number_of_processes(tmp_path):
    """A 2-process epoch resumed by one process continues at epoch 2 with the same schedule."""
    run = tmp_path / "run"
    overrides = [o for o in _overrides() if not o.startswith("epochs=")] + ["epochs=2"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "edgeseg", "train", str(CONFIG), "--out", str(run), "--no-progress", "--stop-after", "1",
           *sum((["--set", o] for o in overrides), [])]
    done = subprocess.run(cmd, cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_checkpoint(run / "last.pt")["global_step"] == 2
    train(load_config(CONFIG, TrainConfig, overrides), run, progress=False, resume=True)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["world_size"] for r in lines] == [2, 1] and load_checkpoint(run / "last.pt")["global_step"] == 4


def test_sampler_never_forms_a_last_batch_of_one():
    from edgeseg.train.distributed import DistContext, GlobalBatchSampler

    batches = list(GlobalBatchSampler(9, 4, DistContext(), seed=0))
    assert [len(b) for b in batches] == [4, 4]  # the ninth image waits for the next epoch's order
    assert [len(b) for b in GlobalBatchSampler(10, 4, DistContext(), seed=0)] == [4, 4, 2]
    assert [len(b) for b in GlobalBatchSampler(3, 1, DistContext(), seed=0)] == [1, 1, 1]  # asked for
    ranks = [list(GlobalBatchSampler(8, 4, DistContext(r, 2), seed=3)) for r in range(2)]
    assert sorted(sum(ranks[0] + ranks[1], [])) == list(range(8))
