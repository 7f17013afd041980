"""QAT checkpoint -> Q/DQ INT8 ONNX with the deployment contract.

The fake-quantized model (:mod:`edgeseg.train.qat`) inside
:class:`~.wrapper.DeployWrapper` is traced by the same TorchScript exporter as
the FP32 export; ``torch.fake_quantize_*`` become QuantizeLinear /
DequantizeLinear on the inputs and weights of Conv, ConvTranspose and Gemm.
The graph is not run through onnxslim: its constant folding would fold the
weight Q/DQ pairs back into float weights. BatchNorm therefore stays a
separate node after the convolution (TensorRT fuses it; ONNX Runtime fuses
it at session creation).

``edgeseg export`` calls :func:`export_qat_checkpoint` when the checkpoint has
a ``qat`` record, so a QAT run's best.pt exports like any other checkpoint and
the result is an INT8 variant that ``edgeseg build`` takes as it is.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError, require
from edgeseg.hashing import sha256_file

from .onnx_io import check_model, drop_output, save_onnx, set_metadata, tool_versions

log = logging.getLogger("edgeseg.export")


@dataclass
class QatExportResult:
    path: Path
    metadata: object  # ModelMetadata
    label_agreement: float  # ONNX Runtime vs fake-quantized PyTorch, fraction of pixels

MIN_LABEL_AGREEMENT = 0.99  # ONNX Runtime vs the fake-quantized PyTorch model, fraction of pixels


def export_qat_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike, *, height: int | None = None,
                          width: int | None = None, batch: int = 1, opset: int = 17, with_logits: bool = False,
                          parity_images: str | os.PathLike | None = None, parity_count: int = 8):
    """Write the Q/DQ INT8 ONNX of the QAT checkpoint ``checkpoint`` to ``output``.

    The parity check compares labels (uint8 N x H x W) of ONNX Runtime and the
    fake-quantized PyTorch model: rounding at INT8 boundaries may differ, so it
    asks for :data:`MIN_LABEL_AGREEMENT` of pixels equal, not bitwise logits.
    """
    torch = require("torch", "export")
    require("onnxruntime", "export")
    import onnxruntime as ort

    from edgeseg.images import load_image_folder
    from edgeseg.train.checkpoint import load_checkpoint
    from edgeseg.train.models import get_entry
    from edgeseg.train.qat import qat_model_from_checkpoint

    from .onnx_from_torch import DEFAULT_PARITY_IMAGES, check_export_args, check_input_size, onnx_from_torch
    from .wrapper import DeployWrapper

    checkpoint = Path(checkpoint)
    output = Path(output)
    check_export_args(output, batch, opset)
    if opset < 13:
        raise EdgesegError("QAT export needs opset 13 or newer (per-channel DequantizeLinear)")
    ckpt = load_checkpoint(checkpoint)
    model, meta = qat_model_from_checkpoint(ckpt, str(checkpoint))
    entry = get_entry(meta.architecture)
    height = meta.input.height if height is None else height
    width = meta.input.width if width is None else width
    multiple = max(entry.input_multiple, meta.input.multiple)
    check_input_size(height, width, multiple, meta.architecture)
    parity_dir = Path(parity_images) if parity_images is not None else DEFAULT_PARITY_IMAGES
    images = load_image_folder(parity_dir, height, width, count=parity_count, what="parity image").images

    log.info("exporting QAT %s (%s) at %dx%d, batch %d, opset %d", checkpoint, meta.architecture, height, width, batch, opset)
    wrapper = DeployWrapper(model, meta.input.mean, meta.input.std, with_logits=True)
    graph = onnx_from_torch(wrapper, height, width, batch, opset)
    check_model(graph, str(output))

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
    count = -(-len(images) // batch) * batch
    index = np.arange(count) % len(images)
    equal = total = 0
    with torch.no_grad():
        for i in range(0, count, batch):
            chunk = images[index[i:i + batch]]
            got = session.run(["labels"], {"image": chunk})[0]
            want = wrapper(torch.from_numpy(chunk))[0].numpy()
            equal += int((got == want).sum())
            total += got.size
    agreement = equal / total
    if agreement < MIN_LABEL_AGREEMENT:
        raise EdgesegError(f"ONNX Runtime labels agree with the fake-quantized PyTorch model on only "
                           f"{100 * agreement:.2f} % of pixels (need {100 * MIN_LABEL_AGREEMENT:.0f} %); nothing written")
    log.info("QAT parity: labels agree on %.3f %% of pixels", 100 * agreement)
    if with_logits:
        log.warning("--logits is not available for QAT exports; writing labels only")
    drop_output(graph, "logits")
    exported = replace(
        meta,
        input=replace(meta.input, height=height, width=width, multiple=multiple),
        precision="int8", opset=opset,
        calibration={"method": "qat", **ckpt["qat"].get("record", {}), "checkpoint_sha256": sha256_file(checkpoint)},
        source_sha256=sha256_file(checkpoint),
        tool_versions=tool_versions("torch", "onnx", "onnxruntime"),
    )
    set_metadata(graph, exported)
    check_model(graph, str(output))
    save_onnx(graph, output)
    return QatExportResult(output, exported, agreement)

