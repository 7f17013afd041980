"""ENet (Paszke, Chaurasia, Kim, Culurciello, 2016), arXiv:1606.02147.

Follows Table 1 of the paper: an initial block (3x3 stride-2 convolution
concatenated with max pooling), five stages of bottlenecks with regular,
dilated (2, 4, 8, 16) and asymmetric (5x1 then 1x5) convolutions, PReLU in the
encoder and ReLU in the decoder, spatial dropout (0.01 in stage 1, 0.1 after),
and a decoder that unpools with the encoder's pooling switches.

Deviation for deployment: the switches are kept as masks
(:mod:`edgeseg.train.models.unpool`), so the ONNX has no MaxUnpool node; the
result equals ``F.max_unpool2d``. The input must be a multiple of 8 in H and W.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .registry import register_model
from .unpool import max_pool2x2_with_mask, max_unpool2x2


def _activation(relu: bool, channels: int) -> nn.Module:
    return nn.ReLU(inplace=True) if relu else nn.PReLU(channels)


class InitialBlock(nn.Module):
    """3 -> 16 channels at half resolution: 13 conv filters + 3 pooled channels."""

    def __init__(self, in_channels: int = 3, out_channels: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(torch.cat([self.conv(x), self.pool(x)], dim=1)))


class Bottleneck(nn.Module):
    """Regular, dilated or asymmetric bottleneck with a residual connection.

    Projection 1x1 (channels / 4), the main convolution, expansion 1x1,
    spatial dropout, then add to the input and activate.
    """

    def __init__(
        self,
        channels: int,
        *,
        dilation: int = 1,
        asymmetric: bool = False,
        dropout: float = 0.1,
        relu: bool = False,
    ):
        super().__init__()
        inner = channels // 4
        if asymmetric:
            main = [
                nn.Conv2d(inner, inner, (5, 1), padding=(2, 0), bias=False),
                nn.BatchNorm2d(inner),
                _activation(relu, inner),
                nn.Conv2d(inner, inner, (1, 5), padding=(0, 2), bias=False),
            ]
        else:
            main = [nn.Conv2d(inner, inner, 3, padding=dilation, dilation=dilation, bias=False)]
        self.branch = nn.Sequential(
            nn.Conv2d(channels, inner, 1, bias=False),
            nn.BatchNorm2d(inner),
            _activation(relu, inner),
            *main,
            nn.BatchNorm2d(inner),
            _activation(relu, inner),
            nn.Conv2d(inner, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.Dropout2d(dropout),
        )
        self.act = _activation(relu, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.branch(x))


class DownsamplingBottleneck(nn.Module):
    """Halves the resolution; returns the output and the pooling switch mask.

    Main path: 2x2 max pooling, channels zero-padded to ``out_channels``.
    Branch: 2x2 stride-2 projection, 3x3 conv, 1x1 expansion, dropout.
    """

    def __init__(self, in_channels: int, out_channels: int, *, dropout: float, relu: bool = False):
        super().__init__()
        inner = in_channels // 4
        self.extra_channels = out_channels - in_channels
        self.branch = nn.Sequential(
            nn.Conv2d(in_channels, inner, 2, stride=2, bias=False),
            nn.BatchNorm2d(inner),
            _activation(relu, inner),
            nn.Conv2d(inner, inner, 3, padding=1, bias=False),
            nn.BatchNorm2d(inner),
            _activation(relu, inner),
            nn.Conv2d(inner, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.Dropout2d(dropout),
        )
        self.act = _activation(relu, out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, mask = max_pool2x2_with_mask(x)
        # Zero-pad channels (the paper's choice) rather than a 1x1 conv.
        main = F.pad(pooled, (0, 0, 0, 0, 0, self.extra_channels))
        return self.act(main + self.branch(x)), mask


class UpsamplingBottleneck(nn.Module):
    """Doubles the resolution using the switch mask of the matching downsampling.

    Main path: 1x1 conv to ``out_channels``, then unpooling with the mask.
    Branch: 1x1 projection, 3x3 stride-2 transposed conv, 1x1 expansion.
    """

    def __init__(self, in_channels: int, out_channels: int, *, dropout: float, relu: bool = True):
        super().__init__()
        inner = in_channels // 4
        self.main = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.branch = nn.Sequential(
            nn.Conv2d(in_channels, inner, 1, bias=False),
            nn.BatchNorm2d(inner),
            _activation(relu, inner),
            nn.ConvTranspose2d(inner, inner, 3, stride=2, padding=1, output_padding=1, bias=False),
            nn.BatchNorm2d(inner),
            _activation(relu, inner),
            nn.Conv2d(inner, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.Dropout2d(dropout),
        )
        self.act = _activation(relu, out_channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.act(max_unpool2x2(self.main(x), mask) + self.branch(x))


def _stage_2_or_3(dropout: float) -> nn.Sequential:
    """Bottlenecks x.1 to x.8 of stages 2 and 3 (Table 1)."""
    return nn.Sequential(
        Bottleneck(128, dropout=dropout),
        Bottleneck(128, dilation=2, dropout=dropout),
        Bottleneck(128, asymmetric=True, dropout=dropout),
        Bottleneck(128, dilation=4, dropout=dropout),
        Bottleneck(128, dropout=dropout),
        Bottleneck(128, dilation=8, dropout=dropout),
        Bottleneck(128, asymmetric=True, dropout=dropout),
        Bottleneck(128, dilation=16, dropout=dropout),
    )


class ENet(nn.Module):
    """ENet for semantic segmentation.

    Input: float N x 3 x H x W (normalised RGB), H and W multiples of 8.
    Output: float logits N x num_classes x H x W.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, dropout_scale: float = 1.0):
        super().__init__()
        p1, p = 0.01 * dropout_scale, 0.1 * dropout_scale  # the paper's rates; scale 0 disables dropout
        self.initial = InitialBlock(in_channels, 16)
        self.down1 = DownsamplingBottleneck(16, 64, dropout=p1)
        self.stage1 = nn.Sequential(*[Bottleneck(64, dropout=p1) for _ in range(4)])
        self.down2 = DownsamplingBottleneck(64, 128, dropout=p)
        self.stage2 = _stage_2_or_3(p)
        self.stage3 = _stage_2_or_3(p)
        self.up4 = UpsamplingBottleneck(128, 64, dropout=p)
        self.stage4 = nn.Sequential(Bottleneck(64, dropout=p, relu=True), Bottleneck(64, dropout=p, relu=True))
        self.up5 = UpsamplingBottleneck(64, 16, dropout=p)
        self.stage5 = Bottleneck(16, dropout=p, relu=True)
        self.fullconv = nn.ConvTranspose2d(16, num_classes, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial(x)
        x, mask1 = self.down1(x)
        x = self.stage1(x)
        x, mask2 = self.down2(x)
        x = self.stage3(self.stage2(x))
        x = self.stage4(self.up4(x, mask2))
        x = self.stage5(self.up5(x, mask1))
        return self.fullconv(x)


@register_model("enet", paper="Paszke et al. 2016, ENet", input_multiple=8)
def enet(num_classes: int, in_channels: int = 3, dropout_scale: float = 1.0) -> nn.Module:
    """ENet as in the paper; about 0.36 M parameters for 11 classes.

    ``dropout_scale`` multiplies the paper's spatial dropout rates (0 disables them).
    """
    return ENet(num_classes, in_channels, dropout_scale)
