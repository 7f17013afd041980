"""Segmentation metrics from a confusion matrix (numpy only).

The confusion matrix ``cm`` is int64, ``num_classes x num_classes``, with
``cm[true, predicted]``. IoU of class c is ``cm[c,c] / (row_c + col_c - cm[c,c])``.
A class absent from both the ground truth and the prediction has no IoU
(NaN) and is left out of the mean, as in the Cityscapes and mmseg tools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Accumulate a confusion matrix.

    Args:
        labels: integer ground truth of any shape.
        predicted: integer predictions, same shape as ``labels``.
        num_classes: number of valid classes; ground-truth values outside
            ``[0, num_classes)`` (the void label included) are ignored.
        ignore_index: an extra label to ignore, if it lies inside the range.

    Returns:
        int64 array ``num_classes x num_classes``, rows are ground truth.
    """
    if labels.shape != predicted.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predicted.shape} differ in shape")
    labels = labels.reshape(-1).astype(np.int64)
    predicted = predicted.reshape(-1).astype(np.int64)
    valid = (labels >= 0) & (labels < num_classes)
    if ignore_index is not None:
        valid &= labels != ignore_index
    index = labels[valid] * num_classes + np.clip(predicted[valid], 0, num_classes - 1)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class SegmentationScores:
    """Scores from a confusion matrix.

    Attributes:
        miou: mean IoU over classes present in ground truth or prediction, in [0, 1].
        pixel_accuracy: correct pixels / valid pixels.
        per_class_iou: one value per class, NaN where the class is absent from both.
        mean_class_accuracy: mean recall over classes present in the ground truth.
    """

    miou: float
    pixel_accuracy: float
    per_class_iou: list[float]
    mean_class_accuracy: float


def scores_from_confusion(cm: np.ndarray) -> SegmentationScores:
    """mIoU, pixel accuracy and per-class IoU of the confusion matrix ``cm``."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    gt = cm.sum(axis=1)
    pred = cm.sum(axis=0)
    union = gt + pred - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        recall = np.where(gt > 0, tp / gt, np.nan)
    total = cm.sum()
    return SegmentationScores(
        miou=float(np.nanmean(iou)) if np.any(union > 0) else float("nan"),
        pixel_accuracy=float(tp.sum() / total) if total else float("nan"),
        per_class_iou=[float(v) for v in iou],
        mean_class_accuracy=float(np.nanmean(recall)) if np.any(gt > 0) else float("nan"),
    )
