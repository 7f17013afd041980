"""DeepMask (Pinheiro, Collobert, Dollar, 2015), arXiv:1506.06204: class-agnostic object proposals.

Per input window (a square image patch), two outputs: a mask of the object
centred in the window and an objectness score. As in the paper:

- a shared convolutional trunk (the paper: ImageNet VGG-A or ResNet; here a
  small VGG-style stack of four stride-2 stages, output stride 16, trained from
  scratch by default; ``backbone_weights`` loads a local state_dict into it);
- mask branch: 1x1 conv + ReLU, a fully connected layer to a low-rank code
  (no non-linearity, as the paper's low-rank factorisation), and a fully
  connected layer to an M x M mask (M = window / 4 like the paper's 56 of 224);
  the fully connected layers are convolutions whose kernel covers the whole
  window's feature map (the paper's formulation for full-scene inference);
- score branch: 2x2 max pool, fully connected 512, ReLU, dropout, 1024, ReLU,
  dropout, 1 (here 256 and 256 for CPU training).

``forward(x)``: x N x 3 x window x window float (normalised RGB) ->
``(mask_logits N x M x M, score_logits N)``, in both training and eval mode.
Loss: :func:`edgeseg.train.tasks.proposals.proposal_loss` (the paper's
mask logistic loss on positives plus 1/32 of the score logistic loss).

Deployment (``edgeseg export``, :mod:`edgeseg.export.tasks.proposals`): the ONNX
takes a batch of K windows (uint8 K x window x window x 3 BGR, cut from a frame
by :mod:`edgeseg.runtime.proposals`) and returns ``mask_logits`` (K x M x M) and
``scores`` (K, the sigmoid of the score logits, applied in the graph);
decoding, pasting and drawing happen in the runtime (``edgeseg run``). Deviation: windows
are cut on a grid (stride 16 by default) instead of running the trunk once on
the whole frame, which is simpler to deploy but recomputes overlapping windows.
"""

from __future__ import annotations

import torch
from torch import nn

from edgeseg.errors import EdgesegError

from .local_weights import load_local_weights
from .registry import register_model

STRIDE = 16


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Trunk(nn.Module):
    """Four stages (stride 2 each) of two 3x3 convs; returns the features at strides 2, 4, 8 and 16."""

    def __init__(self, in_channels: int = 3, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        stages, cin = [], in_channels
        for width in widths:
            stages.append(nn.Sequential(_conv(cin, width, 2), _conv(width, width)))
            cin = width
        self.stages = nn.ModuleList(stages)
        self.widths = tuple(widths)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def check_geometry(window: int, mask_size: int, divisor: int) -> None:
    if window % STRIDE or window < 2 * STRIDE:
        raise EdgesegError(f"window must be a multiple of {STRIDE} and at least {2 * STRIDE}, got {window}")
    if mask_size <= 0 or window % mask_size or mask_size % divisor:
        raise EdgesegError(f"mask_size must divide window ({window}) and be a multiple of {divisor}, got {mask_size}")


def load_trunk_weights(trunk: nn.Module, path: str) -> None:
    """Load a local state_dict into the trunk (keys ``stages.*``, optionally prefixed ``trunk.``)."""
    load_local_weights(trunk, path, prefix="trunk.")


class ScoreBranch(nn.Module):
    """2x2 max pool, then fully connected 256, 256, 1 (as convolutions over the whole window)."""

    def __init__(self, channels: int, cells: int, hidden: int = 256, dropout: float = 0.5):
        super().__init__()
        self.net = nn.Sequential(
            nn.MaxPool2d(2), nn.Conv2d(channels, hidden, cells // 2), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Conv2d(hidden, 1, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).flatten(1)[:, 0]


class DeepMask(nn.Module):
    grid_stride: int  # the runtime's window grid step, set by the zoo's factory (recorded in arch_args)

    def __init__(self, in_channels: int = 3, window: int = 160, mask_size: int | None = None, reduce: int = 64,
                 low_rank: int = 256):
        super().__init__()
        mask_size = window // 4 if mask_size is None else mask_size
        check_geometry(window, mask_size, 1)
        self.window, self.mask_size = window, mask_size
        cells = window // STRIDE
        self.trunk = Trunk(in_channels)
        channels = self.trunk.widths[-1]
        self.mask_head = nn.Sequential(
            nn.Conv2d(channels, reduce, 1), nn.ReLU(inplace=True),
            nn.Conv2d(reduce, low_rank, cells),  # fully connected over the window's cells x cells features
            nn.Conv2d(low_rank, mask_size * mask_size, 1),
        )
        self.score_head = ScoreBranch(channels, cells)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)[-1]
        masks = self.mask_head(features).reshape(x.shape[0], self.mask_size, self.mask_size)
        return masks, self.score_head(features)


@register_model("deepmask", paper="Pinheiro et al. 2015, DeepMask (arXiv:1506.06204)", input_multiple=STRIDE,
                task="proposals")
def deepmask(num_classes: int = 1, in_channels: int = 3, window: int = 160, mask_size: int | None = None, stride: int = 16,
             backbone_weights: str | None = None) -> nn.Module:
    """DeepMask on ``window`` x ``window`` patches, ``mask_size``^2 masks (None: window / 4); ``num_classes`` is ignored.

    ``stride`` is the window grid step the runtime uses, recorded here so the
    checkpoint's ``arch_args`` describe the deployed geometry completely.
    """
    model = DeepMask(in_channels, window, mask_size)
    model.grid_stride = stride
    if backbone_weights:
        load_trunk_weights(model.trunk, backbone_weights)
    return model
