"""The RGB-D data layout, the 4-channel metadata contract and LSTM-CF training on a made-up RGB-D set."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgeseg.cli import main
from edgeseg.datasets import guess_kind, read_depth, rgbd_samples
from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec, ModelMetadata
from edgeseg.preprocess import depth_to_u8, normalize_image

H, W = 32, 48


def make_rgbd_set(root, names=("a", "b", "c"), splits=("train", "val")):
    """images/SPLIT/*.png (BGR), depth/SPLIT/*.png (uint16 mm), masks/SPLIT/*.png (labels 0..2), classes.txt.

    The label is a function of depth (near / middle / far), so a model that reads depth can learn it.
    """
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("near\nmiddle\nfar\n")
    for split in splits:
        for sub in ("images", "depth", "masks"):
            (root / sub / split).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            depth = np.zeros((H, W), np.uint16)
            depth[:, : W // 3] = 800 + 10 * i
            depth[:, W // 3: 2 * W // 3] = 3000
            depth[:, 2 * W // 3:] = 7000
            depth[0, 0] = 0  # a missing reading
            labels = np.digitize(depth, [2000, 5000]).astype(np.uint8)
            image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
            cv2.imwrite(str(root / "images" / split / f"{name}.png"), image)
            cv2.imwrite(str(root / "depth" / split / f"{name}.png"), depth)
            cv2.imwrite(str(root / "masks" / split / f"{name}.png"), labels)
    return root


def test_depth_to_u8_scales_and_clips():
    mm = np.array([0, 19, 20, 60, 10200, 20000], np.uint16)
    assert depth_to_u8(mm, 40.0).tolist() == [0, 0, 0, 2, 255, 255]  # round half to even: 20/40 = 0.5 -> 0


def test_normalize_image_puts_depth_last_after_rgb():
    images = np.random.default_rng(1).integers(0, 256, (2, 3, 4, 4), dtype=np.uint8)
    out = normalize_image(images, [1, 2, 3, 4], [2, 3, 4, 5])
    assert out.shape == (2, 4, 3, 4) and out.dtype == np.float32
    assert np.allclose(out[:, 0], (images[..., 2].astype(np.float32) - 1) / 2)  # R from BGR's channel 2
    assert np.allclose(out[:, 2], (images[..., 0].astype(np.float32) - 3) / 4)  # B
    assert np.allclose(out[:, 3], (images[..., 3].astype(np.float32) - 4) / 5)  # depth


def test_rgbd_layout_is_found_and_read(tmp_path):
    root = make_rgbd_set(tmp_path)
    assert guess_kind(root) == "rgbd"
    samples = rgbd_samples(root, "train")
    assert [s.depth.name for s in samples] == ["a.png", "b.png", "c.png"]
    depth = read_depth(samples[1].depth, (H, W, 3))
    assert depth.dtype == np.uint16 and depth[5, 0] == 810 and depth[0, 0] == 0

    from helpers import ROOT

    from edgeseg.config import load_config
    from edgeseg.train.config import TrainConfig
    from edgeseg.train.data.datasets import dataset_info, load_split

    cfg = load_config(ROOT / "configs" / "camvid_enet.toml", TrainConfig,
                      ["data.kind=\"rgbd\"", f"data.root=\"{root}\"", "data.depth_scale=40.0"])
    split = load_split(cfg.data, "train", dataset_info(cfg.data))
    image = split.images[0]
    assert image.shape == (H, W, 4) and image.dtype == np.uint8
    assert image[5, 0, 3] == 20 and image[5, W - 1, 3] == 175 and image[0, 0, 3] == 0  # 800/40, 7000/40, missing


@pytest.mark.parametrize("damage, message", [
    ("missing", r"1 image\(s\) have no depth map STEM.png"),
    ("8bit", "is uint8, not 16-bit; save depth in millimetres as a 16-bit PNG"),
    ("colour", "has 3 channels; save depth as a single-channel 16-bit PNG"),
    ("size", "depth map .* is 10x8 but its image is 48x32"),
])
def test_bad_depth_gives_clear_errors(tmp_path, damage, message):
    root = make_rgbd_set(tmp_path, names=("a",), splits=("train",))
    path = root / "depth" / "train" / "a.png"
    if damage == "missing":
        path.unlink()
    elif damage == "8bit":
        cv2.imwrite(str(path), np.zeros((H, W), np.uint8))
    elif damage == "colour":
        cv2.imwrite(str(path), np.zeros((H, W, 3), np.uint16))
    else:
        cv2.imwrite(str(path), np.zeros((8, 10), np.uint16))
    with pytest.raises(EdgesegError, match=message):
        for sample in rgbd_samples(root, "train"):
            read_depth(sample.depth, (H, W, 3))


def test_metadata_channels_are_optional_and_checked():
    base = ModelMetadata("x", ["a"], [[0, 0, 0]], InputSpec(8, 8))
    old_style = base.to_dict()
    del old_style["input"]["channels"], old_style["input"]["depth_scale"]
    assert ModelMetadata.from_dict(old_style).input.channels == 3  # artifacts written before the field still load
    rgbd = ModelMetadata("x", ["a"], [[0, 0, 0]], InputSpec(8, 8, [0, 0, 0, 0], [1, 1, 1, 1], channels=4,
                                                                      depth_scale=40.0))
    assert ModelMetadata.from_json(rgbd.to_json()).input.depth_scale == 40.0
    with pytest.raises(EdgesegError, match="input.mean must be 4 numbers"):
        ModelMetadata("x", ["a"], [[0, 0, 0]], InputSpec(8, 8, channels=4, depth_scale=40.0)).validate()
    with pytest.raises(EdgesegError, match="input.depth_scale .* must be a positive number"):
        ModelMetadata("x", ["a"], [[0, 0, 0]], InputSpec(8, 8, [0] * 4, [1] * 4, channels=4)).validate()


def rgbd_overrides(root, **extra):
    values = {
        "model.name": '"lstmcf"', "model.args": "{hidden = 8}", "data.kind": '"rgbd"', "data.root": f'"{root}"',
        "data.height": H, "data.width": W, "data.mean": "[128.0, 128.0, 128.0, 100.0]",
        "data.std": "[64.0, 64.0, 64.0, 60.0]", "augment.crop_height": H, "augment.crop_width": W,
        "augment.scale_min": 1.0, "augment.scale_max": 1.0, "batch_size": 3, "warmup_epochs": 0, "lr": 1e-2,
        "threads": 1, "class_weighting": '"none"', "epochs": 1,
    }
    values.update(extra)
    return sum((["--set", f"{k}={v}"] for k, v in values.items()), [])


def test_lstmcf_trains_on_rgbd_and_records_the_4_channel_contract(tmp_path, capsys):
    import torch
    from helpers import ROOT

    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    root = make_rgbd_set(tmp_path / "data")
    out = tmp_path / "run"
    assert main(["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(out), "--no-progress",
                 *rgbd_overrides(root, epochs=2)]) == 0
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["loss"] < lines[0]["loss"]
    checkpoint = load_checkpoint(out / "last.pt")
    model, meta = model_from_checkpoint(checkpoint)
    assert meta.input.channels == 4 and meta.input.depth_scale == 40.0 and len(meta.input.mean) == 4
    with torch.no_grad():
        assert model(torch.zeros(1, 4, H, W)).shape == (1, 3, H, W)

    # edgeseg eval feeds the same 4-channel frames through the torch backend
    assert main(["eval", str(out / "last.pt"), "--data", str(root), "--json", str(tmp_path / "s.json")]) == 0
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["images"] == 3 and 0.0 <= scores["miou"] <= 1.0
    import shutil

    rgb_only = make_rgbd_set(tmp_path / "rgb_only", names=("a",), splits=("val",))
    shutil.rmtree(rgb_only / "depth")
    capsys.readouterr()
    assert main(["eval", str(out / "last.pt"), "--data", str(rgb_only)]) == 2
    assert "lstmcf takes colour + depth, but" in capsys.readouterr().err


def test_four_channel_model_refuses_rgb_data(tmp_path, capsys):
    from helpers import ROOT, SAMPLES

    code = main(["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(tmp_path / "r"), "--no-progress",
                 "--set", "model.name=\"lstmcf\"", "--set", f"data.root=\"{SAMPLES}\"", "--set", "data.train_split=\"val\"",
                 "--set", "max_train_images=1", "--set", "max_val_images=1", "--set", "epochs=1"])
    assert code == 2
    assert "lstmcf takes 4-channel input but data.kind 'camvid' gives 3" in capsys.readouterr().err
