"""Training windows for DeepMask/SharpMask, sampled as in the DeepMask paper (section 3.1).

Geometry is the paper's scaled to our window: at 224 px the canonical
positive is an object centred in the window with its longer side 128 px
(:data:`OBJECT_FRACTION` = 128/224 of the window); positives are jittered by
up to 16/224 of the window in position and 2^(+-1/4) in scale and flipped;
negatives are at least 32/224 of the window off centre or 2^(+-1) off scale,
or random windows. Sample ``i`` is positive when ``i`` is even; its random
draws come from a generator seeded by (seed, epoch, i), so runs repeat.

A sample is ``(x, mask, label)``: x float32 3 x W x W normalised RGB (see
:func:`edgeseg.preprocess.normalize_image`), mask float32 M x M in {0, 1} (the
object's mask, resized to the model's mask size; zeros for negatives),
label float32 1.0 (positive) or 0.0.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from edgeseg.preprocess import normalize_image

from .instances import Instance

OBJECT_FRACTION = 128 / 224
POSITIVE_SHIFT = 16 / 224
POSITIVE_LOG2_SCALE = 0.25
NEGATIVE_SHIFT = 32 / 224
NEGATIVE_LOG2_SCALE = 1.0


def window_transform(cx: float, cy: float, scale: float, window: int, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """2 x 3 affine map from image to window pixels: image point (cx, cy) lands at the window centre + (dx, dy)."""
    return np.array([[scale, 0.0, window / 2 + dx - scale * cx], [0.0, scale, window / 2 + dy - scale * cy]],
                    np.float64)


def cut_window(image: np.ndarray, transform: np.ndarray, window: int) -> np.ndarray:
    """uint8 window x window x C through ``transform`` (bilinear; black outside the image)."""
    return cv2.warpAffine(image, transform, (window, window), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def window_mask(instance: Instance, transform: np.ndarray, window: int, mask_size: int) -> np.ndarray:
    """The instance's mask in window coordinates, resized to float32 mask_size x mask_size in {0, 1}."""
    x0, y0, _, _ = instance.box
    shifted = transform.copy()
    shifted[:, 2] += transform[:, :2] @ np.array([x0, y0], np.float64)  # crop pixel (u, v) is image (x0+u, y0+v)
    warped = cv2.warpAffine(instance.mask.astype(np.uint8), shifted, (window, window), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    small = cv2.resize(warped.astype(np.float32), (mask_size, mask_size), interpolation=cv2.INTER_AREA)
    return (small > 0.5).astype(np.float32)


def canonical(instance: Instance, window: int) -> tuple[float, float, float]:
    """(cx, cy, scale) that centres the instance's box with its longer side OBJECT_FRACTION of the window."""
    x, y, w, h = instance.box
    return x + w / 2, y + h / 2, OBJECT_FRACTION * window / max(w, h)


class ProposalPatches(Dataset):
    """Positive and negative windows around ``instances`` of ``images`` (uint8 H x W x 3 BGR)."""

    def __init__(self, images: list[np.ndarray], instances: list[Instance], window: int, mask_size: int,
                 mean, std, *, seed: int = 0, jitter: bool = True, hflip: bool = True):
        if not instances:
            raise ValueError("no instances to sample windows from")
        self.images, self.instances = images, instances
        self.window, self.mask_size = window, mask_size
        self.mean, self.std = mean, std
        self.seed, self.epoch, self.jitter, self.hflip = seed, 0, jitter, hflip

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return 2 * len(self.instances)

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray, float]:
        """uint8 W x W x 3 BGR window, its float32 M x M mask target and label."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        instance = self.instances[(index // 2) % len(self.instances)]
        image = self.images[instance.image_index]
        cx, cy, scale = canonical(instance, self.window)
        w = self.window
        if index % 2 == 0:
            dx = dy = 0.0
            if self.jitter:
                dx, dy = rng.uniform(-POSITIVE_SHIFT * w, POSITIVE_SHIFT * w, size=2)
                scale *= 2.0 ** rng.uniform(-POSITIVE_LOG2_SCALE, POSITIVE_LOG2_SCALE)
            transform = window_transform(cx, cy, scale, w, dx, dy)
            target, label = window_mask(instance, transform, w, self.mask_size), 1.0
        else:
            kind = rng.integers(3)
            if kind == 0:  # shifted off centre
                angle = rng.uniform(0, 2 * np.pi)
                radius = rng.uniform(NEGATIVE_SHIFT * w, 0.5 * w)
                transform = window_transform(cx, cy, scale, w, radius * np.cos(angle), radius * np.sin(angle))
            elif kind == 1:  # too large or too small
                log2 = rng.uniform(NEGATIVE_LOG2_SCALE, NEGATIVE_LOG2_SCALE + 1.0) * rng.choice([-1.0, 1.0])
                transform = window_transform(cx, cy, scale * 2.0 ** log2, w)
            else:  # anywhere in the image
                h_img, w_img = image.shape[:2]
                transform = window_transform(rng.uniform(0, w_img), rng.uniform(0, h_img),
                                             w / min(h_img, w_img) * 2.0 ** rng.uniform(0, 2), w)
            target, label = np.zeros((self.mask_size, self.mask_size), np.float32), 0.0
        patch = cut_window(image, transform, w)
        if self.hflip and self.jitter and rng.random() < 0.5:
            patch, target = patch[:, ::-1], target[:, ::-1]
        return np.ascontiguousarray(patch), np.ascontiguousarray(target), label

    def __getitem__(self, index: int):
        patch, target, label = self.sample(index)
        x = normalize_image(patch, self.mean, self.std)
        return torch.from_numpy(x), torch.from_numpy(target), torch.tensor(label, dtype=torch.float32)
