"""Handlers of ``edgeseg train`` and ``edgeseg models``."""

from __future__ import annotations

import argparse

from edgeseg.config import load_config

from .config import TrainConfig
from .normalisation_check import warn_if_default_normalisation


def run_train(args: argparse.Namespace) -> int:
    from .trainer import train

    cfg = load_config(args.config, TrainConfig, args.overrides)
    if not args.resume:
        warn_if_default_normalisation(cfg.data)
    record = train(cfg, args.out, resume=args.resume, progress=not (args.no_progress or getattr(args, "quiet", False)), stop_after=args.stop_after,
                   qat_from=getattr(args, "qat_from", None), qat_calib=getattr(args, "qat_calib", None))
    if "val_miou" in record:
        print(f"epoch {record['epoch']}: val mIoU {100 * record['val_miou']:.2f} %")
    if "val_mask_iou" in record:  # proposal models (DeepMask, SharpMask)
        print(f"epoch {record['epoch']}: val mask IoU {100 * record['val_mask_iou']:.2f} %, "
              f"score accuracy {100 * record['val_score_accuracy']:.2f} %")
    print(f"wrote {args.out}/best.pt, last.pt, metrics.jsonl")
    return 0


def run_models(args: argparse.Namespace) -> int:
    from .models import get_entry, model_names
    from .zoo import REFERENCE_HEIGHT, REFERENCE_WIDTH, model_cost

    print(f"# name  params  GFLOPs at {REFERENCE_WIDTH}x{REFERENCE_HEIGHT} (WxH, rounded up to the model's multiple; "
          "1 multiply-add = 2 FLOPs; convs and matmuls)  paper")
    for name in model_names():
        entry = get_entry(name)
        cost = model_cost(name)
        size = "" if (cost.height, cost.width) == (REFERENCE_HEIGHT, REFERENCE_WIDTH) else f" at {cost.width}x{cost.height}"
        print(f"{name:<22} {cost.params / 1e6:7.2f} M {cost.gflops:8.2f} GFLOPs{size:<11}  {entry.paper}")
    return 0
