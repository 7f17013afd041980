"""Size and cost of the zoo's architectures: parameters and FLOPs at a given input size.

Models are built on PyTorch's ``meta`` device, so no weights are allocated and
no arithmetic runs: listing the whole zoo takes a few seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .models import build_model, get_entry
from .tasks import train_task

# The size the zoo is compared at: CamVid's 480 x 360 (W x H).
REFERENCE_HEIGHT, REFERENCE_WIDTH = 360, 480


@dataclass(frozen=True)
class ModelCost:
    """Parameters and forward cost of one architecture.

    ``gflops`` counts 1 multiply-add as 2 FLOPs, over convolutions, transposed
    convolutions and matrix products (what ``torch.utils.flop_counter``
    counts; element-wise ops, pooling and resizes are not counted).
    ``height`` x ``width`` is the input it was measured at: the reference size
    rounded up to the model's ``input_multiple``.
    """

    name: str
    params: int
    gflops: float
    height: int
    width: int


def input_size_for(name: str, height: int = REFERENCE_HEIGHT, width: int = REFERENCE_WIDTH) -> tuple[int, int]:
    """``height`` x ``width`` rounded up to the multiple that architecture ``name`` takes."""
    multiple = get_entry(name).input_multiple
    return math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple


def model_cost(name: str, num_classes: int = 11, height: int = REFERENCE_HEIGHT, width: int = REFERENCE_WIDTH,
               **kwargs) -> ModelCost:
    """:class:`ModelCost` of architecture ``name`` (eval mode, batch 1) with factory ``kwargs``."""
    from torch.utils.flop_counter import FlopCounterMode

    entry = get_entry(name)
    h, w = input_size_for(name, height, width)
    with torch.device("meta"):
        model = build_model(name, num_classes, **kwargs).eval()
        h, w = train_task(name).item_size(model, h, w)
        x = torch.empty(1, entry.in_channels, h, w)
    params = sum(p.numel() for p in model.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return ModelCost(name, params, counter.get_total_flops() / 1e9, h, w)
