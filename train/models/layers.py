"""Small building blocks shared by the zoo's architectures."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def resize_bilinear(x: torch.Tensor, size: tuple[int, int] | torch.Size, *, align_corners: bool) -> torch.Tensor:
    """Bilinear resize of N x C x H x W to ``size`` (H, W).

    ``align_corners`` has no default on purpose: frameworks disagree on it, so
    every call site states the convention its paper's code used. Both map to
    ONNX Resize coordinate modes TensorRT builds (``align_corners`` and
    ``half_pixel``).
    """
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU; ``padding`` defaults to "same" for odd kernels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 3, *,
                 stride: int = 1, dilation: int = 1, padding: int | tuple[int, int] | None = None, groups: int = 1):
        if padding is None:
            k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
            padding = (dilation * (k[0] - 1) // 2, dilation * (k[1] - 1) // 2)
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def bilinear_upsampling_weight(channels: int, kernel_size: int) -> torch.Tensor:
    """ConvTranspose2d weight (channels x channels x k x k) that upsamples each channel bilinearly.

    The initialisation FCN uses for its deconvolution layers (``surgery.interp``
    in the authors' code): a separable triangle filter on the diagonal.
    """
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt1d = 1 - (og - center).abs() / factor
    filt = filt1d[:, None] * filt1d[None, :]
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    diagonal = torch.arange(channels)
    weight[diagonal, diagonal] = filt
    return weight


def l2_normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """``x / ||x||_2`` over the channel axis (dim 1), written with ReduceSum and Sqrt for ONNX."""
    return x / torch.sqrt((x * x).sum(dim=1, keepdim=True) + eps)
