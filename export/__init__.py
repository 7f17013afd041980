"""ONNX export and quantized variants (needs ``pip install 'edgeseg[export]'``).

One function per step, ONNX the single intermediate format:

- :mod:`.wrapper`: ``DeployWrapper``, the model with in-graph pre/post-processing;
- :mod:`.onnx_from_torch`: checkpoint -> checked, simplified, parity-tested FP32 ONNX;
- :mod:`.fp16`: FP32 ONNX -> mixed-precision FP16 ONNX;
- :mod:`.int8`: FP32 ONNX + calibration images -> Q/DQ INT8 ONNX;
- :mod:`.gate`: the mIoU gate a variant must pass before it is written;
- :mod:`.compare`: label agreement and mIoU of two artifacts.

Tolerances live in :mod:`.tolerances`. Modules import torch, onnx and
onnxruntime inside functions, so ``edgeseg --help`` needs none of them.
"""
