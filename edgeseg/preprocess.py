"""The model's input transform, shared by training, calibration and the torch backend.

The ONNX graph does the same in-graph (``edgeseg.export``); keeping one numpy
reference lets tests check that the two agree.
"""

from __future__ import annotations

import numpy as np


def normalize_bgr(images: np.ndarray, mean, std) -> np.ndarray:
    """uint8 BGR images to the model's float input.

    Args:
        images: uint8, N x H x W x 3 (or H x W x 3), BGR as OpenCV reads them.
        mean, std: RGB, 0..255 units (``ModelMetadata.input``).

    Returns:
        float32, N x 3 x H x W (or 3 x H x W), RGB, ``(pixel - mean) / std``.
    """
    single = images.ndim == 3
    batch = images[None] if single else images
    rgb = batch[..., ::-1].astype(np.float32)
    out = (rgb - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    return out[0] if single else out


def depth_to_u8(depth_mm: np.ndarray, depth_scale: float) -> np.ndarray:
    """16-bit depth in millimetres to the 8-bit depth channel of RGB-D models.

    ``clip(round(mm / depth_scale), 0, 255)``; 0 stays 0 (no reading). With the
    default ``depth_scale`` of 40 mm the channel spans 0 to 10.2 m.
    """
    return np.clip(np.rint(depth_mm.astype(np.float32) / np.float32(depth_scale)), 0, 255).astype(np.uint8)


def normalize_image(images: np.ndarray, mean, std) -> np.ndarray:
    """:func:`normalize_bgr` for 3 channels; for 4 (B, G, R, depth) the output is R, G, B, depth.

    Args:
        images: uint8 N x H x W x C (or H x W x C), C = 3 or 4.
        mean, std: C entries, RGB(D) order, 0..255 units.

    Returns:
        float32 N x C x H x W (or C x H x W).
    """
    if images.shape[-1] == 3:
        return normalize_bgr(images, mean, std)
    rgbd = np.concatenate([images[..., 2::-1], images[..., 3:]], axis=-1).astype(np.float32)
    out = (rgbd - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(np.moveaxis(out, -1, -3))


def resize_to_input(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 H x W x 3 BGR (or x 4, BGR + depth) image resized (bilinear) to the model input, as the runtime does.

    Calibration and evaluation both use this, so INT8 scales are computed on
    exactly the pixels the deployed model sees.
    """
    if image.shape[:2] == (height, width):
        return image
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
