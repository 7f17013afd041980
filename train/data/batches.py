"""From a batch of uint8 training samples to the model's input, on the device.

:class:`~edgeseg.train.data.datasets.TrainDataset` yields uint8 images; the
trainer converts each batch here, after the copy to the device. The result is
exactly :func:`edgeseg.preprocess.normalize_image` of the same pixels (same
float32 arithmetic), so training sees what export, calibration and the runtime
feed the model.
"""

from __future__ import annotations

import torch


def model_input(images: torch.Tensor, mean, std, channels_last: bool = False) -> torch.Tensor:
    """uint8 N x H x W x C BGR (C = 3) or BGR + depth (C = 4) to float32 N x C x H x W RGB(D), ``(x - mean) / std``.

    ``mean``/``std``: C values, RGB(D) order, 0..255 units. With
    ``channels_last`` the result has NHWC strides (``torch.channels_last``),
    which is what permuting an NHWC batch gives for free; otherwise it is
    contiguous NCHW.
    """
    channels = images.shape[-1]
    order = [2, 1, 0] + list(range(3, channels))  # BGR(D) -> RGB(D)
    x = images[..., order].permute(0, 3, 1, 2).float()
    shape = (1, channels, 1, 1)
    x = (x - torch.tensor(mean, dtype=torch.float32, device=x.device).view(shape)) / torch.tensor(
        std, dtype=torch.float32, device=x.device).view(shape)
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
