"""Max pooling that remembers its switches as a mask, and the matching unpooling.

TensorRT has no MaxUnpool layer, so SegNet-style decoders cannot export
``F.max_unpool2d``. Here the pooling switch of each 2x2 window is kept as a
one-hot mask of the input's shape; unpooling is then a nearest-neighbour
upsample multiplied by that mask. The graph uses only Reshape, Transpose,
ReduceMax, ArgMax, Equal, Cast and Mul, all of which TensorRT builds.

Ties inside a window go to the first maximum in row-major order, the same
element PyTorch's ``max_pool2d(return_indices=True)`` picks, so the result equals
``F.max_unpool2d`` exactly (``tests/train/test_unpool.py``).
"""

from __future__ import annotations

import torch
from torch import nn


def max_pool2x2_with_mask(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """2x2, stride-2 max pooling that also returns the switch mask.

    Args:
        x: float tensor, N x C x H x W, H and W even.

    Returns:
        pooled: N x C x H/2 x W/2, the window maxima.
        mask: N x C x H x W, same dtype as ``x``, 1.0 at the first maximum of
            each window and 0.0 elsewhere.
    """
    n, c, h, w = x.shape
    if not torch.jit.is_tracing() and (h % 2 or w % 2):
        raise ValueError(f"max_pool2x2_with_mask needs even H and W, got {h}x{w}")
    # N,C,H/2,2,W/2,2 -> N,C,H/2,W/2,4 with the window in row-major order.
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, c, h // 2, w // 2, 4)
    pooled, _ = windows.max(dim=-1)
    first_max = windows.argmax(dim=-1, keepdim=True)  # first index on ties
    slots = torch.arange(4, device=x.device).view(1, 1, 1, 1, 4)
    mask = (slots == first_max).to(x.dtype)
    mask = mask.reshape(n, c, h // 2, w // 2, 2, 2).permute(0, 1, 2, 4, 3, 5)
    return pooled, mask.reshape(n, c, h, w)


def max_unpool2x2(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`max_pool2x2_with_mask`: place ``y`` at the switches.

    Args:
        y: float tensor, N x C x h x w.
        mask: N x C x 2h x 2w switch mask from :func:`max_pool2x2_with_mask`.

    Returns:
        N x C x 2h x 2w tensor, ``y`` at each window's switch, zero elsewhere.
    """
    n, c, h, w = y.shape
    upsampled = y.reshape(n, c, h, 1, w, 1).expand(n, c, h, 2, w, 2)
    return upsampled.reshape(n, c, 2 * h, 2 * w) * mask


class MaxPoolWithMask(nn.Module):
    """Module form of :func:`max_pool2x2_with_mask`."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return max_pool2x2_with_mask(x)


class MaxUnpoolWithMask(nn.Module):
    """Module form of :func:`max_unpool2x2`."""

    def forward(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return max_unpool2x2(y, mask)
