"""Publishing a run with its recipe run, and reading the published records back (the zoo table's columns)."""

import json
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT, SAMPLES

from edgeseg.cli import main
from edgeseg.train.published import published_record

PUBLISH = ROOT / "scripts" / "publish_checkpoint.py"


def _publish(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PUBLISH), *map(str, args)], capture_output=True, text=True, cwd=ROOT)


def test_publish_with_recipe_copies_its_records_and_the_record_reads_them(tmp_path, tiny_checkpoint):
    run = tiny_checkpoint.parent
    target = tmp_path / "models" / "camvid_tiny.pt"
    target.parent.mkdir()
    done = _publish(run / "last.pt", target, "--recipe", run)
    assert done.returncode == 0, done.stderr
    for suffix in (".metrics.jsonl", ".resolved_config.json", ".recipe.metrics.jsonl", ".recipe.resolved_config.json"):
        assert (tmp_path / "models" / f"camvid_tiny{suffix}").is_file(), suffix
    assert main(["eval", str(target), "--data", str(SAMPLES), "--split", "val",
                 "--json", str(target.with_suffix(".val.json"))]) == 0
    epochs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]

    record = published_record(target)
    scores = json.loads(target.with_suffix(".val.json").read_text())
    assert record.val_miou == pytest.approx(100 * scores["miou"])
    assert record.epoch == record.planned_epochs == 1 and record.last_epoch
    assert record.hours == pytest.approx(sum(e["seconds"] for e in epochs) / 3600)
    # The recipe here is the run itself: its last scored epoch is the held-out figure.
    assert record.held_out_miou == pytest.approx(100 * epochs[-1]["val_miou"])
    assert record.recipe_epochs == 1 and record.fp16_drop is None and record.int8_drop is None

    target.with_name("camvid_tiny.precision.json").write_text(json.dumps(
        {"fp32_miou": 50.0, "fp16": {"miou": 50.0, "drop_points": 0.0}, "int8": {"miou": 49.5, "drop_points": 0.5}}))
    record = published_record(target)
    assert (record.fp16_drop, record.int8_drop) == (0.0, 0.5)


def test_publish_refuses_an_unfinished_recipe_run_and_writes_nothing(tmp_path, tiny_checkpoint):
    recipe = tmp_path / "recipe"
    shutil.copytree(tiny_checkpoint.parent, recipe)
    config = json.loads((recipe / "config.json").read_text())
    (recipe / "config.json").write_text(json.dumps({**config, "epochs": 5}))
    target = tmp_path / "camvid_tiny.pt"
    done = _publish(tiny_checkpoint.parent / "last.pt", target, "--recipe", recipe)
    assert done.returncode == 2
    assert f"recipe run {recipe} is at epoch 1 of 5" in done.stderr
    assert list(tmp_path.glob("camvid_tiny*")) == []


COMMITTED = sorted((ROOT / "models").glob("camvid_*.pt"))


@pytest.mark.parametrize("checkpoint", COMMITTED, ids=[c.stem for c in COMMITTED])
def test_committed_records_are_complete(checkpoint):
    """Every committed model has its hours; one published under the protocol (its schedule's last epoch)
    also has the held-out-drive score of its recipe run at that run's last epoch."""
    record = published_record(checkpoint)
    assert record.hours and record.hours > 0
    if record.last_epoch:
        assert record.held_out_miou is not None and record.held_out_drive, checkpoint
        assert 0 < record.held_out_miou <= 100
