"""The accuracy gates: how many mIoU points a faster variant may lose against its FP32 source.

One place for the rule that ``edgeseg quantize --eval-data`` (export) and the
cpu target of ``edgeseg build`` (engines) both apply; the mIoU of both models
is measured on the same labelled split (:mod:`edgeseg.runtime.compare`).
"""

from __future__ import annotations

# `edgeseg quantize --max-miou-drop` default: an FP16 or INT8 ONNX may lose at most this many
# points (issue 3: INT8 <= 1.0).
DEFAULT_MAX_MIOU_DROP = 1.0

# The cpu target's candidates, by class of precision: exact (the input ONNX at f32) always passes;
# OpenVINO's bf16/f16 inference may lose 0.2 points; an INT8 Q/DQ variant as much as quantize allows.
MAX_MIOU_DROP_BY_CLASS = {"exact": 0.0, "bf16": 0.2, "f16": 0.2, "int8": DEFAULT_MAX_MIOU_DROP}

__all__ = ["DEFAULT_MAX_MIOU_DROP", "MAX_MIOU_DROP_BY_CLASS"]
