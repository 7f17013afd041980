"""Loading pretrained weights a user supplies as a local file (no downloads).

Papers such as ReSeg, DeepMask and LR-ASPP start from ImageNet backbones; the
zoo trains small backbones from scratch by default and lets a user load a
backbone they have (``backbone_weights=PATH`` in ``[model.args]``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edgeseg.errors import EdgesegError


def read_state_dict(path: str, what: str = "backbone_weights") -> dict:
    """The state_dict in the local file ``path`` (bare, or an edgeseg checkpoint's ``model``)."""
    file = Path(path)
    if not file.is_file():
        raise EdgesegError(f"{what} {path} does not exist; give a local state_dict file (.pt/.pth)")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise EdgesegError(f"{what} {path} cannot be read as a weights-only PyTorch file ({type(exc).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise EdgesegError(f"{what} {path} does not hold a state_dict")
    return state


def load_local_weights(module: nn.Module, path: str, *, prefix: str, what: str = "backbone_weights") -> None:
    """Load the state_dict at ``path`` into ``module``, strictly.

    Accepts a bare state_dict or an edgeseg checkpoint; keys starting with
    ``prefix`` have it removed, so a whole model's state_dict works too (only
    the ``prefix`` keys are used then). Loaded with ``weights_only=True``: no
    code runs.
    """
    state = read_state_dict(path, what)
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(exc)[:200]
        raise EdgesegError(
            f"{what} {path} does not fit this {type(module).__name__} ({first}); "
            f"expected this project's keys, optionally prefixed with {prefix!r}"
        ) from None
