"""Object instances for the proposal models (DeepMask, SharpMask).

Two sources:

- CamVid-style semantic masks: every 8-connected component of the "thing"
  classes (car, pedestrian, bicyclist, sign, pole) is one instance
  (:func:`instances_from_semantic`). Touching objects of one class merge into
  one instance; that is the price of deriving instances from semantic labels.
- A COCO-style instance JSON for a user's own data (:func:`read_coco_instances`):
  ``images`` (id, file_name, height, width), ``annotations`` (image_id,
  segmentation, iscrowd) with polygons (decoded with ``cv2.fillPoly``) or RLE
  (uncompressed ``counts`` lists decoded here; compressed strings through
  pycocotools). ``iscrowd`` annotations are skipped, as DeepMask does.

An :class:`Instance` keeps its mask as a bool array cropped to its bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.jsonfile import read_json

CAMVID_THING_CLASSES = ("Car", "Pedestrian", "Bicyclist", "SignSymbol", "Pole")
"""CamVid classes whose connected components are taken as object instances."""


@dataclass
class Instance:
    """One object: ``mask`` bool h x w over the box ``(x, y, w, h)`` of image ``image_index``."""

    image_index: int
    box: tuple[int, int, int, int]
    mask: np.ndarray
    label: str

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def full_mask(self, height: int, width: int) -> np.ndarray:
        """The mask pasted into a bool ``height`` x ``width`` canvas."""
        out = np.zeros((height, width), bool)
        x, y, w, h = self.box
        out[y:y + h, x:x + w] = self.mask
        return out


def instances_from_semantic(mask: np.ndarray, classes: list[str], *, image_index: int = 0,
                            thing_classes: tuple[str, ...] = CAMVID_THING_CLASSES,
                            min_area: int = 64) -> list[Instance]:
    """Connected components (8-connectivity) of each thing class in a uint8 H x W label map.

    Components smaller than ``min_area`` pixels are dropped (label noise, far objects).
    Order: by class in ``thing_classes`` order, then by component label (raster order).
    """
    missing = [name for name in thing_classes if name not in classes]
    if missing:
        raise EdgesegError(f"instance classes {missing} are not among the data set's classes {classes}")
    out = []
    for name in thing_classes:
        binary = (mask == classes.index(name)).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        for component in range(1, count):  # 0 is the background
            x, y, w, h, area = (int(v) for v in stats[component])
            if area < min_area:
                continue
            crop = labels[y:y + h, x:x + w] == component
            out.append(Instance(image_index, (x, y, w, h), crop, name))
    return out


def _polygon_mask(polygons: list, height: int, width: int, where: str) -> np.ndarray:
    canvas = np.zeros((height, width), np.uint8)
    for polygon in polygons:
        if not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2:
            raise EdgesegError(f"{where}: a polygon must be a flat list [x1, y1, x2, y2, ...] of at least 3 points")
        points = np.round(np.asarray(polygon, np.float64).reshape(-1, 2)).astype(np.int32)
        cv2.fillPoly(canvas, [points], 1)
    return canvas.astype(bool)


def decode_uncompressed_rle(counts: list[int], height: int, width: int) -> np.ndarray:
    """COCO uncompressed RLE: alternating run lengths of 0s and 1s, column-major (Fortran) order."""
    flat = np.zeros(height * width, bool)
    position, value = 0, False
    for run in counts:
        if value:
            flat[position:position + run] = True
        position += run
        value = not value
    if position != height * width:
        raise EdgesegError(f"RLE runs sum to {position}, but the image has {height}x{width} = {height * width} pixels")
    return flat.reshape((width, height)).T


def _rle_mask(rle: dict, height: int, width: int, where: str) -> np.ndarray:
    size = rle.get("size")
    if size is not None and list(size) != [height, width]:
        raise EdgesegError(f"{where}: RLE size {size} differs from the image's [height, width] = [{height}, {width}]")
    counts = rle.get("counts")
    if isinstance(counts, list):
        try:
            return decode_uncompressed_rle(counts, height, width)
        except EdgesegError as exc:
            raise EdgesegError(f"{where}: {exc}") from None
    if isinstance(counts, str):
        try:
            from pycocotools import mask as coco_mask
        except ImportError:
            raise EdgesegError(
                f"{where}: compressed RLE needs pycocotools (pip install pycocotools, or edgeseg[train]); "
                "polygons and uncompressed RLE work without it"
            ) from None
        return coco_mask.decode({"size": [height, width], "counts": counts.encode("ascii")}).astype(bool)
    raise EdgesegError(f"{where}: RLE 'counts' must be a list of run lengths or a compressed string")


def read_coco_instances(json_path: str | Path, images_dir: str | Path, *, min_area: int = 64,
                        ) -> tuple[list[Path], list[Instance]]:
    """Images and instances of a COCO-style JSON; instances refer to images by their index in the list.

    Images are sorted by id; every annotated image must exist in ``images_dir``.
    """
    json_path, images_dir = Path(json_path), Path(images_dir)
    if not json_path.is_file():
        raise EdgesegError(f"instance JSON {json_path} does not exist")
    data = read_json(json_path, "instance JSON")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise EdgesegError(f"{json_path}: expected a COCO object with 'images' and 'annotations' lists")
    images = sorted(data["images"], key=lambda im: im["id"])
    index_of = {im["id"]: i for i, im in enumerate(images)}
    categories = {c["id"]: c.get("name", str(c["id"])) for c in data.get("categories", [])}
    paths = []
    for im in images:
        path = images_dir / im["file_name"]
        if not path.is_file():
            raise EdgesegError(f"{json_path}: image {im['file_name']!r} (id {im['id']}) not found in {images_dir}")
        paths.append(path)
    instances = []
    for number, ann in enumerate(data["annotations"]):
        where = f"{json_path}: annotation {ann.get('id', number)}"
        if ann.get("iscrowd", 0):
            continue
        if ann.get("image_id") not in index_of:
            raise EdgesegError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        index = index_of[ann["image_id"]]
        height, width = int(images[index]["height"]), int(images[index]["width"])
        segmentation = ann.get("segmentation")
        if isinstance(segmentation, list):
            full = _polygon_mask(segmentation, height, width, where)
        elif isinstance(segmentation, dict):
            full = _rle_mask(segmentation, height, width, where)
        else:
            raise EdgesegError(f"{where}: 'segmentation' must be a list of polygons or an RLE object")
        if full.sum() < min_area:
            continue
        ys, xs = np.nonzero(full)
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        label = categories.get(ann.get("category_id"), "object")
        instances.append(Instance(index, (x0, y0, x1 - x0, y1 - y0), full[y0:y1, x0:x1], label))
    return paths, instances
