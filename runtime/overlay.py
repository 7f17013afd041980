"""Drawing label maps: colourise, blend over the frame, legend, text.

All images are uint8 H x W x 3 BGR (OpenCV's order); palettes come from the
metadata as RGB and are turned into a BGR lookup table once.
"""

from __future__ import annotations

import cv2
import numpy as np


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
    if labels.shape == (height, width):
        return labels
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def draw_legend(image: np.ndarray, labels: np.ndarray, classes: list[str], lut: np.ndarray) -> np.ndarray:
    """Draw, in place, a legend of the classes present in ``labels`` (top-left)."""
    present = np.flatnonzero(np.bincount(labels.reshape(-1), minlength=len(classes))[: len(classes)])
    y = 8
    for label in present:
        colour = tuple(int(c) for c in lut[label])
        cv2.rectangle(image, (8, y), (24, y + 14), colour, thickness=-1)
        cv2.rectangle(image, (8, y), (24, y + 14), (255, 255, 255), thickness=1)
        put_text(image, classes[label], (30, y + 12), scale=0.45)
        y += 18
    return image


def put_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.5) -> None:
    """White text with a dark outline, readable on any background (in place)."""
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def render_overlay(frame: np.ndarray, labels: np.ndarray, lut: np.ndarray, *, alpha: float = 0.5,
                   mode: str = "blend", legend_classes: list[str] | None = None) -> np.ndarray:
    """The frame with its labels drawn.

    Args:
        frame: uint8 H x W x 3 BGR.
        labels: uint8 h x w class indices (resized to H x W here, nearest).
        lut: :func:`palette_lut` of the model's palette.
        alpha: weight of the colours in ``blend`` mode.
        mode: ``blend`` (colours over the frame) or ``none`` (colours only).
        legend_classes: class names to draw a legend of the classes present; None for no legend.
    """
    height, width = frame.shape[:2]
    # Colour at the model size, then resize the colours: nearest-neighbour picks the same source pixel for
    # every channel, so this equals colouring the resized labels, with the lookup on (often 4x) fewer pixels.
    colours = colorize(labels, lut)
    if colours.shape[:2] != (height, width):
        colours = cv2.resize(colours, (width, height), interpolation=cv2.INTER_NEAREST)
    out = colours if mode == "none" else blend(frame, colours, alpha)
    if legend_classes is not None:
        out = np.ascontiguousarray(out)
        draw_legend(out, resize_labels(labels, height, width), legend_classes, lut)
    return out


class OverlayRenderer:
    """Turns (frame, labels) into the image the sinks get, with the model's palette prepared once.

    Args:
        palette_rgb: the metadata's palette (one RGB triple per class).
        classes: class names, for the legend.
        alpha: colour weight in ``blend`` mode, 0..1.
        mode: ``blend`` (colours over the frame, FPS text) or ``none`` (the
            colourised label map alone: no frame, no text, so it stays a clean label image).
        legend: draw the names of the classes present (both modes).
        show_fps: draw the FPS figure in ``blend`` mode.
    """

    MODES = ("blend", "none")

    def __init__(self, palette_rgb: list[list[int]], classes: list[str], *, alpha: float = 0.5, mode: str = "blend",
                 legend: bool = False, show_fps: bool = True):
        from edgeseg.errors import EdgesegError

        if not 0.0 <= alpha <= 1.0:
            raise EdgesegError(f"--alpha {alpha} is outside 0..1 (0: frame only, 1: colours only)")
        if mode not in self.MODES:
            raise EdgesegError(f"--overlay {mode!r} is not one of {', '.join(self.MODES)}")
        self.lut = palette_lut(palette_rgb)
        self.classes = classes
        self.alpha, self.mode, self.legend, self.show_fps = alpha, mode, legend, show_fps

    def render(self, frame: np.ndarray, labels: np.ndarray, fps: float | None = None) -> np.ndarray:
        """uint8 H x W x 3 BGR ``frame`` and uint8 h x w ``labels`` -> uint8 H x W x 3 BGR image (new array)."""
        out = render_overlay(frame, labels, self.lut, alpha=self.alpha, mode=self.mode,
                             legend_classes=self.classes if self.legend else None)
        if self.mode == "blend" and self.show_fps and fps is not None:
            out = np.ascontiguousarray(out)
            put_text(out, f"{fps:.1f} FPS", (max(8, out.shape[1] - 110), 24), scale=0.6)
        return out
