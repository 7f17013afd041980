"""The training loop of the proposal models (registry task ``proposals``: DeepMask, SharpMask).

:func:`edgeseg.train.trainer.train` hands over to :func:`train_proposals` when
the configured architecture's task is ``proposals``; the run folder has the
same files as a segmentation run (``last.pt``, ``best.pt``, ``metrics.jsonl``,
``config.json``) and resumes the same way.

Instances come from ``data.kind``:

- ``camvid`` / ``folder``: connected components of the car, pedestrian,
  bicyclist, sign and pole classes of the semantic masks
  (:func:`~edgeseg.train.data.instances.instances_from_semantic`);
- ``coco``: ``ROOT/images/SPLIT/`` with ``ROOT/annotations/SPLIT.json``
  (COCO instance format, polygons or RLE).

Loss (DeepMask paper, eq. 1): per window, the mean logistic (BCE) loss of the
mask over its pixels, counted for positive windows only, plus 1/32 of the
logistic loss of the objectness score. Validation windows are the canonical
(unjittered) positives and negatives of the val split; the metrics are the mean
mask IoU over positives (threshold 0.5) and the score accuracy (threshold 0).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

import edgeseg
from edgeseg.atomic import atomic_write_text
from edgeseg.config import config_to_dict
from edgeseg.datasets import read_image
from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec, ModelMetadata

from .checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data.datasets import dataset_info, load_split
from .data.instances import Instance, instances_from_semantic, read_coco_instances
from .data.proposal_patches import ProposalPatches
from .divergence import TrainingDiverged, diverged_message
from .models import build_model, get_entry
from .resume import apply_config_to_optimizer, write_run_config

log = logging.getLogger("edgeseg.train")

SCORE_WEIGHT = 1 / 32
"""lambda of the DeepMask loss: the weight of the objectness term."""


def proposal_loss(mask_logits: torch.Tensor, score_logits: torch.Tensor, mask_target: torch.Tensor,
                  labels: torch.Tensor, score_weight: float = SCORE_WEIGHT) -> torch.Tensor:
    """DeepMask loss. mask_* N x M x M, score_logits and labels N (1 positive, 0 negative).

    Mask targets smaller or larger than the logits are resized (nearest) to them.
    """
    if mask_target.shape[1:] != mask_logits.shape[1:]:
        mask_target = F.interpolate(mask_target[:, None], size=mask_logits.shape[1:], mode="nearest")[:, 0]
    per_window = F.binary_cross_entropy_with_logits(mask_logits, mask_target, reduction="none").mean(dim=(1, 2))
    positives = labels.sum()
    mask_loss = (per_window * labels).sum() / positives.clamp(min=1.0)
    return mask_loss + score_weight * F.binary_cross_entropy_with_logits(score_logits, labels)


def load_instances(cfg: TrainConfig, split: str, limit: int) -> tuple[list[np.ndarray], list[Instance]]:
    """Decoded images (uint8 BGR) of ``split`` and their instances."""
    data = cfg.data
    if data.kind == "coco":
        root = Path(data.root)
        paths, instances = read_coco_instances(root / "annotations" / f"{split}.json", root / data.images_dir / split)
        if limit > 0:
            paths = paths[:limit]
            instances = [i for i in instances if i.image_index < limit]
        images = [read_image(p) for p in paths]
    elif data.kind in ("camvid", "folder"):
        info = dataset_info(data)
        loaded = load_split(data, split, info, limit)
        images, instances = loaded.images, []
        for index, mask in enumerate(loaded.masks):
            instances += instances_from_semantic(mask, list(info.classes), image_index=index)
    else:
        raise EdgesegError(f"data.kind {data.kind!r} has no instances; proposal models take camvid, folder or coco")
    if not instances:
        raise EdgesegError(f"split {split!r} of {data.root} holds no object instances to train proposals on")
    return images, instances


@torch.no_grad()
def evaluate_proposals(model: nn.Module, dataset: ProposalPatches, device: torch.device) -> dict[str, float]:
    """Mean mask IoU over positive windows (mask > 0.5) and score accuracy over all windows."""
    model.eval()
    ious, correct, total = [], 0, 0
    for x, target, labels in DataLoader(dataset, batch_size=16):
        mask_logits, score_logits = model(x.to(device))
        if target.shape[1:] != mask_logits.shape[1:]:
            target = F.interpolate(target[:, None], size=mask_logits.shape[1:], mode="nearest")[:, 0]
        predicted = (mask_logits.cpu() > 0).numpy()
        truth = target.numpy() > 0.5
        for p, t, label in zip(predicted, truth, labels.numpy()):
            if label > 0.5:
                union = np.logical_or(p, t).sum()
                ious.append(np.logical_and(p, t).sum() / union if union else 1.0)
        correct += int(((score_logits.cpu() > 0).float() == labels).sum())
        total += len(labels)
    return {"val_mask_iou": float(np.mean(ious)) if ious else 0.0, "val_score_accuracy": correct / max(1, total)}


def _metadata(cfg: TrainConfig, model: nn.Module, extra: dict[str, Any]) -> ModelMetadata:
    entry = get_entry(cfg.model.name)
    args = dict(cfg.model.args)
    # The runtime cuts windows from frames by this geometry: record it even where the config left defaults.
    args.update(window=model.window, stride=model.grid_stride)
    if "mask_size" in _factory_params(entry.factory):
        args["mask_size"] = model.mask_size
    return ModelMetadata(
        architecture=cfg.model.name, arch_args=args, classes=["object"], palette=[[255, 255, 0]],
        input=InputSpec(height=model.window, width=model.window, mean=list(cfg.data.mean), std=list(cfg.data.std),
                        multiple=entry.input_multiple),
        tool_versions={"edgeseg": edgeseg.__version__, "torch": str(torch.__version__)},
        training={**extra, "task": "proposals", "mask_size": model.mask_size},
    )


def _factory_params(factory) -> set[str]:
    import inspect

    return set(inspect.signature(factory).parameters)


def train_proposals(cfg: TrainConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True,
                    stop_after: int | None = None, config_changes: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """Train a proposal model; same contract as :func:`edgeseg.train.trainer.train`."""
    from .trainer import _progress, lr_factor, pick_device

    out = Path(out_dir)
    last_path = out / "last.pt"
    if resume and not last_path.exists():
        raise EdgesegError(f"--resume: {last_path} does not exist; start without --resume")
    if not resume and last_path.exists():
        raise EdgesegError(f"{out} already holds a run ({last_path}); pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)

    model = build_model(cfg.model.name, 1, **cfg.model.args).to(device)
    train_images, train_instances = load_instances(cfg, cfg.data.train_split, cfg.max_train_images)
    val_images, val_instances = load_instances(cfg, cfg.data.val_split, cfg.max_val_images)
    log.info("%d training and %d validation instances", len(train_instances), len(val_instances))
    train_set = ProposalPatches(train_images, train_instances, model.window, model.mask_size, cfg.data.mean,
                                cfg.data.std, seed=cfg.seed, hflip=cfg.augment.hflip)
    val_set = ProposalPatches(val_images, val_instances, model.window, model.mask_size, cfg.data.mean,
                              cfg.data.std, seed=cfg.seed + 1, jitter=False)

    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        optimizer: torch.optim.Optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    total_steps, warmup_steps = steps_per_epoch * cfg.epochs, round(cfg.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, warmup_steps, total_steps, cfg.poly_power)
    )
    start_epoch, best, global_step = 0, -1.0, 0
    if resume:
        state = load_checkpoint(last_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        apply_config_to_optimizer(optimizer, scheduler, cfg)  # an lr accepted by --allow-changes takes effect
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best, global_step = state["epoch"], state["best_miou"], state["global_step"]
    metrics_path = out / "metrics.jsonl"
    lines = [line for line in (metrics_path.read_text(encoding="utf-8").splitlines() if metrics_path.exists() else [])
             if line.strip() and json.loads(line)["epoch"] <= start_epoch]
    if not config_changes:  # a changed config is recorded once its first epoch is saved
        write_run_config(out, cfg, resume=resume, at_epoch=start_epoch, changes=None)
    last_finite: float | None = None

    record: dict[str, Any] = {}
    end_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, start_epoch + stop_after)
    for epoch in range(start_epoch, end_epoch):
        started = time.perf_counter()
        model.train()
        train_set.set_epoch(epoch)
        loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch))
        total, seen = 0.0, 0
        for step, (x, target, labels) in enumerate(_progress(loader, progress, f"epoch {epoch + 1}/{cfg.epochs}"), 1):
            mask_logits, score_logits = model(x.to(device))
            loss = proposal_loss(mask_logits, score_logits, target.to(device), labels.to(device))
            if not math.isfinite(float(loss.detach())):
                raise TrainingDiverged(diverged_message(
                    what=f"the loss is {float(loss.detach())}", epoch=epoch + 1, step=step, global_step=global_step + 1,
                    last_finite=last_finite, lr=cfg.lr, out=out, completed=epoch))
            last_finite = float(loss.detach())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            global_step += 1
            total += float(loss.detach()) * len(x)
            seen += len(x)
        record = {"epoch": epoch + 1, "loss": total / max(1, seen), "lr": optimizer.param_groups[0]["lr"]}
        if config_changes and epoch == start_epoch:
            record["config_changes"] = config_changes
        if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs:
            record.update(evaluate_proposals(model, val_set, device))
        record["seconds"] = time.perf_counter() - started
        improved = record.get("val_mask_iou", -1.0) > best
        if improved:
            best = record["val_mask_iou"]
        meta = _metadata(cfg, model, {"epoch": epoch + 1, "val_mask_iou": record.get("val_mask_iou"),
                                      "val_score_accuracy": record.get("val_score_accuracy"),
                                      "train_instances": len(train_instances)})
        # "best_miou" holds the best val mask IoU, so the checkpoint keys match segmentation runs.
        checkpoint = {"format": CHECKPOINT_FORMAT, "metadata": meta.to_dict(), "model": model.state_dict(),
                      "epoch": epoch + 1, "best_miou": best, "global_step": global_step, "config": config_to_dict(cfg)}
        if improved:
            save_checkpoint(out / "best.pt", checkpoint)
        save_checkpoint(last_path, {**checkpoint, "optimizer": optimizer.state_dict(),
                                    "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state()})
        lines.append(json.dumps(record))
        atomic_write_text(metrics_path, "\n".join(lines) + "\n")
        if config_changes and epoch == start_epoch:
            write_run_config(out, cfg, resume=resume, at_epoch=start_epoch, changes=config_changes)
        log.info("epoch %d: loss %.4f val mask IoU %s (%.0f s)", epoch + 1, record["loss"],
                 f"{record['val_mask_iou']:.4f}" if "val_mask_iou" in record else "-", record["seconds"])
    return record
