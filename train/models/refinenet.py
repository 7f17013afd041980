"""RefineNet (Lin, Milan, Shen, Reid, CVPR 2017), arXiv:1611.06612.

Structure as in the paper (Fig. 2 and 3, 4-cascaded RefineNet): the outputs of
the four ResNet stages (strides 4, 8, 16, 32) feed RefineNet-4 .. RefineNet-1.
Each RefineNet block takes one path (RefineNet-4) or two (its ResNet stage and
the previous block's output) and applies:

- residual conv units (RCU: ReLU, 3x3 conv, ReLU, 3x3 conv, plus input), two
  per input path;
- multi-resolution fusion: a 3x3 conv per path to the block's width, bilinear
  upsampling to the largest input resolution, summation;
- chained residual pooling: ReLU, then a chain of (5x5 max pool stride 1,
  3x3 conv) blocks whose outputs are summed with the input;
- one output RCU.

Block widths: 512 for RefineNet-4 and 256 for the others (times
``width_mult``). After RefineNet-1 come two RCUs and a 1x1 classifier at
stride 4, then bilinear upsampling x4. Resizes use ``align_corners=False``.

Deviations: the default backbone is ResNet-18 at ``width_mult`` 0.25 (paper:
ResNet-101 at full width) so it trains on a CPU; pass
``backbone="resnet101", width_mult=1.0, backbone_weights=PATH`` for the
paper's setting. Each ResNet output is adapted to the block width by a 3x3
conv (the authors' code's dimension-reduction layer); no dropout on it. Two
pooling blocks per chain (paper Fig. 2(d); configurable ``crp_blocks``).
H and W must be multiples of 32.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .backbones import build_resnet, scaled
from .layers import resize_bilinear
from .registry import register_model


class ResidualConvUnit(nn.Module):
    """RCU: x + conv(relu(conv(relu(x)))), 3x3 convs, width unchanged."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(self.relu(x))))


class ChainedResidualPooling(nn.Module):
    """relu(x) plus the outputs of a chain of (5x5 max pool stride 1, 3x3 conv) blocks."""

    def __init__(self, channels: int, blocks: int = 2):
        super().__init__()
        self.relu = nn.ReLU()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(5, stride=1, padding=2), nn.Conv2d(channels, channels, 3, padding=1, bias=False))
            for _ in range(blocks)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        path = x
        for block in self.blocks:
            path = block(path)
            x = x + path
        return x


class RefineNetBlock(nn.Module):
    """One RefineNet block over 1 or 2 input paths -> N x width x H x W at the finest input's size."""

    def __init__(self, in_channels: list[int], width: int, crp_blocks: int = 2):
        super().__init__()
        self.rcus = nn.ModuleList(nn.Sequential(ResidualConvUnit(c), ResidualConvUnit(c)) for c in in_channels)
        self.fuse = nn.ModuleList(nn.Conv2d(c, width, 3, padding=1) for c in in_channels) if len(in_channels) > 1 else None
        self.crp = ChainedResidualPooling(width if len(in_channels) > 1 else in_channels[0], crp_blocks)
        self.out = ResidualConvUnit(width if len(in_channels) > 1 else in_channels[0])

    def forward(self, *paths: torch.Tensor) -> torch.Tensor:
        paths = tuple(rcu(p) for rcu, p in zip(self.rcus, paths))
        if self.fuse is None:
            fused = paths[0]
        else:
            size = paths[0].shape[-2:]  # the first path is the finest (the ResNet stage)
            fused = self.fuse[0](paths[0])
            for conv, p in zip(self.fuse[1:], paths[1:]):
                fused = fused + resize_bilinear(conv(p), size, align_corners=False)
        return self.out(self.crp(fused))


class RefineNet(nn.Module):
    """4-cascaded RefineNet: float N x C x H x W -> logits N x num_classes x H x W (H, W multiples of 32)."""

    def __init__(self, num_classes: int, in_channels: int = 3, backbone: str = "resnet18", width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None, crp_blocks: int = 2):
        super().__init__()
        self.backbone = build_resnet(backbone, in_channels, width_mult, backbone_weights=backbone_weights)
        wide, narrow = scaled(512, width_mult), scaled(256, width_mult)
        widths = [narrow, narrow, narrow, wide]  # for stages 1..4
        self.adapt = nn.ModuleList(
            nn.Conv2d(c, w, 3, padding=1, bias=False) for c, w in zip(self.backbone.stage_channels, widths)
        )
        self.refine4 = RefineNetBlock([wide], wide, crp_blocks)
        self.refine3 = RefineNetBlock([narrow, wide], narrow, crp_blocks)
        self.refine2 = RefineNetBlock([narrow, narrow], narrow, crp_blocks)
        self.refine1 = RefineNetBlock([narrow, narrow], narrow, crp_blocks)
        self.head = nn.Sequential(ResidualConvUnit(narrow), ResidualConvUnit(narrow), nn.Conv2d(narrow, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        l1, l2, l3, l4 = (adapt(f) for adapt, f in zip(self.adapt, self.backbone(x)))
        y = self.refine4(l4)
        y = self.refine3(l3, y)
        y = self.refine2(l2, y)
        y = self.refine1(l1, y)
        return resize_bilinear(self.head(y), x.shape[-2:], align_corners=False)


@register_model("refinenet", paper="Lin et al. 2017, RefineNet", input_multiple=32)
def refinenet(num_classes: int, in_channels: int = 3, backbone: str = "resnet18", width_mult: float = 0.25,
              backbone_weights: str | None = None, crp_blocks: int = 2) -> nn.Module:
    """4-cascaded on ResNet-18 at width 0.25 (paper: ResNet-101); 3x3 adapt convs; 2 CRP blocks."""
    return RefineNet(num_classes, in_channels, backbone, width_mult, backbone_weights, crp_blocks)
