"""``edgeseg import``: its handler (arguments: :mod:`edgeseg.import_args`; the work: :mod:`.import_model`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from edgeseg.errors import EdgesegError

if TYPE_CHECKING:
    from .import_model import OpCheck


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.lower().replace("*", "x").split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise EdgesegError(f"--input-size must be HxW, e.g. 512x1024, got {text!r}") from None
    if height <= 0 or width <= 0:
        raise EdgesegError(f"--input-size must be positive, got {text!r}")
    return height, width


def parse_triple(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise EdgesegError(f"--{what} must be three numbers R,G,B, got {text!r}") from None
    if len(values) != 3:
        raise EdgesegError(f"--{what} must be three numbers R,G,B, got {text!r}")
    return values


def read_palette_file(path: str) -> list[list[int]]:
    """One colour per non-empty line: ``R G B`` or ``R,G,B``; ``#`` comments."""
    file = Path(path)
    if not file.is_file():
        raise EdgesegError(f"palette file {file} does not exist; write one 'R G B' per class")
    colours = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].replace(",", " ").strip()
        if not line:
            continue
        try:
            colour = [int(v) for v in line.split()]
        except ValueError:
            colour = []
        if len(colour) != 3 or not all(0 <= v <= 255 for v in colour):
            raise EdgesegError(f"{file}:{number}: expected three integers 0..255 ('R G B'), got {line!r}")
        colours.append(colour)
    return colours


def run_import(args: argparse.Namespace, op_check: OpCheck | None = None) -> int:
    from edgeseg.datasets import read_classes_file

    from .import_model import import_model

    info = read_classes_file(Path(args.classes))
    palette = read_palette_file(args.palette) if args.palette else info.palette
    result = import_model(
        args.model, args.out, classes=info.classes, palette=palette, input_size=parse_size(args.input_size),
        mean=parse_triple(args.mean, "mean"), std=parse_triple(args.std, "std"), scale=args.scale,
        channel_order=args.channel_order, layout=args.layout, logits_output=args.output, batch=args.batch,
        opset=args.opset, simplifier=args.simplifier, with_logits=args.logits, parity_images=args.parity_images,
        parity_count=args.parity_count, op_check=op_check,
    )
    spec = result.metadata.input
    outputs = "labels, logits" if args.logits else "labels"
    print(f"wrote {result.path}: image uint8 {args.batch}x{spec.height}x{spec.width}x3 BGR -> {outputs}; "
          f"{len(result.metadata.classes)} classes")
    if result.parity is not None:
        print(f"parity with the model itself: {result.parity.describe()}")
        print(f"simplified with {result.simplifier}: {result.nodes_before} -> {result.nodes_after} nodes")
    if result.trt_issues:
        print(f"TensorRT releases that cannot parse it (see the warnings above): {', '.join(result.trt_issues)}")
    print(f"next: edgeseg quantize {result.path} --precision int8 --calib calib_data/camvid   or   "
          f"edgeseg build {result.path} --target TARGET")
    return 0
