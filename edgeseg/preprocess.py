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


def resize_to_input(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 H x W x 3 BGR image resized (bilinear) to the model input, as the runtime does.

    Calibration and evaluation both use this, so INT8 scales are computed on
    exactly the pixels the deployed model sees.
    """
    if image.shape[:2] == (height, width):
        return image
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
