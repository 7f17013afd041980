"""Overlay rendering: colours, blending, label-map mode, legend, option checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.palettes import CAMVID_CLASSES, CAMVID_PALETTE
from edgeseg.runtime.overlay import OverlayRenderer, colorize, palette_lut

PALETTE = [list(c) for c in CAMVID_PALETTE]


def test_colorize_is_the_palette_in_bgr():
    labels = np.random.default_rng(0).integers(0, 12, (37, 53), dtype=np.uint8)  # 11 (void) is past the palette
    lut = palette_lut(PALETTE)
    colours = colorize(labels[:, ::2], lut)  # non-contiguous input too
    assert np.array_equal(colours, lut[labels[:, ::2]])
    assert tuple(colours[labels[:, ::2] == 3][0]) == (128, 64, 128)[::-1]  # Road, RGB -> BGR
    assert not colours[labels[:, ::2] == 11].any()  # unknown labels draw black


def test_render_blend_and_label_map_modes():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    labels = rng.integers(0, 11, (30, 40), dtype=np.uint8)  # half size: resized back with nearest
    big = cv2.resize(labels, (80, 60), interpolation=cv2.INTER_NEAREST)
    lut = palette_lut(PALETTE)
    blended = OverlayRenderer(PALETTE, list(CAMVID_CLASSES), alpha=0.25, show_fps=False).render(frame, labels)
    assert np.array_equal(blended, cv2.addWeighted(frame, 0.75, lut[big], 0.25, 0.0))
    raw = OverlayRenderer(PALETTE, list(CAMVID_CLASSES), mode="none").render(frame, labels, fps=30.0)
    assert np.array_equal(raw, lut[big])  # no frame, no FPS text


def test_legend_and_fps_text_draw_on_the_image():
    frame = np.zeros((120, 200, 3), np.uint8)
    labels = np.full((120, 200), 3, np.uint8)
    plain = OverlayRenderer(PALETTE, list(CAMVID_CLASSES), alpha=1.0, show_fps=False).render(frame, labels)
    legend = OverlayRenderer(PALETTE, list(CAMVID_CLASSES), alpha=1.0, legend=True, show_fps=False).render(frame, labels)
    with_fps = OverlayRenderer(PALETTE, list(CAMVID_CLASSES), alpha=1.0).render(frame, labels, fps=12.3)
    changed = np.argwhere((legend != plain).any(axis=2))
    assert changed[:, 0].max() < 30 and changed[:, 1].max() < 100  # one legend row, top-left: one class present
    assert (with_fps != plain).any() and (with_fps[:, :80] == plain[:, :80]).all()  # FPS text at the top right


@pytest.mark.parametrize("kwargs, message", [({"alpha": -0.1}, "outside 0..1"), ({"mode": "grey"}, "is not one of overlay, mask, side-by-side"),
    ({"filter": "cubic"}, "--filter .cubic. is not one of linear, point"),
    ({"ignore": ["Sky", "Unicorn"]}, "--ignore-class .Unicorn.: not a class of this model; its classes: 0 Sky, 1 Building")])
def test_bad_options(kwargs, message):
    with pytest.raises(EdgesegError, match=message):
        OverlayRenderer(PALETTE, list(CAMVID_CLASSES), **kwargs)


@pytest.mark.parametrize("frame_size", [(720, 960), (113, 157), (17, 23)])
def test_colours_resized_equal_colours_of_resized_labels(frame_size):
    """The overlay colours at the model size and resizes the colours: the same image as colouring resized labels."""
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 12, (45, 61), dtype=np.uint8)
    frame = rng.integers(0, 256, (*frame_size, 3), dtype=np.uint8)
    lut = palette_lut(PALETTE)
    big = cv2.resize(labels, frame_size[::-1], interpolation=cv2.INTER_NEAREST)
    raw = OverlayRenderer(PALETTE, list(CAMVID_CLASSES), mode="none").render(frame, labels)
    assert np.array_equal(raw, lut[big])
