"""Segmentation loss over a model's main and auxiliary outputs.

Models with auxiliary heads (BiSeNetV2's booster, DDRNet's aux head) return a
tuple ``(main, aux_1, ...)`` in training mode, every element N x C x h x w
logits; single-output models return the logits tensor. Aux logits smaller
than the labels are bilinearly resized (``align_corners=False``) before the
loss. The total is ``CE(main) + aux_weight * sum(CE(aux_i))``, with
``aux_weight`` the model's ``aux_loss_weight`` attribute (the paper's value).

The loss is computed as a (sum, normaliser) pair: ``sum / normaliser`` is the
class-weighted mean cross-entropy, and keeping the two apart lets data-parallel
ranks share one normaliser (see :mod:`edgeseg.train.trainer`).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def weighted_ce_sum(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                    ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of class-weighted cross-entropy over valid pixels, and the (detached) sum of their weights.

    ``sum / norm`` equals ``F.cross_entropy(logits, target, weight, ignore_index)``.
    """
    per_pixel = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index, reduction="none")
    valid = target != ignore_index
    if weight is None:
        norm = valid.sum().to(per_pixel.dtype)
    else:
        norm = (weight[target.clamp(0, weight.numel() - 1)] * valid).sum()
    return per_pixel.sum(), norm.detach()


def segmentation_loss_sum(outputs: torch.Tensor | tuple[torch.Tensor, ...], target: torch.Tensor,
                          weight: torch.Tensor | None, ignore_index: int,
                          aux_weight: float = 0.4) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum, normaliser) of main + weighted aux cross-entropy against int64 N x H x W ``target``."""
    if isinstance(outputs, torch.Tensor):
        return weighted_ce_sum(outputs.float(), target, weight, ignore_index)
    main, *aux = outputs
    total, norm = weighted_ce_sum(main.float(), target, weight, ignore_index)
    for logits in aux:
        if logits.shape[2:] != target.shape[1:]:
            logits = F.interpolate(logits, size=target.shape[1:], mode="bilinear", align_corners=False)
        total = total + aux_weight * weighted_ce_sum(logits.float(), target, weight, ignore_index)[0]
    return total, norm


def segmentation_loss(outputs: torch.Tensor | tuple[torch.Tensor, ...], target: torch.Tensor,
                      weight: torch.Tensor | None, ignore_index: int, aux_weight: float = 0.4) -> torch.Tensor:
    """Mean loss: ``CE(main) + aux_weight * sum(CE(aux_i))``."""
    total, norm = segmentation_loss_sum(outputs, target, weight, ignore_index, aux_weight)
    return total / norm.clamp_min(1e-12)
