"""`edgeseg train` smoke runs for part B of the zoo: BiSeNetV2 (aux heads), DeepMask (task "proposals")."""

from __future__ import annotations

import json

import torch
from helpers import ROOT, SAMPLES, tiny_train_overrides

from edgeseg.cli import main
from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint


def _sets(overrides: list[str]) -> list[str]:
    return sum((["--set", o] for o in overrides), [])


def test_bisenetv2_one_epoch_on_four_images(tmp_path, capsys):
    out = tmp_path / "bisenet"
    args = ["train", str(ROOT / "configs" / "camvid_bisenetv2.toml"), "--out", str(out), "--no-progress",
            *_sets(tiny_train_overrides(epochs=1)), "--set", "model.args={head_channels = 64}"]
    assert main(args) == 0
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["epoch"] == 1 and record["loss"] > 0 and 0.0 <= record["val_miou"] <= 1.0
    model, meta = model_from_checkpoint(load_checkpoint(out / "best.pt"))
    assert meta.architecture == "bisenetv2" and meta.input.multiple == 8
    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 96, 128))
    assert logits.shape == (1, 11, 96, 128)  # eval mode: main head only
    assert "val mIoU" in capsys.readouterr().out


def test_deepmask_one_epoch_on_camvid_instances(tmp_path, capsys):
    out = tmp_path / "deepmask"
    overrides = [
        f'data.root="{SAMPLES}"', 'data.train_split="val"', 'data.val_split="val"', "max_train_images=4",
        "max_val_images=2", "epochs=1", "batch_size=16", "threads=1", "warmup_epochs=0",
        "model.args={window = 64, stride = 32}",
    ]
    assert main(["train", str(ROOT / "configs" / "camvid_deepmask.toml"), "--out", str(out), "--no-progress",
                 *_sets(overrides)]) == 0
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["epoch"] == 1 and record["loss"] > 0
    assert 0.0 <= record["val_mask_iou"] <= 1.0 and 0.0 <= record["val_score_accuracy"] <= 1.0
    checkpoint = load_checkpoint(out / "best.pt")
    model, meta = model_from_checkpoint(checkpoint)
    # the runtime's window geometry is recorded even where the config relied on defaults
    assert meta.arch_args == {"window": 64, "stride": 32, "mask_size": 16}
    assert meta.training["task"] == "proposals" and meta.training["train_instances"] > 0
    with torch.no_grad():
        masks, scores = model(torch.zeros(2, 3, 64, 64))
    assert masks.shape == (2, 16, 16) and scores.shape == (2,)
    assert "val mask IoU" in capsys.readouterr().out


def test_part_b_configs_load_and_build():
    import pytest

    from edgeseg.config import load_config
    from edgeseg.train.config import TrainConfig
    from edgeseg.train.models import build_model, get_entry

    for name, arch in [("camvid_bisenetv2", "bisenetv2"), ("camvid_ddrnet23_slim", "ddrnet23_slim"),
                       ("camvid_deepmask", "deepmask")]:
        cfg = load_config(ROOT / "configs" / f"{name}.toml", TrainConfig)
        assert cfg.model.name == arch
        build_model(cfg.model.name, 11, **cfg.model.args)
        entry = get_entry(arch)
        if entry.task == "semantic":
            assert cfg.data.height % entry.input_multiple == 0 and cfg.data.width % entry.input_multiple == 0
    with pytest.raises(Exception, match="mask_size"):
        build_model("sharpmask", 1, mask_size=40)  # SharpMask's masks are always window / 2


def test_score_weight_reaches_the_proposals_loss_and_is_refused_for_segmentation(tmp_path, capsys):
    import re

    base = [f'data.root="{SAMPLES}"', 'data.train_split="val"', 'data.val_split="val"', "max_train_images=2",
            "max_val_images=1", "epochs=1", "batch_size=16", "threads=1", "warmup_epochs=0",
            "model.args={window = 64, stride = 32}"]
    losses = {}
    for weight in ("0.0", "1.0"):
        out = tmp_path / f"w{weight}"
        assert main(["train", str(ROOT / "configs" / "camvid_deepmask.toml"), "--out", str(out), "--no-progress",
                     *_sets([*base, f"score_weight={weight}"])]) == 0
        losses[weight] = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["loss"]
        assert json.loads((out / "config.json").read_text())["score_weight"] == float(weight)
    # Same seed, same windows: only the objectness term (about ln 2 for an untrained score) tells them apart.
    assert losses["1.0"] - losses["0.0"] > 0.3
    capsys.readouterr()
    assert main(["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(tmp_path / "enet"), "--no-progress",
                 *_sets([*tiny_train_overrides(epochs=1), "score_weight=1.0"])]) != 0
    assert re.search(r"score_weight = 1.0 is the objectness weight of proposal models .* "
                     r"enet is a segmentation model: remove it", capsys.readouterr().err)


def test_proposal_instances_follow_the_drive_prefixes():
    """Recipe runs of proposal models hold a drive out exactly as segmentation runs do."""
    import pytest

    from edgeseg.config import load_config
    from edgeseg.errors import EdgesegError
    from edgeseg.train.config import TrainConfig
    from edgeseg.train.tasks.proposals import load_instances

    cfg = load_config(ROOT / "configs" / "camvid_deepmask.toml", TrainConfig, [f'data.root="{SAMPLES}"'])
    all_images, all_instances = load_instances(cfg, "val", 0)
    some_images, some_instances = load_instances(cfg, "val", 0, ["0016E5_079"])
    names = sorted(p.name for p in (SAMPLES / "val").iterdir())
    assert len(some_images) == sum(n.startswith("0016E5_079") for n in names) < len(all_images)
    assert 0 < len(some_instances) < len(all_instances)
    with pytest.raises(EdgesegError, match="no image of split 'val' .* starts with 0006R0"):
        load_instances(cfg, "val", 0, ["0006R0"])
