"""Handlers of ``edgeseg export`` and ``edgeseg quantize`` (``compare`` is in :mod:`.compare`)."""

from __future__ import annotations

import argparse


def run_export(args: argparse.Namespace) -> int:
    from .foreign import refuse_for_export
    from .onnx_from_torch import export_checkpoint

    refuse_for_export(args.checkpoint)  # a foreign model (ONNX, TorchScript, .pt2): points to `edgeseg import`
    _refuse_non_finite_weights(args.checkpoint)
    if _checkpoint_task(args.checkpoint) == "proposals":
        return _run_proposals_export(args)
    if args.batch is None:
        args.batch = 1
    if _is_qat_checkpoint(args.checkpoint):
        return _run_qat_export(args)

    result = export_checkpoint(
        args.checkpoint, args.output, height=args.height, width=args.width, batch=args.batch, opset=args.opset,
        with_logits=args.logits, parity_images=args.parity_images, parity_count=args.parity_count,
        parity_data=args.parity_data, parity_split=args.parity_split, simplifier=args.simplifier,
    )
    spec = result.metadata.input
    outputs = "labels, logits" if args.logits else "labels"
    layout = "3 BGR" if spec.channels == 3 else f"4 BGR + depth ({spec.depth_scale:g} mm per step)"
    print(f"wrote {result.path}: image uint8 {args.batch}x{spec.height}x{spec.width}x{layout} -> {outputs}; "
          f"opset {args.opset}")
    print(f"parity with PyTorch: {result.parity.describe()}")
    calib = "calib_data/camvid" if spec.channels == 3 else "RGBD_DATA_ROOT"
    print(f"next: edgeseg quantize {result.path} --precision int8 --calib {calib}")
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


def _checkpoint_task(path: str) -> str:
    """The registry task (``semantic``, ``proposals``) of the checkpoint's architecture."""
    from edgeseg.errors import EdgesegError
    from edgeseg.train.checkpoint import checkpoint_metadata, load_checkpoint
    from edgeseg.train.models import get_entry

    meta = checkpoint_metadata(load_checkpoint(path), path)
    try:
        return get_entry(meta.architecture).task
    except KeyError as exc:
        raise EdgesegError(f"{path}: {exc.args[0]}") from None


def _run_proposals_export(args: argparse.Namespace) -> int:
    from edgeseg.errors import EdgesegError

    from .proposals_onnx import export_proposals_checkpoint

    if args.logits:
        raise EdgesegError("--logits is for semantic models; a proposals ONNX always outputs mask_logits and scores")
    result = export_proposals_checkpoint(
        args.checkpoint, args.output, height=args.height, width=args.width, batch=args.batch, opset=args.opset,
        parity_images=args.parity_images, parity_count=args.parity_count, simplifier=args.simplifier,
    )
    meta = result.metadata
    window, stride = meta.window_geometry
    print(f"wrote {result.path}: windows uint8 {result.batch}x{window}x{window}x3 BGR -> mask_logits float32 "
          f"{result.batch}x{result.mask_size}x{result.mask_size}, scores float32 {result.batch} (probabilities); "
          f"frames {meta.input.height}x{meta.input.width}, stride {stride}; opset {args.opset}")
    print(f"parity with PyTorch: {result.parity.describe()}")
    print(f"next: edgeseg run {result.path} --source VIDEO --sink out.mp4")
    return 0


def _is_qat_checkpoint(path: str) -> bool:
    from edgeseg.train.checkpoint import load_checkpoint

    return "qat" in load_checkpoint(path)


def _run_qat_export(args: argparse.Namespace) -> int:
    import logging

    from .qat_onnx import export_qat_checkpoint

    if args.simplifier != "none":
        # Simplifying would fold the weights' Q/DQ pairs back into float weights (see qat_onnx).
        logging.getLogger("edgeseg.export").info("a QAT export is never simplified; --simplifier %s does not apply",
                                                 args.simplifier)

    result = export_qat_checkpoint(
        args.checkpoint, args.output, height=args.height, width=args.width, batch=args.batch, opset=args.opset,
        with_logits=args.logits, parity_images=args.parity_images, parity_count=args.parity_count,
    )
    spec = result.metadata.input
    print(f"wrote {result.path} (int8, Q/DQ from quantization-aware training): image uint8 "
          f"{args.batch}x{spec.height}x{spec.width}x3 BGR -> labels; opset {args.opset}")
    print(f"labels agree with the fake-quantized PyTorch model on {100 * result.label_agreement:.3f} % of pixels")
    print(f"next: edgeseg build {result.path}")
    return 0
