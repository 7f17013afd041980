"""What every data set layout shares: the layout names, the sample and class records, folder checks.

Kept free of OpenCV so the command line can offer :data:`LAYOUTS` as
``--kind`` choices without importing it; :mod:`edgeseg.datasets` and
:mod:`edgeseg.public_datasets` build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeseg.errors import EdgesegError

# Every layout a labelled data set can have on disk (``--kind``, ``data.kind``); the single list.
LAYOUTS = ("camvid", "folder", "rgbd", "cityscapes", "voc", "voc_aug", "ade20k")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class DatasetInfo:
    """Classes of a data set; masks use 0..len(classes)-1 and ``ignore_index``.

    ``label_map``, where set, maps each raw mask value (0..255) to its train
    label (Cityscapes label ids -> train ids, ADE20K's 1..150 -> 0..149);
    ``palette_masks`` says the masks are palette PNGs (Pascal VOC) whose
    indices, not colours, are the labels.
    """

    classes: list[str]
    palette: list[list[int]]
    ignore_index: int
    label_map: list[int] | None = None
    palette_masks: bool = False


@dataclass
class SamplePaths:
    image: Path
    mask: Path
    depth: Path | None = None


def images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def require_dir(path: Path, what: str, hint: str) -> None:
    if not path.exists():
        raise EdgesegError(f"{what} {path} does not exist; {hint}")
    if not path.is_dir():
        raise EdgesegError(f"{what} {path} is not a folder; {hint}")


__all__ = ["IMAGE_SUFFIXES", "LAYOUTS", "DatasetInfo", "SamplePaths", "images_in", "require_dir"]
