"""Public data sets in their official folder layouts: Cityscapes, Pascal VOC 2012 (+SBD), ADE20K.

Each returns the same :class:`~edgeseg.dataset_types.DatasetInfo` and
:class:`~edgeseg.dataset_types.SamplePaths` as CamVid, so training and evaluation
do not care which one they read. Label remapping happens in
:func:`edgeseg.datasets.read_mask` through ``DatasetInfo.label_map``.
"""

from __future__ import annotations

from pathlib import Path

from .dataset_types import DatasetInfo, SamplePaths, require_dir
from .errors import EdgesegError
from .palettes import default_palette

# Cityscapes label id -> train id, as cityscapesscripts/helpers/labels.py defines them
# (255: ignored in evaluation). Ids 0-6 (unlabeled, ego vehicle, rectification border,
# out of roi, static, dynamic, ground), 9 parking, 10 rail track, 14 guard rail, 15 bridge,
# 16 tunnel, 18 polegroup, 29 caravan, 30 trailer are ignored.
CITYSCAPES_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
    24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}
CITYSCAPES_CLASSES = [
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
]
CITYSCAPES_PALETTE = [
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153],
    [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
    [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
]

VOC_CLASSES = [
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
]

# ADE20K SceneParsing (ADEChallengeData2016) objectInfo150 names, label k+1 -> class k; 0 is "other".
ADE20K_CLASSES = (
    "wall, building, sky, floor, tree, ceiling, road, bed, windowpane, grass, cabinet, sidewalk, person, earth, "
    "door, table, mountain, plant, curtain, chair, car, water, painting, sofa, shelf, house, sea, mirror, rug, "
    "field, armchair, seat, fence, desk, rock, wardrobe, lamp, bathtub, railing, cushion, base, box, column, "
    "signboard, chest of drawers, counter, sand, sink, skyscraper, fireplace, refrigerator, grandstand, path, "
    "stairs, runway, case, pool table, pillow, screen door, stairway, river, bridge, bookcase, blind, "
    "coffee table, toilet, flower, book, hill, bench, countertop, stove, palm, kitchen island, computer, "
    "swivel chair, boat, bar, arcade machine, hovel, bus, towel, light, truck, tower, chandelier, awning, "
    "streetlight, booth, television receiver, airplane, dirt track, apparel, pole, land, bannister, escalator, "
    "ottoman, bottle, buffet, poster, stage, van, ship, fountain, conveyer belt, canopy, washer, plaything, "
    "swimming pool, stool, barrel, basket, waterfall, tent, bag, minibike, cradle, oven, ball, food, step, tank, "
    "trade name, microwave, pot, animal, bicycle, lake, dishwasher, screen, blanket, sculpture, hood, sconce, "
    "vase, traffic light, tray, ashcan, fan, pier, crt screen, plate, monitor, bulletin board, shower, "
    "radiator, glass, clock, flag"
).split(", ")


def cityscapes_info() -> DatasetInfo:
    label_map = [255] * 256
    for label_id, train_id in CITYSCAPES_ID_TO_TRAIN_ID.items():
        label_map[label_id] = train_id
    return DatasetInfo(list(CITYSCAPES_CLASSES), [list(c) for c in CITYSCAPES_PALETTE], 255, label_map)


def cityscapes_samples(root: str | Path, split: str) -> list[SamplePaths]:
    """``leftImg8bit/SPLIT/CITY/X_leftImg8bit.png`` with ``gtFine/SPLIT/CITY/X_gtFine_labelIds.png``."""
    root = Path(root)
    hint = "expected the official layout: leftImg8bit/{train,val,test}/CITY/*_leftImg8bit.png and gtFine/SPLIT/CITY/*_gtFine_labelIds.png"
    require_dir(root / "leftImg8bit" / split, "Cityscapes image folder", hint)
    require_dir(root / "gtFine" / split, "Cityscapes label folder", hint)
    images = sorted((root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))
    if not images:
        raise EdgesegError(f"no *_leftImg8bit.png in {root / 'leftImg8bit' / split}/CITY/; {hint}")
    pairs: list[SamplePaths] = []
    missing: list[SamplePaths] = []
    for image in images:
        stem = image.name[: -len("_leftImg8bit.png")]
        mask = root / "gtFine" / split / image.parent.name / f"{stem}_gtFine_labelIds.png"
        (pairs if mask.is_file() else missing).append(SamplePaths(image, mask))
    if missing:
        raise EdgesegError(f"{len(missing)} Cityscapes image(s) have no gtFine labelIds, e.g. {missing[0].mask}; {hint}")
    return pairs


def voc_info(augmented: bool = False) -> DatasetInfo:
    # SegmentationClass holds palette PNGs; SBD's SegmentationClassAug holds plain gray indices.
    return DatasetInfo(list(VOC_CLASSES), [list(c) for c in default_palette(21)], 255, palette_masks=not augmented)


def voc_samples(root: str | Path, split: str, augmented: bool = False) -> list[SamplePaths]:
    """Pascal VOC 2012 (``VOCdevkit/VOC2012``): ``ImageSets/Segmentation/SPLIT.txt`` lists the ids.

    With ``augmented`` (SBD), masks come from ``SegmentationClassAug/`` and the
    list from ``ImageSets/Segmentation/SPLIT_aug.txt`` (e.g. ``train_aug``).
    """
    root = Path(root)
    masks_dir = root / ("SegmentationClassAug" if augmented else "SegmentationClass")
    list_name = f"{split}_aug.txt" if augmented and not split.endswith("_aug") else f"{split}.txt"
    hint = ("expected VOC2012's layout: JPEGImages/, SegmentationClass/ (or SegmentationClassAug/ for SBD) and "
            "ImageSets/Segmentation/SPLIT.txt")
    require_dir(root / "JPEGImages", "VOC image folder", hint)
    require_dir(masks_dir, "VOC mask folder", hint)
    list_path = root / "ImageSets" / "Segmentation" / list_name
    if not list_path.is_file():
        raise EdgesegError(f"VOC split list {list_path} does not exist; {hint}")
    ids = [line.split()[0] for line in list_path.read_text().splitlines() if line.strip()]
    if not ids:
        raise EdgesegError(f"VOC split list {list_path} is empty")
    pairs = [SamplePaths(root / "JPEGImages" / f"{i}.jpg", masks_dir / f"{i}.png") for i in ids]
    missing = [p for p in pairs if not p.image.is_file() or not p.mask.is_file()]
    if missing:
        raise EdgesegError(f"{len(missing)} id(s) of {list_path} lack an image or mask, e.g. {missing[0].image.stem}")
    return pairs


def ade20k_info() -> DatasetInfo:
    label_map = [255] + list(range(150)) + [255] * 105  # 0 ("other") is ignored, k -> k-1
    return DatasetInfo(list(ADE20K_CLASSES), [list(c) for c in default_palette(151)[1:]], 255, label_map)


def ade20k_samples(root: str | Path, split: str) -> list[SamplePaths]:
    """``ADEChallengeData2016``: ``images/{training,validation}/*.jpg`` and ``annotations/SPLIT/*.png``.

    ``train``/``val`` are accepted for ``training``/``validation``.
    """
    root = Path(root)
    split = {"train": "training", "val": "validation"}.get(split, split)
    hint = "expected ADEChallengeData2016's layout: images/{training,validation}/*.jpg and annotations/SPLIT/*.png"
    require_dir(root / "images" / split, "ADE20K image folder", hint)
    require_dir(root / "annotations" / split, "ADE20K annotation folder", hint)
    images = sorted((root / "images" / split).glob("*.jpg"))
    if not images:
        raise EdgesegError(f"no .jpg images in {root / 'images' / split}; {hint}")
    pairs = [SamplePaths(p, root / "annotations" / split / f"{p.stem}.png") for p in images]
    missing = [p for p in pairs if not p.mask.is_file()]
    if missing:
        raise EdgesegError(f"{len(missing)} ADE20K image(s) lack an annotation, e.g. {missing[0].mask}")
    return pairs
