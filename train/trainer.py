"""The training loop: cross-entropy with class weights, poly LR, resume, logs.

Writes into the run folder:

- ``last.pt``: after every epoch, with optimizer and scheduler state (resume);
- ``best.pt``: the epoch with the best val mIoU so far;
- ``metrics.jsonl``: one JSON line per epoch (loss, val mIoU, per-class IoU,
  lr, seconds);
- ``tb/``: TensorBoard event files (where tensorboard is installed);
- ``config.json``: the resolved config.

Every file is replaced atomically, so a run killed at any point resumes from
its last finished epoch with ``--resume``.
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
from torch.utils.data import DataLoader, Subset

import edgeseg
from edgeseg.atomic import atomic_write_text
from edgeseg.config import config_to_dict
from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec, ModelMetadata
from edgeseg.metrics import confusion_matrix, scores_from_confusion

from .checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data.batches import model_input
from .data.datasets import EvalDataset, TrainDataset, class_weights, dataset_info, load_split
from .data.prefetch import Prefetcher
from .distributed import GlobalBatchSampler, all_reduce_array, all_reduce_sum, barrier, init_from_env, shutdown
from .divergence import TrainingDiverged, diverged_message, first_non_finite
from .models import build_model, get_entry
from .resume import apply_config_to_optimizer, write_run_config
from .speed import apply_threads, compiled, make_optimizer, plan_speed, use_compile_cache
from .step_loss import ForwardLoss

log = logging.getLogger("edgeseg.train")


def lr_factor(step: int, warmup_steps: int, total_steps: int, power: float) -> float:
    """Linear warm-up from 0.1 to 1, then poly decay ``(1 - t)^power`` to 0."""
    if warmup_steps > 0 and step < warmup_steps:
        return 0.1 + 0.9 * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return max(0.0, 1.0 - progress) ** power


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def evaluate_model(model: nn.Module, dataset, num_classes: int, ignore_index: int, device: torch.device, batch_size: int = 4) -> np.ndarray:
    """Confusion matrix (num_classes x num_classes) of ``model`` over ``dataset``."""
    model.eval()
    cm = np.zeros((num_classes, num_classes), np.int64)
    for x, y in DataLoader(dataset, batch_size=batch_size):
        predicted = model(x.to(device)).argmax(1).cpu().numpy()
        cm += confusion_matrix(y.numpy(), predicted, num_classes, ignore_index)
    return cm


def _metadata(cfg: TrainConfig, info, extra: dict[str, Any]) -> ModelMetadata:
    entry = get_entry(cfg.model.name)
    data = cfg.data
    multiple = entry.input_multiple
    if data.height % multiple or data.width % multiple:
        raise EdgesegError(
            f"data.height x data.width = {data.height}x{data.width} must be multiples of {multiple} for {entry.name}"
        )
    channels = _input_channels(cfg)
    return ModelMetadata(
        architecture=cfg.model.name,
        arch_args=dict(cfg.model.args),
        classes=list(info.classes),
        palette=[list(c) for c in info.palette],
        ignore_index=info.ignore_index,
        input=InputSpec(height=data.height, width=data.width, mean=list(data.mean), std=list(data.std), multiple=multiple,
                        channels=channels, depth_scale=data.depth_scale if channels == 4 else None),
        tool_versions={"edgeseg": edgeseg.__version__, "torch": str(torch.__version__)},
        training=extra,
    )


def _input_channels(cfg: TrainConfig) -> int:
    """3, or 4 for ``rgbd`` data; raises if the architecture takes another count."""
    entry = get_entry(cfg.model.name)
    channels = 4 if cfg.data.kind == "rgbd" else 3
    if entry.in_channels != channels:
        raise EdgesegError(
            f"{entry.name} takes {entry.in_channels}-channel input but data.kind {cfg.data.kind!r} gives {channels}; "
            + ("use an RGB-D data set (data.kind = \"rgbd\")" if entry.in_channels == 4 else "use an RGB data set")
        )
    if len(cfg.data.mean) != channels or len(cfg.data.std) != channels:
        raise EdgesegError(f"data.mean and data.std need {channels} entries for data.kind {cfg.data.kind!r} "
                           "(R, G, B" + (", depth)" if channels == 4 else ")"))
    return channels


def _read_metrics(path: Path, upto_epoch: int) -> list[str]:
    """Lines of ``metrics.jsonl`` for epochs 1..upto_epoch (later ones were not checkpointed)."""
    if not path.exists():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and json.loads(line)["epoch"] <= upto_epoch:
            lines.append(line)
    return lines


def train(cfg: TrainConfig, out_dir: str | Path, *, resume: bool = False, progress: bool = True,
          stop_after: int | None = None, qat_from: str | Path | None = None,
          qat_calib: str | Path | None = None, config_changes: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """Train ``cfg`` into ``out_dir``; returns the last epoch's metrics.

    With ``resume``, continues from ``out_dir/last.pt``: same epoch count,
    optimizer and scheduler state; data order, augmentation and dropout are
    seeded per epoch, so the result equals an uninterrupted run.
    ``stop_after`` ends this call after that many epochs (the run stays
    resumable), for training in slices of a longer schedule.
    ``qat_from`` fine-tunes that checkpoint with fake INT8 quantization
    (:mod:`edgeseg.train.qat`), calibrated on ``qat_calib``.
    ``config_changes`` (``{key: [old, new]}``, from :mod:`.resume`) are the
    changes accepted with ``--resume --allow-changes``; they are recorded in
    config.json and the first metrics line of this call.
    A NaN or infinite loss (or weights) raises :class:`.divergence.TrainingDiverged`
    before anything of that epoch is saved.

    Under torchrun (WORLD_SIZE > 1) this runs data-parallel: ``batch_size``
    is the global batch, metrics are reduced over ranks, and only rank 0
    writes files (see :mod:`edgeseg.train.distributed`).
    """
    try:
        task = get_entry(cfg.model.name).task
    except KeyError as exc:
        raise EdgesegError(f"model.name: {exc.args[0]}") from None
    if task == "proposals":  # DeepMask-style models: windows, mask + score loss; their own loop
        if qat_from is not None:
            raise EdgesegError("--qat-from supports semantic segmentation models only, not proposal models")
        from .proposals_trainer import train_proposals

        return train_proposals(cfg, out_dir, resume=resume, progress=progress, stop_after=stop_after,
                               config_changes=config_changes)
    _input_channels(cfg)
    out = Path(out_dir)
    last_path = out / "last.pt"
    if resume and not last_path.exists():
        raise EdgesegError(f"--resume: {last_path} does not exist; start without --resume")
    if not resume and last_path.exists():
        raise EdgesegError(f"{out} already holds a run ({last_path}); pass --resume to continue it, or choose another --out")

    device = pick_device(cfg.device)
    ctx = init_from_env(device.type)
    if ctx.distributed and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    speed = plan_speed(cfg, device)
    apply_threads(speed)
    for reason in speed.reasons:
        log.info("speed: %s", reason)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if resume:
            # A process killed mid-write leaves its temporary file (never a final name); sweep them.
            for stale in out.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
    else:
        log.setLevel(logging.WARNING)
        progress = False
    torch.manual_seed(cfg.seed)

    info = dataset_info(cfg.data)
    num_classes = len(info.classes)
    log.info("loading %s from %s", cfg.data.kind, cfg.data.root)
    train_split = load_split(cfg.data, cfg.data.train_split, info, cfg.max_train_images, cfg.data.train_prefixes)
    val_split = load_split(cfg.data, cfg.data.val_split, info, cfg.max_val_images, cfg.data.val_prefixes)
    weights = class_weights(train_split.masks, num_classes, cfg.class_weighting) if cfg.class_weighting != "none" else None
    train_set = TrainDataset(train_split, cfg.augment, cfg.data, info.ignore_index, cfg.seed)
    val_set = EvalDataset(val_split, cfg.data)
    sampler = GlobalBatchSampler(len(train_set), cfg.batch_size, ctx, cfg.seed)

    try:
        model = build_model(cfg.model.name, num_classes, **cfg.model.args).to(device)
        if speed.channels_last:
            model = model.to(memory_format=torch.channels_last)
    except KeyError as exc:
        raise EdgesegError(f"model.name: {exc.args[0]}") from None
    except TypeError as exc:
        raise EdgesegError(f"model.args: {exc}") from None
    qat_record = None
    if qat_from is not None:
        from .qat import start_qat

        qat_record = start_qat(model, qat_from, calib_dir=qat_calib, resume_from=last_path if resume else None)
    if cfg.sync_bn and ctx.distributed:
        if device.type != "cuda":
            raise EdgesegError("sync_bn needs CUDA (PyTorch's SyncBatchNorm has no CPU kernel); set sync_bn = false on CPU")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    net: nn.Module = model
    if ctx.distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = make_optimizer(model.parameters(), cfg, speed)
    steps_per_epoch = len(sampler)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, warmup_steps, total_steps, cfg.poly_power)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=speed.grad_scaler)
    loss_weight = torch.from_numpy(weights).to(device) if weights is not None else None
    eager_step = ForwardLoss(net, loss_weight, info.ignore_index, getattr(model, "aux_loss_weight", 0.4),
                             device.type, speed.torch_dtype())
    step_net: nn.Module = eager_step
    if speed.compile:
        use_compile_cache(cfg.compile_cache_dir)
        # Forward and loss in one graph; under DDP the model alone, so DDP's own graph split still applies.
        step_net = (ForwardLoss(compiled(net), loss_weight, info.ignore_index, eager_step.aux_weight, device.type,
                                speed.torch_dtype()) if ctx.distributed else compiled(eager_step))

    start_epoch, best_miou, global_step = 0, -1.0, 0
    if resume:
        state = load_checkpoint(last_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        apply_config_to_optimizer(optimizer, scheduler, cfg)  # an lr accepted by --allow-changes takes effect
        start_epoch, best_miou, global_step = state["epoch"], state["best_miou"], state["global_step"]
        log.info("resuming %s at epoch %d of %d", out, start_epoch + 1, cfg.epochs)
    metrics_path = out / "metrics.jsonl"
    metric_lines = _read_metrics(metrics_path, start_epoch) if ctx.is_main else []
    if ctx.is_main and not config_changes:  # a changed config is recorded once its first epoch is saved
        write_run_config(out, cfg, resume=resume, at_epoch=start_epoch, changes=None)
    writer = _tensorboard_writer(out / "tb") if ctx.is_main else None
    val_shard = Subset(val_set, range(ctx.rank, len(val_set), ctx.world_size))

    record: dict[str, Any] = {}
    end_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, start_epoch + stop_after)
    last_finite: float | None = None
    for epoch in range(start_epoch, end_epoch):
        started = time.perf_counter()
        # Dropout draws from torch's global RNG: seed it per epoch and rank so a
        # resumed run, with any number of processes, draws what it would have.
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + ctx.rank)
        net.train()
        if cfg.freeze_bn:
            for module in model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        train_set.set_epoch(epoch)
        sampler.set_epoch(epoch)
        # The loader's own generator: nothing it does draws from the global RNG that dropout uses.
        loader = DataLoader(train_set, batch_sampler=sampler, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed + epoch))
        batches = _progress(Prefetcher(loader, speed.prefetch_batches), progress, f"epoch {epoch + 1}/{cfg.epochs}")
        total_loss, seen, local_seen, step = 0.0, 0, 0, 0
        for step, (images, y) in enumerate(batches, 1):
            x = model_input(images.to(device, non_blocking=True), cfg.data.mean, cfg.data.std, speed.channels_last)
            y = y.to(device, non_blocking=True).long()
            (local_sum, local_norm), step_net = _forward(step_net, eager_step, x, y)
            # Normalise by the weight of the whole global batch, so the gradient equals
            # a single process's on that batch (DDP averages over ranks, hence * world).
            global_sum, global_norm = all_reduce_sum([float(local_sum.detach()), float(local_norm)], ctx)
            if not math.isfinite(global_sum):  # every rank sees the same sum: all stop, before the step
                raise TrainingDiverged(diverged_message(
                    what=f"the loss is {global_sum}", epoch=epoch + 1, step=step, global_step=global_step + 1,
                    last_finite=last_finite, lr=cfg.lr, out=out, completed=epoch))
            loss = local_sum / max(global_norm, 1e-12) * ctx.world_size
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            global_step += 1
            batch_loss = last_finite = global_sum / max(global_norm, 1e-12)
            total_loss += batch_loss * len(x) * ctx.world_size
            seen += len(x) * ctx.world_size
            local_seen += len(x)
            if hasattr(batches, "set_postfix"):
                batches.set_postfix(loss=f"{batch_loss:.3f}")
        train_loss = total_loss / max(1, seen)
        bad = first_non_finite(model.state_dict())
        if bad is not None:  # a finite loss but an overflowing step: never save (or score) such weights
            raise TrainingDiverged(diverged_message(
                what=f"{bad[1]} value(s) of {bad[0]} are NaN or infinite after the last step", epoch=epoch + 1,
                step=step, global_step=global_step, last_finite=last_finite, lr=cfg.lr,
                out=out, completed=epoch))
        # Each rank reports the samples it trained on in its own slot: proof that all took part.
        rank_samples = [0.0] * ctx.world_size
        rank_samples[ctx.rank] = float(local_seen)
        rank_samples = all_reduce_sum(rank_samples, ctx)

        record = {"epoch": epoch + 1, "loss": train_loss, "lr": optimizer.param_groups[0]["lr"],
                  "world_size": ctx.world_size, "samples_per_rank": [int(v) for v in rank_samples],
                  "speed": {**speed.record(), "compile": step_net is not eager_step}}
        if config_changes and epoch == start_epoch:  # resumed with --allow-changes: the change, where it began
            record["config_changes"] = config_changes
        if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs:
            cm = all_reduce_array(evaluate_model(model, val_shard, num_classes, info.ignore_index, device), ctx)
            scores = scores_from_confusion(cm)
            record.update(
                val_miou=scores.miou,
                val_pixel_accuracy=scores.pixel_accuracy,
                per_class_iou={name: iou for name, iou in zip(info.classes, scores.per_class_iou)},
            )
        record["seconds"] = time.perf_counter() - started
        improved = record.get("val_miou", -1.0) > best_miou
        if improved:
            best_miou = record["val_miou"]
        if ctx.is_main:
            _save_epoch(out, cfg, info, model, optimizer, scheduler, record, best_miou, global_step,
                        len(train_set), improved, metric_lines, writer, qat_record)
            if config_changes and epoch == start_epoch:
                write_run_config(out, cfg, resume=resume, at_epoch=start_epoch, changes=config_changes)
        barrier(ctx)
        log.info("epoch %d: loss %.4f val mIoU %s (%.0f s)", epoch + 1, train_loss,
                 f"{record['val_miou']:.4f}" if "val_miou" in record else "-", record["seconds"])
    if writer is not None:
        writer.close()
    shutdown(ctx)
    return record


def _is_compile_failure(exc: Exception) -> bool:
    """True for errors raised by torch.compile itself (tracing or code generation), not by the model."""
    try:
        from torch._dynamo.exc import TorchDynamoException
    except ImportError:  # a torch without dynamo cannot have compiled anything
        return False
    return isinstance(exc, TorchDynamoException)  # Inductor's and the backends' errors derive from it


def _forward(step_net: nn.Module, eager_net: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """``step_net(x, y)``, falling back to ``eager_net`` for good when torch.compile cannot handle the model.

    Returns ((loss sum, normaliser), the module to use from now on). An error
    of the model itself raises again from the eager call.
    """
    if step_net is eager_net:
        return eager_net(x, y), eager_net
    try:
        return step_net(x, y), step_net
    except Exception as exc:
        if not _is_compile_failure(exc):
            raise
        log.warning("torch.compile cannot compile this model (%s); training eagerly (set compile = false to skip "
                    "the attempt)", str(exc).splitlines()[0][:200])
        return eager_net(x, y), eager_net


def _save_epoch(out: Path, cfg: TrainConfig, info, model: nn.Module, optimizer, scheduler, record: dict[str, Any],
                best_miou: float, global_step: int, train_images: int, improved: bool, metric_lines: list[str],
                writer, qat_record: dict | None = None) -> None:
    """Write best.pt (if improved), last.pt, then metrics.jsonl and TensorBoard (rank 0 only)."""
    meta = _metadata(cfg, info, {"epoch": record["epoch"], "val_miou": record.get("val_miou"), "best_val_miou": best_miou,
                                 "val_split": cfg.data.val_split, "train_images": train_images})
    checkpoint = {
        "format": CHECKPOINT_FORMAT, "metadata": meta.to_dict(), "model": model.state_dict(),
        "epoch": record["epoch"], "best_miou": best_miou, "global_step": global_step, "config": config_to_dict(cfg),
    }
    if qat_record is not None:  # marks a QAT model: 'edgeseg export' writes its Q/DQ INT8 ONNX
        checkpoint["qat"] = qat_record
    if improved:
        save_checkpoint(out / "best.pt", checkpoint)
    save_checkpoint(out / "last.pt", {**checkpoint, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
    # metrics.jsonl is rewritten whole after last.pt, so its lines never run ahead of the checkpoint.
    metric_lines.append(json.dumps(record))
    atomic_write_text(out / "metrics.jsonl", "\n".join(metric_lines) + "\n")
    if writer is not None:
        _log_tensorboard(writer, record, record["epoch"])


def _progress(loader, enabled: bool, desc: str):
    if not enabled:
        return loader
    try:
        from tqdm import tqdm
    except ImportError:
        return loader
    return tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)


def _tensorboard_writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed; no TensorBoard logs (pip install tensorboard)")
        return None
    return SummaryWriter(str(folder))


def _log_tensorboard(writer, record: dict[str, Any], epoch: int) -> None:
    for key in ("loss", "lr", "val_miou", "val_pixel_accuracy"):
        if key in record:
            writer.add_scalar(key, record[key], epoch)
    for name, iou in record.get("per_class_iou", {}).items():
        if not math.isnan(iou):
            writer.add_scalar(f"iou/{name}", iou, epoch)
    writer.flush()
