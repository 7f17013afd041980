"""Arguments of ``edgeseg import`` and the ``--simplifier`` option of ``export`` and ``import``.

Here, in the core package, because the parser is built for every command:
``edgeseg run`` on a Jetson must not import ``edgeseg.export`` to parse its
own arguments.
"""

from __future__ import annotations

import argparse

SIMPLIFIERS = ("onnxslim", "onnxsim", "none")
# Chosen by measurement over the zoo and imported models: docs/own_model.md, scripts/measure_simplifiers.py.
DEFAULT_SIMPLIFIER = "onnxslim"


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
