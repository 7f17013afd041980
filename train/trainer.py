"""The training loop of every task: poly LR, resume, data-parallel ranks, logs.

What differs between tasks (data, loss, validation metrics, checkpoint
metadata) is the architecture's task's (:mod:`edgeseg.train.tasks`): semantic
segmentation trains class-weighted cross-entropy and scores val mIoU, proposal
models (DeepMask, SharpMask) the DeepMask loss and val mask IoU.

Writes into the run folder:

- ``last.pt``: after every epoch, with optimizer and scheduler state (resume);
- ``best.pt``: the epoch with the best validation metric so far (the task's);
- ``metrics.jsonl``: one JSON line per epoch (loss, the task's validation
  metrics, lr, seconds);
- ``tb/``: TensorBoard event files (where tensorboard is installed);
- ``config.json``: the resolved config.

Every file is replaced atomically, so a run killed at any point resumes from
its last finished epoch with ``--resume``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import traceback
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from edgeseg.atomic import atomic_write_text
from edgeseg.config import config_to_dict
from edgeseg.errors import EdgesegError
from edgeseg.metadata import ModelMetadata

from .checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data.prefetch import Prefetcher
from .distributed import GlobalBatchSampler, all_reduce_sum, barrier, init_from_env, shutdown
from .divergence import TrainingDiverged, diverged_message, first_non_finite
from .models import build_model
from .resume import apply_config_to_optimizer, write_run_config
from .speed import apply_threads, compiled, make_optimizer, use_compile_cache
from .step_loss import ForwardLoss
from .tasks import train_task

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
        task = train_task(cfg.model.name)
    except KeyError as exc:
        raise EdgesegError(f"model.name: {exc.args[0]}") from None
    task.check_config(cfg, qat=qat_from is not None)
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
    speed = task.speed(cfg, device)
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

    try:
        model = build_model(cfg.model.name, task.num_outputs(cfg), **cfg.model.args).to(device)
        if speed.channels_last:
            # Module.to takes memory_format (documented, and what it does here); torch's overload stubs omit it.
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    except KeyError as exc:
        raise EdgesegError(f"model.name: {exc.args[0]}") from None
    except TypeError as exc:
        raise EdgesegError(f"model.args: {exc}") from None
    log.info("loading %s from %s", cfg.data.kind, cfg.data.root)
    run = task.start(cfg, model, ctx, device)
    train_set = run.train_set
    sampler = GlobalBatchSampler(len(train_set), cfg.batch_size, ctx, cfg.seed)
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
    eager_step = ForwardLoss(net, lambda outputs, targets: run.loss_sum(outputs, targets, model), device.type,
                             speed.torch_dtype())
    step_net: nn.Module = eager_step
    if speed.compile:
        use_compile_cache(cfg.compile_cache_dir)
        # Forward and loss in one graph; under DDP the model alone, so DDP's own graph split still applies.
        step_net = (ForwardLoss(compiled(net), eager_step.loss, device.type, speed.torch_dtype())
                    if ctx.distributed else compiled(eager_step))
    optimizer = make_optimizer(task.parameters(model), cfg, speed)
    steps_per_epoch = len(sampler)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, warmup_steps, total_steps, cfg.poly_power)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=speed.grad_scaler)

    start_epoch, best, global_step = 0, -1.0, 0
    if resume:
        state = load_checkpoint(last_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        apply_config_to_optimizer(optimizer, scheduler, cfg)  # an lr accepted by --allow-changes takes effect
        # "best_miou": the best value of the task's validation metric (mIoU, mask IoU), whatever the task
        start_epoch, best, global_step = state["epoch"], state["best_miou"], state["global_step"]
        log.info("resuming %s at epoch %d of %d", out, start_epoch + 1, cfg.epochs)
    metrics_path = out / "metrics.jsonl"
    metric_lines = _read_metrics(metrics_path, start_epoch) if ctx.is_main else []
    if ctx.is_main and not config_changes:  # a changed config is recorded once its first epoch is saved
        write_run_config(out, cfg, resume=resume, at_epoch=start_epoch, changes=None)
    writer = _tensorboard_writer(out / "tb") if ctx.is_main else None

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
        # cast: every task's train set is a torch Dataset (TrainDataset, ProposalPatches); the Protocol says what else it has.
        loader: DataLoader[Any] = DataLoader(cast("Dataset[Any]", train_set), batch_sampler=sampler, num_workers=cfg.num_workers,
                            generator=torch.Generator().manual_seed(cfg.seed + epoch))
        batches = _progress(Prefetcher(loader, speed.prefetch_batches), progress, f"epoch {epoch + 1}/{cfg.epochs}")
        total_loss, seen, local_seen, step = 0.0, 0, 0, 0
        for step, batch in enumerate(batches, 1):
            x, targets = run.inputs(batch, device, speed.channels_last)
            while True:  # twice at most: a compiled backward that fails is redone eagerly
                (local_sum, local_norm), step_net = _forward(step_net, eager_step, x, targets)
                # Normalise by the weight of the whole global batch, so the gradient equals
                # a single process's on that batch (DDP averages over ranks, hence * world).
                global_sum, global_norm = all_reduce_sum([float(local_sum.detach()), float(local_norm)], ctx)
                if not math.isfinite(global_sum):  # every rank sees the same sum: all stop, before the step
                    raise TrainingDiverged(diverged_message(
                        what=f"the loss is {global_sum}", epoch=epoch + 1, step=step, global_step=global_step + 1,
                        last_finite=last_finite, lr=cfg.lr, out=out, completed=epoch))
                loss = local_sum / max(global_norm, 1e-12) * ctx.world_size
                optimizer.zero_grad(set_to_none=True)
                try:
                    scaler.scale(loss).backward()
                    break
                except Exception as exc:
                    if step_net is eager_step or not _is_compile_failure(exc):
                        raise
                    # Measured: torch 2.13's Inductor generated a CRF-as-RNN backward at 256x192 that reads
                    # a buffer it never assigned (UnboundLocalError). No step was taken, so redo it eagerly.
                    log.warning("torch.compile's backward failed for this model (%s: %s); training eagerly "
                                "(set compile = false to skip the attempt)", type(exc).__name__,
                                str(exc).splitlines()[0][:200] if str(exc) else "")
                    step_net = eager_step
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
            record.update(run.evaluate(model, device, ctx))
        record["seconds"] = time.perf_counter() - started
        improved = record.get(task.best_metric, -1.0) > best
        if improved:
            best = record[task.best_metric]
        if ctx.is_main:
            meta = run.metadata(cfg, model, record, best)
            _save_epoch(out, cfg, meta, model, optimizer, scheduler, record, best, global_step, improved,
                        metric_lines, writer, task.scalar_metrics, qat_record)
            if config_changes and epoch == start_epoch:
                write_run_config(out, cfg, resume=resume, at_epoch=start_epoch, changes=config_changes)
        barrier(ctx)
        log.info("epoch %d: loss %.4f %s %s (%.0f s)", epoch + 1, train_loss, task.best_metric_text,
                 f"{record[task.best_metric]:.4f}" if task.best_metric in record else "-", record["seconds"])
    if writer is not None:
        writer.close()
    shutdown(ctx)
    return record


INDUCTOR_CODE = (f"{os.sep}torch{os.sep}_inductor{os.sep}", f"{os.sep}torchinductor_")
"""Paths of TorchInductor's own modules and of the code it generates (its cache: /tmp/torchinductor_$USER)."""


def _is_compile_failure(exc: BaseException) -> bool:
    """True for errors raised by torch.compile itself, not by the model.

    That is Dynamo's and Inductor's exceptions (tracing, code generation), and any error raised inside the
    code Inductor generated, which is where a miscompiled graph fails at run time (an eager rerun of a real
    error of the model raises it again, so a wrong guess here costs one step, never hides an error).
    """
    try:
        from torch._dynamo.exc import TorchDynamoException
    except ImportError:  # a torch without dynamo cannot have compiled anything
        return False
    if isinstance(exc, TorchDynamoException):  # Inductor's and the backends' errors derive from it
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and any(marker in frames[-1].filename for marker in INDUCTOR_CODE)


def _forward(step_net: nn.Module, eager_net: nn.Module, x: torch.Tensor, targets: Any):
    """``step_net(x, targets)``, falling back to ``eager_net`` for good when torch.compile cannot handle the model.

    Returns ((loss sum, normaliser), the module to use from now on). An error
    of the model itself raises again from the eager call.
    """
    if step_net is eager_net:
        return eager_net(x, targets), eager_net
    try:
        return step_net(x, targets), step_net
    except Exception as exc:
        if not _is_compile_failure(exc):
            raise
        log.warning("torch.compile cannot compile this model (%s); training eagerly (set compile = false to skip "
                    "the attempt)", str(exc).splitlines()[0][:200])
        return eager_net(x, targets), eager_net


def _save_epoch(out: Path, cfg: TrainConfig, meta: ModelMetadata, model: nn.Module, optimizer, scheduler,
                record: dict[str, Any], best: float, global_step: int, improved: bool, metric_lines: list[str],
                writer, scalar_metrics: tuple[str, ...], qat_record: dict | None = None) -> None:
    """Write best.pt (if improved), last.pt, then metrics.jsonl and TensorBoard (rank 0 only)."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT, "metadata": meta.to_dict(), "model": model.state_dict(),
        "epoch": record["epoch"], "best_miou": best, "global_step": global_step, "config": config_to_dict(cfg),
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
        _log_tensorboard(writer, record, record["epoch"], scalar_metrics)


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


def _log_tensorboard(writer, record: dict[str, Any], epoch: int, scalar_metrics: tuple[str, ...]) -> None:
    for key in ("loss", "lr", *scalar_metrics):
        if key in record:
            writer.add_scalar(key, record[key], epoch)
    for name, iou in record.get("per_class_iou", {}).items():
        if not math.isnan(iou):
            writer.add_scalar(f"iou/{name}", iou, epoch)
    writer.flush()
