"""How a training run uses the hardware: compile, mixed precision, memory format, threads.

:func:`plan_speed` turns the config's speed keys (``compile``, ``amp``,
``amp_dtype``, ``channels_last``, ``fused_optimizer``, ``threads``,
``interop_threads``, ``prefetch_batches``) into a :class:`SpeedPlan` for the device at hand, with
the reason for each choice; the trainer applies it and writes
:meth:`SpeedPlan.record` into every line of ``metrics.jsonl``, so a run says
what it actually used (a resumed run on other hardware may use other
settings). None of these keys changes what is computed beyond floating-point
rounding: the accuracy check in ``benchmarks/train_throughput.py`` and
docs/training.md's figures measure that.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .config import TrainConfig

log = logging.getLogger("edgeseg.train")

# channels_last on CPU, measured per architecture with
# `python benchmarks/train_throughput.py --channels-last` (2 cores, AVX-512 + AMX,
# torch 2.13, compiled, bf16 autocast, batch 4 at 480x360): True where the
# channels-last step was faster. Architectures not listed keep the default
# (contiguous) layout until measured.
CHANNELS_LAST_FASTER_ON_CPU: dict[str, bool] = {
    "enet": False,
    "lednet": True,
    "ddrnet23_slim": True,
}


@dataclass(frozen=True)
class SpeedPlan:
    """What the trainer does for speed, and why.

    Attributes:
        compile: wrap the model in ``torch.compile`` (static shapes).
        autocast_dtype: ``"bf16"``, ``"fp16"`` or ``None`` (FP32).
        grad_scaler: FP16 needs loss scaling; bf16 does not.
        channels_last: model and input batches in NHWC memory format.
        fused_optimizer: the optimizer's fused (single-kernel) implementation.
        threads: intra-op threads (``torch.set_num_threads``).
        interop_threads: inter-op threads (``torch.set_num_interop_threads``).
        prefetch_batches: batches augmented ahead in a background thread.
        reasons: one sentence per choice, for the log.
    """

    compile: bool
    autocast_dtype: str | None
    grad_scaler: bool
    channels_last: bool
    fused_optimizer: bool
    threads: int
    interop_threads: int
    prefetch_batches: int
    reasons: tuple[str, ...] = ()

    def torch_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16, None: None}[self.autocast_dtype]

    def record(self) -> dict[str, Any]:
        """The plan as JSON-ready values (without the reasons)."""
        out = asdict(self)
        out.pop("reasons")
        return out


def cpu_has_fast_bf16() -> bool:
    """True where oneDNN runs bf16 natively (AVX-512 BF16 or AMX), not by emulation."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _autocast(cfg: TrainConfig, device: torch.device) -> tuple[str | None, str]:
    if not cfg.amp:
        return None, "amp = false: FP32"
    if device.type == "cuda":
        if cfg.amp_dtype == "fp16":
            return "fp16", "amp_dtype = fp16 on CUDA (with a grad scaler)"
        if cfg.amp_dtype == "bf16" or torch.cuda.is_bf16_supported():
            return "bf16", "bf16 autocast on CUDA (supported by this GPU; no grad scaler needed)"
        return "fp16", "fp16 autocast on CUDA (this GPU has no bf16), with a grad scaler"
    if device.type == "cpu":
        if cfg.amp_dtype == "fp16":
            return None, "amp_dtype = fp16 is not supported on CPU: FP32"
        if cpu_has_fast_bf16():
            return "bf16", "bf16 autocast on CPU (AVX-512 BF16 / AMX present)"
        return None, "this CPU has no native bf16 (AVX-512 BF16 or AMX): FP32"
    return None, f"no mixed precision on device type {device.type!r}: FP32"


def _channels_last(cfg: TrainConfig, device: torch.device) -> tuple[bool, str]:
    if cfg.channels_last != "auto":
        return bool(cfg.channels_last), f"channels_last = {str(cfg.channels_last).lower()}"
    if device.type == "cuda":
        # Tensor-core convolutions read NHWC; cuDNN transposes contiguous input itself otherwise.
        return True, "channels_last auto on CUDA: on (NHWC is the tensor cores' layout)"
    measured = CHANNELS_LAST_FASTER_ON_CPU.get(cfg.model.name)
    if measured is None:
        return False, f"channels_last auto: off ({cfg.model.name} not measured on CPU)"
    layout = "channels-last" if measured else "contiguous"
    return measured, f"channels_last auto: {'on' if measured else 'off'} ({layout} measured faster for {cfg.model.name} on CPU)"


def _prefetch(cfg: TrainConfig, device: torch.device, threads: int) -> tuple[int, str]:
    if cfg.prefetch_batches != "auto":
        return int(cfg.prefetch_batches), f"prefetch_batches = {cfg.prefetch_batches}"
    if device.type == "cuda":
        return 2, "prefetch auto: 2 batches (the model runs on the GPU; the CPU is free to augment)"
    spare = (os.cpu_count() or 1) - threads
    if spare > 0:
        return 2, f"prefetch auto: 2 batches ({spare} core(s) beyond the {threads} intra-op thread(s))"
    # Measured on 2 cores, ENet at 480x360: a prefetch thread beside 2 intra-op threads costs 27 %
    # (138 vs 109 ms/image): it preempts the OpenMP threads, whose barriers then wait for it.
    return 0, f"prefetch auto: off (no core beyond the {threads} intra-op thread(s))"


def fused_optimizer_choice(cfg: TrainConfig, device: torch.device) -> tuple[bool, str]:
    """(use the fused optimizer, why) for ``cfg.fused_optimizer`` on ``device``."""
    if cfg.fused_optimizer != "auto":
        return bool(cfg.fused_optimizer), f"fused_optimizer = {str(cfg.fused_optimizer).lower()}"
    if device.type in ("cpu", "cuda"):
        # One kernel over every parameter instead of a loop of small ops per tensor:
        # ENet's ~270 tensors cost 12 ms a step with the loop, 1.5 ms fused (2 cores).
        return True, f"fused_optimizer auto: on (torch has a fused {cfg.optimizer} for {device.type})"
    return False, f"fused_optimizer auto: off (no fused kernel on device type {device.type!r})"


def make_optimizer(params, cfg: TrainConfig, plan: SpeedPlan) -> torch.optim.Optimizer:
    """The config's optimizer over ``params``, fused where the plan says so."""
    fused = True if plan.fused_optimizer else None  # None: torch's default (the per-tensor loop on CPU)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=fused)


def plan_speed(cfg: TrainConfig, device: torch.device) -> SpeedPlan:
    """The speed plan for ``cfg`` on ``device`` (reads the hardware, changes nothing)."""
    dtype, amp_reason = _autocast(cfg, device)
    channels_last, cl_reason = _channels_last(cfg, device)
    threads = cfg.threads if cfg.threads > 0 else torch.get_num_threads()
    prefetch, prefetch_reason = _prefetch(cfg, device, threads)
    fused, fused_reason = fused_optimizer_choice(cfg, device)
    compile_reason = ("compile = true (torch.compile of forward + loss, static shapes)" if cfg.compile else "compile = false: eager")
    return SpeedPlan(
        compile=cfg.compile, autocast_dtype=dtype, grad_scaler=dtype == "fp16", channels_last=channels_last,
        fused_optimizer=fused,
        threads=threads, interop_threads=cfg.interop_threads, prefetch_batches=prefetch,
        reasons=(compile_reason, amp_reason, cl_reason, fused_reason, prefetch_reason,
                 f"{threads} intra-op thread(s), {cfg.interop_threads} inter-op, "
                 f"{prefetch} batch(es) prefetched, {cfg.num_workers} data worker process(es)"),
    )


def apply_threads(plan: SpeedPlan) -> None:
    """Set torch's thread pools; inter-op can only be set before its first use, so a later call keeps it."""
    torch.set_num_threads(plan.threads)
    if torch.get_num_interop_threads() != plan.interop_threads:
        try:
            torch.set_num_interop_threads(plan.interop_threads)
        except RuntimeError:  # already used in this process (tests, notebooks): keep what it has
            log.debug("inter-op threads already in use; keeping %d", torch.get_num_interop_threads())


def use_compile_cache(cache_dir: str) -> None:
    """Point TorchInductor's on-disk cache at ``cache_dir`` (when set), so a resumed run reuses the compiled graphs.

    Inductor's FX-graph and AOTAutograd caches are on by default in torch 2.13
    and live under ``/tmp/torchinductor_$USER``; an explicit folder survives a
    reboot and can sit on the run's disk. A user's own TORCHINDUCTOR_CACHE_DIR wins.
    """
    if cache_dir and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.expanduser(cache_dir)


def compiled(module: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` with static shapes: a run sees at most two batch shapes (full and last)."""
    return torch.compile(module, dynamic=False)  # type: ignore[return-value]
