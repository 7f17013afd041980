"""Object proposals (DeepMask, SharpMask) in the runtime: windows in, outlined masks with scores out.

numpy and OpenCV only. The deployed proposal model takes a batch of K square
windows cut from a frame and returns, per window, mask logits (float K x M x M)
and an objectness logit (float K); its metadata's ``arch_args`` give ``window``
(side in pixels) and ``stride`` (grid step). The steps:

1. :func:`window_boxes`: the grid of windows covering a frame (x, y, side);
2. :func:`cut_windows`: uint8 K x side x side x 3 BGR patches (black outside the frame)
   (both numpy only, in :mod:`edgeseg.tasks.proposals`, where export cuts its parity windows too);
3. the model (any backend) maps patches to ``(mask_logits, score_logits)``;
4. :func:`decode_proposals` (score logits) or :func:`select_proposals`
   (score probabilities, what an exported ONNX returns): keep the ``top_k`` best-scoring windows
   after a greedy non-maximum suppression on mask IoU, and paste each mask
   (bilinear resize to the window, threshold) into frame coordinates;
5. :func:`draw_proposals`: outlines (``cv2.findContours``/``drawContours``)
   with each proposal's score.

:func:`propose` runs steps 1 to 4 with a caller-supplied ``run`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.tasks.proposals import cut_windows, window_boxes


@dataclass
class Proposal:
    """One object proposal: bool H x W ``mask`` in frame coordinates, ``score`` in 0..1, its window box."""

    mask: np.ndarray
    score: float
    box: tuple[int, int, int]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def paste_mask(probabilities: np.ndarray, box: tuple[int, int, int], height: int, width: int,
               threshold: float = 0.5) -> np.ndarray:
    """bool ``height`` x ``width``: the M x M mask resized (bilinear) to the window side and placed at ``box``."""
    x, y, side = (int(v) for v in box)
    resized = cv2.resize(probabilities.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((height, width), bool)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + side), min(height, y + side)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = resized[y0 - y:y1 - y, x0 - x:x1 - x] > threshold
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def decode_proposals(mask_logits: np.ndarray, score_logits: np.ndarray, boxes: np.ndarray,
                     frame_shape: tuple[int, ...], **select_args) -> list[Proposal]:
    """:func:`select_proposals` for raw objectness logits (float K): the sigmoid is applied here."""
    return select_proposals(mask_logits, _sigmoid(np.asarray(score_logits).reshape(-1).astype(np.float64)), boxes,
                            frame_shape, **select_args)


def select_proposals(mask_logits: np.ndarray, scores: np.ndarray, boxes: np.ndarray,
                     frame_shape: tuple[int, ...], *, top_k: int = 10, score_threshold: float = 0.5,
                     nms_iou: float = 0.5, mask_threshold: float = 0.5, candidates: int = 100) -> list[Proposal]:
    """The best proposals of one frame.

    Args:
        mask_logits: float K x M x M; scores: float K objectness probabilities
            in 0..1 (an exported proposals ONNX outputs these; see
            :func:`decode_proposals` for logits).
        boxes: int K x 3 from :func:`window_boxes`.
        frame_shape: (H, W, ...) of the frame.
        top_k: most proposals returned, best first.
        score_threshold: minimum objectness probability.
        nms_iou: a proposal whose mask overlaps a better one by more than this IoU is dropped.
        mask_threshold: probability above which a pixel belongs to the mask.
        candidates: how many top-scoring windows NMS looks at (bounds the cost).
    """
    scores = np.asarray(scores).reshape(-1).astype(np.float64)
    if mask_logits.ndim != 3 or mask_logits.shape[1] != mask_logits.shape[2]:
        raise EdgesegError(f"mask_logits must be K x M x M, got {tuple(mask_logits.shape)}")
    if not (len(mask_logits) == len(scores) == len(boxes)):
        raise EdgesegError(
            f"{len(mask_logits)} masks, {scores.size} scores and {len(boxes)} boxes: one of each per window"
        )
    height, width = frame_shape[:2]
    order = [int(i) for i in np.argsort(-scores, kind="stable")[:candidates] if scores[i] >= score_threshold]
    kept: list[Proposal] = []
    for index in order:
        mask = paste_mask(_sigmoid(mask_logits[index]), tuple(boxes[index]), height, width, mask_threshold)
        if not mask.any() or any(mask_iou(mask, p.mask) > nms_iou for p in kept):
            continue
        top, left, side = (int(v) for v in boxes[index])
        kept.append(Proposal(mask, float(scores[index]), (top, left, side)))
        if len(kept) == top_k:
            break
    return kept


def propose(frame: np.ndarray, run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], window: int,
            stride: int, *, batch_size: int = 32, **decode_args) -> list[Proposal]:
    """Proposals of one uint8 H x W x 3 BGR ``frame``.

    ``run(patches uint8 B x window x window x 3) -> (mask_logits B x M x M, score_logits B)``
    wraps the backend; it is called on batches of at most ``batch_size`` windows.
    """
    boxes = window_boxes(frame.shape[0], frame.shape[1], window, stride)
    patches = cut_windows(frame, boxes)
    masks, scores = [], []
    for start in range(0, len(patches), batch_size):
        m, s = run(patches[start:start + batch_size])
        masks.append(np.asarray(m))
        scores.append(np.asarray(s).reshape(-1))
    return decode_proposals(np.concatenate(masks), np.concatenate(scores), boxes, frame.shape, **decode_args)


def draw_proposals(frame: np.ndarray, proposals: list[Proposal], *, thickness: int = 2) -> np.ndarray:
    """A copy of uint8 H x W x 3 BGR ``frame`` with each proposal's outline and score drawn, best first.

    Colours cycle through a fixed, well-separated list so neighbouring proposals differ.
    """
    colours = [(0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 255, 0)]
    out = np.ascontiguousarray(frame.copy())
    for rank, proposal in enumerate(proposals):
        colour = colours[rank % len(colours)]
        contours, _ = cv2.findContours(proposal.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour, thickness, cv2.LINE_AA)
        ys, xs = np.nonzero(proposal.mask)
        origin = (int(xs.min()), max(12, int(ys.min()) - 4))
        cv2.putText(out, f"{proposal.score:.2f}", origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, f"{proposal.score:.2f}", origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out


__all__ = ["Proposal", "cut_windows", "decode_proposals", "draw_proposals", "mask_iou", "paste_mask", "propose",
           "select_proposals", "window_boxes"]
