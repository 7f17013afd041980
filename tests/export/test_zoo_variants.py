"""Every semantic architecture of the zoo deploys: FP32, FP16 and INT8 ONNX variants build and run.

The FP32 parity of each architecture is tested in tests/train/test_zoo.py on
raw logits; here the deployed form (uint8 BGR in, uint8 labels out, in-graph
pre/post-processing) goes through the export stage's own FP16 and INT8
conversions, and each variant runs in onnxruntime. Untrained models have
near-tied logits, so accuracy is not compared here (the committed ENet's is,
in the slow test); what is checked is the deployable structure: Q/DQ on the
convolutions, FP16 weights, only TensorRT-listed operators, valid labels.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from edgeseg.engines.trt_onnx_ops import unsupported_nodes
from edgeseg.train.models import build_model, get_entry, model_names

NUM_CLASSES = 5
HEIGHT, WIDTH = 64, 96
# Narrow variants keep the whole parametrised test within seconds per model on a CPU.
SMALL = {"fcn8s": {"width_mult": 0.125}, "fcn16s": {"width_mult": 0.125}, "fcn32s": {"width_mult": 0.125},
         "segnet": {"width_mult": 0.125}, "deeplab_largefov": {"width_mult": 0.125},
         "deeplab_largefov_crf": {"width_mult": 0.125}, "crfasrnn": {"width_mult": 0.125},
         "parsenet": {"width_mult": 0.125}, "pspnet": {"width_mult": 0.25}, "refinenet": {"width_mult": 0.25}}


@pytest.mark.parametrize("name", model_names())
def test_zoo_model_fp16_and_int8_variants_run(name):
    import onnxruntime as ort

    from edgeseg.export.fp16 import fp16_from_fp32
    from edgeseg.export.int8 import int8_from_fp32
    from edgeseg.export.onnx_from_torch import onnx_from_torch, simplified_onnx
    from edgeseg.export.wrapper import DeployWrapper
    from edgeseg.images import ImageSet

    entry = get_entry(name)
    if entry.task != "semantic" or entry.in_channels != 3:
        pytest.skip(f"{name}: the uint8 BGR deploy wrapper is for 3-channel semantic models "
                    f"(task {entry.task}, {entry.in_channels} channels)")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    h = -(-HEIGHT // entry.input_multiple) * entry.input_multiple
    w = -(-WIDTH // entry.input_multiple) * entry.input_multiple
    try:
        model = build_model(name, NUM_CLASSES, **SMALL.get(name, {}))
    except TypeError:
        model = build_model(name, NUM_CLASSES)
    wrapper = DeployWrapper(model, [105.0, 108.0, 110.0], [78.0, 79.0, 78.0], with_logits=True)
    fp32 = simplified_onnx(onnx_from_torch(wrapper, h, w, 1, 17))
    # onnx_from_torch names both outputs; without --logits the export drops the second one.
    from edgeseg.export.onnx_io import drop_output

    drop_output(fp32, "logits")
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (4, h, w, 3), dtype=np.uint8)
    variants = {
        "fp32": fp32,
        "fp16": fp16_from_fp32(fp32),
        "int8": int8_from_fp32(fp32, ImageSet(calib, [], hashlib.sha256(b"x").hexdigest()), "minmax", batch=1),
    }
    frame = rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8)
    ops = {key: {n.op_type for n in m.graph.node} for key, m in variants.items()}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops["int8"], name
    assert any(init.data_type == 10 for init in variants["fp16"].graph.initializer), f"{name}: no FP16 weights"
    for key, proto in variants.items():
        assert "MaxUnpool" not in ops[key]
        assert unsupported_nodes(proto) == [], f"{name} {key}"
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        (labels,) = session.run(["labels"], {"image": frame})
        assert labels.dtype == np.uint8 and labels.shape == (1, h, w), f"{name} {key}"
        assert labels.max() < NUM_CLASSES
