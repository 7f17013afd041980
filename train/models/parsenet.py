"""ParseNet (Liu, Rabinovich, Berg, 2015), arXiv:1506.04579.

Structure as in the paper (Fig. 1 and Sec. 3): the baseline is the DeepLab-
LargeFOV-style VGG-16 (fc6 3x3 with dilation 12, 1024 channels; output stride
8); global context is added on fc7 by global average pooling, "unpooling"
the context vector back to the feature map's size (a broadcast: every
position gets the same vector), L2-normalising the local and the global
features separately, each with a learned per-channel scale (initialised to 10),
concatenating them (early fusion) and classifying with a 1x1 conv. Scores
are upsampled x8 bilinearly (``align_corners=False``).

Deviations: widths scale with ``width_mult`` (default 0.25) for CPU training;
``width_mult=1.0`` loads torchvision VGG-16 conv weights with
``backbone_weights``. The global vector is broadcast by a Mul with a ones
tensor (exact unpooling of a 1 x 1 map). H and W must be multiples of 8.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .deeplab import LargeFOVBody
from .layers import l2_normalize_channels, resize_bilinear
from .registry import register_model


class L2NormScale(nn.Module):
    """Channel-wise L2 normalisation with a learned per-channel scale (ParseNet Sec. 3.3)."""

    def __init__(self, channels: int, init_scale: float = 10.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full((1, channels, 1, 1), init_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return l2_normalize_channels(x) * self.scale


class ParseNet(nn.Module):
    """ParseNet: float N x C x H x W -> logits N x num_classes x H x W (H, W multiples of 8)."""

    def __init__(self, num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None, global_context: bool = True):
        super().__init__()
        self.body = LargeFOVBody(in_channels, width_mult, backbone_weights)
        channels = self.body.out_channels
        self.norm_local = L2NormScale(channels)
        # global_context=False is the paper's baseline: the same network and normalised fc7, no context branch.
        self.norm_global = L2NormScale(channels) if global_context else None
        self.dropout = nn.Dropout(0.5)
        self.classifier = nn.Conv2d((2 if global_context else 1) * channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local = self.body(x)
        if self.norm_global is None:
            return resize_bilinear(self.classifier(self.dropout(self.norm_local(local))), x.shape[-2:],
                                   align_corners=False)
        context = local.mean(dim=(2, 3), keepdim=True)  # global average pooling: N x F x 1 x 1
        unpooled = self.norm_global(context) * torch.ones_like(local[:, :1])  # broadcast to N x F x h x w
        fused = torch.cat([self.norm_local(local), unpooled], dim=1)
        return resize_bilinear(self.classifier(self.dropout(fused)), x.shape[-2:], align_corners=False)


@register_model("parsenet", paper="Liu et al. 2015, ParseNet", input_multiple=8)
def parsenet(num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
             backbone_weights: str | None = None, global_context: bool = True) -> nn.Module:
    """DeepLab-LargeFOV-style VGG-16 at width 0.25; global context on fc7 only, early fusion."""
    return ParseNet(num_classes, in_channels, width_mult, backbone_weights, global_context)
