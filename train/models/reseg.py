"""ReSeg (Visin, Ciccone, Romero, Kastner, Cho, Bengio, Matteucci, Courville, 2015), arXiv:1511.07053.

As in the paper: convolutional features (the paper: the first layers of an
ImageNet VGG-16; here a small VGG-style stack by default, to 1/4 resolution),
then ReNet layers, each a bidirectional GRU sweep over the columns followed by
one over the rows of the result (the first takes non-overlapping 2x2 patches,
so its output is at 1/8), then transposed-convolution upsampling to the input
size and a per-pixel classifier.

Deviations: the conv front end is small and trained from scratch by default
(``backbone_weights`` loads a local state_dict into ``features``); hidden size
64 per direction instead of the paper's 100, for CPU training.

Export: each sweep is one ONNX ``GRU`` node (see :mod:`.sweeps`); patches are a
Reshape/Transpose (pixel unshuffle), upsampling is ConvTranspose. H and W must
be multiples of 8. ``forward``: N x in_channels x H x W -> N x classes x H x W.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .local_weights import load_local_weights
from .registry import register_model
from .sweeps import BidirectionalSweep


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ReNetLayer(nn.Module):
    """Vertical then horizontal bidirectional GRU sweeps over ``patch`` x ``patch`` patches."""

    def __init__(self, in_channels: int, hidden: int, patch: int = 1):
        super().__init__()
        self.patch = patch
        self.vertical = BidirectionalSweep(in_channels * patch * patch, hidden, "vertical", "gru")
        self.horizontal = BidirectionalSweep(2 * hidden, hidden, "horizontal", "gru")
        self.out_channels = 2 * hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)  # each non-overlapping patch flattened into channels
        return self.horizontal(self.vertical(x))


class ReSeg(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3, widths: tuple[int, int] = (32, 64), hidden: int = 64,
                 renet_layers: int = 2, upsample_channels: int = 64):
        super().__init__()
        a, b = widths
        self.features = nn.Sequential(
            _conv(in_channels, a), _conv(a, a), nn.MaxPool2d(2),
            _conv(a, b), _conv(b, b), nn.MaxPool2d(2),
        )
        layers, cin = [], b
        for index in range(renet_layers):
            layer = ReNetLayer(cin, hidden, patch=2 if index == 0 else 1)
            layers.append(layer)
            cin = layer.out_channels
        self.renet = nn.Sequential(*layers)
        ups = []
        for _ in range(3):  # 1/8 -> 1/1
            ups += [nn.ConvTranspose2d(cin, upsample_channels, 2, stride=2, bias=False),
                    nn.BatchNorm2d(upsample_channels), nn.ReLU(inplace=True)]
            cin = upsample_channels
        self.upsample = nn.Sequential(*ups)
        self.classifier = nn.Conv2d(cin, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.upsample(self.renet(self.features(x))))


@register_model("reseg", paper="Visin et al. 2015, ReSeg (arXiv:1511.07053)", input_multiple=8)
def reseg(num_classes: int, in_channels: int = 3, hidden: int = 64, renet_layers: int = 2,
          backbone_weights: str | None = None) -> nn.Module:
    """ReSeg with a small VGG-style front end; ``backbone_weights``: optional local state_dict for it."""
    model = ReSeg(num_classes, in_channels=in_channels, hidden=hidden, renet_layers=renet_layers)
    if backbone_weights:
        load_local_weights(model.features, backbone_weights, prefix="features.")
    return model
