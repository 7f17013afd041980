"""CRF-as-RNN (Zheng, Jayasumana, Romera-Paredes, Vineet, Su, Du, Huang, Torr, ICCV 2015), arXiv:1502.03240.

Structure as in the paper: an FCN-8s gives the unaries; mean-field iterations
of a CRF with a spatial and a bilateral Gaussian kernel are unrolled as layers
on top (message passing, weighting of the filter outputs, compatibility
transform, adding the unaries, softmax normalisation), and the whole network
is trained end to end: the kernel weights and the compatibility matrix are
learned (initialised to DeepLab's weights and the Potts model).

Deviations:
- Message passing is the local-window form of
  :mod:`edgeseg.train.models.crf` (shared with ``deeplab_largefov_crf``)
  instead of the permutohedral lattice, so it exports to ONNX and TensorRT;
  by default a 7x7 window on a grid of half the input resolution.
- The two kernel weights are scalars, not per-class matrices; class-specific
  behaviour is in the learned C x C compatibility.
- 5 iterations in training and at test time (the paper: 5 and 10).
- The FCN-8s is :mod:`edgeseg.train.models.fcn` at ``width_mult`` 0.25 and is
  trained jointly from the start rather than pre-trained and then fine-tuned.
"""

from __future__ import annotations

import torch
from torch import nn

from .crf import LocalMeanFieldCRF
from .fcn import FCN
from .registry import register_model


class CRFasRNN(nn.Module):
    """FCN-8s + unrolled mean-field CRF: float N x C x H x W -> logits N x num_classes x H x W.

    H and W must be multiples of 32.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width_mult: float = 0.25,
                 backbone_weights: str | None = None, iterations: int = 5, window: int = 7, downsample: int = 2):
        super().__init__()
        self.fcn = FCN(num_classes, 8, in_channels, width_mult, backbone_weights)
        self.crf = LocalMeanFieldCRF(num_classes, iterations=iterations, window=window, downsample=downsample,
                                     trainable=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.crf(self.fcn(x), x[:, :3])


@register_model("crfasrnn", paper="Zheng et al. 2015, CRF-as-RNN", input_multiple=32)
def crfasrnn(num_classes: int, in_channels: int = 3, width_mult: float = 0.25, backbone_weights: str | None = None,
             iterations: int = 5, window: int = 7, downsample: int = 2) -> nn.Module:
    """FCN-8s (width 0.25) + 5 trainable mean-field iterations in a local 7x7 window on a 1/2 grid (paper: dense)."""
    return CRFasRNN(num_classes, in_channels, width_mult, backbone_weights, iterations, window, downsample)
