"""FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer, Darrell, CVPR 2015), arXiv:1411.4038.

Structure as in the paper (Fig. 3) on VGG-16: the 13 conv layers and 5 pools,
fc6 as a 7x7 convolution and fc7 as a 1x1 convolution (both with dropout 0.5),
a 1x1 class scorer, and learned upsampling:

- FCN-32s: scores of pool5/fc7 upsampled x32.
- FCN-16s: 2x upsampled scores (learned deconvolution) plus a 1x1 scorer on
  pool4, then x16.
- FCN-8s: as 16s, then 2x again plus a 1x1 scorer on pool3, then x8.

Deconvolutions are initialised to bilinear interpolation; the final one stays
fixed (as in the paper); the skip scorers start at zero.

Deviations (deployment and CPU):
- No 100-pixel input padding and crop layers: fc6 uses "same" padding (3) and
  each deconvolution (kernel 2s, stride s, padding s/2) gives exactly s times
  its input, so H and W must be multiples of 32 and no Crop is needed.
- Widths scale with ``width_mult`` (default 0.25: convs 16..128, fc 1024)
  so it trains on a CPU; ``width_mult=1.0`` is the paper's network and loads
  torchvision VGG-16 conv weights with ``backbone_weights=PATH`` (fc6/fc7
  start fresh: torchvision stores them as Linear layers).
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .backbones import build_vgg16, scaled
from .layers import bilinear_upsampling_weight
from .registry import register_model


def _upsampler(num_classes: int, factor: int, *, learnable: bool) -> nn.ConvTranspose2d:
    """ConvTranspose2d that multiplies H and W by ``factor`` exactly, bilinear at init."""
    layer = nn.ConvTranspose2d(num_classes, num_classes, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(bilinear_upsampling_weight(num_classes, 2 * factor))
    layer.weight.requires_grad_(learnable)
    return layer


def _zero_scorer(in_channels: int, num_classes: int) -> nn.Conv2d:
    layer = nn.Conv2d(in_channels, num_classes, 1)
    nn.init.zeros_(layer.weight)
    assert layer.bias is not None  # Conv2d(..., bias=True)
    nn.init.zeros_(layer.bias)
    return layer


class FCN(nn.Module):
    """FCN on VGG-16.

    Input: float N x C x H x W, H and W multiples of 32.
    Output: float logits N x num_classes x H x W.

    Args:
        num_classes: output classes.
        stride: 32, 16 or 8 (FCN-32s, -16s, -8s).
        in_channels: input channels.
        width_mult: VGG and fc widths relative to the paper.
        backbone_weights: local VGG-16 state dict (torchvision layout) to start from.
    """

    def __init__(self, num_classes: int, stride: int = 8, in_channels: int = 3, width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None):
        super().__init__()
        if stride not in (8, 16, 32):
            raise ValueError(f"FCN stride must be 8, 16 or 32, got {stride}")
        self.stride = stride
        self.backbone = build_vgg16(in_channels, width_mult, backbone_weights=backbone_weights)
        c3, c4, c5 = self.backbone.stage_channels[2:5]
        fc = scaled(4096, width_mult)
        self.fc = nn.Sequential(
            nn.Conv2d(c5, fc, 7, padding=3), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Conv2d(fc, fc, 1), nn.ReLU(inplace=True), nn.Dropout(0.5),
        )
        self.score_fr = nn.Conv2d(fc, num_classes, 1)
        if stride <= 16:
            self.upscore2 = _upsampler(num_classes, 2, learnable=True)
            self.score_pool4 = _zero_scorer(c4, num_classes)
        if stride == 8:
            self.upscore_pool4 = _upsampler(num_classes, 2, learnable=True)
            self.score_pool3 = _zero_scorer(c3, num_classes)
        self.upscore_final = _upsampler(num_classes, stride, learnable=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, pool3, pool4, pool5 = self.backbone(x)
        score = self.score_fr(self.fc(pool5))
        if self.stride <= 16:
            score = self.upscore2(score) + self.score_pool4(pool4)
        if self.stride == 8:
            score = self.upscore_pool4(score) + self.score_pool3(pool3)
        return self.upscore_final(score)


@register_model("fcn32s", paper="Long et al. 2015, FCN-32s", input_multiple=32)
def fcn32s(num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
           backbone_weights: str | None = None) -> nn.Module:
    """VGG-16 at width_mult 0.25, no input padding/crop (multiples of 32), fixed final bilinear x32."""
    return FCN(num_classes, 32, in_channels, width_mult, backbone_weights)


@register_model("fcn16s", paper="Long et al. 2015, FCN-16s", input_multiple=32)
def fcn16s(num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
           backbone_weights: str | None = None) -> nn.Module:
    """VGG-16 at width_mult 0.25, no input padding/crop (multiples of 32); trained at once, not staged from 32s."""
    return FCN(num_classes, 16, in_channels, width_mult, backbone_weights)


@register_model("fcn8s", paper="Long et al. 2015, FCN-8s", input_multiple=32)
def fcn8s(num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
          backbone_weights: str | None = None) -> nn.Module:
    """VGG-16 at width_mult 0.25, no input padding/crop (multiples of 32); trained at once, not staged from 16s."""
    return FCN(num_classes, 8, in_channels, width_mult, backbone_weights)
