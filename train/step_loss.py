"""The training step's forward and loss as one module, so ``torch.compile`` sees both.

Compiling the model alone leaves the loss to run eagerly at full resolution:
a float32 copy of the N x C x H x W logits, log-softmax, the class-weight
gather and the ignore mask, each a pass over memory, forward and backward.
Compiled with the model, Inductor fuses them into the last layer's kernels
(measured with ``benchmarks/train_throughput.py``; docs/training.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

LossSum = Callable[[Any, Any], "tuple[torch.Tensor, torch.Tensor | float]"]


class ForwardLoss(nn.Module):
    """``net(x)`` under autocast, then ``loss(outputs, targets)`` (the task's, outside autocast).

    ``forward(x, targets)``: ``x`` the model's input batch (float32 N x C x H x W),
    ``targets`` whatever the task's loss takes (semantic: int64 N x H x W
    labels). Returns the task's (loss sum, normaliser): a 0-dim float32 tensor
    and a tensor or float; their ratio is the batch's mean loss. The two stay
    apart so data-parallel ranks can share one normaliser.
    """

    def __init__(self, net: nn.Module, loss: LossSum, device_type: str, autocast_dtype: torch.dtype | None):
        super().__init__()
        self.net = net
        self.loss = loss
        self.device_type = device_type
        self.autocast_dtype = autocast_dtype

    def forward(self, x: torch.Tensor, targets: Any) -> tuple[torch.Tensor, torch.Tensor | float]:
        with torch.autocast(self.device_type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            outputs = self.net(x)
        return self.loss(outputs, targets)
