"""DDRNet-23-slim (Hong, Pan, Sun, Jia, 2021), arXiv:2101.06085.

Deep dual-resolution network, the "slim" variant of Table 1 (width 32):

- stem to 1/4 (two stride-2 3x3 convs), residual layers 1 (1/4, 32 ch) and
  2 (1/8, 64 ch), shared by both branches;
- then two branches in parallel: a high-resolution one that stays at 1/8 with
  64 channels, and a low-resolution one that goes to 1/16 (128), 1/32 (256)
  and, through a bottleneck, 1/64 (512);
- bilateral fusion after layers 3 and 4: high -> low by stride-2 3x3 convs,
  low -> high by 1x1 conv, BN and bilinear upsampling, each added to the other;
- DAPPM (deep aggregation pyramid pooling) on the 1/64 features, upsampled and
  added to the high-resolution branch; a 3x3 + 1x1 head at 1/8, bilinear x8;
- an auxiliary head on the high-resolution branch after layer 4, used only in
  training (weight 0.4, as in the paper).

``forward`` returns N x classes x H x W logits in eval mode and for export, and
``(main, aux)`` (both at the input size) in training mode.

Export notes: DAPPM's pooled scales are the paper's fixed average poolings
(kernel 5/9/17, stride 2/4/8, padding 2/4/8) plus a global mean (ONNX
ReduceMean) instead of ``AdaptiveAvgPool2d(1)``, so no adaptive-pooling node
is exported; resizes are bilinear, ``align_corners=False``, to explicit sizes.
H and W must be multiples of 8; the low branch rounds odd sizes up.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .registry import register_model


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual; ``last_relu=False`` leaves the output un-activated (before fusion)."""

    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1, last_relu: bool = True):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout, 3, stride), nn.ReLU(inplace=True), _conv_bn(cout, cout))
        self.down = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None
        self.last_relu = last_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x) + (x if self.down is None else self.down(x))
        return F.relu(out) if self.last_relu else out


class Bottleneck(nn.Module):
    """1x1, 3x3 (stride), 1x1 to ``planes * 2`` channels (DDRNet's expansion of 2), residual; no final ReLU."""

    expansion = 2

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        cout = planes * self.expansion
        self.body = nn.Sequential(
            _conv_bn(cin, planes, 1), nn.ReLU(inplace=True), _conv_bn(planes, planes, 3, stride),
            nn.ReLU(inplace=True), _conv_bn(planes, cout, 1),
        )
        self.down = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.down is None else self.down(x))


def _basic_layer(cin: int, cout: int, blocks: int, stride: int = 1) -> nn.Sequential:
    layers = [BasicBlock(cin, cout, stride)] + [BasicBlock(cout, cout) for _ in range(blocks - 1)]
    layers[-1].last_relu = False
    return nn.Sequential(*layers)


def _bn_relu_conv(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, k, padding=k // 2, bias=False))


class DAPPM(nn.Module):
    """Deep aggregation pyramid pooling: 5 scales, each refined with the previous one (hierarchical residual)."""

    POOLS = ((5, 2, 2), (9, 4, 4), (17, 8, 8))  # (kernel, stride, padding) as in the paper

    def __init__(self, cin: int, branch: int, cout: int):
        super().__init__()
        self.scale0 = _bn_relu_conv(cin, branch, 1)
        self.pools = nn.ModuleList([
            nn.AvgPool2d(k, stride=s, padding=p, count_include_pad=True) for k, s, p in self.POOLS
        ])
        self.scales = nn.ModuleList([_bn_relu_conv(cin, branch, 1) for _ in range(4)])
        self.process = nn.ModuleList([_bn_relu_conv(branch, branch, 3) for _ in range(4)])
        self.compression = _bn_relu_conv(branch * 5, cout, 1)
        self.shortcut = _bn_relu_conv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        pooled = [pool(x) for pool in self.pools] + [x.mean(dim=(2, 3), keepdim=True)]
        outs = [self.scale0(x)]
        for pool_out, scale, process in zip(pooled, self.scales, self.process):
            outs.append(process(_resize(scale(pool_out), size) + outs[-1]))
        return self.compression(torch.cat(outs, dim=1)) + self.shortcut(x)


class SegHead(nn.Module):
    """BN-ReLU-3x3 conv, BN-ReLU, 1x1 to classes (at 1/8; the caller resizes)."""

    def __init__(self, cin: int, mid: int, num_classes: int):
        super().__init__()
        self.conv = _bn_relu_conv(cin, mid, 3)
        self.bn = nn.BatchNorm2d(mid)
        self.cls = nn.Conv2d(mid, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls(F.relu(self.bn(self.conv(x))))


class DDRNet(nn.Module):
    """Input N x in_channels x H x W (H, W multiples of 8); output N x num_classes x H x W logits."""

    aux_loss_weight = 0.4

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32, head_channels: int = 64,
                 spp_channels: int = 128, blocks: tuple[int, int, int, int] = (2, 2, 2, 2)):
        super().__init__()
        w, high = width, width * 2
        self.stem = nn.Sequential(
            _conv_bn(in_channels, w, 3, 2), nn.ReLU(inplace=True), _conv_bn(w, w, 3, 2), nn.ReLU(inplace=True),
        )
        self.layer1 = _basic_layer(w, w, blocks[0])
        self.layer2 = _basic_layer(w, w * 2, blocks[1], stride=2)
        self.layer3 = _basic_layer(w * 2, w * 4, blocks[2], stride=2)
        self.layer3_high = _basic_layer(w * 2, high, blocks[2])
        self.layer4 = _basic_layer(w * 4, w * 8, blocks[3], stride=2)
        self.layer4_high = _basic_layer(high, high, blocks[3])
        self.compression3 = _conv_bn(w * 4, high, 1)
        self.compression4 = _conv_bn(w * 8, high, 1)
        self.down3 = _conv_bn(high, w * 4, 3, 2)
        self.down4 = nn.Sequential(_conv_bn(high, w * 4, 3, 2), nn.ReLU(inplace=True), _conv_bn(w * 4, w * 8, 3, 2))
        self.layer5_high = Bottleneck(high, high)
        self.layer5 = Bottleneck(w * 8, w * 8, stride=2)
        self.spp = DAPPM(w * 16, spp_channels, high * 2)
        self.head = SegHead(high * 2, head_channels, num_classes)
        self.aux_head = SegHead(high, head_channels, num_classes)

    def forward(self, x: torch.Tensor):
        size = x.shape[2:]
        x = self.layer1(self.stem(x))
        x = self.layer2(F.relu(x))
        high = self.layer3_high(F.relu(x))
        low = self.layer3(F.relu(x))
        high_size = high.shape[2:]
        # Bilateral fusion 1: both sums use the pre-fusion features of the other branch.
        low, high = low + self.down3(F.relu(high)), high + _resize(self.compression3(F.relu(low)), high_size)
        aux_features = high
        high = self.layer4_high(F.relu(high))
        low = self.layer4(F.relu(low))
        low, high = low + self.down4(F.relu(high)), high + _resize(self.compression4(F.relu(low)), high_size)
        high = self.layer5_high(F.relu(high))
        context = _resize(self.spp(self.layer5(F.relu(low))), high_size)
        logits = _resize(self.head(high + context), size)
        if not self.training:
            return logits
        return logits, _resize(self.aux_head(aux_features), size)


@register_model("ddrnet23_slim", paper="Hong et al. 2021, DDRNet (arXiv:2101.06085), 23-slim", input_multiple=8)
def ddrnet23_slim(num_classes: int, in_channels: int = 3) -> nn.Module:
    """DDRNet-23-slim: width 32, head 64, DAPPM branches 128."""
    return DDRNet(num_classes, in_channels=in_channels)
