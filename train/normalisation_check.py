"""A warning when a non-CamVid data set trains with the default (CamVid) mean and std.

``data.mean``/``data.std`` default to CamVid's statistics; a folder of other
images silently took them. The warning states the statistics of (a sample of)
the user's own training images, ready to paste as ``--set`` overrides.
"""

from __future__ import annotations

import logging

import numpy as np

from .config import DataConfig

log = logging.getLogger("edgeseg.train")
SAMPLE_IMAGES = 32


def sample_mean_std(data: DataConfig, count: int = SAMPLE_IMAGES) -> tuple[list[float], list[float], int]:
    """RGB mean and std (0..255) of up to ``count`` evenly spaced training images, and how many were read."""
    from edgeseg.datasets import layout_samples, read_image

    samples = layout_samples(data.kind, data.root, data.train_split, data.images_dir, data.masks_dir)
    picked = [samples[i] for i in np.linspace(0, len(samples) - 1, min(count, len(samples))).round().astype(int)]
    pixels = np.concatenate([read_image(s.image)[..., ::-1].reshape(-1, 3)[::7] for s in picked]).astype(np.float64)
    return [round(float(v), 1) for v in pixels.mean(0)], [round(float(v), 1) for v in pixels.std(0)], len(picked)


def warn_if_default_normalisation(data: DataConfig) -> bool:
    """Log a warning (and return True) when ``data`` is not CamVid but keeps CamVid's mean/std."""
    defaults = DataConfig()
    # camvid: the defaults are its own; coco: proposal models; rgbd: four channels, set explicitly
    if data.kind in ("camvid", "coco", "rgbd") or data.mean != defaults.mean or data.std != defaults.std:
        return False
    mean, std, count = sample_mean_std(data)
    log.warning("data.kind %s uses the default normalisation, CamVid's (mean %s, std %s); %d of your training "
                "images have mean %s, std %s: add --set 'data.mean=%s' --set 'data.std=%s' (RGB, 0..255) unless "
                "you fine-tune a model trained with CamVid's", data.kind, defaults.mean, defaults.std,
                count, mean, std, mean, std)
    return True


__all__ = ["sample_mean_std", "warn_if_default_normalisation"]
