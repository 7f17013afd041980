"""Two artifacts on the same labelled split: mIoU of each, their difference, label agreement.

Used by ``edgeseg compare A B --data DIR`` and by the accuracy gate of
``edgeseg quantize``. Both artifacts run through the runtime backends
(onnxruntime for ``.onnx``, torch for ``.pt``), so this module needs neither
onnx nor torch itself.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from edgeseg.atomic import atomic_write_text
from edgeseg.errors import EdgesegError
from edgeseg.metrics import scores_from_confusion


@dataclass
class Comparison:
    """Scores of ``a`` and ``b`` on ``images`` images.

    Attributes:
        miou_a, miou_b: mIoU in [0, 1].
        agreement: fraction of pixels (at each image's own resolution) with the same label.
    """

    a: str
    b: str
    images: int
    miou_a: float
    miou_b: float
    agreement: float

    @property
    def miou_change_text(self) -> str:
        """``b`` minus ``a`` in points, signed, without a "-0.00"."""
        return f"{round(-self.miou_drop_points, 2) + 0.0:+.2f}"

    @property
    def miou_drop_points(self) -> float:
        """How many mIoU points ``b`` loses against ``a`` (negative: ``b`` is better)."""
        return 100 * (self.miou_a - self.miou_b)

    def describe(self) -> str:
        return (f"mIoU {100 * self.miou_a:.2f} % ({self.a}) vs {100 * self.miou_b:.2f} % ({self.b}): "
                f"difference {self.miou_change_text} points; label agreement {100 * self.agreement:.3f} % "
                f"over {self.images} images")


def compare_backends(backend_a, backend_b, data: str | Path, split: str = "val", *, kind: str = "auto",
                     limit: int = 0, names: tuple[str, str] = ("A", "B")) -> Comparison:
    """Evaluate two open backends on ``data``/``split`` and compare their labels pixel by pixel."""
    from edgeseg.runtime.eval import evaluate

    if backend_a.metadata.classes != backend_b.metadata.classes:
        raise EdgesegError(
            f"{names[0]} and {names[1]} predict different classes ({backend_a.metadata.num_classes} vs "
            f"{backend_b.metadata.num_classes}); compare models of the same data set"
        )
    result_a = evaluate(backend_a, data, split, kind=kind, limit=limit, keep_predictions=True)
    result_b = evaluate(backend_b, data, split, kind=kind, limit=limit, keep_predictions=True)
    predictions_a, predictions_b = result_a.predictions or [], result_b.predictions or []  # kept: keep_predictions
    same = sum(int((pa == pb).sum()) for pa, pb in zip(predictions_a, predictions_b))
    total = sum(p.size for p in predictions_a)
    return Comparison(
        a=names[0], b=names[1], images=result_a.images,
        miou_a=scores_from_confusion(result_a.confusion).miou,
        miou_b=scores_from_confusion(result_b.confusion).miou,
        agreement=same / total,
    )


def run_compare(args: argparse.Namespace) -> int:
    """Handler of ``edgeseg compare``."""
    from edgeseg.cli_vocab import provider_list
    from edgeseg.runtime.backend_flags import check_backend_flags
    from edgeseg.runtime.backends import open_backend

    providers = provider_list(getattr(args, "providers", None))
    threads = getattr(args, "threads", 0)
    backend = getattr(args, "backend", "auto")
    for artifact in (args.a, args.b):
        check_backend_flags(artifact, backend, providers, threads)
    with open_backend(args.a, backend, providers=providers, threads=threads) as backend_a, \
            open_backend(args.b, backend, providers=providers, threads=threads) as backend_b:
        backend_a.require_semantic("edgeseg compare (mIoU and label agreement)")
        backend_b.require_semantic("edgeseg compare (mIoU and label agreement)")
        result = compare_backends(backend_a, backend_b, args.data, args.split, kind=args.kind, limit=args.limit,
                                  names=(str(args.a), str(args.b)))
    print(f"A  {args.a}: mIoU {100 * result.miou_a:6.2f} %")
    print(f"B  {args.b}: mIoU {100 * result.miou_b:6.2f} %")
    print(f"B - A: {result.miou_change_text} mIoU points; label agreement {100 * result.agreement:.3f} % "
          f"({result.images} images of {args.data} [{args.split}])")
    if args.json:
        atomic_write_text(args.json, json.dumps({**asdict(result), "miou_drop_points": result.miou_drop_points}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
