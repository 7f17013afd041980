"""Data set layouts, decoding, augmentation and their errors."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeseg.datasets import camvid_samples, folder_samples, guess_kind, read_classes_file, read_image, read_mask
from edgeseg.errors import EdgesegError
from edgeseg.palettes import CAMVID_CLASSES
from edgeseg.train.config import AugmentConfig, DataConfig
from edgeseg.train.data.datasets import TrainDataset, class_weights, dataset_info, load_split
from edgeseg.train.data.transforms import augment


def test_camvid_samples_load(samples_dir):
    pairs = camvid_samples(samples_dir, "val")
    assert len(pairs) == 20
    info = dataset_info(DataConfig(root=str(samples_dir)))
    assert info.classes == list(CAMVID_CLASSES) and info.ignore_index == 11
    image = read_image(pairs[0].image)
    mask = read_mask(pairs[0].mask, image.shape, info)
    assert image.shape == (360, 480, 3) and image.dtype == np.uint8
    assert mask.shape == (360, 480) and mask.max() <= 11


def test_missing_folder_names_path_and_layout(tmp_path):
    with pytest.raises(EdgesegError, match=r"does not exist.*data.root"):
        camvid_samples(tmp_path / "nope", "train")
    (tmp_path / "train").mkdir()
    with pytest.raises(EdgesegError, match="trainannot"):
        camvid_samples(tmp_path, "train")


def _write_pair(root: Path, name: str, image_shape=(32, 48), mask_value=1, mask_shape=None):
    (root / "train").mkdir(exist_ok=True)
    (root / "trainannot").mkdir(exist_ok=True)
    cv2.imwrite(str(root / "train" / f"{name}.png"), np.zeros((*image_shape, 3), np.uint8))
    if mask_shape is not False:
        cv2.imwrite(str(root / "trainannot" / f"{name}.png"), np.full(mask_shape or image_shape, mask_value, np.uint8))


def test_missing_mask_is_named(tmp_path):
    _write_pair(tmp_path, "a")
    _write_pair(tmp_path, "b", mask_shape=False)
    with pytest.raises(EdgesegError, match=r"1 image\(s\).*no mask.*b.png"):
        camvid_samples(tmp_path, "train")


def test_wrong_mask_size_and_labels(tmp_path):
    cfg = DataConfig(root=str(tmp_path))
    info = dataset_info(cfg)
    _write_pair(tmp_path, "a", mask_shape=(16, 48))
    with pytest.raises(EdgesegError, match=r"mask .*a.png is 48x16 but its image is 48x32"):
        load_split(cfg, "train", info)
    _write_pair(tmp_path, "a", mask_value=40)
    with pytest.raises(EdgesegError, match=r"label values \[40\].*11 classes"):
        load_split(cfg, "train", info)


def test_corrupt_image_is_named(tmp_path):
    _write_pair(tmp_path, "a")
    (tmp_path / "train" / "a.png").write_bytes(b"not a png")
    with pytest.raises(EdgesegError, match="cannot read image .*a.png"):
        load_split(DataConfig(root=str(tmp_path)), "train", dataset_info(DataConfig(root=str(tmp_path))))


def test_folder_layout_with_classes_file(tmp_path):
    (tmp_path / "classes.txt").write_text("# name R G B\nbackground 0 0 0\nroad 128 64 128\ncar 0 0 255\n")
    for sub in ("images/train", "masks/train"):
        (tmp_path / sub).mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "images/train/x.jpg"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "masks/train/x.png"), np.full((8, 8), 2, np.uint8))
    info = read_classes_file(tmp_path / "classes.txt")
    assert info.classes == ["background", "road", "car"] and info.palette[2] == [0, 0, 255]
    assert guess_kind(tmp_path) == "folder"
    assert len(folder_samples(tmp_path, "train")) == 1


def test_classes_file_errors(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("road 1 2\n")
    with pytest.raises(EdgesegError, match=r"classes.txt:1: expected 'name' or 'name R G B'"):
        read_classes_file(path)


def test_augment_keeps_image_and_mask_aligned():
    """A mask that encodes its column index must stay aligned with the image's."""
    h, w = 60, 80
    cols = np.tile(np.arange(w, dtype=np.uint8), (h, 1))
    image = np.stack([cols] * 3, axis=-1)
    cfg = AugmentConfig(scale_min=1.0, scale_max=1.0, crop_height=40, crop_width=50,
                        brightness=0, contrast=0, saturation=0, hue_degrees=0)
    for seed in range(5):
        img, mask = augment(image, cols.copy(), np.random.default_rng(seed), cfg, 255)
        assert img.shape == (40, 50, 3) and mask.shape == (40, 50)
        assert np.array_equal(img[..., 0], mask)


def test_train_samples_reproducible_per_epoch(samples_dir):
    cfg = DataConfig(root=str(samples_dir), train_split="val")
    split = load_split(cfg, "val", dataset_info(cfg), limit=2)
    ds = TrainDataset(split, AugmentConfig(crop_height=64, crop_width=64), cfg, 11, seed=1)
    a = ds[0][0]
    assert np.array_equal(ds[0][0].numpy(), a.numpy())
    ds.set_epoch(1)
    assert not np.array_equal(ds[0][0].numpy(), a.numpy())


def test_median_frequency_weights():
    masks = [np.array([[0, 0, 0, 1]], np.uint8), np.array([[0, 2, 2, 2]], np.uint8)]
    # freq: c0 = 4/8, c1 = 1/4, c2 = 3/4 -> median 0.5
    w = class_weights(masks, 3, "median_frequency")
    assert w == pytest.approx([1.0, 2.0, 2 / 3])
