"""The SYNTHETIC RGB-D generator: deterministic, its depth is its geometry, its files are the rgbd layout,
near/far classes look alike, and LSTM-CF trains on what it writes (real CLI, real PNG files)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import ROOT

from edgeseg.cli import main
from edgeseg.datasets import layout_info, read_depth, read_image, read_mask, rgbd_samples
from edgeseg.errors import EdgesegError
from edgeseg.train.data.synthetic_rgbd import (
    CLASSES,
    FAR_RANGE_M,
    FLOOR,
    NEAR_RANGE_M,
    WALL,
    render_scene,
    scene_seed,
    write_dataset,
)

H, W = 48, 64
SPLITS = {"train": 4, "val": 2}


@pytest.fixture(scope="module")
def fixture_set(tmp_path_factory):
    """6 scenes (4 train, 2 val) at 48x64, seed 3, written by the generator."""
    root = tmp_path_factory.mktemp("synthetic") / "rgbd"
    write_dataset(root, SPLITS, H, W, seed=3)
    return root


def test_same_seed_same_bytes_other_seed_other_scenes(fixture_set, tmp_path):
    again = tmp_path / "again"
    write_dataset(again, SPLITS, H, W, seed=3)
    files = sorted(p.relative_to(fixture_set) for p in fixture_set.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert len(files) == 3 * 6 + 2  # images, masks, depth per scene; classes.txt; SYNTHETIC.json
    for rel in files:
        assert (fixture_set / rel).read_bytes() == (again / rel).read_bytes(), rel
    other = render_scene(scene_seed(4, "train", 0), H, W)
    assert not np.array_equal(other.image, render_scene(scene_seed(3, "train", 0), H, W).image)
    assert scene_seed(3, "train", 0) != scene_seed(3, "val", 0)


def test_files_have_the_layout_rgbd_samples_reads(fixture_set):
    info = layout_info("rgbd", fixture_set)
    assert info.classes == list(CLASSES)
    manifest = json.loads((fixture_set / "SYNTHETIC.json").read_text())
    assert manifest["synthetic"] is True and manifest["splits"] == SPLITS
    for split, count in SPLITS.items():
        samples = rgbd_samples(fixture_set, split)
        assert len(samples) == count
        for sample in samples:
            image = read_image(sample.image)
            depth = read_depth(sample.depth, image.shape)  # checks uint16, one channel, the image's size
            mask = read_mask(sample.mask, image.shape, info)  # checks size and class ids
            assert image.shape == (H, W, 3) and image.dtype == np.uint8
            assert depth.dtype == np.uint16 and mask.dtype == np.uint8 and {FLOOR, WALL} <= set(np.unique(mask))
            assert 0 < (depth == 0).mean() < 0.15  # a few holes, like a real sensor
            assert 1000 < np.median(depth[depth > 0]) < 10000  # millimetres of a room


def test_floor_depth_is_the_floor_plane_and_grows_toward_the_horizon():
    scene = render_scene(11, 96, 128)
    cam = scene.camera
    rows, cols = np.nonzero(scene.mask == FLOOR)
    assert len(rows) > 1000
    ray_down = (rows + 0.5 - 96 / 2) / cam["focal_px"]
    expected = cam["height_m"] / (ray_down * np.cos(cam["pitch_rad"]) + np.sin(cam["pitch_rad"]))
    assert np.allclose(scene.true_depth[rows, cols], expected, rtol=1e-5)
    column = scene.true_depth[:, 64][scene.mask[:, 64] == FLOOR]  # top to bottom of one column
    assert len(column) > 10 and np.all(np.diff(column) < 0)  # farther up the image, toward the horizon
    # the sensor depth is the render's z-buffer, in mm, plus noise (sigma 1.5 mm z^2), holes aside
    valid = scene.depth > 0
    error = np.abs(scene.depth[valid] / 1000.0 - scene.true_depth[valid])
    assert np.all(error <= 6 * 0.0015 * scene.true_depth[valid] ** 2 + 0.001)


def test_objects_are_nearer_than_what_surrounds_them_and_at_their_class_depth():
    checked = 0
    for seed in range(8):
        scene = render_scene(seed, 96, 128)
        depth, mask = scene.true_depth, scene.mask
        is_object = mask > WALL
        for axis in (0, 1):
            for shift in (1, -1):
                neighbour_mask, neighbour_depth = np.roll(mask, shift, axis), np.roll(depth, shift, axis)
                edge = is_object & (neighbour_mask <= WALL)  # an object pixel beside floor or wall
                edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = False  # np.roll wraps at the borders
                assert np.all(depth[edge] < neighbour_depth[edge]), seed
                checked += int(edge.sum())
        for cls, depth_range in (("near_box", NEAR_RANGE_M), ("far_box", FAR_RANGE_M),
                                 ("near_sphere", NEAR_RANGE_M), ("far_sphere", FAR_RANGE_M)):
            for obj in (o for o in scene.objects if o["class"] == cls):
                assert depth_range[0] <= obj["centre_m"][2] <= depth_range[1]
            pixels = depth[mask == CLASSES.index(cls)]
            if len(pixels):
                reach = 1.8 * max((o["extent_m"][0] for o in scene.objects if o["class"] == cls), default=0)
                assert depth_range[0] - reach <= pixels.min() and pixels.max() <= depth_range[1] + reach, cls
    assert checked > 500


def test_near_and_far_classes_look_alike():
    """Same apparent size and colours: only depth (and weak monocular cues) tells near_* from far_*.

    Far classes cover fewer pixels (about 0.7x: near objects occlude them, and their larger physical size fails
    the clearance draw more often), a class prior the model can learn but that says nothing about a pixel.
    """
    area = {name: 0 for name in CLASSES}
    colour: dict[str, list] = {name: [] for name in CLASSES}
    apparent: dict[str, list] = {name: [] for name in CLASSES}
    for i in range(200):
        scene = render_scene(scene_seed(5, "train", i), 32, 48)
        for c, name in enumerate(CLASSES):
            area[name] += int((scene.mask == c).sum())
            colour[name].append(scene.image[scene.mask == c].reshape(-1, 3))
        for obj in scene.objects:  # drawn size in pixels: metres x focal length / distance
            apparent[obj["class"]].append(max(obj["extent_m"]) * scene.camera["focal_px"] / obj["centre_m"][2])
    for shape in ("box", "sphere"):
        near, far = f"near_{shape}", f"far_{shape}"
        assert abs(np.mean(apparent[near]) / np.mean(apparent[far]) - 1) < 0.1, shape
        assert 0.55 < area[far] / area[near] < 1.0, (area[near], area[far])
        mean_near, mean_far = (np.concatenate(colour[n]).mean(0) for n in (near, far))
        assert np.abs(mean_near - mean_far).max() < 15, (mean_near, mean_far)


def test_zero_depth_variant_keeps_the_scenes_and_drops_every_reading(fixture_set, tmp_path):
    flat = tmp_path / "rgb"
    write_dataset(flat, SPLITS, H, W, seed=3, zero_depth=True)
    for sub in ("images", "masks"):
        assert (flat / sub / "val" / "synth_val_00001.png").read_bytes() == \
            (fixture_set / sub / "val" / "synth_val_00001.png").read_bytes()
    assert not cv2.imread(str(flat / "depth" / "val" / "synth_val_00001.png"), cv2.IMREAD_UNCHANGED).any()


def test_an_existing_data_set_is_never_overwritten(fixture_set, tmp_path):
    before = (fixture_set / "images" / "train" / "synth_train_00000.png").read_bytes()
    with pytest.raises(EdgesegError, match="exists and is not an empty folder"):
        write_dataset(fixture_set, SPLITS, H, W, seed=9)
    assert (fixture_set / "images" / "train" / "synth_train_00000.png").read_bytes() == before
    with pytest.raises(EdgesegError, match="multiples of 8"):
        write_dataset(tmp_path / "odd", SPLITS, 50, 64, seed=0)
    script = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_synthetic_rgbd.py"), str(fixture_set),
                             "--train", "1", "--val", "1"], capture_output=True, text=True)
    assert script.returncode == 2 and "Traceback" not in script.stderr
    assert "never overwritten" in script.stderr


def test_lstmcf_trains_one_epoch_on_the_generated_set(fixture_set, tmp_path):
    values = {"data.root": f'"{fixture_set}"', "data.height": H, "data.width": W, "augment.crop_height": H,
              "augment.crop_width": W, "epochs": 1, "batch_size": 2, "model.args": "{hidden = 8}"}
    overrides = sum((["--set", f"{k}={v}"] for k, v in values.items()), [])
    assert main(["train", str(ROOT / "configs" / "synthetic_rgbd_lstmcf.toml"), "--out", str(tmp_path / "run"),
                 "--no-progress", *overrides]) == 0
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["epoch"] == 1 and np.isfinite(record["loss"]) and 0 <= record["val_miou"] <= 1
    assert list(record["per_class_iou"]) == list(CLASSES)


def test_published_model_reproduces_its_val_score_on_the_regenerated_val_set(tmp_path):
    """models/synthetic_rgbd_lstmcf.pt (the with-depth ablation run, seed 0) scores its .val.json on the val split
    regenerated from seed 0 (a split's scenes do not depend on the other split's count), and tells near from far."""
    published = ROOT / "models" / "synthetic_rgbd_lstmcf.pt"
    record = json.loads(published.with_suffix(".val.json").read_text(encoding="utf-8"))
    root = tmp_path / "rgbd"
    write_dataset(root, {"val": record["images"]}, 96, 128, seed=0)
    report = tmp_path / "val.json"
    assert main(["eval", str(published), "--data", str(root), "--split", "val", "--json", str(report)]) == 0
    scores = json.loads(report.read_text(encoding="utf-8"))
    assert abs(scores["miou"] - record["miou"]) < 2e-3, (scores["miou"], record["miou"])
    assert scores["miou"] > 0.55
    assert all(scores["per_class_iou"][name] > 0.4 for name in ("near_box", "far_box", "near_sphere", "far_sphere"))
