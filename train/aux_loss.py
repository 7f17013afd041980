"""Segmentation loss over a model's main and auxiliary outputs.

Models with auxiliary heads (BiSeNetV2's booster, DDRNet's aux head) return a
tuple ``(main, aux_1, ...)`` in training mode, every element N x C x h x w
logits; single-output models return the logits tensor. Aux logits smaller
than the labels are bilinearly resized (``align_corners=False``) before the
loss. The total is ``CE(main) + aux_weight * sum(CE(aux_i))``, with
``aux_weight`` the model's ``aux_loss_weight`` attribute (the paper's value).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def segmentation_loss(outputs: torch.Tensor | tuple[torch.Tensor, ...], target: torch.Tensor,
                      weight: torch.Tensor | None, ignore_index: int, aux_weight: float = 0.4) -> torch.Tensor:
    """Cross-entropy of ``outputs`` against int64 N x H x W ``target``."""
    if isinstance(outputs, torch.Tensor):
        return F.cross_entropy(outputs, target, weight=weight, ignore_index=ignore_index)
    main, *aux = outputs
    loss = F.cross_entropy(main, target, weight=weight, ignore_index=ignore_index)
    for logits in aux:
        if logits.shape[2:] != target.shape[1:]:
            logits = F.interpolate(logits, size=target.shape[1:], mode="bilinear", align_corners=False)
        loss = loss + aux_weight * F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index)
    return loss
