"""Distributed data parallel training on PyTorch's own engine (torchrun + DDP).

``torchrun --nproc-per-node N -m edgeseg train ...`` sets RANK, WORLD_SIZE,
LOCAL_RANK and the rendezvous variables; this module reads them, joins the
process group (NCCL on CUDA, gloo on CPU), and provides the pieces the
trainer needs: a sampler that splits each *global* batch across ranks, and
reductions of sums and confusion matrices.

Semantics: ``batch_size`` is the global batch; each rank takes
``batch_size / world_size`` samples of every global batch, so the steps per
epoch, the LR schedule and the checkpoints do not depend on the number of
processes, and a run can resume with a different one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import distributed as dist

from edgeseg.errors import EdgesegError


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> DistContext:
    """Join the process group torchrun describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return DistContext(rank, world, local_rank)


def shutdown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


class GlobalBatchSampler:
    """Yields this rank's share of each global batch of a seeded permutation.

    The permutation is ``torch.randperm(n, generator seeded by (seed, epoch))``,
    the same a single-process shuffled DataLoader would draw, cut into global
    batches of ``batch_size``; rank r gets the r-th of ``world_size`` equal
    slices of each. A last, partial global batch too small to give every rank
    two samples is dropped on all ranks: DDP needs every rank in every step, and
    batch norm over a pooled 1 x 1 map fails on a batch of one.
    """

    def __init__(self, n: int, batch_size: int, ctx: DistContext, seed: int):
        if batch_size % ctx.world_size:
            raise EdgesegError(
                f"batch_size {batch_size} (the global batch) must be divisible by the number of processes "
                f"({ctx.world_size}); set --set batch_size={ctx.world_size * math.ceil(batch_size / ctx.world_size)}"
            )
        self.n, self.batch_size, self.ctx, self.seed, self.epoch = n, batch_size, ctx, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _global_batches(self) -> list[np.ndarray]:
        generator = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        order = torch.randperm(self.n, generator=generator).numpy()
        batches = [order[i:i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if batches and len(batches[-1]) < min(self.batch_size, 2 * self.ctx.world_size):
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._global_batches():
            yield np.array_split(batch, self.ctx.world_size)[self.ctx.rank].tolist()

    def __len__(self) -> int:
        return len(self._global_batches())


def all_reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Element-wise sum over ranks (float64)."""
    if not ctx.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def all_reduce_array(array: np.ndarray, ctx: DistContext) -> np.ndarray:
    """Sum of an int64/float64 numpy array over ranks (confusion matrices)."""
    if not ctx.distributed:
        return array
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    dist.all_reduce(tensor)
    return tensor.numpy()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()
