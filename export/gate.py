"""The accuracy gate: a quantized variant may lose at most ``max_drop`` mIoU points against its FP32 source."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from edgeseg.errors import EdgesegError
from edgeseg.gates import DEFAULT_MAX_MIOU_DROP
from edgeseg.runtime.compare import Comparison, compare_backends

log = logging.getLogger("edgeseg.export")


@dataclass
class GateResult:
    comparison: Comparison
    max_drop: float

    @property
    def passed(self) -> bool:
        return self.comparison.miou_drop_points <= self.max_drop


def miou_gate(candidate: str | os.PathLike, reference: str | os.PathLike, data: str | os.PathLike, *,
              split: str = "val", max_drop: float = DEFAULT_MAX_MIOU_DROP, limit: int = 0, candidate_name: str | None = None,
              kind: str = "auto") -> GateResult:
    """Score ``candidate`` and its FP32 ``reference`` (both ONNX) with onnxruntime; raise if the drop is too large.

    ``candidate`` may be a temporary file (any suffix); ``candidate_name`` is
    what messages call it.
    """
    from edgeseg.runtime.backends.ort import OrtBackend

    name = candidate_name or str(candidate)
    log.info("accuracy gate: scoring %s and %s on %s [%s]", name, reference, data, split)
    with OrtBackend(candidate) as cand, OrtBackend(reference) as ref:
        comparison = compare_backends(ref, cand, Path(data), split, kind=kind, limit=limit, names=(str(reference), name))
    result = GateResult(comparison, max_drop)
    if not result.passed:
        raise EdgesegError(
            f"{name} loses {comparison.miou_drop_points:.2f} mIoU points against {reference} "
            f"(allowed {max_drop:g}; {comparison.describe()}); not written. Try another --method, more "
            "--num-images, --exclude-nodes for the first/last convolution, or FP16"
        )
    log.info("accuracy gate passed: %s", comparison.describe())
    return result
