"""Mean-field CRF inference in a local window, in a form TensorRT can build.

The fully connected CRF of Kraehenbuehl and Koltun (2011), used by DeepLab
(Chen et al. 2014) as post-processing and by CRF-as-RNN (Zheng et al. 2015)
as layers, has the energy

    E(x) = sum_i U_i(x_i) + sum_{i<j} mu(x_i, x_j) k(f_i, f_j),
    k = w_b exp(-|p_i-p_j|^2 / 2 theta_alpha^2 - |I_i-I_j|^2 / 2 theta_beta^2)
      + w_s exp(-|p_i-p_j|^2 / 2 theta_gamma^2),

and mean-field inference repeats: Q = softmax(-U) (here U = -logits);
message m_i = sum_{j != i} k(i, j) Q_j / sum_{j != i} k(i, j) per kernel (normalised, as CRF-as-RNN and
DenseCRF do); pairwise = mu m; Q = softmax(logits - pairwise).

The dense CRF sums over all pixel pairs with a permutohedral lattice, which
has no ONNX or TensorRT form. Here the sum is truncated to a square window of
``window x window`` taps around each pixel (taps ``dilation`` apart), and it can
run on a grid ``downsample`` times coarser than the logits (average-pooled
logits and image). Each tap is a Slice of the zero-padded Q times a per-pixel
kernel weight computed once from the image: only Pad, Slice, Mul, Add, Sub,
Exp, Div, ReduceSum, Softmax, AveragePool, Resize and a 1x1 Conv (the
compatibility mu) appear in the graph.

How close it is to the dense CRF:
- Within the window the kernels are exactly the dense CRF's; with a window
  that covers the whole (grid) image the result equals dense mean-field
  inference (``tests/train/test_crf.py`` checks this against a brute-force
  dense implementation).
- Beyond the window nothing is exchanged. DeepLab's bilateral range
  (theta_alpha = 80 px) is far wider than the default reach
  (downsample 2 x dilation 1 x radius 3 = 6 px), so inside the window the
  bilateral term is close to a pure colour-similarity kernel and long-range
  label propagation along same-coloured regions is lost; the spatial
  smoothness term (theta_gamma = 3 px) is almost fully covered.
- On a coarser grid the pairwise term is computed at that resolution and
  added back (bilinearly upsampled) to the full-resolution logits, so
  boundaries between grid cells are smoothed, not sharpened, at sub-cell scale.

Units: positions in pixels of the input image; colours in the units of the
model's (normalised) input, so ``theta_beta = 0.17`` is about 13 grey levels
with CamVid's std of 78 (DeepLab's bi_rgb_std is 3..13 on 0..255 values).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .layers import resize_bilinear


class LocalMeanFieldCRF(nn.Module):
    """Mean-field CRF with Gaussian spatial and bilateral kernels over a local window.

    Args:
        num_classes: label count C.
        iterations: mean-field iterations (DeepLab: 10; CRF-as-RNN: 5 in training).
        window: odd window width in taps (the centre tap, i = j, is excluded).
        dilation: spacing of the taps in grid cells.
        downsample: grid step in input pixels (1: full resolution).
        theta_alpha, theta_gamma: position bandwidths in input pixels.
        theta_beta: colour bandwidth in input units.
        w_bilateral, w_spatial: kernel weights (initial values when trainable).
        trainable: learn the two kernel weights and the C x C compatibility
            (CRF-as-RNN); otherwise they are fixed (DeepLab post-processing).

    Compatibility mu starts as the Potts model (1 - identity).

    Forward: ``logits`` float N x C x H x W, ``image`` float N x 3 x H x W (the
    model input). Returns refined logits N x C x H x W whose softmax is the
    final Q. H and W must be multiples of ``downsample``.
    """

    def __init__(self, num_classes: int, *, iterations: int = 5, window: int = 7, dilation: int = 1,
                 downsample: int = 2, theta_alpha: float = 80.0, theta_beta: float = 0.17, theta_gamma: float = 3.0,
                 w_bilateral: float = 4.0, w_spatial: float = 3.0, trainable: bool = False):
        super().__init__()
        if window < 3 or window % 2 == 0:
            raise ValueError(f"CRF window must be odd and at least 3, got {window}")
        if iterations < 1 or dilation < 1 or downsample < 1:
            raise ValueError("CRF iterations, dilation and downsample must be >= 1")
        self.iterations = iterations
        self.radius = window // 2
        self.dilation = dilation
        self.downsample = downsample
        self.theta_alpha, self.theta_beta, self.theta_gamma = theta_alpha, theta_beta, theta_gamma
        self.kernel_weights = nn.Parameter(torch.tensor([w_bilateral, w_spatial]), requires_grad=trainable)
        potts = 1.0 - torch.eye(num_classes)
        self.compatibility = nn.Conv2d(num_classes, num_classes, 1, bias=False)
        with torch.no_grad():
            self.compatibility.weight.copy_(potts[:, :, None, None])
        self.compatibility.weight.requires_grad_(trainable)

    def offsets(self) -> list[tuple[int, int]]:
        """Window taps (dy, dx) in grid cells, centre excluded."""
        r, d = self.radius, self.dilation
        return [(dy * d, dx * d) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if (dy, dx) != (0, 0)]

    def _shift(self, padded: torch.Tensor, dy: int, dx: int, h: int, w: int) -> torch.Tensor:
        """The value at (y + dy, x + dx) for every (y, x), from a tensor zero-padded by radius * dilation."""
        p = self.radius * self.dilation
        return padded[:, :, p + dy:p + dy + h, p + dx:p + dx + w]

    def pairwise_kernels(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Combined, normalised kernel weight k(i, i + offset) per tap: list of N x 1 x h x w tensors.

        Each kernel is divided by its sum over the taps that fall inside the image, as CRF-as-RNN's
        implementation does (its filter of ones) and DenseCRF normalises its filters: a pixel's message is then
        a weighted mean of its neighbours' Q, so the pairwise term is at most w_bilateral + w_spatial whatever
        the window. Unnormalised, the 48 taps of a 7x7 window made it about 50 logits and CRF-as-RNN's loss
        started near 100.
        """
        n, _, h, w = image.shape
        p = self.radius * self.dilation
        padded = F.pad(image, (p, p, p, p))
        inside = F.pad(torch.ones_like(image[:, :1]), (p, p, p, p))  # 1 where a tap reads the image, 0 in the pad
        w_bilateral, w_spatial = self.kernel_weights[0], self.kernel_weights[1]
        bilateral_taps, spatial_taps = [], []
        for dy, dx in self.offsets():
            dist2 = float((dy * self.downsample) ** 2 + (dx * self.downsample) ** 2)
            difference = image - self._shift(padded, dy, dx, h, w)
            colour2 = (difference * difference).sum(dim=1, keepdim=True)
            valid = self._shift(inside, dy, dx, h, w)
            bilateral_taps.append(valid * torch.exp(colour2 * (-0.5 / self.theta_beta ** 2)
                                                    - dist2 / (2 * self.theta_alpha ** 2)))
            spatial_taps.append(valid * math.exp(-dist2 / (2 * self.theta_gamma ** 2)))
        bilateral_scale = w_bilateral / (sum(bilateral_taps) + 1e-20)
        spatial_scale = w_spatial / (sum(spatial_taps) + 1e-20)
        return [b * bilateral_scale + s * spatial_scale for b, s in zip(bilateral_taps, spatial_taps)]

    def forward(self, logits: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        unary = logits
        if self.downsample > 1:
            unary = F.avg_pool2d(logits, self.downsample)
            image = F.avg_pool2d(image, self.downsample)
        _, _, h, w = unary.shape
        p = self.radius * self.dilation
        kernels = self.pairwise_kernels(image)
        # Taps that fall outside the image read zero-padded Q, i.e. contribute nothing.
        q = torch.softmax(unary, dim=1)
        pairwise = torch.zeros_like(unary)
        for _ in range(self.iterations):
            padded = F.pad(q, (p, p, p, p))
            message = torch.zeros_like(q)
            for (dy, dx), kernel in zip(self.offsets(), kernels):
                message = message + kernel * self._shift(padded, dy, dx, h, w)
            pairwise = self.compatibility(message)
            q = torch.softmax(unary - pairwise, dim=1)
        if self.downsample > 1:
            pairwise = resize_bilinear(pairwise, logits.shape[-2:], align_corners=False)
        return logits - pairwise
