"""Finding image/mask pairs on disk and reading them with clear errors.

Images are read with OpenCV as uint8 H x W x 3 BGR; masks as uint8 H x W
with one class index per pixel. Layouts:

- CamVid (SegNet tutorial): ``ROOT/{split}/*.png`` with ``ROOT/{split}annot/*.png``
  of the same name; 11 classes, label 11 is void.
- Folder: ``ROOT/classes.txt`` (one class name per line, optional
  ``name R G B`` colour), ``ROOT/images/{split}/*`` and ``ROOT/masks/{split}/STEM.png``.
- RGB-D: the folder layout plus ``ROOT/depth/{split}/STEM.png``, single-channel
  16-bit PNG depth in millimetres (0 = no reading), the image's size.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeseg import public_datasets
from edgeseg.dataset_types import IMAGE_SUFFIXES, LAYOUTS, DatasetInfo, SamplePaths, images_in, require_dir
from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec
from edgeseg.palettes import CAMVID_CLASSES, CAMVID_IGNORE_INDEX, CAMVID_PALETTE, default_palette
from edgeseg.preprocess import depth_to_u8


def _pair(images_dir: Path, masks_dir: Path) -> list[SamplePaths]:
    images = images_in(images_dir)
    if not images:
        raise EdgesegError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {images_dir}")
    masks = {p.stem: p for p in images_in(masks_dir)}
    missing = [p.name for p in images if p.stem not in masks]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise EdgesegError(
            f"{len(missing)} image(s) in {images_dir} have no mask of the same name in {masks_dir}: {shown}"
        )
    return [SamplePaths(p, masks[p.stem]) for p in images]


def camvid_info() -> DatasetInfo:
    return DatasetInfo(list(CAMVID_CLASSES), [list(c) for c in CAMVID_PALETTE], CAMVID_IGNORE_INDEX)


def camvid_samples(root: str | Path, split: str) -> list[SamplePaths]:
    """Pairs of the CamVid split ``split`` (``train``, ``val`` or ``test``)."""
    root = Path(root)
    hint = "expected the SegNet tutorial layout: train/ trainannot/ val/ valannot/ [test/ testannot/]"
    require_dir(root, "CamVid folder", hint + "; pass --set data.root=PATH (or --data PATH)")
    require_dir(root / split, f"CamVid split folder '{split}':", hint)
    require_dir(root / f"{split}annot", f"CamVid label folder '{split}annot':", hint)
    return _pair(root / split, root / f"{split}annot")


def read_classes_file(path: Path) -> DatasetInfo:
    """Read ``classes.txt``: ``name`` or ``name R G B`` per line; ``#`` comments.

    The void label is 255, as in Pascal VOC and Cityscapes' train ids.
    """
    if not path.is_file():
        raise EdgesegError(f"class list {path} does not exist; write one class name per line (optionally 'name R G B')")
    classes, palette = [], []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EdgesegError(f"class list {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) == 4:
            try:
                colour = [int(v) for v in parts[1:]]
            except ValueError:
                raise EdgesegError(f"{path}:{number}: colour must be three integers, got {line!r}") from None
            if not all(0 <= v <= 255 for v in colour):
                raise EdgesegError(f"{path}:{number}: colour values must lie in 0..255, got {line!r}")
            palette.append(colour)
        elif len(parts) != 1:
            raise EdgesegError(f"{path}:{number}: expected 'name' or 'name R G B', got {line!r}")
        classes.append(parts[0])
    if not classes:
        raise EdgesegError(f"class list {path} names no classes")
    if palette and len(palette) != len(classes):
        raise EdgesegError(f"{path}: give a colour for every class or for none")
    if not palette:
        palette = [list(c) for c in default_palette(len(classes))]
    return DatasetInfo(classes, palette, 255)


def folder_samples(root: str | Path, split: str, images_dir: str = "images", masks_dir: str = "masks") -> list[SamplePaths]:
    """Pairs of ``ROOT/images/{split}`` and ``ROOT/masks/{split}``."""
    root = Path(root)
    hint = f"expected {images_dir}/{split}/ and {masks_dir}/{split}/ (mask STEM.png per image) and classes.txt"
    require_dir(root, "data folder", hint)
    require_dir(root / images_dir / split, "image folder", hint)
    require_dir(root / masks_dir / split, "mask folder", hint)
    return _pair(root / images_dir / split, root / masks_dir / split)


def rgbd_samples(root: str | Path, split: str, images_dir: str = "images", masks_dir: str = "masks",
                 depth_dir: str = "depth") -> list[SamplePaths]:
    """Triples of ``ROOT/images/{split}``, ``ROOT/masks/{split}`` and ``ROOT/depth/{split}`` (STEM.png each)."""
    pairs = folder_samples(root, split, images_dir, masks_dir)
    folder = Path(root) / depth_dir / split
    require_dir(folder, "depth folder", f"expected {depth_dir}/{split}/STEM.png (16-bit PNG, millimetres) per image")
    depths = {p.stem: p for p in folder.iterdir() if p.suffix.lower() == ".png"}
    missing = [p.image.name for p in pairs if p.image.stem not in depths]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise EdgesegError(f"{len(missing)} image(s) have no depth map STEM.png in {folder}: {shown}")
    return [SamplePaths(p.image, p.mask, depths[p.image.stem]) for p in pairs]


def read_depth(path: Path, image_shape: tuple[int, ...]) -> np.ndarray:
    """uint16 H x W depth in millimetres, checked to be single-channel 16-bit and the image's size."""
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise EdgesegError(f"cannot read depth map {path}: missing, empty or not an image file")
    if depth.ndim == 3:
        raise EdgesegError(f"depth map {path} has {depth.shape[2]} channels; save depth as a single-channel 16-bit PNG")
    if depth.dtype != np.uint16:
        raise EdgesegError(
            f"depth map {path} is {depth.dtype}, not 16-bit; save depth in millimetres as a 16-bit PNG "
            "(cv2.imwrite(path, depth_mm.astype(np.uint16)))"
        )
    if depth.shape != tuple(image_shape[:2]):
        raise EdgesegError(
            f"depth map {path} is {depth.shape[1]}x{depth.shape[0]} but its image is "
            f"{image_shape[1]}x{image_shape[0]}; register and resize depth to the colour image first"
        )
    return depth


def read_image(path: Path) -> np.ndarray:
    """uint8 H x W x 3 BGR; raises naming the file if it cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise EdgesegError(f"cannot read image {path}: missing, empty or not an image file")
    return image


def frame_depth_scale(spec: InputSpec) -> float | None:
    """The depth scale (mm per step) the frames of a model with input ``spec`` carry; None for BGR-only input."""
    return spec.depth_scale if spec.channels == 4 else None


def read_frame(sample: SamplePaths, depth_scale: float | None = None) -> np.ndarray:
    """One sample as the model's uint8 input frame, at the image's size: the one reader of RGB-D samples.

    H x W x 3 BGR; with ``depth_scale`` (millimetres per step: an RGB-D
    model's ``input.depth_scale``, see :func:`frame_depth_scale`) H x W x 4:
    B, G, R and the sample's depth in 8 bits (:func:`edgeseg.preprocess.depth_to_u8`),
    the 4-channel input contract of :mod:`edgeseg.metadata`.
    """
    image = read_image(sample.image)
    if depth_scale is None:
        return image
    if sample.depth is None:
        raise EdgesegError(f"{sample.image} has no depth map; an RGB-D model needs an RGB-D data set "
                           "(images/, depth/ with 16-bit PNG millimetres, masks/, classes.txt)")
    return np.dstack([image, depth_to_u8(read_depth(sample.depth, image.shape), depth_scale)])


def read_mask(path: Path, image_shape: tuple[int, ...], info: DatasetInfo) -> np.ndarray:
    """uint8 H x W class indices, checked against the image size and class count."""
    if info.palette_masks:
        mask = _read_palette_indices(path)
    else:
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise EdgesegError(f"cannot read mask {path}: missing, empty or not an image file")
    if mask.ndim == 3:
        raise EdgesegError(
            f"mask {path} has {mask.shape[2]} channels; masks must be single-channel images of class indices"
        )
    if mask.shape != tuple(image_shape[:2]):
        raise EdgesegError(
            f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but its image is {image_shape[1]}x{image_shape[0]}; "
            "masks must have the image's size"
        )
    if mask.dtype != np.uint8:
        raise EdgesegError(f"mask {path} is {mask.dtype}; masks must be 8-bit class indices")
    if info.label_map is not None:
        mask = np.asarray(info.label_map, np.uint8)[mask]
    values = np.unique(mask)
    bad = [int(v) for v in values if v >= len(info.classes) and v != info.ignore_index]
    if bad:
        raise EdgesegError(
            f"mask {path} has label values {bad} but the data set has {len(info.classes)} classes "
            f"(0..{len(info.classes) - 1}) and void label {info.ignore_index}"
        )
    return mask.astype(np.uint8, copy=False)


def _read_palette_indices(path: Path) -> np.ndarray | None:
    """Indices of a palette ("P" mode) PNG; OpenCV would expand them to colours."""
    from .errors import require

    Image = require("PIL.Image", "train")
    from PIL import UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise EdgesegError(f"mask {path} is a {image.mode} image; expected a palette or grayscale PNG of class indices")
            return np.array(image)
    except (FileNotFoundError, UnidentifiedImageError, OSError):
        return None


def guess_kind(root: str | Path) -> str:
    """``camvid`` if ``ROOT`` has ``*annot`` folders, ``folder`` if it has ``classes.txt``."""
    root = Path(root)
    if not root.is_dir():
        raise EdgesegError(f"data folder {root} does not exist")
    if any(p.is_dir() and p.name.endswith("annot") for p in root.iterdir()):
        return "camvid"
    if (root / "leftImg8bit").is_dir() and (root / "gtFine").is_dir():
        return "cityscapes"
    if (root / "JPEGImages").is_dir() and (root / "SegmentationClass").is_dir():
        return "voc"
    if any((root / "images" / s).is_dir() and (root / "annotations" / s).is_dir() for s in ("training", "validation")):
        return "ade20k"
    if (root / "classes.txt").is_file():
        return "rgbd" if (root / "depth").is_dir() else "folder"
    raise EdgesegError(
        f"cannot tell the layout of {root}: expected CamVid's split/ and splitannot/ folders, "
        "classes.txt with images/SPLIT/ and masks/SPLIT/, or the official layout of Cityscapes, "
        "Pascal VOC 2012 or ADE20K; or name it with --kind"
    )


def layout_info(kind: str, root: str | Path, classes_file: str = "classes.txt") -> DatasetInfo:
    """Classes of the data set at ``root`` of layout ``kind`` (one of :data:`LAYOUTS`)."""
    if kind == "camvid":
        return camvid_info()
    if kind in ("folder", "rgbd"):
        return read_classes_file(Path(root) / classes_file)
    if kind == "cityscapes":
        return public_datasets.cityscapes_info()
    if kind in ("voc", "voc_aug"):
        return public_datasets.voc_info(augmented=kind == "voc_aug")
    if kind == "ade20k":
        return public_datasets.ade20k_info()
    raise EdgesegError(f"unknown data set layout {kind!r}; choose one of {', '.join(LAYOUTS)}")


def layout_samples(kind: str, root: str | Path, split: str, images_dir: str = "images", masks_dir: str = "masks",
                   depth_dir: str = "depth") -> list[SamplePaths]:
    """Image/mask pairs (with depth for ``rgbd``) of ``split`` for layout ``kind``."""
    if kind == "camvid":
        return camvid_samples(root, split)
    if kind == "folder":
        return folder_samples(root, split, images_dir, masks_dir)
    if kind == "rgbd":
        return rgbd_samples(root, split, images_dir, masks_dir, depth_dir)
    if kind == "cityscapes":
        return public_datasets.cityscapes_samples(root, split)
    if kind in ("voc", "voc_aug"):
        return public_datasets.voc_samples(root, split, augmented=kind == "voc_aug")
    if kind == "ade20k":
        return public_datasets.ade20k_samples(root, split)
    raise EdgesegError(f"unknown data set layout {kind!r}; choose one of {', '.join(LAYOUTS)}")
