"""SegNet (Badrinarayanan, Kendall, Cipolla, 2015), arXiv:1511.00561.

Structure as in the paper (Fig. 2): the encoder is the 13 conv layers of
VGG-16 with batch normalisation; each 2x2 max pooling remembers its switches;
the decoder mirrors the encoder, upsampling with those switches (no learned
upsampling) followed by conv-BN-ReLU layers, and a final 3x3 conv gives the
class scores (the paper's softmax is left to the loss).

Deviations:
- Switches are kept as masks (:mod:`edgeseg.train.models.unpool`, the ENet
  formulation), so the ONNX has no MaxUnpool; the result equals
  ``F.max_unpool2d`` exactly. H and W must be multiples of 32.
- Widths scale with ``width_mult`` (default 0.25: 16..128 channels) so it
  trains on a CPU; ``width_mult=1.0`` is the paper's network and loads
  torchvision ``vgg16_bn`` weights into the encoder with ``backbone_weights``.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn import functional as F

from .backbones import VGG16_CFG, build_vgg16, scaled
from .layers import ConvBNReLU
from .registry import register_model
from .unpool import max_pool2x2_with_mask, max_unpool2x2


def _encoder_stage_widths() -> list[list[int]]:
    """Conv widths of VGG-16's five stages: [[64, 64], [128, 128], [256]*3, [512]*3, [512]*3]."""
    stages: list[list[int]] = [[]]
    for item in VGG16_CFG:
        if item == "M":
            stages.append([])
        else:
            stages[-1].append(int(item))
    return stages[:-1]


class SegNet(nn.Module):
    """SegNet with a VGG-16-BN encoder and a mirrored decoder.

    Input: float N x C x H x W, H and W multiples of 32.
    Output: float logits N x num_classes x H x W.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
                 backbone_weights: str | os.PathLike | None = None, upsampling: str = "index"):
        super().__init__()
        if upsampling not in ("index", "nearest"):
            raise ValueError(f"segnet upsampling must be 'index' (pooling switches) or 'nearest', got {upsampling!r}")
        # "nearest" is the ablation of the paper's claim: the same decoder, upsampled without the switches.
        self.index_unpooling = upsampling == "index"
        self.encoder = build_vgg16(in_channels, width_mult, batch_norm=True, backbone_weights=backbone_weights)
        # Decoder stage k mirrors encoder stage k: same number of convs; the last conv of
        # each stage goes to the width of the encoder stage before it (paper Fig. 2).
        widths = [[scaled(c, width_mult) for c in stage] for stage in _encoder_stage_widths()]
        decoder = []
        for k in reversed(range(5)):
            stage = widths[k]
            out_last = widths[k - 1][-1] if k > 0 else stage[0]
            layers: list[nn.Module] = []
            for i in range(len(stage)):
                cin = stage[0] if i == 0 else stage[i]
                cout = stage[i] if i < len(stage) - 1 else out_last
                layers.append(ConvBNReLU(cin, cout, 3))
            if k == 0:  # the last decoder conv is the classifier
                layers[-1] = nn.Conv2d(stage[0], num_classes, 3, padding=1)
            decoder.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        masks = []
        for layer in self.encoder.features:
            if isinstance(layer, nn.MaxPool2d) and self.index_unpooling:
                x, mask = max_pool2x2_with_mask(x)
                masks.append(mask)
            else:
                x = layer(x)
        if not self.index_unpooling:
            for stage in self.decoder:
                x = stage(F.interpolate(x, scale_factor=2.0, mode="nearest"))
            return x
        for stage, mask in zip(self.decoder, reversed(masks)):
            x = stage(max_unpool2x2(x, mask))
        return x


@register_model("segnet", paper="Badrinarayanan et al. 2015, SegNet", input_multiple=32)
def segnet(num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
           backbone_weights: str | None = None, upsampling: str = "index") -> nn.Module:
    """VGG-16-BN encoder at width_mult 0.25; pooling switches kept as masks (no MaxUnpool in the ONNX)."""
    return SegNet(num_classes, in_channels, width_mult, backbone_weights, upsampling)
