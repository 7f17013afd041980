"""DeepLab-LargeFOV (Chen, Papandreou, Kokkinos, Murphy, Yuille, ICLR 2015), arXiv:1412.7062.

Structure as in the paper's DeepLab-LargeFOV: VGG-16 whose pool4 and pool5
have stride 1 (3x3 pools with padding 1 throughout), conv5 with dilation 2,
fc6 as a 3x3 convolution with dilation 12 and 1024 channels, fc7 a 1x1
convolution with 1024 channels (dropout 0.5 after both), fc8 the class scorer.
Scores are at output stride 8 and bilinearly upsampled x8
(``align_corners=False``).

``deeplab_largefov_crf`` adds the paper's CRF as post-processing inside the
model: in eval mode (and so in the exported graph) the upsampled scores go
through :class:`~edgeseg.train.models.crf.LocalMeanFieldCRF` with the input
image; in training mode the CRF is skipped, as the paper trains the network
without it. The CRF is the local-window mean-field form described in
:mod:`edgeseg.train.models.crf`, not the dense permutohedral one.

Deviations: widths scale with ``width_mult`` (default 0.25: convs 16..128,
fc 256) for CPU training; ``width_mult=1.0`` loads torchvision VGG-16 conv
weights with ``backbone_weights`` (the paper also subsamples fc6 from the
ImageNet fc layers; here fc6/fc7 start fresh). H and W must be multiples of 8.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .backbones import build_vgg16, init_relu_convs, scaled
from .crf import LocalMeanFieldCRF
from .layers import resize_bilinear
from .registry import register_model


class LargeFOVBody(nn.Module):
    """VGG-16 (DeepLab pooling) + fc6 (dilation 12) + fc7: N x C x H x W -> N x F x H/8 x W/8.

    ``out_channels`` is F (1024 x width_mult). Shared with ParseNet.
    """

    def __init__(self, in_channels: int = 3, width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None):
        super().__init__()
        self.backbone = build_vgg16(in_channels, width_mult, deeplab=True, backbone_weights=backbone_weights)
        fc = scaled(1024, width_mult)
        self.fc = nn.Sequential(
            nn.Conv2d(self.backbone.out_channels, fc, 3, padding=12, dilation=12), nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Conv2d(fc, fc, 1), nn.ReLU(inplace=True), nn.Dropout(0.5),
        )
        init_relu_convs(self.fc)  # fc6/fc7 continue the plain conv + ReLU stack (see init_relu_convs)
        self.out_channels = fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.backbone(x)[-1])


class DeepLabLargeFOV(nn.Module):
    """DeepLab-LargeFOV: float N x C x H x W -> logits N x num_classes x H x W (H, W multiples of 8)."""

    def __init__(self, num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None):
        super().__init__()
        self.body = LargeFOVBody(in_channels, width_mult, backbone_weights)
        self.fc8 = nn.Conv2d(self.body.out_channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize_bilinear(self.fc8(self.body(x)), x.shape[-2:], align_corners=False)


class DeepLabLargeFOVCRF(nn.Module):
    """DeepLab-LargeFOV followed by the CRF (eval mode only); same input and output as the network."""

    def __init__(self, num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None, crf_iterations: int = 5,
                 crf_window: int = 7, crf_downsample: int = 2):
        super().__init__()
        self.net = DeepLabLargeFOV(num_classes, in_channels, width_mult, backbone_weights)
        self.crf = LocalMeanFieldCRF(num_classes, iterations=crf_iterations, window=crf_window,
                                     downsample=crf_downsample, trainable=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        if self.training:
            return logits
        return self.crf(logits, x[:, :3])


@register_model("deeplab_largefov", paper="Chen et al. 2015, DeepLab-LargeFOV", input_multiple=8)
def deeplab_largefov(num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
                     backbone_weights: str | None = None) -> nn.Module:
    """VGG-16 at width_mult 0.25 (fc 256); fc6/fc7 not initialised from ImageNet fc."""
    return DeepLabLargeFOV(num_classes, in_channels, width_mult, backbone_weights)


@register_model("deeplab_largefov_crf", paper="Chen et al. 2015, DeepLab-LargeFOV + CRF", input_multiple=8)
def deeplab_largefov_crf(num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
                         backbone_weights: str | None = None, crf_iterations: int = 5, crf_window: int = 7,
                         crf_downsample: int = 2) -> nn.Module:
    """As deeplab_largefov; CRF in eval/export only: local 7x7 window on a 1/2 grid, 5 iterations (paper: dense, 10)."""
    return DeepLabLargeFOVCRF(num_classes, in_channels, width_mult, backbone_weights, crf_iterations, crf_window,
                              crf_downsample)
