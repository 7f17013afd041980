"""Overlay views, --ignore-class, --filter linear and the scaled legend with its panel."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.palettes import CAMVID_CLASSES, CAMVID_PALETTE
from edgeseg.runtime.legend import MAX_HEIGHT_SHARE, classes_in_view, draw_legend, row_height
from edgeseg.runtime.overlay import OverlayRenderer, palette_lut
from edgeseg.runtime.upsample import upsample_labels

PALETTE = [list(c) for c in CAMVID_PALETTE]
CLASSES = list(CAMVID_CLASSES)


def scene(height: int, width: int, scale: float) -> np.ndarray:
    """A disc (class 3) and a diagonal band edge (class 1) on class 0, sampled at pixel centres."""
    yy, xx = np.mgrid[0:height, 0:width]
    x, y = (xx + 0.5) / scale - 0.5, (yy + 0.5) / scale - 0.5
    return (((x - 24) ** 2 + (y - 18) ** 2 < 12**2) * 3 + (x + y / 2 > 50)).astype(np.uint8)


def test_linear_filter_follows_edges_better_than_point_and_invents_no_class():
    small, truth = scene(36, 48, 1), scene(360, 480, 10)
    point = upsample_labels(small, 360, 480, "point")
    linear = upsample_labels(small, 360, 480, "linear")
    wrong_point, wrong_linear = int((point != truth).sum()), int((linear != truth).sum())
    print(f"pixels off the true scene: point {wrong_point}, linear {wrong_linear}")
    assert wrong_linear < 0.9 * wrong_point  # measured 2558 vs 3024
    assert set(np.unique(linear)) <= set(np.unique(small))
    # away from boundaries both agree with the source labels
    assert (linear == point).mean() > 0.97
    assert np.array_equal(upsample_labels(small, 18, 24, "linear"), upsample_labels(small, 18, 24, "point"))  # shrinking


def test_views_and_ignore_class():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    labels = np.zeros((40, 60), np.uint8)
    labels[:, 30:] = 3  # left Sky (0), right Road (3)
    lut = palette_lut(PALETTE)
    overlay = OverlayRenderer(PALETTE, CLASSES, alpha=1.0, show_fps=False, ignore=["sky"]).render(frame, labels)
    assert np.array_equal(overlay[:, :30], frame[:, :30])  # ignored: the frame shows through
    assert (overlay[:, 30:] == lut[3]).all()
    mask = OverlayRenderer(PALETTE, CLASSES, mode="mask", ignore=[0]).render(frame, labels, fps=9.0)
    assert not mask[:, :30].any() and (mask[:, 30:] == lut[3]).all()  # ignored is black, no FPS text
    side = OverlayRenderer(PALETTE, CLASSES, mode="side-by-side", show_fps=False).render(frame, labels)
    assert side.shape == (40, 120, 3)
    assert np.array_equal(side[:, :60], frame) and np.array_equal(side[:, 60:], lut[labels])


def test_legend_lists_classes_above_the_share_largest_first_and_skips_ignored():
    labels = np.zeros((360, 480), np.uint8)
    labels[:, 300:] = 3  # Road, 37.5 %
    labels[:10, :10] = 5  # Tree, 100 pixels: 0.06 %
    labels[0, 0] = 8  # one pixel of Car
    assert classes_in_view(labels, 11) == [(0, pytest.approx(0.625 - 100 / 172800)), (3, 0.375)]
    assert [c for c, _ in classes_in_view(labels, 11, min_share=0.0005)] == [0, 3, 5]
    assert classes_in_view(labels, 11, ignore=(0,)) == [(3, 0.375)]


@pytest.mark.parametrize("height, width", [(360, 480), (1080, 1920)])
def test_legend_panel_scales_with_the_frame_and_stays_small(height, width):
    # every CamVid class in view, in equal stripes: the worst case for the legend's height
    labels = (np.arange(width)[None, :].repeat(height, 0) * 11 // width).astype(np.uint8)
    image = np.full((height, width, 3), 200, np.uint8)
    box = draw_legend(image, labels, CLASSES, palette_lut(PALETTE))
    x0, y0, x1, y1 = box
    print(f"{width}x{height}: legend {x1 - x0}x{y1 - y0} px, rows of {row_height(height)} px")
    assert (y1 - y0) <= MAX_HEIGHT_SHARE * height  # the issue saw 60 % of a 480x360 frame
    assert row_height(height) == max(14, round(height / 24))
    panel = image[y0:y1, x0:x1]
    # backing panel: darkened where no text or swatch is drawn (the background was 200)
    assert np.median(panel) <= 200 * 0.45
    assert (image[y1 + 2:, :] == 200).all() and (image[:, x1 + 2:] == 200).all()  # nothing outside the panel


def test_legend_with_more_classes_than_rows_says_how_many_more():
    labels = (np.arange(480)[None, :].repeat(120, 0) * 11 // 480).astype(np.uint8)
    from edgeseg.runtime.legend import legend_rows

    rows = legend_rows(classes_in_view(labels, 11), CLASSES, 120)  # 14 px rows in 40 % of 120 px (and a margin): 2 rows
    assert rows == [(0, "Sky"), (None, "+10 more")]


def test_run_cli_views_filter_and_ignore(small_onnx, sample_video, tmp_path, capsys):
    import cv2

    from edgeseg.cli import main

    common = ["run", str(small_onnx[0]), "--source", str(sample_video), "--max-frames", "2"]
    assert main([*common, "--sink", f"{tmp_path}/side/", "--view", "side-by-side", "--filter", "linear",
                 "--ignore-class", "class3", "--legend"]) == 0
    assert cv2.imread(str(tmp_path / "side" / "000000.png")).shape == (360, 960, 3)
    assert main([*common, "--sink", f"{tmp_path}/old/", "--overlay", "none"]) == 0
    assert main([*common, "--sink", f"{tmp_path}/new/", "--view", "mask"]) == 0
    assert "--overlay none is deprecated; use --view mask" in capsys.readouterr().err
    assert np.array_equal(cv2.imread(str(tmp_path / "old" / "000001.png")), cv2.imread(str(tmp_path / "new" / "000001.png")))
    assert main([*common, "--sink", "null", "--overlay", "none", "--view", "mask"]) == 2
    assert "--overlay is the old name of --view: give only --view mask" in capsys.readouterr().err
    assert main([*common, "--sink", "null", "--ignore-class", "Unicorn"]) == 2
    assert "--ignore-class 'Unicorn': not a class of this model; its classes: 0 class0" in capsys.readouterr().err
