"""BiSeNet V2 (Yu, Gao, Gong, Shen, Sang, 2020), arXiv:2004.02147.

Structure as in the paper (Table 1, Figs. 3-6):

- detail branch: three stages of 3x3 conv-BN-ReLU (64, 64, 128 channels),
  each starting with stride 2, so its output is 1/8 of the input, 128 channels;
- semantic branch: stem block (conv + a conv/max-pool pair, concatenated), gather-
  and-expand (GE) layers to 1/32 (16, 32, 64, 128 channels; expansion 6) and a
  context embedding (global average pooling, BN, 1x1, added back, 3x3);
- bilateral guided aggregation (BGA): each branch gates the other through a
  sigmoid at both resolutions, then the two are summed and convolved;
- segmentation head: 3x3 conv-BN-ReLU, 1x1 to classes, bilinear up to the input;
- booster: auxiliary heads on the stem (1/4) and the semantic stages at 1/8,
  1/16 and 1/32, used only in training (the paper's "booster training strategy").

``forward`` returns the main logits (N x classes x H x W) in eval mode and for
export; in training mode it returns ``(main, aux_1, ..., aux_4)``, every aux at
the input size, and :attr:`aux_loss_weight` is the paper's alpha (1.0).

Export notes: the global pooling of the context embedding is a mean over H and W
(ONNX ReduceMean), not adaptive pooling; every resize is bilinear with
``align_corners=False`` to an explicit size, so any input whose sides are
multiples of 8 works (strided convs round up consistently in both branches).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .registry import register_model


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, relu: bool = True):
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class DetailBranch(nn.Sequential):
    """Wide and shallow: 1/8 resolution, 128 channels."""

    def __init__(self, in_channels: int):
        super().__init__(
            ConvBNReLU(in_channels, 64, stride=2), ConvBNReLU(64, 64),
            ConvBNReLU(64, 64, stride=2), ConvBNReLU(64, 64), ConvBNReLU(64, 64),
            ConvBNReLU(64, 128, stride=2), ConvBNReLU(128, 128), ConvBNReLU(128, 128),
        )


class StemBlock(nn.Module):
    """Fig. 4a: 3x3 s2 conv, then a (1x1, 3x3 s2) path and a 3x3 s2 max-pool path, concatenated: 1/4, 16 ch."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = ConvBNReLU(in_channels, 16, stride=2)
        self.left = nn.Sequential(ConvBNReLU(16, 8, k=1), ConvBNReLU(8, 16, stride=2))
        self.right = nn.MaxPool2d(3, stride=2, padding=1)
        self.fuse = ConvBNReLU(32, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], dim=1))


class GatherExpand(nn.Module):
    """Fig. 5b/c: gather-and-expand layer, expansion ratio 6; stride 2 adds a second depthwise conv and a shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = 6):
        super().__init__()
        mid = cin * expand
        self.conv = ConvBNReLU(cin, cin)
        if stride == 1:
            self.dw: nn.Module = ConvBNReLU(cin, mid, groups=cin, relu=False)
            self.shortcut = None
        else:
            self.dw = nn.Sequential(ConvBNReLU(cin, mid, stride=2, groups=cin, relu=False),
                                    ConvBNReLU(mid, mid, groups=mid, relu=False))
            self.shortcut = nn.Sequential(ConvBNReLU(cin, cin, stride=2, groups=cin, relu=False),
                                          ConvBNReLU(cin, cout, k=1, relu=False))
        self.project = ConvBNReLU(mid, cout, k=1, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.project(self.dw(self.conv(x))) + shortcut)


class ContextEmbedding(nn.Module):
    """Fig. 4b: global average pooling (a mean, exported as ReduceMean), BN, 1x1, broadcast add, 3x3."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.gap_conv = ConvBNReLU(channels, channels, k=1)
        self.last = ConvBNReLU(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.gap_conv(self.bn(x.mean(dim=(2, 3), keepdim=True)))
        return self.last(x + context)


class SemanticBranch(nn.Module):
    """Narrow and deep: returns the stem (1/4), stage 3 (1/8), stage 4 (1/16) and the embedded 1/32 features."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.stem = StemBlock(in_channels)
        self.s3 = nn.Sequential(GatherExpand(16, 32, 2), GatherExpand(32, 32))
        self.s4 = nn.Sequential(GatherExpand(32, 64, 2), GatherExpand(64, 64))
        self.s5 = nn.Sequential(GatherExpand(64, 128, 2), GatherExpand(128, 128), GatherExpand(128, 128),
                                GatherExpand(128, 128))
        self.ce = ContextEmbedding(128)

    def forward(self, x: torch.Tensor):
        stem = self.stem(x)
        s3 = self.s3(stem)
        s4 = self.s4(s3)
        s5 = self.s5(s4)
        return stem, s3, s4, s5, self.ce(s5)


class BilateralGuidedAggregation(nn.Module):
    """Fig. 6: detail (1/8) and semantic (1/32) features gate each other, then sum and 3x3 conv."""

    def __init__(self, channels: int = 128):
        super().__init__()
        self.detail_keep = nn.Sequential(ConvBNReLU(channels, channels, groups=channels, relu=False),
                                         nn.Conv2d(channels, channels, 1, bias=False))
        self.detail_down = nn.Sequential(ConvBNReLU(channels, channels, stride=2, relu=False),
                                         nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False))
        self.semantic_up = ConvBNReLU(channels, channels, relu=False)
        self.semantic_keep = nn.Sequential(ConvBNReLU(channels, channels, groups=channels, relu=False),
                                           nn.Conv2d(channels, channels, 1, bias=False))
        self.fuse = ConvBNReLU(channels, channels)

    def forward(self, detail: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        size = detail.shape[2:]
        high = self.detail_keep(detail) * torch.sigmoid(_resize(self.semantic_up(semantic), size))
        low = self.detail_down(detail) * torch.sigmoid(self.semantic_keep(semantic))
        return self.fuse(high + _resize(low, size))


class SegHead(nn.Module):
    """3x3 conv-BN-ReLU, dropout, 1x1 to classes; the caller resizes to the input."""

    def __init__(self, cin: int, mid: int, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.drop = nn.Dropout(dropout)
        self.cls = nn.Conv2d(mid, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls(self.drop(self.conv(x)))


class BiSeNetV2(nn.Module):
    """Input N x in_channels x H x W (H, W multiples of 8); output N x num_classes x H x W logits."""

    aux_loss_weight = 1.0

    def __init__(self, num_classes: int, in_channels: int = 3, head_channels: int = 1024, aux_channels: int = 128):
        super().__init__()
        self.detail = DetailBranch(in_channels)
        self.semantic = SemanticBranch(in_channels)
        self.bga = BilateralGuidedAggregation(128)
        self.head = SegHead(128, head_channels, num_classes)
        self.aux_heads = nn.ModuleList(
            [SegHead(c, aux_channels, num_classes) for c in (16, 32, 64, 128)]
        )

    def forward(self, x: torch.Tensor):
        size = x.shape[2:]
        stem, s3, s4, s5, embedded = self.semantic(x)
        logits = _resize(self.head(self.bga(self.detail(x), embedded)), size)
        if not self.training:
            return logits
        aux = [_resize(head(f), size) for head, f in zip(self.aux_heads, (stem, s3, s4, s5))]
        return (logits, *aux)


@register_model("bisenetv2", paper="Yu et al. 2020, BiSeNet V2 (arXiv:2004.02147)", input_multiple=8)
def bisenetv2(num_classes: int, in_channels: int = 3, head_channels: int = 1024) -> nn.Module:
    """BiSeNet V2 as in the paper (head width 1024); ``head_channels`` smaller for a lighter head."""
    return BiSeNetV2(num_classes, in_channels=in_channels, head_channels=head_channels)
