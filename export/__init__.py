"""ONNX export and quantized variants (needs ``pip install 'edgeseg[export]'``).

One function per step, ONNX the single intermediate format:

- :mod:`.wrapper`: ``DeployWrapper``, the model with in-graph pre/post-processing;
- :mod:`.onnx_from_torch`: checkpoint -> checked, simplified, parity-tested ONNX, for every task
  (:mod:`.tasks`) and for quantization-aware checkpoints (Q/DQ INT8);
- :mod:`.parity`: the one parity mechanism (per-output checks, one report);
- :mod:`.fp16`: FP32 ONNX -> mixed-precision FP16 ONNX;
- :mod:`.int8`: FP32 ONNX + calibration images -> Q/DQ INT8 ONNX;
- :mod:`.gate`: the mIoU gate a variant must pass before it is written;
- :mod:`edgeseg.runtime.compare` (a runtime command, used by the gate): label agreement and mIoU of two artifacts;
- :mod:`.import_model`: a user's own ONNX, TorchScript, ``.pt2`` or in-memory
  ``nn.Module`` -> an ordinary edgeseg ONNX (``edgeseg import``, :func:`export_module`).

Tolerances live in :mod:`.tolerances`. Modules import torch, onnx and
onnxruntime inside functions, so ``edgeseg --help`` needs none of them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export_module"]


def __getattr__(name: str) -> Any:
    # Lazy, so ``import edgeseg.export`` stays light; export_module imports torch and onnx when called.
    if name == "export_module":
        import importlib

        return importlib.import_module(f"{__name__}.import_model").export_module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
