"""Drawing label maps: colourise, blend over the frame, legend, text.

All images are uint8 H x W x 3 BGR (OpenCV's order); palettes come from the
metadata as RGB and are turned into a BGR lookup table once.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .legend import DEFAULT_MIN_SHARE, draw_legend
from .upsample import upsample_labels


def palette_lut(palette_rgb: list[list[int]]) -> np.ndarray:
    """uint8 256 x 3 BGR lookup table; labels past the palette draw black."""
    lut = np.zeros((256, 3), np.uint8)
    for label, (r, g, b) in enumerate(palette_rgb[:256]):
        lut[label] = (b, g, r)
    return lut


def colorize(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """uint8 H x W labels -> uint8 H x W x 3 BGR colours (``lut[labels]``)."""
    # cv2.LUT is about twice as fast as numpy's fancy indexing here, which matters once a frame.
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    return cv2.LUT(cv2.merge((labels, labels, labels)), lut.reshape(256, 1, 3))


def blend(frame: np.ndarray, colours: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * frame + alpha * colours``, uint8 BGR."""
    return cv2.addWeighted(frame, 1.0 - alpha, colours, alpha, 0.0)


def resize_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a uint8 H x W label map (never invents classes)."""
    return upsample_labels(labels, height, width, "point")


def put_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.5) -> None:
    """White text with a dark outline, readable on any background (in place)."""
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


VIEWS = ("overlay", "mask", "side-by-side")
# The old --overlay names: blend is the overlay view, none the mask view.
VIEW_ALIASES = {"blend": "overlay", "none": "mask"}


def render_overlay(frame: np.ndarray, labels: np.ndarray, lut: np.ndarray, *, alpha: float = 0.5,
                   mode: str = "overlay", legend_classes: list[str] | None = None, filter: str = "point",
                   ignore: tuple[int, ...] = (), legend_min_share: float = DEFAULT_MIN_SHARE) -> np.ndarray:
    """The frame with its labels drawn.

    Args:
        frame: uint8 H x W x 3 BGR.
        labels: uint8 h x w class indices, any size (resized to the frame with ``filter``).
        lut: :func:`palette_lut`.
        alpha: colour weight in the overlay view.
        mode: ``overlay`` (``blend``): colours over the frame; ``mask`` (``none``): the colours
            alone; ``side-by-side``: the frame, then the mask, 2W wide.
        legend_classes: class names to draw a legend of the classes present; None for no legend.
        filter: ``point`` or ``linear`` label upsampling (:mod:`.upsample`).
        ignore: class indices not drawn: the frame shows through (overlay) or black (mask).
        legend_min_share: smallest share of the frame a class needs to be in the legend.
    """
    mode = VIEW_ALIASES.get(mode, mode)
    height, width = frame.shape[:2]
    if filter == "point" and not ignore:
        # Colour at the model size, then resize the colours: nearest-neighbour picks the same source pixel for
        # every channel, so this equals colouring the resized labels, with the lookup on (often 4x) fewer pixels.
        colours = colorize(labels, lut)
        if colours.shape[:2] != (height, width):
            colours = cv2.resize(colours, (width, height), interpolation=cv2.INTER_NEAREST)
        hidden = None
        full_labels = None  # resized only if the legend needs them
    else:
        full_labels = upsample_labels(labels, height, width, filter)
        colours = colorize(full_labels, lut)
        hidden = np.isin(full_labels, ignore) if ignore else None
        if hidden is not None:
            colours[hidden] = 0
    if mode == "overlay":
        out = blend(frame, colours, alpha)
        if hidden is not None:
            out[hidden] = frame[hidden]
    else:
        out = colours
    if legend_classes is not None:
        out = np.ascontiguousarray(out)
        if full_labels is None:
            full_labels = upsample_labels(labels, height, width, filter)
        draw_legend(out, full_labels, legend_classes, lut, min_share=legend_min_share, ignore=ignore)
    if mode == "side-by-side":
        out = np.hstack([frame, out])
    return out


class OverlayRenderer:
    """Turns (frame, labels) into the image the sinks get, with the model's palette prepared once.

    Args:
        palette_rgb: the metadata's palette (one RGB triple per class).
        classes: class names, for the legend.
        alpha: colour weight in the overlay view, 0..1.
        mode: the view: ``overlay`` (colours over the frame, FPS text), ``mask`` (the
            colourised label map alone: no frame, no text, so it stays a clean label
            image) or ``side-by-side`` (frame and mask, twice as wide, FPS text on the
            frame); ``blend`` and ``none`` are the old names of the first two.
        legend: draw the names of the classes present (all views).
        show_fps: draw the FPS figure (overlay and side-by-side views).
        filter: ``point`` or ``linear`` label upsampling to the frame (:mod:`.upsample`).
        ignore: class indices or names not drawn (the frame shows through) and not in the legend.
        legend_min_share: smallest share of the frame a class needs to be listed (0..1).
    """

    MODES = (*VIEWS, *VIEW_ALIASES)

    def __init__(self, palette_rgb: list[list[int]], classes: list[str], *, alpha: float = 0.5, mode: str = "overlay",
                 legend: bool = False, show_fps: bool = True, filter: str = "point",
                 ignore: Sequence[int | str] = (), legend_min_share: float = DEFAULT_MIN_SHARE):
        from edgeseg.errors import EdgesegError

        from .upsample import FILTERS

        if not 0.0 <= alpha <= 1.0:
            raise EdgesegError(f"--alpha {alpha} is outside 0..1 (0: frame only, 1: colours only)")
        if mode not in self.MODES:
            raise EdgesegError(f"--view {mode!r} is not one of {', '.join(VIEWS)} (--overlay: blend, none)")
        if filter not in FILTERS:
            raise EdgesegError(f"--filter {filter!r} is not one of {', '.join(FILTERS)}")
        if not 0.0 <= legend_min_share < 1.0:
            raise EdgesegError(f"--legend-min-share {legend_min_share} is outside 0..1")
        self.lut = palette_lut(palette_rgb)
        self.classes = classes
        self.ignore = class_indices(ignore, classes)
        self.alpha, self.mode, self.legend, self.show_fps = alpha, VIEW_ALIASES.get(mode, mode), legend, show_fps
        self.filter, self.legend_min_share = filter, legend_min_share

    def render(self, frame: np.ndarray, labels: np.ndarray, fps: float | None = None) -> np.ndarray:
        """uint8 H x W x 3 BGR ``frame`` and uint8 h x w ``labels`` -> uint8 BGR image (new array;
        H x W x 3, or H x 2W x 3 side by side)."""
        out = render_overlay(frame, labels, self.lut, alpha=self.alpha, mode=self.mode,
                             legend_classes=self.classes if self.legend else None, filter=self.filter,
                             ignore=self.ignore, legend_min_share=self.legend_min_share)
        if self.mode != "mask" and self.show_fps and fps is not None:
            out = np.ascontiguousarray(out)
            put_text(out, f"{fps:.1f} FPS", (max(8, frame.shape[1] - 110), 24), scale=0.6)
        return out


def class_indices(names_or_indices: Sequence[int | str], classes: Sequence[str]) -> tuple[int, ...]:
    """Class names (case-insensitive) or indices -> indices; an unknown one is an error listing the classes."""
    from edgeseg.errors import EdgesegError

    lowered = {name.lower(): i for i, name in enumerate(classes)}
    out = []
    for item in names_or_indices:
        text = str(item).strip()
        if text.isascii() and text.isdigit() and int(text) < len(classes):
            out.append(int(text))
        elif text.lower() in lowered:
            out.append(lowered[text.lower()])
        else:
            raise EdgesegError(f"--ignore-class {text!r}: not a class of this model; its classes: "
                               + ", ".join(f"{i} {name}" for i, name in enumerate(classes)))
    return tuple(sorted(set(out)))
