"""Faults during long work: killed training, full disks, broken checkpoints."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import ROOT, tiny_train_overrides

from edgeseg.atomic import atomic_write_bytes
from edgeseg.cli import main
from edgeseg.errors import EdgesegError
from edgeseg.train.checkpoint import load_checkpoint, save_checkpoint

CONFIG = ROOT / "configs" / "camvid_enet.toml"


def test_disk_full_during_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old and good")
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(EdgesegError, match="No space left on device on the file system of .*free some space"):
        atomic_write_bytes(target, b"new" * 1000)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_bytes() == b"old and good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary left behind


def test_sink_in_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(EdgesegError, match="folder .*nope does not exist"):
        atomic_write_bytes(tmp_path / "nope" / "x.json", b"{}")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"PK\x03\x04garbage", "cannot be read"),
    (b"\x80\x02}q\x00.", "cannot be read"),
])
def test_broken_checkpoints(tmp_path, capsys, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_truncated_checkpoint(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgesegError, match="truncated, corrupt or not a PyTorch checkpoint"):
        load_checkpoint(path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_checkpoint_with_pickled_code_is_refused(tmp_path, tiny_checkpoint):
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt["extra"] = _Evil()
    path = tmp_path / "evil.pt"
    torch.save(ckpt, path)
    with pytest.raises(EdgesegError, match="refused: it contains pickled Python objects"):
        load_checkpoint(path)


def test_non_edgeseg_torch_file_is_named(tmp_path):
    path = tmp_path / "weights.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(2)}})
    with pytest.raises(EdgesegError, match="not an edgeseg checkpoint"):
        load_checkpoint(path)


def test_killed_training_resumes_without_losing_epochs(tmp_path):
    """SIGKILL a real training process after its first checkpoint, then resume to the end."""
    run = tmp_path / "run"
    overrides = tiny_train_overrides(epochs=3, max_train_images=4)
    cmd = [sys.executable, "-m", "edgeseg", "train", str(CONFIG), "--out", str(run), "--no-progress",
           *sum((["--set", o] for o in overrides), [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # A liveness bound, not a timing assertion: on a loaded 2-core machine the first
    # tiny epoch (torch import included) has taken over two minutes.
    deadline = time.monotonic() + 600
    while not (run / "metrics.jsonl").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / "metrics.jsonl").exists(), "training wrote no checkpoint within 600 s (or exited first)"
    finished = load_checkpoint(run / "last.pt")["epoch"]
    assert finished >= 1
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == finished  # metrics never run ahead of the checkpoint
    assert main(["train", str(CONFIG), "--out", str(run), "--resume", "--no-progress",
                 *sum((["--set", o] for o in overrides), [])]) == 0
    epochs = [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]
    assert load_checkpoint(run / "best.pt")["epoch"] in epochs
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # resume sweeps stale temporaries
