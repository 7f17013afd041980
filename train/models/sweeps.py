"""Bidirectional recurrent sweeps over the rows or columns of a feature map.

Used by ReSeg (GRU, ReNet layers) and LSTM-CF (LSTM context layers). A
vertical sweep runs one sequence down each column (and back up: bidirectional);
a horizontal sweep runs along each row. Shapes: N x C x H x W in,
N x 2*hidden x H x W out (forward and backward states concatenated).

Export: ``nn.GRU``/``nn.LSTM`` in sequence-first layout export (legacy
exporter, opset 17) as one ONNX ``GRU``/``LSTM`` node with
``direction="bidirectional"``, layout 0, an empty ``sequence_lens`` input and
a zero initial state (an Expand of a zero constant to N*W or N*H), which is
the form TensorRT's ONNX parser takes (it rejects ``sequence_lens``).
Sequence lengths are the feature map's H or W, fixed at export.
"""

from __future__ import annotations

import torch
from torch import nn


class BidirectionalSweep(nn.Module):
    """One bidirectional GRU or LSTM sweep; ``direction`` is ``vertical`` or ``horizontal``."""

    def __init__(self, in_channels: int, hidden: int, direction: str, cell: str = "gru"):
        super().__init__()
        if direction not in ("vertical", "horizontal"):
            raise ValueError(f"direction must be 'vertical' or 'horizontal', got {direction!r}")
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(in_channels, hidden, num_layers=1, bidirectional=True)
        self.direction = direction
        self.out_channels = 2 * hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if self.direction == "vertical":
            # sequence index = row; every (image, column) pair is one batch element
            seq = x.permute(2, 0, 3, 1).reshape(h, n * w, c)
            out, _ = self.rnn(seq)
            return out.reshape(h, n, w, self.out_channels).permute(1, 3, 0, 2)
        seq = x.permute(3, 0, 2, 1).reshape(w, n * h, c)
        out, _ = self.rnn(seq)
        return out.reshape(w, n, h, self.out_channels).permute(1, 3, 2, 0)
