"""INT8 after quantization-aware training vs post-training INT8 vs FP32, mIoU through onnxruntime.

    python benchmarks/qat_vs_ptq.py [--checkpoint models/camvid_enet.pt] [--data ../shared/data/camvid]
        [--epochs 1] [--crop 192x256] [--lr 1e-4] [--max-train-images 0] [--eval-limit 0] [--out out/qat_vs_ptq]

Steps, all on the CPU:

1. ``edgeseg export`` of the checkpoint (FP32 ONNX, parity-checked);
2. ``edgeseg quantize --precision int8 --method entropy`` (the export stage's
   default PTQ method; the three methods land within 0.05 mIoU of each other)
   calibrated on ``calib_data/camvid``;
3. ``edgeseg train configs/camvid_enet.toml --qat-from CHECKPOINT`` for
   ``--epochs`` epochs on the train split (crops of ``--crop``), ranges
   initialised on the same calibration images, then ``edgeseg export`` of its
   last.pt (Q/DQ INT8 ONNX);
4. mIoU of the three ONNX files on the split (``--eval-limit`` first images).

Writes ``table.md`` and ``results.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "camvid"
FALLBACK_DATA = ROOT / "samples" / "camvid"


def _run(argv: list[str]) -> None:
    from edgeseg.cli import main

    print("+ edgeseg " + " ".join(argv), flush=True)
    if main(argv) != 0:
        sys.exit(f"edgeseg {argv[0]} failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "models" / "camvid_enet.pt"))
    parser.add_argument("--data", default=None, help="CamVid root (default ../shared/data/camvid, else samples/camvid)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--crop", default="192x256", help="training crop HxW")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-train-images", type=int, default=0, help="0: all")
    parser.add_argument("--eval-limit", type=int, default=0, help="score the first N images (0: all)")
    parser.add_argument("--freeze-bn", action="store_true", help="keep BatchNorm statistics fixed while fine-tuning")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "out" / "qat_vs_ptq"))
    args = parser.parse_args()

    from edgeseg.runtime.backends.ort import OrtBackend
    from edgeseg.runtime.eval import evaluate

    data = Path(args.data) if args.data else (DEFAULT_DATA if DEFAULT_DATA.is_dir() else FALLBACK_DATA)
    train_split = "train" if (data / "train").is_dir() else "val"
    crop_h, crop_w = (int(v) for v in args.crop.lower().split("x"))
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    calib = ROOT / "calib_data" / "camvid"
    fp32, ptq, qat = out / "enet.onnx", out / "enet.int8.onnx", out / "enet.qat.int8.onnx"

    started = time.perf_counter()
    _run(["export", args.checkpoint, "-o", str(fp32)])
    _run(["quantize", str(fp32), "--precision", "int8", "--calib", str(calib), "--method", "entropy", "-o", str(ptq)])
    overrides = {"data.root": f'"{data}"', "data.train_split": f'"{train_split}"', "epochs": args.epochs,
                 "lr": args.lr, "warmup_epochs": 0, "batch_size": args.batch_size, "threads": args.threads,
                 "augment.crop_height": crop_h, "augment.crop_width": crop_w, "max_train_images": args.max_train_images,
                 "max_val_images": 8, "val_every": args.epochs,
                 "freeze_bn": "true" if args.freeze_bn else "false"}
    train_argv = ["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(out / "qat_run"), "--no-progress",
                  "--qat-from", args.checkpoint, "--qat-calib", str(calib)]
    for key, value in overrides.items():
        train_argv += ["--set", f"{key}={value}"]
    train_started = time.perf_counter()
    _run(train_argv)
    train_seconds = time.perf_counter() - train_started
    _run(["export", str(out / "qat_run" / "last.pt"), "-o", str(qat)])

    rows = []
    for name, path in (("FP32", fp32), ("PTQ INT8 (entropy)", ptq), (f"QAT INT8 ({args.epochs} epoch(s))", qat)):
        with OrtBackend(path) as backend:
            result = evaluate(backend, data, args.split, limit=args.eval_limit)
            scores = result.to_dict(backend.metadata.classes)
        rows.append({"variant": name, "onnx": str(path), "miou": scores["miou"], "images": result.images})
        print(f"{name}: mIoU {100 * scores['miou']:.2f} on {result.images} images", flush=True)
    fp32_miou = rows[0]["miou"]
    lines = [f"mIoU on {data.name} {args.split} ({rows[0]['images']} images), onnxruntime CPU. QAT: {args.epochs} "
             f"epoch(s), crop {crop_h}x{crop_w}, lr {args.lr:g}, batch {args.batch_size}, "
             f"{args.max_train_images or 'all'} {train_split} images, BatchNorm {'frozen' if args.freeze_bn else 'training'}, "
             f"{train_seconds / 60:.1f} min of training.", "",
             "| variant | mIoU | vs FP32 (points) |", "|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['variant']} | {100 * row['miou']:.2f} | {100 * (row['miou'] - fp32_miou):+.2f} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps({
        "rows": rows, "epochs": args.epochs, "crop": [crop_h, crop_w], "lr": args.lr, "batch_size": args.batch_size,
        "max_train_images": args.max_train_images, "freeze_bn": args.freeze_bn, "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started, "data": str(data), "split": args.split}, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
