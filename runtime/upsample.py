"""Resizing a label map to the frame it is drawn over: ``point`` or ``linear``.

The model outputs labels at its input size (e.g. 360 x 480); frames are often
larger (960 x 540, 1920 x 1080). Nearest-neighbour (``point``) repeats each
label as a block, so edges become stair steps.

``linear`` is a smooth *label* upsampling, not a resampling of class scores
(a contract ONNX outputs labels only, one byte a pixel): each class present
gets an indicator map (255 where it is, 0 elsewhere), the maps are resized
bilinearly together, and each output pixel takes the class whose map is
highest there. Edges then follow the straight or curved line through the
label boundary instead of the pixel grid; a pixel only ever takes a class
from its 2 x 2 source neighbourhood, so no class is invented.
"""

from __future__ import annotations

import cv2
import numpy as np

FILTERS = ("linear", "point")
# cv2.resize handles at most this many channels at once (CV_CN_MAX).
_MAX_CHANNELS = 512


def upsample_labels(labels: np.ndarray, height: int, width: int, filter: str = "point") -> np.ndarray:
    """uint8 h x w labels -> uint8 ``height`` x ``width`` labels (a new array unless the size already matches).

    Args:
        labels: the model's label map, uint8 h x w.
        height, width: the target size.
        filter: ``point`` (nearest neighbour) or ``linear`` (smooth, see the module docstring).
            Shrinking always uses ``point``: it is exact there.
    """
    if filter not in FILTERS:
        from edgeseg.errors import EdgesegError

        raise EdgesegError(f"--filter {filter!r} is not one of {', '.join(FILTERS)}")
    if labels.shape == (height, width):
        return labels
    if filter == "point" or height < labels.shape[0] or width < labels.shape[1]:
        return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
    present = np.flatnonzero(np.bincount(labels.reshape(-1), minlength=1))
    if present.size == 1:
        return np.full((height, width), present[0], np.uint8)
    lookup = np.zeros(256, np.uint8)
    lookup[present] = np.arange(present.size)
    # one-hot of the present classes only (uint8: bilinear resize of uint8 is exact enough to rank them)
    onehot = np.zeros((*labels.shape, present.size), np.uint8)
    np.put_along_axis(onehot, lookup[labels][..., None], 255, axis=2)
    best = np.empty((height, width), np.uint8)
    best_value = np.full((height, width), -1, np.int16)
    for start in range(0, present.size, _MAX_CHANNELS):
        chunk = cv2.resize(onehot[..., start:start + _MAX_CHANNELS], (width, height), interpolation=cv2.INTER_LINEAR)
        chunk = chunk.reshape(height, width, -1)
        index = chunk.argmax(axis=2)
        value = np.take_along_axis(chunk, index[..., None], axis=2)[..., 0].astype(np.int16)
        better = value > best_value
        best[better] = present[start + index[better]]
        best_value[better] = value[better]
    return best


__all__ = ["FILTERS", "upsample_labels"]
