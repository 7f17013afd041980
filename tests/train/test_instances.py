"""Object instances for proposal models: CamVid connected components, COCO JSON, window sampling."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.palettes import CAMVID_CLASSES
from edgeseg.train.data.instances import decode_uncompressed_rle, instances_from_semantic, read_coco_instances
from edgeseg.train.data.proposal_patches import OBJECT_FRACTION, ProposalPatches

CLASSES = list(CAMVID_CLASSES)
CAR, PED, SIGN, POLE, ROAD = (CLASSES.index(n) for n in ("Car", "Pedestrian", "SignSymbol", "Pole", "Road"))


def hand_made_mask() -> np.ndarray:
    """40 x 60 road with: two separate cars, a pedestrian, a sign of two diagonal blocks, a tiny pole."""
    mask = np.full((40, 60), ROAD, np.uint8)
    mask[2:12, 3:13] = CAR        # car 1: 10 x 10 = 100 px
    mask[20:30, 40:56] = CAR      # car 2: 10 x 16 = 160 px
    mask[5:25, 25:29] = PED       # pedestrian: 20 x 4 = 80 px
    mask[30:36, 5:11] = SIGN      # sign part 1: 6 x 6
    mask[36:40, 11:15] = SIGN     # sign part 2 touches part 1 only at a corner: one 8-connected component
    mask[0:3, 58:60] = POLE       # pole: 6 px, below min_area
    return mask


def test_camvid_instances_are_8_connected_components_of_thing_classes():
    instances = instances_from_semantic(hand_made_mask(), CLASSES, image_index=3, min_area=20)
    summary = [(i.label, i.box, i.area, i.image_index) for i in instances]
    assert summary == [
        ("Car", (3, 2, 10, 10), 100, 3),
        ("Car", (40, 20, 16, 10), 160, 3),
        ("Pedestrian", (25, 5, 4, 20), 80, 3),
        ("SignSymbol", (5, 30, 10, 10), 36 + 16, 3),
    ]
    full = instances[3].full_mask(40, 60)
    assert full.sum() == 52 and full[30:36, 5:11].all() and full[36:40, 11:15].all() and not full[36:40, 5:11].any()


def test_camvid_instances_min_area_and_unknown_classes():
    assert [i.label for i in instances_from_semantic(hand_made_mask(), CLASSES, min_area=90)] == ["Car", "Car"]
    assert len(instances_from_semantic(hand_made_mask(), CLASSES, min_area=1)) == 5  # the pole too
    with pytest.raises(EdgesegError, match=r"instance classes \['Car', 'Pedestrian'"):
        instances_from_semantic(hand_made_mask(), ["road", "sky"])


def write_coco(tmp_path, annotations, images=None):
    (tmp_path / "imgs").mkdir(exist_ok=True)
    cv2.imwrite(str(tmp_path / "imgs" / "a.png"), np.zeros((20, 30, 3), np.uint8))
    data = {
        "images": images or [{"id": 7, "file_name": "a.png", "height": 20, "width": 30}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "box"}],
    }
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_polygon_and_rle_decoding(tmp_path):
    from pycocotools import mask as coco_mask

    rect = np.zeros((20, 30), np.uint8)
    rect[4:10, 2:12] = 1
    compressed = coco_mask.encode(np.asfortranarray(rect))
    # uncompressed RLE of `rect` in column-major order: runs of 0s and 1s
    flat = rect.T.reshape(-1)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [2]])))  # run boundaries (2 ends the last run)
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    annotations = [
        {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "segmentation": [[2, 4, 12, 4, 12, 10, 2, 10]]},
        {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 0,
         "segmentation": {"size": [20, 30], "counts": compressed["counts"].decode("ascii")}},
        {"id": 3, "image_id": 7, "category_id": 1, "iscrowd": 0, "segmentation": {"size": [20, 30], "counts": counts}},
        {"id": 4, "image_id": 7, "category_id": 1, "iscrowd": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]},
    ]
    paths, instances = read_coco_instances(write_coco(tmp_path, annotations), tmp_path / "imgs", min_area=1)
    assert [p.name for p in paths] == ["a.png"]
    assert len(instances) == 3  # the crowd annotation is skipped
    for instance in instances[1:]:  # both RLE forms decode to exactly `rect`
        assert instance.box == (2, 4, 10, 6) and instance.label == "box"
        assert np.array_equal(instance.full_mask(20, 30), rect.astype(bool))
    # fillPoly includes the polygon's boundary pixels: x 2..12, y 4..10 inclusive
    assert instances[0].box == (2, 4, 11, 7) and instances[0].area == 77
    assert np.array_equal(decode_uncompressed_rle(counts, 20, 30), rect.astype(bool))


@pytest.mark.parametrize("annotation, message", [
    ({"image_id": 9, "segmentation": [[0, 0, 5, 0, 5, 5]]}, "image_id 9 is not in 'images'"),
    ({"image_id": 7, "segmentation": [[0, 0, 5, 0]]}, "a polygon must be a flat list"),
    ({"image_id": 7, "segmentation": {"size": [20, 30], "counts": [5, 5]}}, "RLE runs sum to 10"),
    ({"image_id": 7, "segmentation": {"size": [10, 30], "counts": [300]}}, "RLE size [10, 30] differs"),
    ({"image_id": 7, "segmentation": "x"}, "'segmentation' must be a list of polygons or an RLE object"),
])
def test_coco_errors_name_the_annotation(tmp_path, annotation, message):
    path = write_coco(tmp_path, [{"id": 5, **annotation}])
    with pytest.raises(EdgesegError, match="annotation 5") as info:
        read_coco_instances(path, tmp_path / "imgs")
    assert message in str(info.value)


def test_coco_missing_image_file(tmp_path):
    path = write_coco(tmp_path, [], images=[{"id": 1, "file_name": "gone.png", "height": 5, "width": 5}])
    with pytest.raises(EdgesegError, match="image 'gone.png' .* not found"):
        read_coco_instances(path, tmp_path / "imgs")


def test_canonical_positive_window_centres_and_scales_the_object():
    image = np.zeros((100, 120, 3), np.uint8)
    mask = np.zeros((100, 120), np.uint8)
    mask[30:50, 60:70] = CAR  # a 10 wide, 20 tall car
    image[mask == CAR] = 255
    instances = instances_from_semantic(mask, CLASSES, min_area=10)
    patches = ProposalPatches([image], instances, window=64, mask_size=32, mean=[0, 0, 0], std=[1, 1, 1],
                              jitter=False)
    patch, target, label = patches.sample(0)
    assert label == 1.0 and patch.shape == (64, 64, 3) and target.shape == (32, 32)
    rows, cols = np.nonzero(target)
    # longer side 20 px becomes OBJECT_FRACTION of the window: 36.6 px of 64, i.e. 18.3 mask cells of 32
    assert abs((rows.max() - rows.min() + 1) - OBJECT_FRACTION * 32) <= 1.5
    assert abs((rows.max() + rows.min()) / 2 - 15.5) <= 1 and abs((cols.max() + cols.min()) / 2 - 15.5) <= 1
    white = patch[..., 0] > 127  # the image content lines up with the mask target
    assert (cv2.resize(white.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA) > 0.5).sum() == target.sum()
    _, negative_target, negative_label = patches.sample(1)
    assert negative_label == 0.0 and not negative_target.any()
    x, t, y = patches[0]
    assert tuple(x.shape) == (3, 64, 64) and float(y) == 1.0 and float(t.sum()) == target.sum()
