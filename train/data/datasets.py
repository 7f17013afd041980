"""PyTorch datasets over image/mask pairs, held in memory once decoded where they fit (``data.cache``).

CamVid's 367 training images take about 250 MB decoded; decoding them once
instead of every epoch matters on a 2-core CPU. Each training sample draws
its augmentation from a generator seeded by (seed, epoch, index), so a
resumed run sees exactly the samples an uninterrupted run would.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from edgeseg.datasets import DatasetInfo, SamplePaths, layout_info, layout_samples, read_frame, read_mask
from edgeseg.errors import EdgesegError
from edgeseg.preprocess import normalize_image

from ..config import AugmentConfig, DataConfig
from .transforms import augment, augment_reference

log = logging.getLogger("edgeseg.train")


@dataclass
class LoadedSplit:
    """Images (uint8 H x W x 3 BGR, or H x W x 4 BGR + 8-bit depth for ``rgbd``) and masks (uint8 H x W).

    ``images`` and ``masks`` are lists of decoded arrays when the split is held
    in memory, or :class:`DecodedOnAccess` sequences that decode each sample
    when it is read (``data.cache``).
    """

    images: Sequence[np.ndarray]
    masks: Sequence[np.ndarray]
    paths: list[SamplePaths]
    in_memory: bool = True


class DecodedOnAccess(Sequence):
    """``split[i]`` decodes sample ``i`` from disk each time (``part`` 0: image, 1: mask)."""

    def __init__(self, paths: list[SamplePaths], decode: Callable[[SamplePaths], tuple[np.ndarray, np.ndarray]],
                 part: int):
        self.paths, self.decode, self.part = paths, decode, part

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.decode(self.paths[index])[self.part]


MEMORY_SHARE = 0.25
"""``data.cache = "auto"`` holds a split in memory when its decoded size is at most this share of the RAM."""


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        return 8 << 30


def dataset_info(cfg: DataConfig) -> DatasetInfo:
    return layout_info(cfg.kind, cfg.root, cfg.classes_file)


def split_paths(cfg: DataConfig, split: str) -> list[SamplePaths]:
    return layout_samples(cfg.kind, cfg.root, split, cfg.images_dir, cfg.masks_dir, cfg.depth_dir)


def load_split(cfg: DataConfig, split: str, info: DatasetInfo, limit: int = 0,
               prefixes: list[str] | None = None) -> LoadedSplit:
    """Decode a split; ``prefixes`` keeps the pairs whose image name starts with one of them (all if empty),
    then ``limit`` > 0 keeps the first ``limit`` pairs (sorted by name)."""
    paths = split_paths(cfg, split)
    if prefixes:
        kept = [p for p in paths if p.image.name.startswith(tuple(prefixes))]
        if not kept:
            found = sorted({p.image.name.split("_")[0] for p in paths})[:10]
            raise EdgesegError(f"no image of split {split!r} in {cfg.root} starts with {', '.join(prefixes)}; "
                               f"names there start with: {', '.join(found)}")
        paths = kept
    if limit > 0:
        paths = paths[:limit]

    def decode(pair: SamplePaths) -> tuple[np.ndarray, np.ndarray]:
        image = read_frame(pair, cfg.depth_scale if pair.depth is not None else None)  # rgbd samples have depth
        return image, read_mask(pair.mask, image.shape, info)

    if not paths:
        return LoadedSplit([], [], paths)
    first = decode(paths[0])
    # Decoded size from the first sample: data sets of one layout share a frame size, near enough.
    estimate = (first[0].nbytes + first[1].nbytes) * len(paths)
    in_memory = cfg.cache == "memory" or (cfg.cache == "auto" and estimate <= MEMORY_SHARE * _physical_memory())
    if not in_memory:
        log.info("split %r: %.1f GB decoded is over %d%% of this machine's memory; decoding each sample when read "
                 "(data.cache = \"memory\" forces holding it)", split, estimate / 1e9, MEMORY_SHARE * 100)
        return LoadedSplit(DecodedOnAccess(paths, decode, 0), DecodedOnAccess(paths, decode, 1), paths, False)
    images, masks = [first[0]], [first[1]]
    for pair in paths[1:]:
        image, mask = decode(pair)
        images.append(image)
        masks.append(mask)
    return LoadedSplit(images, masks, paths)


class TrainDataset(Dataset):
    """Augmented training samples: (uint8 h x w x C BGR(D) image, uint8 h x w mask), as tensors.

    Samples stay uint8 until the batch is on the device: conversion to the
    model's float input (:func:`edgeseg.train.data.batches.model_input`) then
    runs once per batch, vectorised, instead of per image in numpy, and a
    prefetch thread moves a quarter of the bytes.
    """

    def __init__(self, split: LoadedSplit, cfg: AugmentConfig, data: DataConfig, ignore_index: int, seed: int):
        self.split, self.cfg, self.data = split, cfg, data
        self.ignore_index, self.seed, self.epoch = ignore_index, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.split.images)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        transform = augment if self.cfg.fast else augment_reference
        image, mask = transform(self.split.images[index], self.split.masks[index], rng, self.cfg, self.ignore_index)
        return torch.from_numpy(np.ascontiguousarray(image)), torch.from_numpy(mask)


class EvalDataset(Dataset):
    """Un-augmented samples resized to the model input: (float32 C x height x width normalised RGB(D), int64 mask).

    Resized uint8 samples are kept when the split is in memory (a quarter of
    the bytes of normalised floats), normalised when read.
    """

    def __init__(self, split: LoadedSplit, data: DataConfig):
        self.split, self.data = split, data
        self.items = [self._resized(i) for i in range(len(split.images))] if split.in_memory else None

    def _resized(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        image, mask = self.split.images[index], self.split.masks[index]
        if image.shape[:2] != (self.data.height, self.data.width):
            image = cv2.resize(image, (self.data.width, self.data.height), interpolation=cv2.INTER_LINEAR)
            mask = cv2.resize(mask, (self.data.width, self.data.height), interpolation=cv2.INTER_NEAREST)
        return image, mask

    def __len__(self) -> int:
        return len(self.split.images)

    def __getitem__(self, index: int):
        image, mask = self.items[index] if self.items is not None else self._resized(index)
        return torch.from_numpy(normalize_image(image, self.data.mean, self.data.std)), \
            torch.from_numpy(mask.astype(np.int64))


def class_weights(masks: Sequence[np.ndarray], num_classes: int, method: str) -> np.ndarray | None:
    """Loss weights from training label frequencies.

    ``median_frequency`` (Eigen & Fergus; SegNet): freq(c) = pixels of c /
    pixels of the images containing c; weight = median(freq) / freq(c).
    ``enet`` (Paszke et al.): weight = 1 / ln(1.02 + p(c)), p over all valid pixels.
    """
    if method == "none":
        return None
    counts = np.zeros(num_classes, np.float64)
    image_pixels = np.zeros(num_classes, np.float64)
    for mask in masks:
        hist = np.bincount(mask.reshape(-1), minlength=256)[:num_classes].astype(np.float64)
        counts += hist
        image_pixels[hist > 0] += mask.size
    present = counts > 0
    if not present.any():
        raise EdgesegError("the training labels hold no valid class pixels (all void?)")
    weights = np.zeros(num_classes, np.float64)
    if method == "median_frequency":
        freq = counts[present] / image_pixels[present]
        weights[present] = np.median(freq) / freq
    else:
        p = counts[present] / counts.sum()
        weights[present] = 1.0 / np.log(1.02 + p)
    if not present.all():
        # A class missing from a (small) training subset has no frequency; weigh it like the rarest class.
        absent = [int(c) for c in np.flatnonzero(~present)]
        logging.getLogger("edgeseg.train").warning("classes %s never occur in the training labels", absent)
        weights[~present] = weights[present].max()
    return weights.astype(np.float32)
