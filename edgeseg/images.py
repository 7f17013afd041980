"""Image folders for calibration and parity checks, read as the runtime reads frames.

Each image is decoded by OpenCV (uint8 H x W x 3 BGR) and resized to the
model input with :func:`edgeseg.preprocess.resize_to_input`, the same call the
runtime makes, then fed as uint8 BGR to the ONNX, whose graph normalises it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseg.dataset_types import IMAGE_SUFFIXES
from edgeseg.errors import EdgesegError
from edgeseg.preprocess import resize_to_input

log = logging.getLogger("edgeseg.export")


@dataclass
class ImageSet:
    """Decoded, resized images and where they came from.

    Attributes:
        images: uint8 N x H x W x 3 BGR at the model input size.
        paths: the files, in the order of ``images``.
        sha256: hash of the ordered (file name, content sha256) list: it
            changes when any image is added, removed, renamed or edited.
    """

    images: np.ndarray
    paths: list[Path]
    sha256: str


def evenly_spaced(items: list, count: int) -> list:
    """``count`` items spread over ``items`` (all of them if count <= 0 or >= len)."""
    if count <= 0 or count >= len(items):
        return items
    index = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in index]


def load_image_folder(folder: str | os.PathLike, height: int, width: int, *, count: int = 0,
                      what: str = "calibration") -> ImageSet:
    """Read the images of ``folder`` (not recursive), resized to ``height`` x ``width``.

    Files that are not images (by suffix) or that OpenCV cannot decode are
    skipped with a warning. ``count`` > 0 keeps that many, evenly spaced in
    name order (deterministic). Raises if the folder is missing, unreadable,
    or holds no readable image.
    """
    import cv2

    folder = Path(folder)
    if not folder.exists():
        raise EdgesegError(f"{what} folder {folder} does not exist; pass a folder of images (PNG, JPEG, ...)")
    if not folder.is_dir():
        raise EdgesegError(f"{what} folder {folder} is not a folder; pass a folder of images (PNG, JPEG, ...)")
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except PermissionError:
        raise EdgesegError(f"{what} folder {folder} is not readable (permission denied); fix its permissions") from None
    candidates = []
    for path in entries:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            candidates.append(path)
        else:
            log.warning("skipping %s: not an image file (expected %s)", path, ", ".join(IMAGE_SUFFIXES))
    if not candidates:
        raise EdgesegError(f"{what} folder {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    images, paths, digest = [], [], hashlib.sha256()
    for path in evenly_spaced(candidates, count):
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.warning("skipping %s: cannot read it (%s)", path, exc.strerror)
            continue
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
        if image is None:
            log.warning("skipping %s: OpenCV cannot decode it (corrupt or not an image)", path)
            continue
        images.append(resize_to_input(image, height, width))
        paths.append(path)
        digest.update(f"{path.name}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    if not images:
        raise EdgesegError(f"{what} folder {folder} holds no readable image ({len(candidates)} file(s) could not be decoded); "
                           "re-copy the images or point at another folder")
    return ImageSet(np.stack(images), paths, digest.hexdigest())
