"""One parity mechanism: an exported ONNX against a reference, output by output, with per-output checks.

:func:`onnx_vs_reference` runs the ONNX (onnxruntime, CPU) and a reference
(the eager model under the deployed contract's names, from the task's
training part: :meth:`~edgeseg.train.tasks.TrainTask.reference_outputs`) on
the same uint8 inputs, in chunks of the ONNX's fixed batch, and measures each
output with the checks its task asks for (:meth:`~.tasks.ExportTask.parity_checks`):

- :class:`Close`: absolute differences (max, 99.99th percentile, the fraction
  beyond ``atol``), for logits, mask logits and scores;
- :class:`Agree`: the fraction of equal values (labels), or of values on the
  same side of 0 (mask logits thresholded at probability 0.5).

ENet's decoder unpools with 2x2 max-pooling switches. Where two values of a
pooling window are equal to within float rounding, ONNX Runtime and PyTorch
may pick different switches, which moves one activation to the neighbouring
pixel: a discontinuity that gives a few isolated large logit differences
(measured up to 0.5 on 4 of the 20 sample frames, on <0.15 % of the logits)
while everything else agrees to ~1e-5. So the semantic check bounds the
*fraction* of logits beyond an absolute tolerance rather than the maximum
alone, and requires label agreement; a real export error (wrong mean/std,
channel order, layout) moves nearly every logit by far more than the tolerance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.metadata import ModelMetadata

PARITY_IMAGES_IN_CHECKOUT = "samples/camvid/val"  # the default --parity-images, in the source checkout only


def default_parity_images() -> Path:
    """The checkout's ``samples/camvid/val``, or an error asking for ``--parity-images`` (an installed wheel has none)."""
    from edgeseg.checkout import checkout_data

    return checkout_data(PARITY_IMAGES_IN_CHECKOUT, "the bundled parity images",
                         "--parity-images DIR (a folder of images like the ones the model will see)")

Reference = Callable[[np.ndarray], dict[str, np.ndarray]]
"""uint8 inputs (one chunk) -> the outputs they should give, by name."""


class OutputCheck(ABC):
    """One comparison of one output: measures (name -> value) and whether they pass."""

    output: str

    @abstractmethod
    def measure(self, got: np.ndarray, want: np.ndarray) -> dict[str, float]:
        """Measures of the ONNX's ``got`` against the reference's ``want`` (all inputs, same shape)."""

    @abstractmethod
    def passed(self, measures: dict[str, float]) -> bool: ...

    @abstractmethod
    def describe(self, measures: dict[str, float]) -> str: ...


@dataclass(frozen=True)
class Close(OutputCheck):
    """``|got - want|``: its max and 99.99th percentile; at most ``max_outliers`` of the values beyond ``atol``.

    ``max_outliers`` 0 asks every value to be within ``atol``.
    """

    output: str
    atol: float
    max_outliers: float = 0.0
    what: str = ""

    @property
    def label(self) -> str:
        return self.what or self.output.replace("_", " ")

    def measure(self, got: np.ndarray, want: np.ndarray) -> dict[str, float]:
        error = np.abs(got.astype(np.float64) - want.astype(np.float64)).ravel()
        return {f"{self.output}_max_abs": float(error.max()), f"{self.output}_p9999": float(np.quantile(error, 0.9999)),
                f"{self.output}_outliers": float((error > self.atol).mean())}

    def passed(self, measures: dict[str, float]) -> bool:
        if self.max_outliers > 0:
            return measures[f"{self.output}_outliers"] <= self.max_outliers
        return measures[f"{self.output}_max_abs"] <= self.atol

    def describe(self, measures: dict[str, float]) -> str:
        text = f"{self.label} max abs error {measures[f'{self.output}_max_abs']:.2e}"
        if self.max_outliers > 0:
            return (f"{text}, 99.99th percentile {measures[f'{self.output}_p9999']:.2e}, "
                    f"{100 * measures[f'{self.output}_outliers']:.3f} % beyond {self.atol:g} "
                    f"(allowed {100 * self.max_outliers:g} %)")
        return f"{text} (allowed {self.atol:g})"


@dataclass(frozen=True)
class Agree(OutputCheck):
    """The fraction of values equal (``sign`` False: labels) or on the same side of 0 (``sign``: logits)."""

    output: str
    minimum: float
    name: str
    what: str
    sign: bool = False

    def measure(self, got: np.ndarray, want: np.ndarray) -> dict[str, float]:
        same = (got > 0) == (want > 0) if self.sign else got == want
        return {self.name: float(same.mean())}

    def passed(self, measures: dict[str, float]) -> bool:
        return measures[self.name] >= self.minimum

    def describe(self, measures: dict[str, float]) -> str:
        return f"{self.what} {100 * measures[self.name]:.3f} % (required {100 * self.minimum:g} %)"


@dataclass
class ParityReport:
    """The ONNX against its reference on ``count`` inputs (``unit``: images, windows).

    Attributes:
        measures: every check's measures by name (``logits_max_abs``,
            ``label_agreement``, ``mask_logits_max_abs``, ...).
        checks: the checks that were made.
    """

    count: int
    unit: str
    measures: dict[str, float] = field(default_factory=dict)
    checks: tuple[OutputCheck, ...] = ()
    source: str = ""

    @property
    def passed(self) -> bool:
        return all(check.passed(self.measures) for check in self.checks)

    def describe(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.count} {self.unit}: " + ", ".join(check.describe(self.measures) for check in self.checks)


def onnx_vs_reference(session: Any, reference: Reference, inputs: np.ndarray, batch: int,
                      checks: Sequence[OutputCheck], *, input_name: str, unit: str = "images") -> ParityReport:
    """Run the ONNX ``session`` and ``reference`` on ``inputs`` and measure ``checks``.

    Args:
        session: onnxruntime session of the exported model, with every output the checks read.
        reference: uint8 chunk -> the outputs it should give, by name (float32, or the contract's dtype).
        inputs: uint8 N x ... at the model's input size.
        batch: the ONNX's fixed batch size (the last chunk is padded with copies of its last input).
        input_name: the ONNX's input (the task's).
    """
    names = list(dict.fromkeys(check.output for check in checks))
    got: dict[str, list[np.ndarray]] = {name: [] for name in names}
    want: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, len(inputs), batch):
        chunk = inputs[start:start + batch]
        real = len(chunk)
        if real < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - real, axis=0)])
        outputs = dict(zip(names, session.run(names, {input_name: chunk})))
        expected = reference(chunk)
        for name in names:
            got[name].append(outputs[name][:real])
            want[name].append(expected[name][:real])
    measures: dict[str, float] = {}
    for check in checks:
        measures.update(check.measure(np.concatenate(got[check.output]), np.concatenate(want[check.output])))
    return ParityReport(len(inputs), unit, measures, tuple(checks))


def onnx_vs_torch(torch_model: Any, meta: ModelMetadata, session: Any, inputs: np.ndarray, batch: int,
                  checks: Sequence[OutputCheck] | None = None) -> ParityReport:
    """:func:`onnx_vs_reference` with the eager ``torch_model`` of a checkpoint with metadata ``meta``.

    The task is the architecture's; ``checks`` None means its FP32 checks.
    """
    from .tasks import export_task

    task = export_task(meta.architecture)
    reference = task.training.reference_outputs
    return onnx_vs_reference(session, lambda chunk: reference(torch_model.eval(), meta, chunk), inputs, batch,
                             task.parity_checks() if checks is None else checks, input_name=task.core.input_name,
                             unit=task.parity_unit)
