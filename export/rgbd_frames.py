"""4-channel frames (B, G, R, 8-bit depth) for the parity check and INT8 calibration of RGB-D models.

Two sources:

- :func:`load_rgbd_frames`: an RGB-D data set (``ROOT/images/SPLIT``,
  ``ROOT/depth/SPLIT`` 16-bit PNG millimetres, ``ROOT/masks/SPLIT``; see
  :mod:`edgeseg.datasets`), stacked and resized exactly as ``edgeseg eval``
  and ``edgeseg run`` do: depth converted with the model's ``depth_scale``,
  then the 4-channel frame resized bilinearly to the model input;
- :func:`with_ramp_depth`: colour images plus a made-up, deterministic depth
  channel (a vertical ramp), for the export's parity check when no RGB-D data
  is given. Parity compares two implementations of one graph, so any fixed
  input exercises the depth branch; the ramp is not a realistic scene.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from edgeseg.datasets import read_frame, rgbd_samples
from edgeseg.errors import EdgesegError
from edgeseg.images import ImageSet, evenly_spaced
from edgeseg.preprocess import resize_to_input

log = logging.getLogger("edgeseg.export")

RAMP_FAR, RAMP_NEAR = 250, 10  # 8-bit depth at the top and bottom row: far sky, near ground


def ramp_depth(height: int, width: int) -> np.ndarray:
    """uint8 H x W depth falling linearly from :data:`RAMP_FAR` (top row) to :data:`RAMP_NEAR` (bottom row)."""
    column = np.rint(np.linspace(RAMP_FAR, RAMP_NEAR, height)).astype(np.uint8)
    return np.repeat(column[:, None], width, axis=1)


def with_ramp_depth(images: np.ndarray) -> np.ndarray:
    """uint8 N x H x W x 3 BGR -> uint8 N x H x W x 4 (B, G, R, :func:`ramp_depth`)."""
    n, height, width, _ = images.shape
    depth = np.broadcast_to(ramp_depth(height, width)[None, :, :, None], (n, height, width, 1))
    return np.concatenate([images, depth], axis=-1)


def load_rgbd_frames(root: str | os.PathLike, split: str, height: int, width: int, depth_scale: float, *,
                     count: int = 0, what: str = "RGB-D") -> ImageSet:
    """uint8 N x H x W x 4 frames (B, G, R, depth in ``depth_scale`` units) of an RGB-D data set's ``split``.

    ``count`` > 0 keeps that many samples, evenly spaced in name order. The
    hash covers the colour and depth files' names and contents.

    Raises:
        EdgesegError: ``root`` is not an RGB-D data set (no images/, depth/ or
            masks/ folder for ``split``), or a file cannot be read.
    """
    root = Path(root)
    if not (root / "depth").is_dir():
        raise EdgesegError(
            f"{what} data {root} has no depth/ folder; an RGB-D model needs an RGB-D data set: "
            f"images/{split}/, depth/{split}/STEM.png (16-bit, millimetres), masks/{split}/ and classes.txt"
        )
    samples = evenly_spaced(rgbd_samples(root, split), count)
    if not samples:
        raise EdgesegError(f"{what} data {root} holds no images in images/{split}/")
    frames, paths, digest = [], [], hashlib.sha256()
    for sample in samples:
        frames.append(resize_to_input(read_frame(sample, depth_scale), height, width))
        paths.append(sample.image)
        for path in (sample.image, sample.depth):
            digest.update(f"{path.parent.name}/{path.name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    log.info("%s: %d frames (colour + depth at %g mm per step) from %s [%s]", what, len(frames), depth_scale, root, split)
    return ImageSet(np.stack(frames), paths, digest.hexdigest())
