"""The deployable module: a segmentation model with in-graph pre/post-processing.

An explicit ``nn.Module`` around the trained model (no monkeypatching), so the
exported graph has the deployment contract of DESIGN.md:

- input ``image``: uint8, N x H x W x 3, BGR (what OpenCV delivers), or for
  RGB-D models N x H x W x 4, B, G, R and 8-bit depth (``input.channels == 4``);
- in graph: Cast to float, BGR -> RGB (Gather; depth stays last), ``(x - mean) / std``,
  NHWC -> NCHW;
- output ``labels``: uint8, N x H x W (ArgMax over classes, Cast);
- optional output ``logits``: float32, N x C x H x W (for parity work).

The steps live in the submodules ``preprocess`` and ``postprocess`` so the
exporter names their nodes ``/preprocess/...`` and ``/postprocess/...``; the
FP16 conversion keeps exactly those nodes in FP32.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

PREPROCESS_SCOPE = "/preprocess/"
POSTPROCESS_SCOPE = "/postprocess/"


class Preprocess(nn.Module):
    """uint8 N x H x W x C BGR(D) -> float32 N x C x H x W normalised RGB(D); C = len(mean), 3 or 4.

    Args:
        mean, std: RGB or RGB + depth, 0..255 units (``ModelMetadata.input``);
            4 entries make the input B, G, R, depth (depth_scale units), reordered to R, G, B, depth.
    """

    mean: torch.Tensor  # buffers (register_buffer)
    std: torch.Tensor
    bgr_to_rgb: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if len(mean) not in (3, 4) or len(std) != len(mean):
            raise ValueError(f"mean and std need 3 (BGR) or 4 (BGR + depth) entries each, got {len(mean)} and {len(std)}")
        self.channels = len(mean)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        # One Gather for both layouts: depth (index 3) stays last. The buffer keeps its
        # name for 4 channels so the 3-channel graph is exactly what it always was.
        self.register_buffer("bgr_to_rgb", torch.tensor([2, 1, 0, 3][: self.channels], dtype=torch.int64))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.to(torch.float32)
        x = torch.index_select(x, 3, self.bgr_to_rgb)
        # Divide (not multiply by 1/std) to match edgeseg.preprocess.normalize_bgr bit for bit.
        x = (x - self.mean) / self.std
        return x.permute(0, 3, 1, 2)


class Postprocess(nn.Module):
    """float N x C x H x W logits -> uint8 N x H x W labels (first maximum on ties)."""

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.argmax(logits, dim=1).to(torch.uint8)


class DeployWrapper(nn.Module):
    """``model`` between :class:`Preprocess` and :class:`Postprocess`.

    Args:
        model: maps float N x 3 (or 4: R, G, B, depth) x H x W to logits N x C x H x W; put in eval mode.
        mean, std: the model's normalisation (RGB or RGB + depth, 0..255); their length sets the input channels.
        with_logits: also return the logits (second output).
    """

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float], *, with_logits: bool = False):
        super().__init__()
        self.preprocess = Preprocess(mean, std)
        self.model = model.eval()
        self.postprocess = Postprocess()
        self.with_logits = with_logits
        # The exporter restores the wrapper's training flag (recursively) after
        # tracing: a wrapper left in training mode would switch the model's
        # BatchNorm and dropout to training behaviour for everything after.
        self.eval()

    def forward(self, image: torch.Tensor):
        logits = self.model(self.preprocess(image))
        labels = self.postprocess(logits)
        if self.with_logits:
            return labels, logits
        return labels
