"""Class names and colours of the data sets edgeseg knows.

Palettes are RGB triples (what people write in papers); the overlay converts
to OpenCV's BGR where it draws.
"""

from __future__ import annotations

CAMVID_CLASSES: tuple[str, ...] = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree",
    "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)
"""The 11 CamVid classes of the SegNet tutorial, in label order; label 11 is void."""

CAMVID_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
    (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)
"""RGB colours of the SegNet tutorial's ``test_segmentation_camvid.py``."""

CAMVID_IGNORE_INDEX = 11


def default_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """A deterministic, well-spread RGB palette for ``num_classes`` classes.

    Uses the bit-interleaving scheme of the Pascal VOC palette, so class 0 is
    black and neighbouring labels get distinct colours.
    """
    palette = []
    for label in range(num_classes):
        r = g = b = 0
        c = label
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.append((r, g, b))
    return palette
