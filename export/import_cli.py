"""``edgeseg import``: its arguments and handler (the work is in :mod:`.import_model`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from edgeseg.errors import EdgesegError

from .simplify import DEFAULT_SIMPLIFIER, SIMPLIFIERS

if TYPE_CHECKING:
    from .import_model import OpCheck


def add_simplifier_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--simplifier", choices=SIMPLIFIERS, default=DEFAULT_SIMPLIFIER,
                   help=f"graph simplifier (default {DEFAULT_SIMPLIFIER}, chosen by measurement: docs/own_model.md); "
                        "if it is not installed the other one is used")


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX file, TorchScript file (torch.jit.save) or ExportedProgram (.pt2, torch.export.save)")
    p.add_argument("-o", dest="out", required=True, metavar="OUT.onnx", help="edgeseg ONNX to write")
    p.add_argument("--classes", required=True, metavar="FILE",
                   help="class names in label order, one per line ('name' or 'name R G B')")
    p.add_argument("--palette", metavar="FILE", help="colours, one 'R G B' (or R,G,B) per class line (default: from "
                                                     "--classes, else a generated palette)")
    p.add_argument("--input-size", metavar="HxW", help="deployed input size (default: the model's own fixed size)")
    p.add_argument("--mean", metavar="R,G,B", help="the model's input mean, 0..255 units, R,G,B order")
    p.add_argument("--std", metavar="R,G,B", help="the model's input std, 0..255 units, R,G,B order")
    p.add_argument("--scale", type=float, metavar="S", help="instead of --mean/--std: input = pixel * S "
                                                            "(0.00392156862745098 for [0, 1])")
    p.add_argument("--channel-order", choices=["rgb", "bgr"], default="rgb", help="channel order the model expects (default rgb)")
    p.add_argument("--layout", choices=["nchw", "nhwc"], default="nchw",
                   help="layout of the model's input and logits (default nchw)")
    p.add_argument("--output", metavar="NAME", help="the logits output when the model has several (default: the only "
                                                    "one, or 'logits'); PyTorch tuples are output0, output1, ...")
    p.add_argument("--batch", type=int, default=1, help="fixed batch size (default 1)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset for TorchScript/.pt2 sources (default 17)")
    add_simplifier_argument(p)
    p.add_argument("--target", metavar="NAME", help="check operators against this build target's TensorRT releases "
                                                    "(fail if none parses the graph); default: warn per release")
    p.add_argument("--logits", action="store_true", help="also output float32 'logits' N x C x H x W (at the input size)")
    p.add_argument("--parity-images", metavar="DIR", help="frames for the parity check (default: samples/camvid/val)")
    p.add_argument("--parity-count", type=int, default=8, help="how many parity frames (default 8)")


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
