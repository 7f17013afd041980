"""FP32 ONNX -> INT8 ONNX with explicit Q/DQ nodes, calibrated on images.

Tool: ``onnxruntime.quantization.quantize_static`` in QDQ format. It runs on
the CPU, its output is plain ONNX QuantizeLinear/DequantizeLinear that the
TensorRT ONNX parser reads as explicit quantization, and ONNX Runtime runs the
same file on the CPU to measure its accuracy. (ModelOpt's ONNX PTQ needs
``nvidia-modelopt[onnx]``, which pulls GPU packages that do not belong in a
CPU export extra.)

Placement follows TensorRT's fusion rules:

- Q/DQ only on the *inputs* of Conv, ConvTranspose, MatMul and Gemm
  (``op_types_to_quantize``; ``OpTypesToExcludeOutputQuantization`` keeps
  their outputs float), so TensorRT fuses DQ -> Conv into an INT8 kernel;
- symmetric INT8 activations and weights (zero point 0, which TensorRT
  requires), per-channel weight scales (axis 0 for Conv, 1 for ConvTranspose);
- biases stay float (``QuantizeBias=False``): TensorRT adds them in the
  kernel's float epilogue and does not take INT32 DequantizeLinear biases;
- the in-graph normalisation, the unpooling masks and ArgMax are not among
  those op types, so they stay FP32.

Calibration images go through the runtime's preprocessing
(:mod:`.images`): resized to the model input, fed as uint8 BGR to ``image``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError, require
from edgeseg.images import ImageSet
from edgeseg.progress import Counter

log = logging.getLogger("edgeseg.export")

CALIBRATION_METHODS = ("entropy", "minmax", "percentile")
QUANTIZED_OP_TYPES = ["Conv", "ConvTranspose", "MatMul", "Gemm"]
PERCENTILE = 99.999  # of |activation|; onnxruntime's default
# Images run through the augmented calibration model per chunk: onnxruntime
# keeps every calibrated tensor of a chunk in memory (ENet at 360x480: about
# 150 MB per image) before folding it into its histograms.
MAX_CHUNK = 8


class _Batches:
    """onnxruntime ``CalibrationDataReader``: ``{"image": uint8 B x H x W x 3}`` batches.

    Supports ``set_range`` (used with ``CalibStridedMinMax``) so onnxruntime
    collects statistics chunk by chunk.
    """

    def __init__(self, images: np.ndarray, batch: int):
        count = -(-len(images) // batch) * batch
        index = np.arange(count) % len(images)  # a fixed-batch model needs whole batches: repeat from the start
        self.batches = [images[index[i:i + batch]] for i in range(0, count, batch)]
        self.start, self.end, self.position = 0, len(self.batches), 0
        self.counter: Counter | None = None  # a progress bar, while calibrating

    def __len__(self) -> int:
        return len(self.batches)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.start, self.end, self.position = start_index, min(end_index, len(self.batches)), start_index

    def get_next(self):
        if self.position >= self.end:
            return None
        batch = self.batches[self.position]
        self.position += 1
        if self.counter is not None:
            self.counter.update(1)
        return {"image": batch}


def _chunk_size(count: int) -> int:
    """The largest divisor of ``count`` up to :data:`MAX_CHUNK` (onnxruntime needs an exact division)."""
    return max(d for d in range(1, min(MAX_CHUNK, count) + 1) if count % d == 0)


def int8_from_fp32(model, calibration: ImageSet, method: str, *, batch: int, exclude_nodes: list[str] | None = None):
    """A Q/DQ INT8 copy of the FP32 ``onnx.ModelProto`` ``model``.

    Args:
        calibration: uint8 BGR (or BGR + depth) images at the model input size.
        method: ``entropy``, ``minmax`` or ``percentile`` (:data:`PERCENTILE`).
        batch: the model's fixed batch size.
        exclude_nodes: node names to leave in float (e.g. first or last conv).
    """
    require("onnxruntime", "export")
    onnx = require("onnx", "export")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"entropy": CalibrationMethod.Entropy, "minmax": CalibrationMethod.MinMax,
               "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise EdgesegError(f"unknown calibration method {method!r}; choose one of {', '.join(CALIBRATION_METHODS)}")
    reader = _Batches(calibration.images, batch)
    extra_options = {
        "ActivationSymmetric": True,
        "WeightSymmetric": True,
        "QuantizeBias": False,
        "OpTypesToExcludeOutputQuantization": QUANTIZED_OP_TYPES,
        # One Q/DQ pair per consumer, so the pairs of float consumers can be
        # removed again (_float_consumers_read_float).
        "DedicatedQDQPair": True,
        "CalibTensorRangeSymmetric": True,
        "CalibStridedMinMax": _chunk_size(len(reader)),
        "CalibPercentile": PERCENTILE,
    }
    log.info("calibrating INT8 (%s) on %d images, %d node(s) kept float", method, len(calibration.images), len(exclude_nodes or []))
    reader.counter = Counter(f"calibrating ({method})", total=len(reader), unit="batch")
    with tempfile.TemporaryDirectory(prefix="edgeseg-int8-") as tmp:
        source = Path(tmp) / "fp32.onnx"
        target = Path(tmp) / "int8.onnx"
        onnx.save(model, str(source))
        with _quiet_onnxruntime_quantization():
            quantize_static(
                str(source), str(target), reader, quant_format=QuantFormat.QDQ,
                op_types_to_quantize=QUANTIZED_OP_TYPES, per_channel=True, reduce_range=False,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                nodes_to_exclude=list(exclude_nodes or []), calibrate_method=methods[method],
                calibration_providers=["CPUExecutionProvider"], extra_options=extra_options,
            )
        quantized = onnx.load(str(target))
    reader.counter.close()
    _float_consumers_read_float(quantized)
    return quantized


class _DropPreprocessAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-process" not in record.getMessage()


@contextlib.contextmanager
def _quiet_onnxruntime_quantization():
    """Route onnxruntime.quantization's progress prints to the debug log.

    It print()s progress lines and logs, on the root logger, advice to run its
    own pre-processing (shape inference and graph optimisation), which the
    exported graph does not need: it is already simplified and shape-inferred.
    """
    printed = io.StringIO()
    advice = _DropPreprocessAdvice()
    root = logging.getLogger()
    root.addFilter(advice)
    for handler in root.handlers:
        handler.addFilter(advice)
    try:
        with contextlib.redirect_stdout(printed):
            yield
    finally:
        root.removeFilter(advice)
        for handler in root.handlers:
            handler.removeFilter(advice)
        for line in printed.getvalue().splitlines():
            log.debug("onnxruntime.quantization: %s", line)


def _float_consumers_read_float(model) -> None:
    """Rewire non-quantized consumers of a fake-quantized activation to the float tensor.

    onnxruntime puts a Q/DQ pair in front of *every* consumer of a tensor it
    quantizes for a convolution: ENet's normalised input also feeds the
    initial MaxPool, whose input would then be rounded to INT8 too. Q/DQ
    belongs only on the inputs of the quantized op types, so other consumers
    get the original tensor back and the orphaned pairs are removed.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    float_source = {}  # DQ output -> the float tensor its Q read
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear":
            q = producers.get(node.input[0])
            if q is not None and q.op_type == "QuantizeLinear":
                float_source[node.output[0]] = q.input[0]
    for node in model.graph.node:
        if node.op_type in QUANTIZED_OP_TYPES or node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for i, name in enumerate(node.input):
            if name in float_source:
                node.input[i] = float_source[name]
    graph_outputs = {o.name for o in model.graph.output}
    while True:  # drop Q/DQ nodes nobody reads any more
        used = {name for node in model.graph.node for name in node.input} | graph_outputs
        dead = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                and not any(out in used for out in n.output)]
        if not dead:
            break
        for node in dead:
            model.graph.node.remove(node)
    used = {name for node in model.graph.node for name in node.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def calibration_record(calibration: ImageSet, method: str, fp32_sha256: str) -> dict:
    """The ``calibration`` field of the INT8 model's metadata."""
    record = {"method": method, "num_images": len(calibration.images), "images_sha256": calibration.sha256,
              "fp32_onnx_sha256": fp32_sha256}
    if method == "percentile":
        record["percentile"] = PERCENTILE
    return record


__all__ = ["CALIBRATION_METHODS", "QUANTIZED_OP_TYPES", "calibration_record", "int8_from_fp32"]
