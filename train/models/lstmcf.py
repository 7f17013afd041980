"""LSTM-CF (Li, Gan, Liang, Yu, Cheng, Lin, 2016), arXiv:1604.05000: RGB-D scene labelling.

Structure after the paper's Fig. 2:

- photometric branch: convolutional features of the RGB channels (the paper:
  DeepLab-style VGG-16 layers; here a small conv stack to 1/8 by default);
- depth branch: a shallower conv stack on the depth channel (the paper feeds
  HHA; we take the raw depth channel, see Deviations);
- memorized context layers: a vertical bidirectional LSTM over the columns of
  each branch's features (photometric and depth separately);
- memorized fusion layer: the two vertical contexts concatenated and swept by
  a horizontal bidirectional LSTM, so context flows in both directions;
- the fused context concatenated with the photometric local features, a 1x1
  classifier, bilinear upsampling (``align_corners=False``) to the input.

Input: N x 4 x H x W float, channels (R, G, B, D), each normalised as the
metadata's 4-entry mean/std say (the deployed ONNX takes uint8 N x H x W x 4
BGR + depth-in-8-bits, see :mod:`edgeseg.metadata`). H, W multiples of 8.
Output: N x classes x H x W logits.

Deviations: raw depth instead of HHA (HHA needs camera intrinsics and a
gravity estimate per frame; not available from a depth video); small conv
front ends trained from scratch; hidden 64 per direction. Each sweep exports as
one ONNX ``LSTM`` node (see :mod:`.sweeps`).
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_model
from .sweeps import BidirectionalSweep


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class LSTMCF(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 4, widths: tuple[int, int, int] = (32, 64, 128),
                 depth_widths: tuple[int, int, int] = (16, 32, 64), hidden: int = 64):
        super().__init__()
        if in_channels != 4:
            raise ValueError(f"LSTM-CF takes RGB + depth (4 channels), got in_channels={in_channels}")
        a, b, c = widths
        self.photometric = nn.Sequential(_conv(3, a, 2), _conv(a, a), _conv(a, b, 2), _conv(b, b), _conv(b, c, 2),
                                         _conv(c, c))
        da, db, dc = depth_widths
        self.depth = nn.Sequential(_conv(1, da, 2), _conv(da, db, 2), _conv(db, dc, 2))
        self.photometric_context = BidirectionalSweep(c, hidden, "vertical", "lstm")
        self.depth_context = BidirectionalSweep(dc, hidden, "vertical", "lstm")
        self.fusion = BidirectionalSweep(4 * hidden, hidden, "horizontal", "lstm")
        self.classifier = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(c + 2 * hidden, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb, depth = x[:, :3], x[:, 3:4]
        local = self.photometric(rgb)
        contexts = torch.cat([self.photometric_context(local), self.depth_context(self.depth(depth))], dim=1)
        logits = self.classifier(torch.cat([local, self.fusion(contexts)], dim=1))
        return nn.functional.interpolate(logits, size=x.shape[2:], mode="bilinear", align_corners=False)


@register_model("lstmcf", paper="Li et al. 2016, LSTM-CF (arXiv:1604.05000), RGB-D", input_multiple=8, in_channels=4)
def lstmcf(num_classes: int, in_channels: int = 4, hidden: int = 64) -> nn.Module:
    """LSTM-CF for 4-channel (RGB + depth) input."""
    return LSTMCF(num_classes, in_channels=in_channels, hidden=hidden)
