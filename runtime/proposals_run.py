"""Object proposals in ``edgeseg run``: the per-frame predictor and the renderer the pipeline uses.

numpy and OpenCV only. :class:`ProposalPredictor` turns one frame (uint8
H x W x 3 BGR at the model's frame size) into ``list[Proposal]`` through any
backend's :meth:`~.backends.base.Backend.run`;
:class:`ProposalRenderer` draws them (outlines and scores) over the frame the
sinks get, at the source's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgeseg.errors import EdgesegError

from .backends.base import Backend
from .overlay import put_text
from .proposals import Proposal, cut_windows, draw_proposals, select_proposals, window_boxes


@dataclass(frozen=True)
class ProposalOptions:
    """How proposals are chosen per frame (``edgeseg run --top-k ...``); see :func:`~.proposals.select_proposals`."""

    top_k: int = 10
    score_threshold: float = 0.5
    nms_iou: float = 0.5
    mask_threshold: float = 0.5

    def validate(self) -> None:
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise EdgesegError(f"--top-k {self.top_k} must be at least 1 (the most proposals drawn per frame)")
        for flag, value in (("--score-threshold", self.score_threshold), ("--nms-iou", self.nms_iou),
                            ("--mask-threshold", self.mask_threshold)):
            if not 0.0 <= value <= 1.0:
                raise EdgesegError(f"{flag} {value} must be within 0..1 (a probability or an IoU)")


class ProposalPredictor:
    """frame uint8 H x W x 3 BGR (H x W = the backend's :attr:`frame_size`) -> ``list[Proposal]``, best first.

    The window grid is computed once; each call cuts the K windows, runs them
    (in chunks of the backend's fixed batch) and keeps the best non-overlapping masks.
    """

    def __init__(self, backend: Backend, options: ProposalOptions | None = None):
        if backend.task != "proposals":
            raise EdgesegError(f"{backend.metadata.architecture} is a {backend.task} model, not a proposals model")
        self.backend = backend
        self.options = options or ProposalOptions()
        self.options.validate()
        window, stride = backend.metadata.window_geometry
        height, width = backend.frame_size
        self.boxes = window_boxes(height, width, window, stride)

    def __call__(self, frame: np.ndarray) -> list[Proposal]:
        outputs = self.backend.run({self.backend.input_name: cut_windows(frame, self.boxes)})
        o = self.options
        return select_proposals(outputs["mask_logits"], outputs["scores"], self.boxes, frame.shape, top_k=o.top_k,
                                score_threshold=o.score_threshold, nms_iou=o.nms_iou, mask_threshold=o.mask_threshold)


def scale_proposals(proposals: list[Proposal], height: int, width: int) -> list[Proposal]:
    """The proposals with masks resized (nearest) to ``height`` x ``width``; boxes stay in model-frame pixels."""
    out = []
    for p in proposals:
        if p.mask.shape != (height, width):
            mask = cv2.resize(p.mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
            if not mask.any():  # a sliver that vanished in a downscale: nothing to outline
                continue
            p = Proposal(mask, p.score, p.box)
        out.append(p)
    return out


class ProposalRenderer:
    """Turns (frame, proposals) into the image the sinks get.

    Args:
        mode: ``blend``: outlines and scores over the frame, with FPS text;
            ``none``: outlines and scores on black (no frame, no text).
        show_fps: draw the FPS figure in ``blend`` mode.
    """

    MODES = ("blend", "none")

    def __init__(self, *, mode: str = "blend", show_fps: bool = True, thickness: int = 2):
        if mode not in self.MODES:
            raise EdgesegError(f"--overlay {mode!r} is not one of {', '.join(self.MODES)}")
        self.mode, self.show_fps, self.thickness = mode, show_fps, thickness

    def render(self, frame: np.ndarray, proposals: list[Proposal], fps: float | None = None) -> np.ndarray:
        """uint8 H x W x 3 BGR ``frame`` (any size) and proposals at the model's frame size -> uint8 H x W x 3 BGR (new array)."""
        height, width = frame.shape[:2]
        base = frame if self.mode == "blend" else np.zeros_like(frame)
        out = draw_proposals(base, scale_proposals(proposals, height, width), thickness=self.thickness)
        if self.mode == "blend" and self.show_fps and fps is not None:
            put_text(out, f"{fps:.1f} FPS", (max(8, width - 110), 24), scale=0.6)
        return out
