"""Handlers of ``edgeseg export`` and ``edgeseg quantize`` (``compare`` is in :mod:`.compare`)."""

from __future__ import annotations

import argparse


def run_export(args: argparse.Namespace) -> int:
    from .foreign import refuse_for_export
    from .onnx_from_torch import export_checkpoint
    from .tasks import export_task

    refuse_for_export(args.checkpoint)  # a foreign model (ONNX, TorchScript, .pt2): points to `edgeseg import`
    _refuse_non_finite_weights(args.checkpoint)
    result = export_checkpoint(
        args.checkpoint, args.output, height=args.height, width=args.width, batch=args.batch, opset=args.opset,
        with_logits=args.logits, parity_images=args.parity_images, parity_count=args.parity_count,
        parity_data=args.parity_data, parity_split=args.parity_split, simplifier=args.simplifier,
    )
    task = export_task(result.metadata.architecture)
    print(task.summary(result, args.logits))
    print(f"parity with PyTorch: {result.parity.describe()}")
    print(task.next_step(result))
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    from .quantize import quantize_onnx

    result = quantize_onnx(
        args.model, args.output, args.precision, calib=args.calib, method=args.method, num_images=args.num_images,
        calib_split=args.calib_split,
        exclude_nodes=args.exclude_nodes, eval_data=args.eval_data, split=args.split,
        max_miou_drop=args.max_miou_drop, eval_limit=args.eval_limit, eval_kind=getattr(args, "kind", "auto"),
    )
    print(f"wrote {result.path} ({result.metadata.precision})")
    if result.metadata.calibration:
        cal = result.metadata.calibration
        print(f"calibration: {cal['method']} on {cal['num_images']} images (sha256 {cal['images_sha256'][:12]}...)")
    if result.gate is not None:
        print(f"accuracy gate passed (max drop {result.gate.max_drop:g} points): {result.gate.comparison.describe()}")
    return 0



def _refuse_non_finite_weights(path: str) -> None:
    """A checkpoint with NaN or infinite weights (a diverged run) would export a model that outputs garbage."""
    from edgeseg.errors import EdgesegError
    from edgeseg.train.checkpoint import load_checkpoint
    from edgeseg.train.divergence import first_non_finite

    bad = first_non_finite(load_checkpoint(path)["model"])
    if bad is not None:
        raise EdgesegError(f"{path}: {bad[1]} weight value(s) of {bad[0]} are NaN or infinite (a diverged training "
                           "run?); export a checkpoint of an epoch before the divergence, or retrain with a lower lr")
