"""Render a SYNTHETIC labelled RGB-D data set (the layout ``data.kind = "rgbd"`` reads).

    python scripts/make_synthetic_rgbd.py ROOT --train 300 --val 60 --size 96x128 --seed 0
    python scripts/make_synthetic_rgbd.py ROOT_RGB --train 300 --val 60 --size 96x128 --seed 0 --zero-depth

Scenes, classes and the depth model are described in
:mod:`edgeseg.train.data.synthetic_rgbd` and docs/synthetic_rgbd.md. The output
is a pure function of the arguments. ``--zero-depth`` writes the same scenes
with every depth reading 0 (the RGB-only ablation). ROOT must be new or empty.
"""

from __future__ import annotations

import argparse
import re
import sys

from edgeseg.errors import EdgesegError


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r} is not HEIGHTxWIDTH, e.g. 96x128")
    return int(match[1]), int(match[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="output folder (new or empty)")
    parser.add_argument("--train", type=int, default=300, help="train scenes (default 300)")
    parser.add_argument("--val", type=int, default=60, help="val scenes (default 60)")
    parser.add_argument("--size", type=parse_size, default=(96, 128), help="HEIGHTxWIDTH, multiples of 8 (96x128)")
    parser.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    parser.add_argument("--zero-depth", action="store_true", help="same scenes, every depth reading 0 (no depth)")
    args = parser.parse_args(argv)
    if args.train < 0 or args.val < 0:
        parser.error("--train and --val must be >= 0")
    from edgeseg.train.data.synthetic_rgbd import write_dataset

    try:
        manifest = write_dataset(args.root, {"train": args.train, "val": args.val}, *args.size, args.seed,
                                 zero_depth=args.zero_depth)
    except EdgesegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.root}: {args.train} train + {args.val} val synthetic RGB-D scenes at "
          f"{manifest['height']}x{manifest['width']}, seed {args.seed}{', depth zeroed' if args.zero_depth else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
