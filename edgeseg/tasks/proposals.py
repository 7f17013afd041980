"""Object proposals (DeepMask, SharpMask), core part: windows cut from a frame in, masks and scores out.

The deployed model takes ``windows`` uint8 K x S x S x 3 BGR, square windows
cut from a frame on a grid (:func:`window_boxes`, :func:`cut_windows`), and
returns ``mask_logits`` float32 K x M x M and ``scores`` float32 K (objectness
probabilities). The metadata's ``input.height``/``width`` is the frame size
the runtime resizes frames to; ``arch_args["window"]`` (S) and
``arch_args["stride"]`` (grid step) say how windows are cut from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from edgeseg.errors import EdgesegError

from .base import Dims, Task, TensorSpec

if TYPE_CHECKING:
    from edgeseg.metadata import ModelMetadata


def window_boxes(height: int, width: int, window: int, stride: int) -> np.ndarray:
    """int64 K x 3 ``(x, y, side)`` of windows on a ``stride`` grid covering a ``height`` x ``width`` frame.

    Windows start at 0 and step by ``stride``; a last window is added flush with
    the right/bottom edge so the whole frame is covered. Frames smaller than a
    window get one window at 0 (padded black by :func:`cut_windows`).
    """
    if window <= 0 or stride <= 0:
        raise EdgesegError(f"window ({window}) and stride ({stride}) must be positive")

    def starts(size: int) -> list[int]:
        values = list(range(0, max(1, size - window + 1), stride))
        if size > window and values[-1] != size - window:
            values.append(size - window)
        return values

    ys, xs = starts(height), starts(width)
    return np.array([(x, y, window) for y in ys for x in xs], np.int64)


def cut_windows(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """uint8 K x S x S x C patches of ``frame`` (H x W x C) at ``boxes``; black where a box leaves the frame."""
    side = int(boxes[0, 2])
    h, w = frame.shape[:2]
    out = np.zeros((len(boxes), side, side, *frame.shape[2:]), frame.dtype)
    for i, (x, y, _) in enumerate(boxes):
        x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + side), min(h, y + side)
        if x1 > x0 and y1 > y0:
            out[i, y0 - y:y1 - y, x0 - x:x1 - x] = frame[y0:y1, x0:x1]
    return out


class ProposalsTask(Task):
    """Class-agnostic object masks with objectness scores, one per window."""

    name = "proposals"
    input_name = "windows"
    output_names = ("mask_logits", "scores")

    def check_metadata(self, meta: ModelMetadata, fail: Callable[[str], None]) -> None:
        for name in ("window", "stride"):
            value = meta.arch_args.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                fail(f"a proposals model needs arch_args.{name} as a positive integer (pixels), got {value!r}")

    def input_spec(self, meta: ModelMetadata) -> TensorSpec:
        window, _ = meta.window_geometry
        return TensorSpec(self.input_name, "uint8", (window, window, 3))

    def output_specs(self, meta: ModelMetadata) -> tuple[TensorSpec, ...]:
        # float16: an FP16 variant's outputs, widened on the host so the contract holds
        return (TensorSpec("mask_logits", "float32", (None, None), also=("float16",)),
                TensorSpec("scores", "float32", (), also=("float16",)))

    def describe_input(self, meta: ModelMetadata) -> tuple[str, str]:
        return "BGR windows", "cut windows with edgeseg.runtime.proposals.cut_windows"

    def boxes(self, meta: ModelMetadata) -> np.ndarray:
        """The window grid of one frame at the metadata's frame size (:func:`window_boxes`)."""
        window, stride = meta.window_geometry
        return window_boxes(meta.input.height, meta.input.width, window, stride)

    def check_io(self, source: str, meta: ModelMetadata, inputs: Mapping[str, tuple[str, Dims]],
                 outputs: Mapping[str, tuple[str, Dims]]) -> None:
        window, _ = meta.window_geometry
        windows = inputs.get(self.input_name)
        if windows is None or windows[0] != "uint8" or len(windows[1]) != 4 or list(windows[1][1:]) != [window, window, 3]:
            found = f"{windows[0]} {list(windows[1])}" if windows is not None else f"inputs {list(inputs)}"
            raise EdgesegError(f"{source}: a proposals model takes 'windows' uint8 K x {window} x {window} x 3 "
                               f"(the metadata's window), found {found}; re-export it with 'edgeseg export'")
        masks, scores = outputs.get("mask_logits"), outputs.get("scores")
        floats = ("float32", "float16")
        if masks is None or scores is None or len(masks[1]) != 3 or len(scores[1]) != 1 \
                or masks[0] not in floats or scores[0] not in floats \
                or (masks[1][1] is not None and masks[1][1] != masks[1][2]):
            raise EdgesegError(f"{source}: a proposals model returns 'mask_logits' float K x M x M and 'scores' "
                               f"float K; it has {[(name, t, list(d)) for name, (t, d) in outputs.items()]}; "
                               "re-export it with 'edgeseg export'")
