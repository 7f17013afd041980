"""Object proposals (DeepMask, SharpMask) in the runtime: the per-frame predictor and the renderer.

numpy and OpenCV only. :class:`ProposalPredictor` turns one frame (uint8
H x W x 3 BGR at the model's frame size) into ``list[Proposal]`` through any
backend's :meth:`~edgeseg.runtime.backends.base.Backend.run`;
:class:`ProposalRenderer` draws them (outlines and scores) over the frame the
sinks get, at the source's resolution. Decoding and drawing are in :mod:`..proposals`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.tasks.proposals import ProposalsTask, cut_windows

from ..backends.base import Backend
from ..overlay import put_text
from ..proposals import Proposal, draw_proposals, select_proposals
from .base import Predictor, Renderer, RuntimeTask


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
        task = backend.model_task
        if not isinstance(task, ProposalsTask):
            raise EdgesegError(f"{backend.metadata.architecture} is a {backend.task} model, not a proposals model")
        self.backend = backend
        self.options = options or ProposalOptions()
        self.options.validate()
        self.boxes = task.boxes(backend.metadata)

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


class ProposalsRuntime(RuntimeTask):
    name = "proposals"
    models = "proposal models (DeepMask, SharpMask)"
    flags = {"top_k": "--top-k", "score_threshold": "--score-threshold", "nms_iou": "--nms-iou",
             "mask_threshold": "--mask-threshold"}

    def predictor(self, backend: Backend, args: argparse.Namespace | None = None) -> Predictor:
        given = {dest: getattr(args, dest, None) for dest in self.flags}
        return ProposalPredictor(backend, ProposalOptions(**{k: v for k, v in given.items() if v is not None}))

    def renderer(self, backend: Backend, args: argparse.Namespace, view: str) -> Renderer:
        if args.legend:
            raise EdgesegError("--legend lists classes of a semantic model; a proposals model has none (drop --legend)")
        semantic_only = [flag for flag, used in (("--ignore-class", args.ignore_class),
                                                  ("--filter linear", args.filter != "point"),
                                                  ("--view side-by-side", view == "side-by-side")) if used]
        if semantic_only:
            raise EdgesegError(f"{', '.join(semantic_only)}: for semantic models; {args.artifact} is a proposals model "
                               "(views: overlay, mask)")
        return ProposalRenderer(mode="blend" if view == "overlay" else "none")

    def describe(self, backend: Backend, predictor: Any) -> str:
        return f"proposals, {len(predictor.boxes)} windows a frame"
