"""Training augmentation on numpy arrays, identical geometry for image and mask.

All functions take ``image`` uint8 H x W x 3 BGR (or x 4: BGR + depth, whose
depth channel gets the geometric transforms only) and ``mask`` uint8 H x W and
a ``numpy.random.Generator``, so a sample's augmentation is reproducible from
its seed whatever process draws it.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..config import AugmentConfig


def random_scale(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, lo: float, hi: float):
    """Resize both by one factor in [lo, hi]; bilinear for the image, nearest for the mask."""
    factor = rng.uniform(lo, hi)
    h, w = mask.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return (
        cv2.resize(image, size, interpolation=cv2.INTER_LINEAR),
        cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST),
    )


def random_crop(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, height: int, width: int, ignore_index: int):
    """Crop ``height x width`` at a random place; pad first where smaller (mask padded with void)."""
    h, w = mask.shape
    pad_h, pad_w = max(0, height - h), max(0, width - w)
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        mask = cv2.copyMakeBorder(mask, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=ignore_index)
        h, w = mask.shape
    top = int(rng.integers(0, h - height + 1))
    left = int(rng.integers(0, w - width + 1))
    return image[top:top + height, left:left + width], mask[top:top + height, left:left + width]


def color_jitter(image: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random brightness, contrast, saturation and hue (image only)."""
    out = image.astype(np.float32)
    if cfg.brightness:
        out *= rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    if cfg.contrast:
        mean = out.mean()
        out = (out - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    out = np.clip(out, 0, 255).astype(np.uint8)
    if cfg.saturation or cfg.hue_degrees:
        hsv = cv2.cvtColor(out, cv2.COLOR_BGR2HSV).astype(np.float32)
        # OpenCV's 8-bit hue runs 0..180, i.e. 2 degrees per step.
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-cfg.hue_degrees, cfg.hue_degrees) / 2) % 180
        hsv[..., 1] *= rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    return out


def augment(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, ignore_index: int):
    """Scale, crop, flip and jitter; returns (image crop_h x crop_w x 3, mask crop_h x crop_w)."""
    image, mask = random_scale(image, mask, rng, cfg.scale_min, cfg.scale_max)
    image, mask = random_crop(image, mask, rng, cfg.crop_height, cfg.crop_width, ignore_index)
    if cfg.hflip and rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    image = np.ascontiguousarray(image)
    if image.shape[2] == 4:  # BGR + depth: jitter the colour only
        image = np.dstack([color_jitter(np.ascontiguousarray(image[..., :3]), rng, cfg), image[..., 3]])
    else:
        image = color_jitter(image, rng, cfg)
    return image, np.ascontiguousarray(mask)
