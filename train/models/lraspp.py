"""MobileNetV3-Large with the LR-ASPP head (Howard et al., 2019), arXiv:1905.02244.

Backbone: Table 1 of the paper (MobileNetV3-Large: inverted residuals with
squeeze-and-excite and hard-swish), written here. As in the paper's
segmentation setting (section 6.4), the last stage uses dilation 2 instead of
stride 2, so the backbone's output stride is 16.

Head (Fig. 10, "Lite R-ASPP"): the 1/16 features go through 1x1 conv-BN-ReLU
(128 ch) gated by a sigmoid of a globally pooled 1x1 conv, are upsampled to
1/8, classified with a 1x1 conv and added to a 1x1 classifier of the 1/8
features; the sum is bilinearly upsampled to the input.

Deviations, both for deployment:

- the paper's pooling is a 49x49 average pool with stride (16, 20) at 1024x2048
  inputs; like torchvision we use global average pooling, written as a mean
  (ONNX ReduceMean), which is the same thing at our 480x360 inputs' 1/16 size;
- hard-swish is written as ``x * hardsigmoid(x)`` so the ONNX holds
  HardSigmoid and Mul, which every TensorRT version parses (HardSwish is newer).

Bilinear resizes use ``align_corners=False``. H and W must be multiples of 8.
Pretrained ImageNet weights for the backbone can be loaded from a local file
with ``backbone_weights=PATH`` (a state_dict whose keys match ``backbone.*``
or the backbone's own keys).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .local_weights import load_local_weights
from .registry import register_model


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _make_divisible(v: float, divisor: int = 8) -> int:
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


class HardSwish(nn.Module):
    """``x * relu6(x + 3) / 6`` as Mul(x, HardSigmoid(x)) in ONNX."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * F.hardsigmoid(x)


def _act(name: str) -> nn.Module:
    return HardSwish() if name == "HS" else nn.ReLU(inplace=True)


class ConvBNAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, dilation: int = 1,
                 act: str | None = "RE"):
        padding = (k - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, padding, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act is not None:
            layers.append(_act(act))
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Global mean, 1x1 (channels/4, ReLU), 1x1, hard-sigmoid gate."""

    def __init__(self, channels: int):
        super().__init__()
        squeeze = _make_divisible(channels // 4)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))
        return x * F.hardsigmoid(self.fc2(s))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, k: int, expand: int, cout: int, se: bool, act: str, stride: int, dilation: int):
        super().__init__()
        layers: list[nn.Module] = []
        if expand != cin:
            layers.append(ConvBNAct(cin, expand, 1, act=act))
        layers.append(ConvBNAct(expand, expand, k, stride=stride, groups=expand, dilation=dilation, act=act))
        if se:
            layers.append(SqueezeExcite(expand))
        layers.append(ConvBNAct(expand, cout, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.residual else out


# Table 1, MobileNetV3-Large: (kernel, expansion, out, SE, activation, stride); the last stage is dilated.
LARGE_CONFIG = [
    (3, 16, 16, False, "RE", 1),
    (3, 64, 24, False, "RE", 2),
    (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2),
    (5, 120, 40, True, "RE", 1),
    (5, 120, 40, True, "RE", 1),  # -> the 1/8 features the head uses (index 6 of `features`)
    (3, 240, 80, False, "HS", 2),
    (3, 200, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1),
    (3, 480, 112, True, "HS", 1),
    (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2),
    (5, 960, 160, True, "HS", 1),
    (5, 960, 160, True, "HS", 1),
]
LOW_LEVEL_INDEX = 6
DILATED_FROM = 13  # config entries 13..15 (1-based): stride 2 becomes dilation 2


class MobileNetV3Large(nn.Module):
    """Returns (1/8 features, 40 ch; 1/16 features, 960 ch) for an N x in_channels x H x W input."""

    def __init__(self, in_channels: int = 3):
        super().__init__()
        features: list[nn.Module] = [ConvBNAct(in_channels, 16, 3, stride=2, act="HS")]
        cin = 16
        for index, (k, exp, cout, se, act, stride) in enumerate(LARGE_CONFIG, start=1):
            dilation = 1
            if index >= DILATED_FROM:
                stride, dilation = 1, 2
            features.append(InvertedResidual(cin, k, exp, cout, se, act, stride, dilation))
            cin = cout
        features.append(ConvBNAct(cin, 6 * cin, 1, act="HS"))
        self.features = nn.Sequential(*features)
        self.out_channels = 6 * cin

    def forward(self, x: torch.Tensor):
        low = None
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index == LOW_LEVEL_INDEX:
                low = x
        return low, x


class LRASPPHead(nn.Module):
    def __init__(self, low_channels: int, high_channels: int, num_classes: int, inter: int = 128):
        super().__init__()
        self.cbr = nn.Sequential(nn.Conv2d(high_channels, inter, 1, bias=False), nn.BatchNorm2d(inter),
                                 nn.ReLU(inplace=True))
        self.scale = nn.Conv2d(high_channels, inter, 1, bias=False)
        self.low_classifier = nn.Conv2d(low_channels, num_classes, 1)
        self.high_classifier = nn.Conv2d(inter, num_classes, 1)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.scale(high.mean(dim=(2, 3), keepdim=True)))
        x = _resize(self.cbr(high) * gate, low.shape[2:])
        return self.low_classifier(low) + self.high_classifier(x)


class LRASPP(nn.Module):
    """Input N x in_channels x H x W (multiples of 8); output N x num_classes x H x W logits."""

    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.backbone = MobileNetV3Large(in_channels)
        self.head = LRASPPHead(40, self.backbone.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low, high = self.backbone(x)
        return _resize(self.head(low, high), x.shape[2:])


def load_backbone_weights(backbone: nn.Module, path: str) -> None:
    """Load a local state_dict into the backbone (keys ``features.*``, optionally prefixed ``backbone.``)."""
    load_local_weights(backbone, path, prefix="backbone.")


@register_model("lraspp_mobilenetv3", paper="Howard et al. 2019, MobileNetV3 + LR-ASPP (arXiv:1905.02244)",
                input_multiple=8)
def lraspp_mobilenetv3(num_classes: int, in_channels: int = 3, backbone_weights: str | None = None) -> nn.Module:
    """MobileNetV3-Large (dilated last stage) + LR-ASPP; ``backbone_weights``: optional local state_dict."""
    model = LRASPP(num_classes, in_channels=in_channels)
    if backbone_weights:
        load_backbone_weights(model.backbone, backbone_weights)
    return model
