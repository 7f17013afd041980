"""PSPNet (Zhao, Shi, Qi, Wang, Jia, CVPR 2017), arXiv:1612.01105.

Structure as in the paper (Fig. 3): a dilated ResNet (output stride 8), the
pyramid pooling module (average pooling into 1x1, 2x2, 3x3 and 6x6 bins, a 1x1
conv-BN-ReLU to C/4 channels per level, bilinear upsampling back and
concatenation with the feature map), a 3x3 conv-BN-ReLU, dropout 0.1, a 1x1
classifier, and bilinear upsampling x8. Resizes use ``align_corners=True``,
as the authors' Caffe ``Interp`` layer does.

Pooling for deployment: adaptive average pooling whose bins do not divide the
feature map (45 x 60 at 360 x 480 has no 2-bin or 6-bin split of 45) has no
TensorRT layer and does not export. Here each level is written as two matrix
products, ``P_h @ x @ P_w^T``, where ``P`` holds the averaging weights of
PyTorch's adaptive bins (bin i covers ``[floor(i*n/b), ceil((i+1)*n/b))``),
built from the input size when the model runs. The result equals
``F.adaptive_avg_pool2d`` for every size; in the ONNX the matrices are
constants, so **the exported graph is fixed-size** (the export size), which is
what edgeseg's contract asks for anyway.

Deviations: the default backbone is ResNet-18 at ``width_mult`` 0.25 (the
paper: ResNet-50/101 with a deep 3x3 stem) so it trains on a CPU; choose
``backbone="resnet50"`` or ``"resnet101"`` and ``width_mult=1.0`` and pass a
torchvision state dict with ``backbone_weights`` for the paper's setting. No
auxiliary loss branch on layer3 (edgeseg's trainer has a single output). The
1x1 pyramid level is conv-ReLU without BatchNorm (BN over one value per image
fails on a batch of one, e.g. the last batch of an epoch). H and W must be
multiples of 8.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .backbones import build_resnet, scaled
from .layers import ConvBNReLU, resize_bilinear
from .registry import register_model


def adaptive_pool_matrix(size: int, bins: int, *, dtype: torch.dtype = torch.float32,
                         device: torch.device | None = None) -> torch.Tensor:
    """``bins x size`` matrix whose row i averages PyTorch's i-th adaptive pooling bin."""
    rows = []
    for i in range(bins):
        start = (i * size) // bins
        end = -((-(i + 1) * size) // bins)  # ceil
        rows.append([1.0 / (end - start) if start <= j < end else 0.0 for j in range(size)])
    return torch.tensor(rows, dtype=dtype, device=device)


def adaptive_avg_pool_fixed(x: torch.Tensor, bins: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, bins)`` as two MatMuls with size-dependent constant matrices.

    x: float N x C x H x W -> N x C x bins x bins. H and W are read as Python
    ints, so under ONNX tracing the matrices become constants for this size.
    """
    h, w = int(x.shape[-2]), int(x.shape[-1])
    ph = adaptive_pool_matrix(h, bins, dtype=x.dtype, device=x.device)
    pw = adaptive_pool_matrix(w, bins, dtype=x.dtype, device=x.device)
    return torch.matmul(torch.matmul(ph, x), pw.t())


class PyramidPooling(nn.Module):
    """PSP module: N x C x H x W -> N x 2C x H x W (input plus four C/4 levels)."""

    def __init__(self, in_channels: int, bins: tuple[int, ...] = (1, 2, 3, 6)):
        super().__init__()
        self.bins = bins
        reduced = in_channels // len(bins)
        # The 1x1 level has no BatchNorm: over single values per image its batch statistics are
        # degenerate at CPU batch sizes, and training fails outright on a batch of one.
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels, reduced, 1), nn.ReLU(inplace=True)) if b == 1
            else ConvBNReLU(in_channels, reduced, 1)
            for b in bins
        )
        self.out_channels = in_channels + reduced * len(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        levels = [x]
        for bins, stage in zip(self.bins, self.stages):
            levels.append(resize_bilinear(stage(adaptive_avg_pool_fixed(x, bins)), size, align_corners=True))
        return torch.cat(levels, dim=1)


class PSPNet(nn.Module):
    """PSPNet: float N x C x H x W -> logits N x num_classes x H x W (H, W multiples of 8)."""

    def __init__(self, num_classes: int, in_channels: int = 3, backbone: str = "resnet18", width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None, pyramid: bool = True):
        super().__init__()
        self.backbone = build_resnet(backbone, in_channels, width_mult, output_stride=8,
                                     backbone_weights=backbone_weights)
        # pyramid=False is the paper's baseline (its Table 1): the same dilated backbone and head, no pooling levels.
        pooling = PyramidPooling(self.backbone.out_channels) if pyramid else None
        self.ppm: nn.Module = pooling if pooling is not None else nn.Identity()
        head_in = pooling.out_channels if pooling is not None else self.backbone.out_channels
        self.head = nn.Sequential(
            ConvBNReLU(head_in, scaled(512, width_mult), 3),
            nn.Dropout2d(0.1),
            nn.Conv2d(scaled(512, width_mult), num_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)[-1]
        return resize_bilinear(self.head(self.ppm(features)), x.shape[-2:], align_corners=True)


@register_model("pspnet", paper="Zhao et al. 2017, PSPNet", input_multiple=8)
def pspnet(num_classes: int, in_channels: int = 3, backbone: str = "resnet18", width_mult: float = 0.25,
           backbone_weights: str | None = None, pyramid: bool = True) -> nn.Module:
    """Dilated ResNet-18 at width 0.25 (paper: ResNet-50/101), no aux loss; pooling as MatMuls, so the ONNX is fixed-size."""
    return PSPNet(num_classes, in_channels, backbone, width_mult, backbone_weights, pyramid)
