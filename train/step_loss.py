"""The training step's forward and loss as one module, so ``torch.compile`` sees both.

Compiling the model alone leaves the loss to run eagerly at full resolution:
a float32 copy of the N x C x H x W logits, log-softmax, the class-weight
gather and the ignore mask, each a pass over memory, forward and backward.
Compiled with the model, Inductor fuses them into the last layer's kernels
(measured with ``benchmarks/train_throughput.py``; docs/training.md).
"""

from __future__ import annotations

import torch
from torch import nn

from .aux_loss import segmentation_loss_sum


class ForwardLoss(nn.Module):
    """``net(x)`` under autocast, then the (sum, normaliser) segmentation loss in float32.

    ``forward(x, y)``: ``x`` float32 N x C x H x W (the model's input), ``y``
    int64 N x H x W labels; returns two 0-dim float32 tensors whose ratio is the
    class-weighted mean cross-entropy of the main output plus ``aux_weight``
    times each auxiliary output's (:func:`~edgeseg.train.aux_loss.segmentation_loss_sum`).
    The sums stay apart so data-parallel ranks can share one normaliser.
    """

    def __init__(self, net: nn.Module, weight: torch.Tensor | None, ignore_index: int, aux_weight: float,
                 device_type: str, autocast_dtype: torch.dtype | None):
        super().__init__()
        self.net = net
        self.weight = weight
        self.ignore_index = ignore_index
        self.aux_weight = aux_weight
        self.device_type = device_type
        self.autocast_dtype = autocast_dtype

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(self.device_type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            outputs = self.net(x)
        return segmentation_loss_sum(outputs, y, self.weight, self.ignore_index, self.aux_weight)
