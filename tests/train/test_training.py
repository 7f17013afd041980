"""Training end to end on a handful of images: loss goes down, resume is exact."""

import json

import pytest
import torch
from helpers import ROOT, tiny_train_overrides

from edgeseg.cli import main
from edgeseg.config import load_config
from edgeseg.train.checkpoint import load_checkpoint
from edgeseg.train.config import TrainConfig
from edgeseg.train.trainer import train

CONFIG = ROOT / "configs" / "camvid_enet.toml"


def test_loss_goes_down(tmp_path):
    # Two epochs of four steps each; seeds are fixed, so this is deterministic.
    cfg = load_config(CONFIG, TrainConfig, tiny_train_overrides(epochs=2, batch_size=1, lr=1e-2))
    train(cfg, tmp_path, progress=False)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert lines[1]["loss"] < lines[0]["loss"] * 0.97, [r["loss"] for r in lines]
    assert {"loss", "val_miou", "per_class_iou", "lr", "seconds"} <= set(lines[-1])
    for name in ("best.pt", "last.pt", "metrics.jsonl"):
        assert (tmp_path / name).is_file()
    assert any((tmp_path / "tb").iterdir())


def test_resume_equals_uninterrupted_run(tmp_path):
    cfg = load_config(CONFIG, TrainConfig, tiny_train_overrides(epochs=2))
    train(cfg, tmp_path / "straight", progress=False)
    train(cfg, tmp_path / "sliced", progress=False, stop_after=1)
    assert load_checkpoint(tmp_path / "sliced" / "last.pt")["epoch"] == 1
    train(cfg, tmp_path / "sliced", progress=False, resume=True)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "sliced" / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=0, atol=1e-6, msg=key)
    lines = (tmp_path / "sliced" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]


def test_cli_train_then_resume_continues_at_next_epoch(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["train", str(CONFIG), *sum((["--set", o] for o in tiny_train_overrides()), []), "--no-progress"]
    assert main([*args, "--set", "epochs=1", "--out", str(out)]) == 0
    assert main([*args, "--set", "epochs=1", "--out", str(out)]) == 2  # refuses to overwrite a run
    assert "pass --resume" in capsys.readouterr().err
    assert main([*args, "--set", "epochs=1", "--out", str(out), "--resume"]) == 0
    assert "is finished: last.pt holds epoch 1 of 1; nothing to train" in capsys.readouterr().out
    # More epochs change the learning-rate schedule: a change, accepted only when asked for.
    assert main([*args, "--set", "epochs=2", "--out", str(out), "--resume"]) == 2
    assert "epochs: 1 (recorded) -> 2 (now)" in capsys.readouterr().err
    assert main([*args, "--set", "epochs=2", "--out", str(out), "--resume", "--allow-changes"]) == 0
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[1]["config_changes"] == {"epochs": [1, 2]}


def test_unknown_architecture_is_rejected_with_valid_names(tmp_path, capsys):
    code = main(["train", str(CONFIG), "--set", "model.name=nonet", "--out", str(tmp_path / "x"), "--no-progress",
                 *sum((["--set", o] for o in tiny_train_overrides()), [])])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown architecture 'nonet'" in err and "enet" in err


@pytest.mark.parametrize("override, message", [
    ("epochz=3", "unknown key 'epochz'; valid keys here: epochs"),
    ("epochs=three", "epochs: expected an integer, got 'three'"),
    ("data.rot=/x", "unknown key 'data.rot'"),
    ("optimizer=adam", "optimizer: 'adam' is not one of ['adamw', 'sgd']"),
])
def test_config_errors_name_the_key(override, message, tmp_path, capsys):
    assert main(["train", str(CONFIG), "--set", override, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_config_errors_say_whether_the_file_or_an_override_is_wrong(tmp_path):
    from edgeseg.config import load_config
    from edgeseg.errors import EdgesegError
    from edgeseg.train.config import TrainConfig

    bad_file = tmp_path / "bad.toml"
    bad_file.write_text('epochs = "ten"\n' + CONFIG.read_text(encoding="utf-8").replace("epochs = 100", ""))
    with pytest.raises(EdgesegError, match=f"^{bad_file}: epochs: expected an integer, got 'ten'$"):
        load_config(bad_file, TrainConfig)
    with pytest.raises(EdgesegError, match="^--set: lr: expected a number, got 'abc'$"):
        load_config(CONFIG, TrainConfig, ["lr=abc"])
    # An override that replaces the file's bad value is no error.
    assert load_config(bad_file, TrainConfig, ["epochs=7"]).epochs == 7


def test_users_folder_with_class_list_trains(tmp_path, samples_dir):
    import shutil

    root = tmp_path / "mydata"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "masks" / split).mkdir(parents=True)
        for image in sorted((samples_dir / "val").glob("*.jpg"))[:3]:
            shutil.copy(image, root / "images" / split / image.name)
            mask = samples_dir / "valannot" / f"{image.stem}.png"
            # Folder layout's void is 255: remap CamVid's 11.
            import cv2

            m = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
            m[m == 11] = 255
            cv2.imwrite(str(root / "masks" / split / f"{image.stem}.png"), m)
    (root / "classes.txt").write_text("\n".join(f"c{i}" for i in range(11)) + "\n")
    overrides = tiny_train_overrides(epochs=1, **{"data.kind": "folder", "data.root": str(root),
                                                   "data.train_split": "train", "data.val_split": "val"})
    cfg = load_config(CONFIG, TrainConfig, overrides)
    record = train(cfg, tmp_path / "run", progress=False)
    assert record["epoch"] == 1 and 0.0 <= record["val_miou"] <= 1.0
    assert load_checkpoint(tmp_path / "run" / "best.pt")["metadata"]["classes"][0] == "c0"
