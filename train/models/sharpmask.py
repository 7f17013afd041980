"""SharpMask (Pinheiro, Lin, Collobert, Dollar, 2016), arXiv:1603.08695: DeepMask plus top-down refinement.

The bottom-up pass is DeepMask's (same trunk, score branch, and mask branch up
to its low-rank code, see :mod:`.deepmask`). Instead of decoding the code
straight to a coarse mask, a "vertical" linear layer turns it into a
``k_m^1`` x cells x cells feature map M^1, and refinement modules walk back up
the trunk: module i takes M^i and the trunk features F^i of the same size,
computes skip features S^i = ReLU(conv3x3(F^i)), concatenates, applies
ReLU(conv3x3) and upsamples x2 (bilinear, ``align_corners=False``). Modules use
the trunk's stride 16, 8, 4 and 2 features, so the mask comes out at half the
window size (M = window / 2), four times the resolution of DeepMask's.

``forward(x)``: N x 3 x window x window -> ``(mask_logits N x M x M, score_logits N)``.

Deviation: the paper trains DeepMask first and then the refinement with the
trunk frozen; ``edgeseg train`` trains both end to end (``freeze_trunk=true``
in ``[model.args]`` together with ``deepmask_weights`` reproduces the two-stage
schedule from a trained DeepMask checkpoint's state_dict).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from edgeseg.errors import EdgesegError

from .deepmask import STRIDE, ScoreBranch, Trunk, check_geometry, load_trunk_weights
from .local_weights import read_state_dict
from .registry import register_model


class RefinementModule(nn.Module):
    """M^{i+1} = up2(ReLU(conv3x3([M^i, ReLU(conv3x3(F^i))]))); the last module does not upsample."""

    def __init__(self, mask_channels: int, feature_channels: int, skip_channels: int, out_channels: int,
                 upsample: bool):
        super().__init__()
        self.skip = nn.Sequential(nn.Conv2d(feature_channels, skip_channels, 3, padding=1), nn.ReLU(inplace=True))
        self.merge = nn.Sequential(nn.Conv2d(mask_channels + skip_channels, out_channels, 3, padding=1),
                                   nn.ReLU(inplace=True))
        self.upsample = upsample

    def forward(self, mask: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        out = self.merge(torch.cat([mask, self.skip(features)], dim=1))
        if self.upsample:
            out = F.interpolate(out, scale_factor=2.0, mode="bilinear", align_corners=False)
        return out


class SharpMask(nn.Module):
    grid_stride: int  # the runtime's window grid step, set by the zoo's factory (recorded in arch_args)

    def __init__(self, in_channels: int = 3, window: int = 160, reduce: int = 64, low_rank: int = 256,
                 mask_channels: tuple[int, ...] = (32, 16, 16, 8), skip_channels: tuple[int, ...] = (32, 16, 16, 8)):
        super().__init__()
        check_geometry(window, window // 2, 1)
        self.window, self.mask_size = window, window // 2
        self.cells = window // STRIDE
        self.trunk = Trunk(in_channels)
        widths = self.trunk.widths  # strides 2, 4, 8, 16
        self.code = nn.Sequential(nn.Conv2d(widths[-1], reduce, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(reduce, low_rank, self.cells))
        # the "vertical" layer: code -> k_m^1 x cells x cells
        self.vertical = nn.Conv2d(low_rank, mask_channels[0] * self.cells * self.cells, 1)
        modules = []
        for i, feature_channels in enumerate(reversed(widths)):
            out = mask_channels[i + 1] if i + 1 < len(mask_channels) else mask_channels[-1]
            modules.append(RefinementModule(mask_channels[i], feature_channels, skip_channels[i], out,
                                            upsample=i + 1 < len(widths)))
        self.refine = nn.ModuleList(modules)
        self.to_mask = nn.Conv2d(mask_channels[-1], 1, 1)
        self.score_head = ScoreBranch(widths[-1], self.cells)
        self.mask_channels = mask_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)
        n = x.shape[0]
        mask = self.vertical(self.code(features[-1])).reshape(n, self.mask_channels[0], self.cells, self.cells)
        for module, f in zip(self.refine, reversed(features)):
            mask = module(mask, f)
        return self.to_mask(mask)[:, 0], self.score_head(features[-1])


def load_deepmask_weights(model: SharpMask, path: str) -> None:
    """Start from a trained DeepMask: its trunk, score branch and mask code (all but the last mask layer)."""
    state = read_state_dict(path, "deepmask_weights")
    renamed = {k.replace("mask_head.0", "code.0").replace("mask_head.2", "code.2"): v for k, v in state.items()
               if not k.startswith("mask_head.3")}
    try:
        missing, unexpected = model.load_state_dict(renamed, strict=False)
    except RuntimeError as exc:  # shape mismatch: another window size or trunk
        raise EdgesegError(f"deepmask_weights {path} does not fit this SharpMask (same window?): "
                           f"{str(exc).splitlines()[-1].strip()[:200]}") from None
    shared = [k for k in missing if k.startswith(("trunk.", "score_head.", "code."))]
    if shared or unexpected:
        raise EdgesegError(f"deepmask_weights {path} is not a DeepMask state_dict "
                           f"(missing {shared[:2]}, unexpected {unexpected[:2]})")


@register_model("sharpmask", paper="Pinheiro et al. 2016, SharpMask (arXiv:1603.08695)", input_multiple=STRIDE,
                task="proposals")
def sharpmask(num_classes: int = 1, in_channels: int = 3, window: int = 160, stride: int = 16,
              backbone_weights: str | None = None, deepmask_weights: str | None = None,
              freeze_trunk: bool = False) -> nn.Module:
    """SharpMask on ``window`` x ``window`` patches, masks of window/2; ``num_classes`` is ignored.

    ``deepmask_weights``: a local DeepMask state_dict (``trunk.*``, ``score_head.*``
    and the mask branch's first two layers as ``code``) to start from; with
    ``freeze_trunk`` the trunk is not trained (the paper's second stage).
    """
    model = SharpMask(in_channels, window)
    model.grid_stride = stride
    if backbone_weights:
        load_trunk_weights(model.trunk, backbone_weights)
    if deepmask_weights:
        load_deepmask_weights(model, deepmask_weights)
    if freeze_trunk:
        for p in model.trunk.parameters():
            p.requires_grad_(False)
    return model
