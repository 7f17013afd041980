"""LEDNet (Wang, Zhou, Wang, Tang, Liu, Jin, Chen, Fan, Wu, ICIP 2019), arXiv:1905.02423.

Structure as in the paper (Table 1, Fig. 2 and 3) and the authors' code:

- Encoder: a downsampling unit (3x3 stride-2 conv concatenated with 2x2 max
  pooling, BN, ReLU) 3 -> 32, three SS-nbt units (32); downsampling 32 -> 64,
  two SS-nbt (64); downsampling 64 -> 128, eight SS-nbt (128) with dilations
  1, 2, 5, 9, 2, 5, 9, 17. Output stride 8.
- SS-nbt (split-shuffle-non-bottleneck): split the channels in two halves;
  one branch runs 3x1, ReLU, 1x3, BN, ReLU, dilated 3x1, ReLU, dilated 1x3,
  BN; the other the same with 1x3 first; concatenate, dropout, add the input,
  ReLU, then channel shuffle (2 groups).
- Decoder: the attention pyramid network (APN): a 3-level pyramid of strided
  convs (7x7, 5x5, 3x3+3x3, one channel) fused top-down by upsampling and
  addition, multiplied (attention) with a 1x1 conv of the features to the
  class count, plus a global-average-pooling branch; then bilinear
  upsampling x8. Resizes use ``align_corners=True`` as the authors' code.

Deviations: in the pyramid each level is upsampled to the size of the level
below it (the authors' code uses ``H // 4`` etc., which only matches when H
is a multiple of 64); the global branch is added by broadcasting (exact for a
1 x 1 map) instead of an upsample, and its 1x1 conv has a bias and no
BatchNorm (BN over one value per image fails on a batch of one). Dropout
0.03 in the first stages and 0.3 in the last, as the authors' code. H and W
must be multiples of 8.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ConvBNReLU, resize_bilinear
from .registry import register_model


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle of N x C x H x W (C divisible by ``groups``)."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class DownsamplingUnit(nn.Module):
    """cat(3x3 stride-2 conv to out - in channels, 2x2 max pool) -> BN -> ReLU; halves H and W."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1, bias=True)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(torch.cat([self.conv(x), self.pool(x)], dim=1)))


def _factorised_branch(channels: int, dilation: int, vertical_first: bool) -> nn.Sequential:
    kv, kh = (3, 1), (1, 3)
    first, second = (kv, kh) if vertical_first else (kh, kv)

    def pad(k: tuple[int, int], d: int) -> tuple[int, int]:
        return (d * (k[0] // 2), d * (k[1] // 2))

    return nn.Sequential(
        nn.Conv2d(channels, channels, first, padding=pad(first, 1), bias=True), nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, second, padding=pad(second, 1), bias=True), nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, first, padding=pad(first, dilation), dilation=(dilation, 1) if first == kv
                  else (1, dilation), bias=True), nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, second, padding=pad(second, dilation), dilation=(dilation, 1) if second == kv
                  else (1, dilation), bias=True), nn.BatchNorm2d(channels),
    )


class SSnbt(nn.Module):
    """Split-shuffle-non-bottleneck unit: N x C x H x W -> same shape (C even)."""

    def __init__(self, channels: int, dilation: int = 1, dropout: float = 0.0):
        super().__init__()
        half = channels // 2
        self.left = _factorised_branch(half, dilation, vertical_first=True)
        self.right = _factorised_branch(half, dilation, vertical_first=False)
        self.dropout = nn.Dropout2d(dropout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[1] // 2
        left, right = x[:, :half], x[:, half:]
        out = torch.cat([self.left(left), self.right(right)], dim=1)
        return channel_shuffle(self.relu(x + self.dropout(out)), 2)


class LEDNetEncoder(nn.Module):
    """float N x C x H x W -> N x 128 x H/8 x W/8 (Table 1 of the paper)."""

    def __init__(self, in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [DownsamplingUnit(in_channels, 32)]
        layers += [SSnbt(32, 1, 0.03) for _ in range(3)]
        layers.append(DownsamplingUnit(32, 64))
        layers += [SSnbt(64, 1, 0.03) for _ in range(2)]
        layers.append(DownsamplingUnit(64, 128))
        layers += [SSnbt(128, d, 0.3) for d in (1, 2, 5, 9, 2, 5, 9, 17)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class AttentionPyramid(nn.Module):
    """APN decoder head: N x C x h x w -> N x num_classes x h x w."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        # No BatchNorm on the pooled 1x1 map: its batch statistics fail on a batch of one.
        self.global_branch = nn.Sequential(nn.Conv2d(in_channels, num_classes, 1), nn.ReLU(inplace=True))
        self.mid = ConvBNReLU(in_channels, num_classes, 1)
        self.down1 = ConvBNReLU(in_channels, 1, 7, stride=2)
        self.down2 = ConvBNReLU(1, 1, 5, stride=2)
        self.down3 = nn.Sequential(ConvBNReLU(1, 1, 3, stride=2), ConvBNReLU(1, 1, 3))
        self.conv2 = ConvBNReLU(1, 1, 5)
        self.conv1 = ConvBNReLU(1, 1, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.global_branch(x.mean(dim=(2, 3), keepdim=True))  # N x K x 1 x 1
        mid = self.mid(x)
        x1 = self.down1(x)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        y = self.conv2(x2) + resize_bilinear(x3, x2.shape[-2:], align_corners=True)
        y = self.conv1(x1) + resize_bilinear(y, x1.shape[-2:], align_corners=True)
        attention = resize_bilinear(y, x.shape[-2:], align_corners=True)
        return attention * mid + context


class LEDNet(nn.Module):
    """LEDNet: float N x C x H x W -> logits N x num_classes x H x W (H, W multiples of 8)."""

    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.encoder = LEDNetEncoder(in_channels)
        self.decoder = AttentionPyramid(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize_bilinear(self.decoder(self.encoder(x)), x.shape[-2:], align_corners=True)


@register_model("lednet", paper="Wang et al. 2019, LEDNet", input_multiple=8)
def lednet(num_classes: int, in_channels: int = 3) -> nn.Module:
    """As the paper (about 0.9 M parameters); pyramid levels upsampled to the level below, not to H // 4."""
    return LEDNet(num_classes, in_channels)
