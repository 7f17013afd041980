"""Handlers of ``edgeseg train`` and ``edgeseg models``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from edgeseg.config import load_config
from edgeseg.errors import EdgesegError
from edgeseg.ranges import check_frame_fits

from .config import TrainConfig
from .normalisation_check import warn_if_default_normalisation

log = logging.getLogger("edgeseg.train")
RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "config.json")


def check_run_folder(args: argparse.Namespace, cfg: TrainConfig) -> None:
    """``--out`` and the files it will hold are none of the inputs (config, data set, QAT checkpoint)."""
    from edgeseg.command_checks import command_paths
    from edgeseg.paths import Named, check_outputs

    inputs, outputs = command_paths("train", args)
    inputs.append(Named("data.root", cfg.data.root, folder=True))
    out = Path(args.out)
    # An existing run file may be a link to an input (a config.json symlinked from elsewhere).
    files = [Named(f"--out's {name}", str(out / name)) for name in RUN_FILES] if out.is_dir() else []
    check_outputs(inputs, outputs + files)


def _resume_plan(args: argparse.Namespace, cfg: TrainConfig):
    from .checkpoint import load_checkpoint
    from .resume import plan_resume

    last = Path(args.out) / "last.pt"
    if not last.exists():
        raise EdgesegError(f"--resume: {last} does not exist; start without --resume")
    completed = int(load_checkpoint(last).get("epoch", 0))
    return plan_resume(args.out, cfg, allow_changes=getattr(args, "allow_changes", False), completed_epoch=completed)


def run_train(args: argparse.Namespace) -> int:
    from .trainer import train

    cfg = load_config(args.config, TrainConfig, args.overrides)
    check_run_folder(args, cfg)
    channels = 4 if cfg.data.kind == "rgbd" else 3
    check_frame_fits(cfg.augment.crop_height, cfg.augment.crop_width, channels, cfg.batch_size,
                     "batch_size x augment.crop_height x augment.crop_width")  # before any data is read
    changes = None
    if args.resume:
        plan = _resume_plan(args, cfg)
        if plan.finished_epoch is not None:
            from .resume import finished_message

            print(finished_message(args.out, plan))
            return 0
        cfg, changes = plan.config, plan.changes or None
        for key, (old, new) in {**plan.speed_changes, **plan.changes}.items():
            log.info("resume: %s %s -> %s", key, old, new)
    elif getattr(args, "allow_changes", False):
        raise EdgesegError("--allow-changes is for --resume (a new run takes any config)")
    else:
        warn_if_default_normalisation(cfg.data)
    record = train(cfg, args.out, resume=args.resume, progress=not (args.no_progress or getattr(args, "quiet", False)),
                   stop_after=args.stop_after,
                   qat_from=getattr(args, "qat_from", None), qat_calib=getattr(args, "qat_calib", None),
                   **({"config_changes": changes} if changes else {}))
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
