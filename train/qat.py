"""Quantization-aware training: fake INT8 where the INT8 export puts Q/DQ.

Placement (the same as :mod:`edgeseg.export.int8`, which TensorRT fuses):

- the *input* of every ``Conv2d``, ``ConvTranspose2d`` and ``Linear``:
  per-tensor symmetric INT8 (zero point 0), a fixed scale ``amax / 127``
  initialised by calibration on images (``calibrate``);
- their *weights*: per-channel symmetric INT8 (axis 0 for Conv/Linear, 1 for
  ConvTranspose), scales from the current weights' max |w| at every step;
- biases, BatchNorm, pooling, unpooling masks, the in-graph normalisation and
  ArgMax stay float.

Tool: PyTorch's own ``torch.fake_quantize_per_tensor_affine`` and
``torch.fake_quantize_per_channel_affine`` (straight-through gradients), which
the TorchScript ONNX exporter (``dynamo=False``) writes as
QuantizeLinear/DequantizeLinear pairs. Why not NVIDIA ModelOpt's PyTorch
quantization (``nvidia-modelopt`` 0.47, a pure-Python wheel): its base
install pulls ninja, nvidia-ml-py, pulp, omegaconf, pydantic, scipy and more
into the train extra, it places quantizers by its own config rules (which
would have to be re-tuned to match the PTQ export's placement), and it
exports Q/DQ through its own symbolic functions. With the plain ops the
placement is exactly the PTQ export's by construction, the export is the
same exporter the FP32 stage uses, and no dependency is added. ModelOpt was
downloaded but not installed or measured here (time), so this is a choice
on those grounds, not on measured ModelOpt behaviour.

The quantized modules keep their class's parameter names (``weight``,
``bias``): the checkpoint's ``model`` state dict stays loadable by
:func:`~edgeseg.train.checkpoint.model_from_checkpoint`, and the activation
ranges travel beside it under the checkpoint key ``qat``
(``{"input_amax": {module name: float}}``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgeseg.errors import EdgesegError

log = logging.getLogger("edgeseg.train")

QMIN, QMAX = -128, 127  # the exporter maps exactly this range to an int8 zero point
CALIBRATION_PERCENTILE = 99.99  # of |activation|, per quantized input


def _fake_quant_input(x: torch.Tensor, amax: torch.Tensor) -> torch.Tensor:
    scale = float(torch.clamp(amax, min=1e-8)) / 127.0
    return torch.fake_quantize_per_tensor_affine(x, scale, 0, QMIN, QMAX)


def _fake_quant_weight(weight: torch.Tensor, axis: int) -> torch.Tensor:
    dims = [d for d in range(weight.dim()) if d != axis]
    amax = weight.detach().abs().amax(dim=dims).clamp(min=1e-8)
    scale = (amax / 127.0).float()
    zero_point = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(weight, scale, zero_point, axis, QMIN, QMAX)


class _QuantMixin(nn.Module):
    """Adds the ``input_amax`` buffer (not in the state dict) and a ``calibrating`` switch."""

    weight_axis = 0
    input_amax: torch.Tensor  # a buffer (register_buffer in _init_quant)

    def _init_quant(self) -> None:
        self.register_buffer("input_amax", torch.tensor(1.0), persistent=False)
        self.calibration_samples: list[np.ndarray] | None = None

    def _quant_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.calibration_samples is not None:  # observing: record |x|, pass it through float
            flat = x.detach().abs().flatten()
            step = max(1, flat.numel() // 200_000)  # a strided subsample keeps memory bounded
            self.calibration_samples.append(flat[::step].cpu().numpy())
            return x
        return _fake_quant_input(x, self.input_amax)


class QuantConv2d(_QuantMixin, nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(self._quant_input(x), _fake_quant_weight(self.weight, 0), self.bias)


class QuantConvTranspose2d(_QuantMixin, nn.ConvTranspose2d):
    weight_axis = 1

    def forward(self, x, output_size=None):
        if output_size is not None:
            raise EdgesegError("QAT does not support ConvTranspose2d called with output_size")
        # ConvTranspose2d refuses string padding ("same"), which _ConvNd's type allows for Conv2d.
        padding = cast("tuple[int, ...]", self.padding)
        return F.conv_transpose2d(self._quant_input(x), _fake_quant_weight(self.weight, 1), self.bias, self.stride,
                                  padding, self.output_padding, self.groups, self.dilation)


class QuantLinear(_QuantMixin, nn.Linear):
    def forward(self, x):
        return F.linear(self._quant_input(x), _fake_quant_weight(self.weight, 0), self.bias)


_QUANT_CLASSES = {nn.Conv2d: QuantConv2d, nn.ConvTranspose2d: QuantConvTranspose2d, nn.Linear: QuantLinear}


def quantized_modules(model: nn.Module) -> dict[str, _QuantMixin]:
    return {name: m for name, m in model.named_modules() if isinstance(m, _QuantMixin)}


def prepare_qat(model: nn.Module) -> nn.Module:
    """Turn every Conv2d/ConvTranspose2d/Linear of ``model`` into its fake-quantized twin, in place.

    The class of each module is switched to a subclass with the same
    parameters, so weights, state-dict keys and optimizers are unaffected.
    Returns ``model``.
    """
    count = 0
    for module in model.modules():
        target = _QUANT_CLASSES.get(type(module))
        if target is not None:
            module.__class__ = target
            cast(_QuantMixin, module)._init_quant()
            count += 1
    if count == 0:
        raise EdgesegError("QAT: the model has no Conv2d, ConvTranspose2d or Linear layer to quantize")
    log.info("QAT: %d layers fake-quantized (inputs per-tensor, weights per-channel, symmetric INT8)", count)
    return model


def set_input_amax(model: nn.Module, amax: dict[str, float], source: str = "checkpoint") -> None:
    modules = quantized_modules(model)
    missing = sorted(set(modules) - set(amax))
    if missing:
        raise EdgesegError(f"{source}: QAT ranges missing for layer(s) {', '.join(missing[:5])}; re-run the QAT fine-tune")
    for name, module in modules.items():
        module.input_amax.fill_(float(amax[name]))


def input_amax(model: nn.Module) -> dict[str, float]:
    return {name: float(m.input_amax) for name, m in quantized_modules(model).items()}


@torch.no_grad()
def calibrate(model: nn.Module, batches, percentile: float = CALIBRATION_PERCENTILE) -> dict[str, float]:
    """Set every quantized input's range to the ``percentile`` of its |activation| over ``batches``.

    Args:
        batches: iterable of float N x C x H x W tensors, normalised as in training.
    """
    modules = quantized_modules(model)
    was_training = model.training
    model.eval()
    for m in modules.values():
        m.calibration_samples = []
    try:
        for x in batches:
            model(x)
    finally:
        samples = {name: m.calibration_samples for name, m in modules.items()}
        for m in modules.values():
            m.calibration_samples = None
    for name, module in modules.items():
        seen = samples[name]
        if not seen:
            raise EdgesegError(f"QAT calibration: layer {name} saw no input; is it used in forward()?")
        module.input_amax.fill_(max(float(np.percentile(np.concatenate(seen), percentile)), 1e-6))
    model.train(was_training)
    return input_amax(model)


def calibration_batches(calib_dir: str | Path, height: int, width: int, mean, std, *, count: int = 32, batch: int = 4):
    """Images of ``calib_dir`` through the runtime's preprocessing, as normalised float NCHW batches.

    :func:`edgeseg.preprocess.normalize_image` is the numpy form of the export's
    in-graph ``Preprocess`` (the same float32 operations, bit for bit).
    """
    from edgeseg.images import load_image_folder
    from edgeseg.preprocess import normalize_image

    images = load_image_folder(calib_dir, height, width, count=count, what="calibration image")
    tensors = torch.from_numpy(normalize_image(images.images, mean, std))
    return [tensors[i:i + batch] for i in range(0, len(tensors), batch)], images


def qat_model_from_checkpoint(checkpoint: dict, source: str = "checkpoint"):
    """A QAT checkpoint -> (fake-quantized model in eval mode, metadata)."""
    from .checkpoint import model_from_checkpoint

    if "qat" not in checkpoint:
        raise EdgesegError(f"{source} is not a QAT checkpoint (no 'qat' key); train it with 'edgeseg train --qat-from'")
    model, meta = model_from_checkpoint(checkpoint, source)
    prepare_qat(model)
    set_input_amax(model, checkpoint["qat"]["input_amax"], source)
    return model.eval(), meta


# The default images of the range calibration, in the source checkout (edgeseg.checkout).
DEFAULT_CALIB_DIR = "calib_data/camvid"


def start_qat(model: nn.Module, qat_from: str | Path, *, calib_dir: str | Path | None = None, resume_from: Path | None = None,
              calib_count: int = 32) -> dict:
    """Prepare ``model`` (freshly built, float) for a QAT fine-tune; returns the checkpoint's ``qat`` record.

    A new run loads the weights of ``qat_from``, then calibrates the input
    ranges on ``calib_dir`` (the runtime's preprocessing at the checkpoint's
    input size, as post-training calibration does). A resumed run
    (``resume_from``: its last.pt) takes the ranges from that file instead;
    the trainer loads its weights.
    """
    from .checkpoint import load_checkpoint, model_from_checkpoint

    source = load_checkpoint(qat_from)
    float_model, meta = model_from_checkpoint(source, str(qat_from))
    if type(float_model) is not type(model) or float_model.state_dict().keys() != model.state_dict().keys():
        raise EdgesegError(f"--qat-from {qat_from} is a {meta.architecture} with {meta.num_classes} classes; "
                           "the config's model.name and data set must be the same")
    prepare_qat(model)
    if resume_from is not None:
        record = load_checkpoint(resume_from).get("qat")
        if record is None:
            raise EdgesegError(f"--resume: {resume_from} is not a QAT run; resume it without --qat-from")
        set_input_amax(model, record["input_amax"], str(resume_from))
        return record
    with torch.no_grad():
        for target, value in zip(model.state_dict().values(), float_model.state_dict().values()):
            target.copy_(value)
    if calib_dir is None:
        from edgeseg.checkout import checkout_data

        calib_dir = checkout_data(DEFAULT_CALIB_DIR, "the QAT calibration images", "--qat-calib DIR")
    calib_dir = Path(calib_dir)
    batches, images = calibration_batches(calib_dir, meta.input.height, meta.input.width, meta.input.mean, meta.input.std,
                                          count=calib_count)
    device = next(model.parameters()).device
    amax = calibrate(model, [b.to(device) for b in batches])
    log.info("QAT: calibrated %d input ranges on %d images from %s", len(amax), len(images.images), calib_dir)
    return {"input_amax": amax, "record": {
        "qat_from": str(qat_from), "qat_from_epoch": source.get("epoch"), "init_calibration": "percentile",
        "percentile": CALIBRATION_PERCENTILE, "num_images": len(images.images), "images_sha256": images.sha256}}
