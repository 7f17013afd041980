"""``edgeseg eval``: mIoU of any artifact on a labelled split, through a backend.

Each image is resized to the model input (bilinear), the labels are resized
back to the image (nearest) and scored at the image's own resolution, so the
score does not depend on the export size.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeseg.atomic import atomic_write_text
from edgeseg.datasets import frame_depth_scale, guess_kind, layout_info, layout_samples, read_frame, read_mask
from edgeseg.errors import EdgesegError
from edgeseg.metrics import confusion_matrix, scores_from_confusion
from edgeseg.progress import progress

from .backends import Backend, open_backend
from .overlay import palette_lut, render_overlay, resize_labels

log = logging.getLogger("edgeseg.eval")


@dataclass
class EvalResult:
    """Scores of one artifact on one split; ``confusion`` is int64 C x C (rows: truth)."""

    confusion: np.ndarray
    images: int
    seconds: float
    predictions: list[np.ndarray] | None = None

    def to_dict(self, classes: list[str]) -> dict[str, Any]:
        scores = scores_from_confusion(self.confusion)
        return {
            "miou": scores.miou,
            "pixel_accuracy": scores.pixel_accuracy,
            "mean_class_accuracy": scores.mean_class_accuracy,
            "per_class_iou": {name: (None if math.isnan(v) else v) for name, v in zip(classes, scores.per_class_iou)},
            "images": self.images,
            "seconds": self.seconds,
        }


def predict_image(backend: Backend, image: np.ndarray) -> np.ndarray:
    """uint8 H x W labels for one uint8 H x W x C image (BGR, or BGR + depth) of any size."""
    _, height, width, _ = backend.input_shape
    resized = image if image.shape[:2] == (height, width) else cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    labels = backend.infer(resized[None])[0]
    return resize_labels(labels, image.shape[0], image.shape[1])


def evaluate(backend: Backend, data: str | Path, split: str = "val", *, kind: str = "auto", limit: int = 0,
             keep_predictions: bool = False, overlay_dir: str | Path | None = None) -> EvalResult:
    """Score ``backend`` on ``data``/``split``; the data set's classes must match the model's."""
    kind = guess_kind(data) if kind == "auto" else kind
    info = layout_info(kind, data)
    meta = backend.metadata
    if len(info.classes) != meta.num_classes:
        raise EdgesegError(
            f"the data set at {data} has {len(info.classes)} classes but the model has {meta.num_classes} "
            f"({', '.join(meta.classes)}); evaluate on the data set the model was trained for"
        )
    samples = layout_samples(kind, data, split)
    if limit > 0:
        samples = samples[:limit]
    lut = palette_lut(meta.palette)
    if overlay_dir is not None:
        Path(overlay_dir).mkdir(exist_ok=True)  # the folder, not its parents: those must exist (edgeseg.paths)
    cm = np.zeros((meta.num_classes, meta.num_classes), np.int64)
    predictions: list[np.ndarray] | None = [] if keep_predictions else None
    started = time.perf_counter()
    depth_scale = frame_depth_scale(meta.input)
    if depth_scale is not None and kind != "rgbd":
        raise EdgesegError(f"{meta.architecture} takes colour + depth, but {data} is a {kind!r} data set without depth; "
                           "evaluate it on an RGB-D data set (images/, depth/, masks/, classes.txt)")
    for pair in progress(samples, desc=f"{Path(str(data)).name} [{split}]", unit="img"):
        frame = read_frame(pair, depth_scale)  # BGR, or B, G, R + 8-bit depth (the 4-channel contract)
        image = np.ascontiguousarray(frame[..., :3])  # no copy for BGR frames
        mask = read_mask(pair.mask, image.shape, info)
        labels = predict_image(backend, frame)
        cm += confusion_matrix(mask, labels, meta.num_classes, info.ignore_index)
        if predictions is not None:
            predictions.append(labels)
        if overlay_dir is not None:
            out = render_overlay(image, labels, lut, alpha=0.5, legend_classes=meta.classes)
            cv2.imwrite(str(Path(overlay_dir) / f"{pair.image.stem}.png"), out)
    return EvalResult(cm, len(samples), time.perf_counter() - started, predictions)


def format_scores(result: dict[str, Any], title: str) -> str:
    lines = [title, f"  mIoU            {100 * result['miou']:6.2f} %",
             f"  pixel accuracy  {100 * result['pixel_accuracy']:6.2f} %", "  per-class IoU:"]
    for name, iou in result["per_class_iou"].items():
        lines.append(f"    {name:<14} " + ("   n/a" if iou is None else f"{100 * iou:6.2f} %"))
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``edgeseg eval``."""
    from edgeseg.cli_vocab import provider_list

    from .backend_flags import check_backend_flags

    providers = provider_list(getattr(args, "providers", None))
    backend_name, threads = getattr(args, "backend", "auto"), getattr(args, "threads", 0)
    check_backend_flags(args.artifact, backend_name, providers, threads)
    with open_backend(args.artifact, backend_name, providers=providers, threads=threads) as backend:
        backend.require_semantic("edgeseg eval (mIoU of class labels)")
        result = evaluate(backend, args.data, args.split, kind=args.kind, limit=args.limit, overlay_dir=args.overlay_dir)
        report = result.to_dict(backend.metadata.classes)
        report.update(artifact=str(args.artifact), backend=backend.name, data=str(args.data), split=args.split)
    print(format_scores(report, f"{args.artifact} on {args.data} [{args.split}], {report['images']} images, {backend.name}"))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
