"""Average recall of object proposals, as the DeepMask and SharpMask papers report it, and its baseline.

AR@k is the recall of the ground-truth instances by the k best-scoring proposals
of each image, averaged over mask-IoU thresholds 0.5:0.05:0.95 (COCO's
``COCOeval`` with ``useCats = 0``: class-agnostic, every area). pycocotools does
the matching; this module makes the proposals.

- :func:`model_proposals`: a DeepMask/SharpMask on a whole frame, the way the
  papers run them. The trunk and the score branch run once per scale on the
  whole (padded) frame, fully convolutionally (:func:`dense_scores`), which
  scores every window of the stride-16 grid at once; the best windows of all
  scales, after a non-maximum suppression on their boxes, are then cut from the
  scaled frame and run through the model itself for their masks and final scores.
- :func:`component_proposals`: the baseline, the connected components of a
  trained semantic model's prediction for CamVid's thing classes, scored by
  the mean probability of their class. It is strong here because CamVid's
  instances *are* the connected components of those classes in the ground truth
  (:func:`~edgeseg.train.data.instances.instances_from_semantic`): a perfect
  semantic model recalls every instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from edgeseg.preprocess import normalize_bgr

from ..data.instances import CAMVID_THING_CLASSES, Instance, instances_from_semantic

IOU_THRESHOLDS = "0.5:0.05:0.95"
DEFAULT_SCALES = (0.5, 2 ** -0.5, 1.0, 2 ** 0.5, 2.0, 2 ** 1.5)
"""Frame scales (half-octave steps, as the papers): at window 160 the canonical object is 91 px, so these
catch objects from about 180 px down to 32 px in a 480x360 frame. Smaller ones would need scale 4 and four
times the trunk's cost."""


@dataclass
class Scored:
    """One proposal: bool H x W ``mask`` in frame coordinates and its ``score`` (higher is better)."""

    mask: np.ndarray
    score: float


def _dense_score_head(score_head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """ScoreBranch (2x2 max pool, then convolutions over the window's cells) on a whole feature map.

    The per-window branch pools with stride 2; on the whole map that stride would skip every other window,
    so the pool runs at stride 1 and the next convolution is dilated by 2, which gives each stride-16 window
    exactly its own pooled cells. Returns N x (h - cells + 1) x (w - cells + 1) score logits.
    """
    layers = list(cast(nn.Sequential, score_head.net))
    pool, first, rest = layers[0], layers[1], layers[2:]
    assert isinstance(pool, nn.MaxPool2d) and isinstance(first, nn.Conv2d), "not a ScoreBranch"
    x = F.max_pool2d(features, 2, stride=1)
    x = F.conv2d(x, first.weight, first.bias, dilation=2)
    for layer in rest:
        x = layer(x)
    return x[:, 0]


@torch.no_grad()
def dense_scores(model: nn.Module, frame: np.ndarray, mean, std) -> np.ndarray:
    """float32 rows x cols score logits of every window on the stride-16 grid of uint8 H x W x 3 BGR ``frame``.

    Entry (i, j) is the window whose top-left corner is (16 j, 16 i) and side ``model.window``; H and W must be
    multiples of 16 and at least the window. For a frame of exactly one window it equals the model's own score.
    """
    x = torch.from_numpy(normalize_bgr(frame[None], mean, std))
    trunk, score_head = cast(nn.Module, model.trunk), cast(nn.Module, model.score_head)
    return _dense_score_head(score_head, trunk(x)[-1])[0].numpy()


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of square box a (x, y, side) with each row of b."""
    x0, y0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x1, y1 = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]), np.minimum(a[1] + a[2], b[:, 1] + b[:, 2])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (a[2] ** 2 + b[:, 2] ** 2 - inter)


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou: float, keep: int) -> list[int]:
    """Indices of at most ``keep`` boxes, best score first, none overlapping a better kept one by more than ``iou``."""
    order, kept = np.argsort(-scores, kind="stable"), cast(list[int], [])
    for index in order:
        if kept and (_box_iou(boxes[index], boxes[kept]) > iou).any():
            continue
        kept.append(int(index))
        if len(kept) == keep:
            break
    return kept


@torch.no_grad()
def model_proposals(model: nn.Module, frame: np.ndarray, mean, std, *, scales: Sequence[float] = DEFAULT_SCALES,
                    top: int = 100, per_scale: int = 300, nms_iou: float = 0.5, batch_size: int = 25) -> list[Scored]:
    """The ``top`` proposals of a DeepMask/SharpMask (eval mode) for uint8 H x W x 3 BGR ``frame``.

    Per scale, the frame is resized, padded black by half a window on every side (so objects at the border
    can be centred in a window, as the training windows are) and to a multiple of 16, and densely scored;
    the ``per_scale`` best windows of each scale compete in one box NMS (``nms_iou``, boxes in frame
    coordinates), and the ``top`` survivors are cut and run through ``model`` for masks and scores.
    """
    height, width = frame.shape[:2]
    window, stride = int(cast(int, model.window)), 16
    candidates: list[tuple[float, int, int, int]] = []  # (logit, scale index, x, y) in padded-scaled pixels
    padded_frames = []
    for k, scale in enumerate(scales):
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        resized = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        pad = window // 2
        ph, pw = -(-(h + 2 * pad) // stride) * stride, -(-(w + 2 * pad) // stride) * stride
        padded = np.zeros((ph, pw, 3), np.uint8)
        padded[pad:pad + h, pad:pad + w] = resized
        padded_frames.append((padded, scale, pad))
        grid = dense_scores(model, padded, mean, std)
        flat = np.argsort(-grid, axis=None, kind="stable")[:per_scale]
        for index in flat:
            i, j = divmod(int(index), grid.shape[1])
            candidates.append((float(grid[i, j]), k, stride * j, stride * i))
    boxes = np.array([[(x - padded_frames[k][2]) / padded_frames[k][1], (y - padded_frames[k][2]) / padded_frames[k][1],
                       window / padded_frames[k][1]] for _, k, x, y in candidates], np.float64)
    chosen = box_nms(boxes, np.array([c[0] for c in candidates]), nms_iou, top)
    patches = np.stack([padded_frames[candidates[c][1]][0][candidates[c][3]:candidates[c][3] + window,
                                                           candidates[c][2]:candidates[c][2] + window] for c in chosen])
    masks, logits = [], []
    for start in range(0, len(patches), batch_size):
        m, s = model(torch.from_numpy(normalize_bgr(patches[start:start + batch_size], mean, std)))
        masks.append(torch.sigmoid(m).numpy())
        logits.append(s.numpy())
    probabilities, scores = np.concatenate(masks), np.concatenate(logits)
    out = []
    for c, probability, score in zip(chosen, probabilities, scores):
        x, y, side = boxes[c]
        out.append(Scored(_paste(probability, x, y, side, height, width), float(score)))
    return out


def _paste(probability: np.ndarray, x: float, y: float, side: float, height: int, width: int) -> np.ndarray:
    """bool height x width: the M x M mask probability resized to the (fractional) box and thresholded at 0.5."""
    x0, y0, s = round(x), round(y), max(1, round(side))
    resized = cv2.resize(probability.astype(np.float32), (s, s), interpolation=cv2.INTER_LINEAR) > 0.5
    out = np.zeros((height, width), bool)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + s, width), min(y0 + s, height)
    if fx1 > fx0 and fy1 > fy0:
        out[fy0:fy1, fx0:fx1] = resized[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    return out


def component_proposals(probabilities: np.ndarray, classes: list[str],
                        thing_classes: tuple[str, ...] = CAMVID_THING_CLASSES, min_area: int = 64) -> list[Scored]:
    """The baseline: connected components of the predicted thing classes.

    ``probabilities``: float C x H x W softmax of a semantic model. Components are found exactly as the
    ground-truth instances are (8-connected, ``min_area`` pixels or more); each is scored by the mean
    probability of its class over its pixels.
    """
    labels = probabilities.argmax(0).astype(np.uint8)
    out = []
    for instance in instances_from_semantic(labels, classes, thing_classes=thing_classes, min_area=min_area):
        x, y, w, h = instance.box
        class_probability = probabilities[classes.index(instance.label), y:y + h, x:x + w][instance.mask]
        out.append(Scored(instance.full_mask(*labels.shape), float(class_probability.mean())))
    return out


def average_recall(truth: list[list[Instance]], proposals: list[list[Scored]], shape: tuple[int, int],
                   max_dets: Sequence[int] = (10, 100)) -> dict[str, float]:
    """``{"AR@k": ...}`` (0..1) over images: COCOeval segm, class-agnostic, IoU 0.5:0.95, all areas.

    ``truth[i]`` and ``proposals[i]`` belong to image i; every image is ``shape`` (H, W).
    """
    import contextlib
    import io

    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def rle(mask: np.ndarray) -> dict:
        encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        encoded["counts"] = encoded["counts"].decode("ascii")
        return encoded

    height, width = shape
    images = [{"id": i + 1, "height": height, "width": width} for i in range(len(truth))]
    annotations: list[dict] = []
    detections: list[dict] = []
    for i, (objects, found) in enumerate(zip(truth, proposals)):
        for obj in objects:
            encoded = rle(obj.full_mask(height, width))
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                                "segmentation": encoded, "area": float(obj.area),
                                "bbox": [float(v) for v in obj.box]})
        for proposal in found:
            detections.append({"image_id": i + 1, "category_id": 1, "segmentation": rle(proposal.mask),
                               "score": proposal.score})
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        ground = COCO()
        ground.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "object"}]}
        ground.createIndex()
        results = ground.loadRes(detections) if detections else None
        if results is None:
            return {f"AR@{k}": 0.0 for k in max_dets}
        evaluation = COCOeval(ground, results, "segm")
        evaluation.params.useCats = 0
        evaluation.params.maxDets = list(max_dets)
        evaluation.evaluate()
        evaluation.accumulate()
    recall = evaluation.eval["recall"]  # T x K x A x M; area index 0 is "all"
    out = {}
    for m, k in enumerate(max_dets):
        values = recall[:, 0, 0, m]
        out[f"AR@{k}"] = float(values[values > -1].mean()) if (values > -1).any() else 0.0
    return out
