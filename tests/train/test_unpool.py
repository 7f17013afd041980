"""The mask formulation of max pooling/unpooling equals PyTorch's indices version."""

import pytest
import torch
from torch.nn import functional as F

from edgeseg.train.models.unpool import max_pool2x2_with_mask, max_unpool2x2


@pytest.mark.parametrize("ties", [False, True])
def test_unpool_equals_max_unpool2d(ties):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 12, 16)
    if ties:  # few distinct values: many windows have several equal maxima
        x = torch.randint(0, 3, x.shape).float()
    pooled, mask = max_pool2x2_with_mask(x)
    ref_pooled, indices = F.max_pool2d(x, 2, 2, return_indices=True)
    assert torch.equal(pooled, ref_pooled)
    y = torch.randn_like(pooled)
    expected = F.max_unpool2d(y, indices, 2, 2, output_size=x.shape[-2:])
    assert torch.equal(max_unpool2x2(y, mask), expected)


def test_mask_is_one_hot_per_window():
    x = torch.randint(0, 2, (1, 3, 8, 8)).float()
    _, mask = max_pool2x2_with_mask(x)
    per_window = F.avg_pool2d(mask, 2) * 4
    assert torch.equal(per_window, torch.ones_like(per_window))


def test_gradient_flows_like_max_pool():
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    pooled, _ = max_pool2x2_with_mask(x)
    pooled.sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    F.max_pool2d(x2, 2).sum().backward()
    assert torch.equal(x.grad, x2.grad)


def test_odd_size_is_rejected():
    with pytest.raises(ValueError, match="even H and W"):
        max_pool2x2_with_mask(torch.zeros(1, 1, 5, 6))
