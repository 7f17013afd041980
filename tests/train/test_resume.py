"""--resume continues the recorded run: changes refused unless --allow-changes, then recorded; divergence stops cleanly."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import pytest
from helpers import ROOT, SAMPLES, tiny_train_overrides

from edgeseg.cli import main
from edgeseg.train.checkpoint import load_checkpoint
from edgeseg.train.config import TrainConfig
from edgeseg.train.resume import SPEED_ONLY_KEYS, flatten

CONFIG = ROOT / "configs" / "camvid_enet.toml"


def _args(out, *extra: str, **overrides) -> list[str]:
    sets = sum((["--set", o] for o in tiny_train_overrides(**overrides)), [])
    return ["train", str(CONFIG), *sets, "--no-progress", "--out", str(out), *extra]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def one_epoch_of_two(tmp_path_factory):
    """A run of 2 epochs stopped after the first (resumable), copied fresh for each test."""
    out = tmp_path_factory.mktemp("resume") / "run"
    assert main(_args(out, "--stop-after", "1", epochs=2)) == 0
    return out


@pytest.fixture
def run(one_epoch_of_two, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(one_epoch_of_two, out)
    return out


@pytest.mark.parametrize("override, expected", [
    ({"augment.crop_height": 64}, "augment.crop_height: 96 (recorded) -> 64 (now)"),
    ({"data.root": str(ROOT / "samples" / "camvid_copy")}, f'data.root: "{SAMPLES}" (recorded) -> '),
    ({"lr": 1e-3, "batch_size": 1}, "batch_size: 2 (recorded) -> 1 (now); lr: 0.005 (recorded) -> 0.001 (now)"),
])
def test_resume_with_a_changed_run_is_refused(run, capsys, override, expected):
    before = {p.name: _sha(p) for p in run.iterdir() if p.is_file()}
    assert main(_args(run, "--resume", epochs=2, **override)) == 2
    err = capsys.readouterr().err
    assert expected in err and "pass --allow-changes" in err and "Traceback" not in err, err
    assert {p.name: _sha(p) for p in run.iterdir() if p.is_file()} == before  # nothing touched


def test_resume_with_allow_changes_continues_and_records_the_change(run):
    assert main(_args(run, "--resume", "--allow-changes", epochs=2, **{"augment.crop_height": 64})) == 0
    assert load_checkpoint(run / "last.pt")["epoch"] == 2
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert "config_changes" not in records[0]
    assert records[1]["config_changes"] == {"augment.crop_height": [96, 64]}
    config = json.loads((run / "config.json").read_text())
    assert config["augment"]["crop_height"] == 64
    assert config["config_changes"] == [{"at_epoch": 1, "changes": {"augment.crop_height": [96, 64]}}]


def test_resume_takes_speed_only_changes_without_asking(run):
    assert main(_args(run, "--resume", epochs=2, prefetch_batches=0, compile_cache_dir=str(run.parent / "cc"))) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["prefetch_batches"] == 0 and "config_changes" not in config
    assert load_checkpoint(run / "last.pt")["epoch"] == 2


def test_resume_of_a_finished_run_says_it_is_finished(run, capsys):
    assert main(_args(run, "--resume", epochs=2)) == 0
    capsys.readouterr()
    sha = _sha(run / "last.pt")
    assert main(_args(run, "--resume", epochs=2)) == 0
    assert "is finished: last.pt holds epoch 2 of 2; nothing to train" in capsys.readouterr().out
    assert _sha(run / "last.pt") == sha


def test_allow_changes_without_resume_is_refused(tmp_path, capsys):
    assert main(_args(tmp_path / "new", "--allow-changes", epochs=1)) == 2
    assert "--allow-changes is for --resume" in capsys.readouterr().err


def test_speed_only_keys_are_config_keys():
    """A key renamed in TrainConfig must not linger here (a typo would make a real change pass silently)."""
    keys = set(flatten(dataclasses.asdict(TrainConfig())))
    assert SPEED_ONLY_KEYS <= keys, SPEED_ONLY_KEYS - keys
    assert not {"lr", "epochs", "batch_size", "amp", "amp_dtype", "augment.crop_height", "data.root"} & SPEED_ONLY_KEYS


def test_diverging_run_stops_and_keeps_the_last_good_checkpoint(run, capsys):
    """lr 1e30 blows the weights up in the second epoch; last.pt of epoch 1 stays and still evaluates."""
    good = _sha(run / "last.pt")
    lines = (run / "metrics.jsonl").read_text()
    config = (run / "config.json").read_text()
    code = main(_args(run, "--resume", "--allow-changes", epochs=2, lr=1e30))
    err = capsys.readouterr().err
    assert code == 4, err
    assert "training diverged at epoch 2, step " in err and "Traceback" not in err, err
    assert "the last finite loss was " in err and "last.pt (epoch 1) is the last good checkpoint" in err, err
    assert "--set lr=1e+29" in err, err
    assert _sha(run / "last.pt") == good
    assert (run / "metrics.jsonl").read_text() == lines
    assert (run / "config.json").read_text() == config  # the lr that diverged was never recorded as the run's
    assert main(["eval", str(run / "last.pt"), "--data", str(SAMPLES), "--limit", "2",
                 "--json", str(run.parent / "scores.json")]) == 0
    scores = json.loads((run.parent / "scores.json").read_text())
    assert 0.0 <= scores["miou"] <= 1.0
