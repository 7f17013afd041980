"""The class legend drawn over a frame: the classes in view, scaled to the frame, on a backing panel.

Only classes covering at least ``min_share`` of the frame are listed (a
single stray pixel does not earn a row), largest first. Rows scale with the
frame height (about 1/24 of it, 14 to 48 px), and the panel never takes more
than :data:`MAX_HEIGHT_SHARE` of the frame's height: classes that do not fit
are summed up in a last "+N more" row. The panel is a dark translucent box,
so white text reads on sky and road alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MAX_HEIGHT_SHARE = 0.4
DEFAULT_MIN_SHARE = 0.01
PANEL_ALPHA = 0.6  # how dark the panel makes what is under it
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def classes_in_view(labels: np.ndarray, num_classes: int, min_share: float = DEFAULT_MIN_SHARE,
                    ignore: Sequence[int] = ()) -> list[tuple[int, float]]:
    """``[(class, share of pixels)]`` of the classes covering >= ``min_share``, largest first."""
    counts = np.bincount(labels.reshape(-1), minlength=num_classes)[:num_classes]
    shares = counts / max(labels.size, 1)
    keep = [(int(c), float(shares[c])) for c in np.flatnonzero(shares >= max(min_share, 1e-12)) if c not in ignore]
    return sorted(keep, key=lambda item: -item[1])


def row_height(frame_height: int) -> int:
    """Legend row height in pixels for a frame ``frame_height`` tall."""
    return int(np.clip(round(frame_height / 24), 14, 48))


def legend_rows(entries: list[tuple[int, float]], classes: Sequence[str], frame_height: int) -> list[tuple[int | None, str]]:
    """The rows that fit: ``(class or None, text)``; the last one may be ``(None, "+N more")``."""
    row = row_height(frame_height)
    fits = max(1, int((MAX_HEIGHT_SHARE * frame_height - row // 2) // row))
    names = [(c, classes[c] if c < len(classes) else f"class{c}") for c, _ in entries]
    if len(names) <= fits:
        return list(names)
    shown = names[: fits - 1]
    return [*shown, (None, f"+{len(names) - len(shown)} more")]


def draw_legend(image: np.ndarray, labels: np.ndarray, classes: Sequence[str], lut: np.ndarray, *,
                min_share: float = DEFAULT_MIN_SHARE, ignore: Sequence[int] = ()) -> tuple[int, int, int, int] | None:
    """Draw the legend in place at the top left of ``image`` (uint8 H x W x 3 BGR).

    Args:
        labels: uint8 label map at ``image``'s size (what was drawn).
        classes: class names; lut: uint8 256 x 3 BGR colours.
        min_share: smallest share of the frame's pixels a class needs to be listed.
        ignore: class indices never listed.

    Returns:
        The panel's box ``(x0, y0, x1, y1)``, or None when no class qualifies.
    """
    rows = legend_rows(classes_in_view(labels, len(classes), min_share, ignore), classes, image.shape[0])
    if not rows:
        return None
    row = row_height(image.shape[0])
    scale = row * 0.6 / 22.0  # Hershey simplex capitals are about 22 px tall at scale 1
    thickness = max(1, round(row / 24))
    pad, swatch = row // 4, int(row * 0.7)
    text_width = max(cv2.getTextSize(text, _FONT, scale, thickness)[0][0] for _, text in rows)
    x0, y0 = pad, pad
    x1 = min(image.shape[1] - 1, x0 + pad + swatch + pad + text_width + pad)
    y1 = min(image.shape[0] - 1, y0 + len(rows) * row + pad)
    panel = image[y0:y1, x0:x1]
    panel[:] = (panel.astype(np.float32) * (1.0 - PANEL_ALPHA)).astype(np.uint8)
    for i, (label, text) in enumerate(rows):
        top = y0 + pad + i * row
        text_x = x0 + pad
        if label is not None:
            colour = tuple(int(c) for c in lut[label])
            cv2.rectangle(image, (text_x, top), (text_x + swatch, top + swatch), colour, thickness=-1)
            cv2.rectangle(image, (text_x, top), (text_x + swatch, top + swatch), (255, 255, 255), thickness=1)
        baseline = top + (swatch + int(22 * scale)) // 2
        cv2.putText(image, text, (text_x + swatch + pad, baseline), _FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return x0, y0, x1, y1


__all__ = ["DEFAULT_MIN_SHARE", "MAX_HEIGHT_SHARE", "classes_in_view", "draw_legend", "legend_rows", "row_height"]
