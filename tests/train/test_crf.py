"""The local-window mean-field CRF: equal to dense mean-field inference when the window covers the image."""

from __future__ import annotations

import pytest
import torch

from edgeseg.train.models.crf import LocalMeanFieldCRF

THETA = {"theta_alpha": 5.0, "theta_beta": 0.5, "theta_gamma": 2.0}


def dense_mean_field(logits, image, iterations, theta_alpha, theta_beta, theta_gamma, w_bilateral, w_spatial):
    """Brute-force fully connected CRF mean field (Kraehenbuehl and Koltun 2011, Potts), O(pixels^2)."""
    n, c, h, w = logits.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    pos = torch.stack([ys.flatten(), xs.flatten()], 1)
    dist2 = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    out = []
    for b in range(n):
        colour = image[b].double().flatten(1).t()
        colour2 = ((colour[:, None] - colour[None]) ** 2).sum(-1)
        bilateral = torch.exp(-dist2 / (2 * theta_alpha ** 2) - colour2 / (2 * theta_beta ** 2))
        spatial = torch.exp(-dist2 / (2 * theta_gamma ** 2))
        bilateral.fill_diagonal_(0.0)  # no message from a pixel to itself
        spatial.fill_diagonal_(0.0)
        # Each kernel normalised over a pixel's neighbours (CRF-as-RNN's filter of ones, DenseCRF's normalisation).
        kernel = (w_bilateral * bilateral / bilateral.sum(1, keepdim=True)
                  + w_spatial * spatial / spatial.sum(1, keepdim=True))
        unary = logits[b].double().flatten(1).t()  # pixels x C
        q = torch.softmax(unary, 1)
        for _ in range(iterations):
            message = kernel @ q
            pairwise = message.sum(1, keepdim=True) - message  # Potts: sum over the other labels
            q = torch.softmax(unary - pairwise, 1)
        out.append((unary - pairwise).t().reshape(c, h, w))
    return torch.stack(out).float()


def test_full_window_equals_dense_crf():
    torch.manual_seed(0)
    h, w = 6, 7
    logits = torch.randn(2, 4, h, w) * 2
    image = torch.randn(2, 3, h, w)
    window = 2 * max(h, w) - 1  # every pixel reaches every other
    crf = LocalMeanFieldCRF(4, iterations=3, window=window, downsample=1, w_bilateral=1.5, w_spatial=0.7, **THETA)
    expected = dense_mean_field(logits, image, 3, w_bilateral=1.5, w_spatial=0.7, **THETA)
    torch.testing.assert_close(crf(logits, image), expected, rtol=1e-4, atol=1e-4)


def test_small_window_removes_an_isolated_label_on_a_flat_image():
    logits = torch.zeros(1, 2, 16, 16)
    logits[0, 0] = 1.0
    logits[0, 1, 8, 8] = 2.0  # one pixel weakly prefers class 1
    image = torch.zeros(1, 3, 16, 16)
    before = logits.argmax(1)
    after = LocalMeanFieldCRF(2, window=5, downsample=1)(logits, image).argmax(1)
    assert before[0, 8, 8] == 1 and after[0, 8, 8] == 0
    assert (after == 0).all()


def test_colour_edge_stops_bilateral_messages():
    # Left half dark, right half bright: with the spatial kernel off, no message crosses the edge,
    # so each half is refined exactly as if it were an image of its own.
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 8, 8)
    image = torch.zeros(1, 3, 8, 8)
    image[:, :, :, 4:] = 5.0
    crf = LocalMeanFieldCRF(2, window=5, downsample=1, w_spatial=0.0)
    whole = crf(logits, image)
    torch.testing.assert_close(whole[..., :4], crf(logits[..., :4], image[..., :4]))
    torch.testing.assert_close(whole[..., 4:], crf(logits[..., 4:], image[..., 4:]))
    assert not torch.allclose(whole, logits)  # but within each half the CRF did change the scores


def test_downsampled_grid_keeps_full_resolution_output():
    logits = torch.randn(1, 3, 16, 24)
    out = LocalMeanFieldCRF(3, window=3, downsample=4)(logits, torch.randn(1, 3, 16, 24))
    assert out.shape == logits.shape


def test_trainable_flag_controls_gradients():
    assert all(p.requires_grad for p in LocalMeanFieldCRF(3, trainable=True).parameters())
    assert not any(p.requires_grad for p in LocalMeanFieldCRF(3, trainable=False).parameters())


def test_even_window_is_rejected():
    with pytest.raises(ValueError, match="odd"):
        LocalMeanFieldCRF(3, window=4)


def test_the_pairwise_term_is_bounded_by_the_kernel_weights_whatever_the_window():
    """Normalised kernels: a message is a weighted mean of Q, so with Potts the pairwise term is at most
    w_bilateral + w_spatial (here 4 + 3); unnormalised, a 7x7 window's 48 taps made it tens of logits."""
    torch.manual_seed(0)
    logits, image = torch.randn(1, 5, 32, 32) * 3, torch.randn(1, 3, 32, 32) * 0.1
    for window in (3, 7, 11):
        crf = LocalMeanFieldCRF(5, window=window, downsample=1, iterations=1)
        pairwise = logits - crf(logits, image)
        assert 0.0 <= float(pairwise.min()) and float(pairwise.max()) <= 4.0 + 3.0 + 1e-4
