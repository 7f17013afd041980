"""ImageNet-style backbones written here: VGG-16 and ResNet-18/34/50/101.

The classic segmentation papers start from an ImageNet-pretrained VGG-16
(FCN, SegNet, DeepLab, ParseNet, CRF-as-RNN) or ResNet (RefineNet, PSPNet).
This module builds those networks with a ``width_mult`` so that the zoo's
defaults are small enough to train on a CPU, and loads pretrained weights from
a local file the user supplies (``backbone_weights=PATH``). Nothing is ever
downloaded.

Parameter names follow torchvision's layout (``features.N.weight`` for VGG;
``conv1``, ``bn1``, ``layer1..4`` for ResNet), so a torchvision ImageNet
state dict (e.g. ``vgg16_bn-6c64b313.pth``, ``resnet18-f37072fd.pth``) loads
directly at ``width_mult=1.0``. Classifier weights in the file (``classifier.*``,
``fc.*``) are ignored: the segmentation heads are new layers.

Shapes: every backbone takes float N x C x H x W (normalised RGB) and returns a
list of feature maps, finest first (see each class).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from edgeseg.errors import EdgesegError

# torchvision's VGG-16 configuration: channels of each 3x3 conv, "M" = 2x2 max pool.
VGG16_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def scaled(channels: int, width_mult: float) -> int:
    """``channels * width_mult`` rounded, at least 4."""
    return max(4, int(round(channels * width_mult)))


def init_relu_convs(module: nn.Module) -> None:
    """He (Kaiming) normal init, fan-out, for every convolution of ``module``; zero biases (torchvision's VGG init).

    Why: with PyTorch's default init each conv + ReLU of a plain VGG-16 (no batch norm) shrinks the signal,
    so from scratch the first conv's gradient is about 1e-9 at 256x192 (measured on DeepLab-LargeFOV at width
    0.25), below AdamW's epsilon of 1e-8: the network never moved off a constant prediction (loss ln 11 for
    nine epochs). He init keeps the activations' scale through the stack.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class VGG16(nn.Module):
    """VGG-16 convolutional layers (13 convs, 5 pools), torchvision's ``features`` layout.

    Args:
        in_channels: input channels.
        width_mult: multiplies every conv width (1.0: the paper's 64..512).
        batch_norm: conv-BN-ReLU as ``vgg16_bn`` (SegNet) or conv-ReLU (FCN, DeepLab).
        deeplab: DeepLab-LargeFOV's modification: pools are 3x3 with padding 1;
            pool4 and pool5 have stride 1 and conv5 has dilation 2, so the output
            stride is 8 instead of 32. Pools have no weights, so the parameter
            layout (and pretrained weights) are unchanged.

    ``forward`` returns the output of every pool (5 maps, strides 2..32, or
    2, 4, 8, 8, 8 with ``deeplab``). ``stage_channels`` lists their channels.
    """

    def __init__(self, in_channels: int = 3, width_mult: float = 1.0, *, batch_norm: bool = False,
                 deeplab: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        stage = 0
        self.stage_channels: list[int] = []
        for item in VGG16_CFG:
            if item == "M":
                if deeplab:
                    layers.append(nn.MaxPool2d(3, stride=2 if stage < 3 else 1, padding=1))
                else:
                    layers.append(nn.MaxPool2d(2, stride=2))
                self.stage_channels.append(channels)
                stage += 1
                continue
            out = scaled(int(item), width_mult)
            dilation = 2 if deeplab and stage == 4 else 1
            layers.append(nn.Conv2d(channels, out, 3, padding=dilation, dilation=dilation))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
        self.features = nn.Sequential(*layers)
        self.out_channels = channels
        init_relu_convs(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pooled = []
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                pooled.append(x)
        return pooled


class BasicBlock(nn.Module):
    """ResNet-18/34 block: two 3x3 convs and an identity or 1x1 projection shortcut."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet-50/101 block: 1x1 reduce, 3x3 (stride here, as torchvision "v1.5"), 1x1 expand x4."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))


RESNET_LAYOUTS: dict[str, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
}


class ResNet(nn.Module):
    """ResNet body (no pooling head, no fc), torchvision parameter names.

    Args:
        depth: one of :data:`RESNET_LAYOUTS`.
        in_channels: input channels.
        width_mult: multiplies every width (1.0: 64..512 planes).
        output_stride: 32 (plain), 16 (layer4 dilated 2) or 8 (layer3 dilated 2,
            layer4 dilated 4: the "dilated ResNet" of DeepLab and PSPNet).

    ``forward`` returns the outputs of layer1..layer4 (strides 4, 8, 16, 32 at
    ``output_stride=32``). ``stage_channels`` lists their channels.
    """

    layer1: nn.Sequential  # set in __init__ under their torchvision names (setattr)
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, depth: str = "resnet18", in_channels: int = 3, width_mult: float = 1.0, output_stride: int = 32):
        super().__init__()
        if depth not in RESNET_LAYOUTS:
            raise ValueError(f"unknown ResNet depth {depth!r}; choose one of {', '.join(RESNET_LAYOUTS)}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        block, counts = RESNET_LAYOUTS[depth]
        stem = scaled(64, width_mult)
        self.conv1 = nn.Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        # (stride, dilation) per layer: dilation replaces the stride of the last layers.
        plan = {32: [(1, 1), (2, 1), (2, 1), (2, 1)],
                16: [(1, 1), (2, 1), (2, 1), (1, 2)],
                8: [(1, 1), (2, 1), (1, 2), (1, 4)]}[output_stride]
        channels = stem
        self.stage_channels: list[int] = []
        for index, (count, (stride, dilation)) in enumerate(zip(counts, plan), start=1):
            planes = scaled(64 * 2 ** (index - 1), width_mult)
            blocks = []
            for i in range(count):
                blocks.append(block(channels, planes, stride if i == 0 else 1, dilation))
                channels = planes * block.expansion
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
            self.stage_channels.append(channels)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        features = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            features.append(x)
        return features


def build_resnet(name: str, in_channels: int = 3, width_mult: float = 1.0, output_stride: int = 32,
                 backbone_weights: str | os.PathLike | None = None) -> ResNet:
    """A :class:`ResNet`, with pretrained weights from ``backbone_weights`` when given."""
    net = ResNet(name, in_channels, width_mult, output_stride)
    if backbone_weights is not None:
        load_backbone_weights(net, backbone_weights)
    return net


def build_vgg16(in_channels: int = 3, width_mult: float = 1.0, *, batch_norm: bool = False, deeplab: bool = False,
                backbone_weights: str | os.PathLike | None = None) -> VGG16:
    """A :class:`VGG16`, with pretrained weights from ``backbone_weights`` when given."""
    net = VGG16(in_channels, width_mult, batch_norm=batch_norm, deeplab=deeplab)
    if backbone_weights is not None:
        load_backbone_weights(net, backbone_weights)
    return net


_WRAPPER_PREFIXES: Sequence[str] = ("module.", "backbone.", "encoder.", "model.")


def load_backbone_weights(backbone: nn.Module, path: str | os.PathLike) -> None:
    """Load an ImageNet state dict from the local file ``path`` into ``backbone``.

    Accepts a plain state dict or a dict holding one under ``state_dict`` or
    ``model``; strips ``module.``/``backbone.``/``encoder.``/``model.`` prefixes.
    Keys the backbone does not have (classifier, fc) are ignored. Loaded with
    ``weights_only=True`` (no pickled code runs).

    Raises:
        EdgesegError: the file is missing or unreadable, a backbone parameter
            is absent from the file, or a shape differs (typically a
            ``width_mult`` other than 1.0 or another depth).
    """
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(
            f"backbone_weights: {path} does not exist; pass the path of a local ImageNet state dict "
            "(e.g. torchvision's resnet18-f37072fd.pth or vgg16-397923af.pth); edgeseg never downloads weights"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise EdgesegError(f"backbone_weights: {path} cannot be read as a PyTorch state dict ({type(exc).__name__}: {exc})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise EdgesegError(f"backbone_weights: {path} holds a {type(state).__name__}, not a state dict")
    cleaned: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
        cleaned[key] = value
    own = backbone.state_dict()
    # Older torchvision files have no BatchNorm ``num_batches_tracked`` counters; they only matter with momentum=None.
    for key, tensor in own.items():
        if key.endswith("num_batches_tracked") and key not in cleaned:
            cleaned[key] = tensor
    missing = [k for k in own if k not in cleaned]
    if missing:
        raise EdgesegError(
            f"backbone_weights: {path} lacks {len(missing)} of the backbone's {len(own)} tensors "
            f"(first: {', '.join(missing[:3])}); the file must use torchvision's parameter names for "
            f"{type(backbone).__name__}"
        )
    for key, tensor in own.items():
        if cleaned[key].shape != tensor.shape:
            raise EdgesegError(
                f"backbone_weights: {path}: {key} has shape {tuple(cleaned[key].shape)} but the backbone expects "
                f"{tuple(tensor.shape)}; pretrained ImageNet weights fit width_mult=1.0 and the same depth"
            )
    backbone.load_state_dict({k: cleaned[k] for k in own})
