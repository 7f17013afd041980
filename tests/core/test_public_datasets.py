"""Cityscapes, Pascal VOC and ADE20K fixtures in their real layouts (made here, not downloaded)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeseg.datasets import guess_kind, layout_info, layout_samples, read_image, read_mask
from edgeseg.errors import EdgesegError


def _img(path: Path, shape=(8, 12)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((*shape, 3), 90, np.uint8))


def _mask(path: Path, values: np.ndarray):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), values.astype(np.uint8))


def _load_all(kind, root, split):
    info = layout_info(kind, root)
    out = []
    for pair in layout_samples(kind, root, split):
        image = read_image(pair.image)
        out.append(read_mask(pair.mask, image.shape, info))
    return info, out


def test_cityscapes_ids_map_to_19_train_ids(tmp_path):
    ids = np.array([[7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24],
                    [25, 26, 27, 28, 31, 32, 33, 0, 1, 6, 9, 29]] * 4)
    _img(tmp_path / "leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png")
    _mask(tmp_path / "gtFine/val/aachen/aachen_000000_000019_gtFine_labelIds.png", ids)
    assert guess_kind(tmp_path) == "cityscapes"
    info, (mask,) = _load_all("cityscapes", tmp_path, "val")
    assert len(info.classes) == 19 and info.classes[13] == "car"
    assert mask[0].tolist() == list(range(12))
    assert mask[1].tolist() == [12, 13, 14, 15, 16, 17, 18, 255, 255, 255, 255, 255]


def test_cityscapes_missing_label_is_named(tmp_path):
    _img(tmp_path / "leftImg8bit/train/bonn/bonn_000001_000019_leftImg8bit.png")
    (tmp_path / "gtFine/train").mkdir(parents=True)
    with pytest.raises(EdgesegError, match="bonn_000001_000019_gtFine_labelIds.png"):
        layout_samples("cityscapes", tmp_path, "train")


def _voc_palette_png(path: Path, indices: np.ndarray):
    from PIL import Image

    from edgeseg.palettes import default_palette

    image = Image.fromarray(indices.astype(np.uint8), mode="P")
    flat = [v for colour in default_palette(256) for v in colour]
    image.putpalette(flat)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def test_voc_palette_masks_give_indices_not_colours(tmp_path):
    indices = np.zeros((8, 12), np.uint8)
    indices[2:5, 3:7] = 15  # person
    indices[0, :] = 255  # void border
    _img(tmp_path / "JPEGImages/2007_000032.jpg")
    _voc_palette_png(tmp_path / "SegmentationClass/2007_000032.png", indices)
    (tmp_path / "ImageSets/Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets/Segmentation/val.txt").write_text("2007_000032\n")
    assert guess_kind(tmp_path) == "voc"
    info, (mask,) = _load_all("voc", tmp_path, "val")
    assert len(info.classes) == 21 and info.classes[15] == "person"
    assert np.array_equal(mask, indices)


def test_voc_aug_uses_sbd_masks_and_list(tmp_path):
    _img(tmp_path / "JPEGImages/2008_000002.jpg")
    _mask(tmp_path / "SegmentationClassAug/2008_000002.png", np.full((8, 12), 7))
    (tmp_path / "SegmentationClass").mkdir()
    (tmp_path / "ImageSets/Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets/Segmentation/train_aug.txt").write_text("2008_000002\n")
    _, (mask,) = _load_all("voc_aug", tmp_path, "train")
    assert mask.max() == 7


def test_voc_wrong_layout(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    with pytest.raises(EdgesegError, match="VOC mask folder .*SegmentationClass does not exist"):
        layout_samples("voc", tmp_path, "train")


def test_ade20k_other_is_ignored_and_labels_shift(tmp_path):
    values = np.array([[0, 1, 2, 150]] * 4)
    _img(tmp_path / "images/validation/ADE_val_00000001.jpg", (4, 4))
    _mask(tmp_path / "annotations/validation/ADE_val_00000001.png", values)
    assert guess_kind(tmp_path) == "ade20k"
    info, (mask,) = _load_all("ade20k", tmp_path, "val")
    assert len(info.classes) == 150 and info.classes[0] == "wall" and info.classes[149] == "flag"
    assert mask[0].tolist() == [255, 0, 1, 149]


def test_ade20k_wrong_layout(tmp_path):
    with pytest.raises(EdgesegError, match="ADE20K image folder"):
        layout_samples("ade20k", tmp_path, "train")
