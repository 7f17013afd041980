"""The ``edgeseg`` command line.

Each stage is a subcommand. The parser imports nothing heavy: a subcommand's
handler imports its stage (and torch, onnxruntime, ...) when it runs, so
``edgeseg --help`` works on a Jetson with only numpy and OpenCV.

Every handler is ``handler(args) -> int``; :func:`main` takes ``argv`` so
tests call ``main([...])`` directly. An :class:`EdgesegError` is printed as
one message (no traceback unless ``--debug``) with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .cli_vocab import DeprecatedAlias, SuggestingParser, add_data_kind, add_model_arguments, parse_with_suggestions
from .errors import EdgesegError
from .gates import DEFAULT_MAX_MIOU_DROP
from .import_args import add_import_arguments, add_simplifier_argument

if TYPE_CHECKING:
    from .metadata import ModelMetadata

PIPELINE = "train -> export -> quantize -> build -> run / eval / bench"


def _train(args: argparse.Namespace) -> int:
    from edgeseg.train.cli import run_train

    return run_train(args)


def _eval(args: argparse.Namespace) -> int:
    from edgeseg.runtime.eval import run_eval

    return run_eval(args)


def _info(args: argparse.Namespace) -> int:
    from edgeseg.info_summary import run_info

    return run_info(args, read_checkpoint=_checkpoint_summary)


def _checkpoint_summary(path: Path) -> tuple[ModelMetadata, dict[str, Any]]:
    # Imported only for a .pt, so 'edgeseg info MODEL.onnx' needs no torch.
    from .errors import require

    require("torch", "train")
    from edgeseg.train.checkpoint import checkpoint_summary

    return checkpoint_summary(path)


def _bench(args: argparse.Namespace) -> int:
    from edgeseg.runtime.bench.command import run_bench

    return run_bench(args)


def _models(args: argparse.Namespace) -> int:
    from edgeseg.train.cli import run_models

    return run_models(args)


def _build(args: argparse.Namespace) -> int:
    from edgeseg.engines.build import run_build

    return run_build(args)


def _targets(args: argparse.Namespace) -> int:
    from edgeseg.engines.targets import run_targets

    return run_targets(args)


def _run(args: argparse.Namespace) -> int:
    from edgeseg.runtime.run import run_video

    return run_video(args)


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    from edgeseg.runtime.run_args import add_run_arguments

    add_run_arguments(p)


def _export(args: argparse.Namespace) -> int:
    from edgeseg.export.cli import run_export

    return run_export(args)


def _import(args: argparse.Namespace) -> int:
    from edgeseg.engines.op_compat import import_op_check
    from edgeseg.export.import_cli import run_import

    return run_import(args, import_op_check(args.target))


def _quantize(args: argparse.Namespace) -> int:
    from edgeseg.export.cli import run_quantize

    return run_quantize(args)


def _compare(args: argparse.Namespace) -> int:
    from edgeseg.runtime.compare import run_compare

    return run_compare(args)


def build_parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(
        prog="edgeseg",
        description=f"Semantic segmentation from PyTorch to a live camera on NVIDIA Jetson and desktop GPUs.\n"
        f"Pipeline: {PIPELINE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edgeseg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="stages", parser_class=SuggestingParser)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        p.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bars or periodic status lines (bars only ever show on a terminal)")
        return p

    p = add("train", _train, "train a model from a TOML config (needs edgeseg[train])")
    p.add_argument("config", help="TOML config, e.g. configs/camvid_enet.toml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (dots for nested keys: data.root=PATH); repeatable")
    p.add_argument("--out", required=True,
                   help="run folder, created if its parent exists: best.pt, last.pt, metrics.jsonl, config.json, tb/")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last.pt, with the config recorded in its config.json")
    p.add_argument("--allow-changes", action="store_true",
                   help="with --resume: accept a config that differs from the recorded one (recorded as a change)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--stop-after", type=int, metavar="N",
                   help="stop after N epochs of this invocation (resume later with --resume)")
    p.add_argument("--qat-from", metavar="MODEL.pt",
                   help="quantization-aware fine-tune of this trained checkpoint (fake INT8 where the INT8 export puts Q/DQ)")
    p.add_argument("--qat-calib", metavar="DIR", help="images for the QAT range initialisation (default calib_data/camvid)")

    p = add("export", _export, "checkpoint -> ONNX (uint8 BGR NHWC in, uint8 labels out), parity-checked (needs edgeseg[export])")
    p.add_argument("checkpoint", help="checkpoint .pt")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--height", type=int, help="input height (default: the checkpoint's); a multiple of the architecture's; "
                                              "proposal models: the frame height windows are cut from")
    p.add_argument("--width", type=int, help="input width (default: the checkpoint's); proposal models: the frame width")
    p.add_argument("--batch", type=int, default=None,
                   help="fixed batch size (default 1; proposal models: the number of windows of one frame)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17, which TensorRT 8.5+ parses)")
    p.add_argument("--logits", action="store_true", help="also output float32 'logits' N x C x H x W")
    p.add_argument("--parity-images", metavar="DIR", help="images for the PyTorch parity check (default: samples/camvid/val)")
    p.add_argument("--parity-count", type=int, default=8, help="how many parity images (default 8)")
    p.add_argument("--parity-data", metavar="ROOT",
                   help="RGB-D models: an RGB-D data set (images/, depth/, masks/) whose frames the parity check uses "
                        "(default: --parity-images with a made-up vertical depth ramp)")
    p.add_argument("--parity-split", default="val", help="split of --parity-data (default: val)")
    add_simplifier_argument(p)

    p = add("import", _import, "your own ONNX, TorchScript or .pt2 model -> edgeseg ONNX (contract I/O, metadata), "
                               "parity-checked against it (needs edgeseg[export])")
    add_import_arguments(p)

    p = add("quantize", _quantize, "FP32 ONNX -> FP16 or INT8 (Q/DQ) ONNX, optionally gated on mIoU (needs edgeseg[export])")
    p.add_argument("model", help="FP32 ONNX written by 'edgeseg export'")
    p.add_argument("--precision", required=True, choices=["fp16", "int8"])
    p.add_argument("-o", "--output", help="ONNX file to write (default: MODEL.<precision>.onnx)")
    p.add_argument("--calib", metavar="DIR", help="INT8: folder of calibration images (e.g. calib_data/camvid); "
                   "for RGB-D models an RGB-D data set (images/, depth/, masks/)")
    p.add_argument("--calib-split", default="train", help="INT8, RGB-D models: split of --calib (default: train)")
    p.add_argument("--method", default="entropy", choices=["entropy", "minmax", "percentile"],
                   help="INT8 calibration method (default: entropy)")
    p.add_argument("--num-images", type=int, default=0, help="INT8: calibrate on N images, evenly spaced (0: all)")
    p.add_argument("--exclude-nodes", action="append", default=[], metavar="NAME",
                   help="INT8: keep this node in float (repeatable), e.g. the first or last convolution")
    p.add_argument("--eval-data", metavar="DIR", help="labelled data set for the accuracy gate against the FP32 model")
    p.add_argument("--split", default="val", help="split of --eval-data (default: val)")
    p.add_argument("--max-miou-drop", type=float, default=DEFAULT_MAX_MIOU_DROP,
                   help=f"refuse the variant if it loses more mIoU points than this (default {DEFAULT_MAX_MIOU_DROP})")
    p.add_argument("--limit", "--eval-limit", dest="eval_limit", type=int, default=0, action=DeprecatedAlias,
                   new="--limit", help="score only the first N images in the gate (0: all); --eval-limit is its old name")
    add_data_kind(p)

    p = add("build", _build, "build a TensorRT engine (or the cpu target's optimised ONNX) for a target, with a .json sidecar")
    p.add_argument("onnx", help="the ONNX from 'edgeseg export' (its precision is already decided)")
    p.add_argument("--target", required=True, help="a target from 'edgeseg targets', or auto (detect this machine)")
    p.add_argument("-o", "--out", metavar="FOLDER",
                   help="output folder, created if its parent exists (default: the ONNX's folder); "
                        "the artifact inside is named MODEL.TARGET.onnx, .blob (OpenVINO) or .engine")
    p.add_argument("--force", action="store_true", help="rebuild even if an artifact with the same build key exists")
    p.add_argument("--no-dla", action="store_true", help="build for the GPU only, also on targets with a DLA")
    cpu = p.add_argument_group("cpu target (OpenVINO where installed: the fastest precision that passes the accuracy gate)")
    cpu.add_argument("--backend", default="auto", choices=["auto", "openvino", "onnxruntime"],
                     help="runtime the cpu target is built for (default auto: openvino where installed)")
    cpu.add_argument("--threads", type=int, default=0, help="inference threads the candidates are timed and built with (0: all cores)")
    cpu.add_argument("--int8", action="append", default=[], metavar="MODEL.int8.onnx",
                     help="an INT8 Q/DQ variant of this ONNX to consider (repeatable; STEM.int8.onnx beside it is found itself)")
    cpu.add_argument("--eval-data", metavar="DIR",
                     help="labelled data set for the accuracy gate; without it only the exact FP32 is eligible")
    cpu.add_argument("--split", default="val", help="split of --eval-data (default: val)")
    cpu.add_argument("--limit", "--eval-limit", dest="eval_limit", type=int, default=0, action=DeprecatedAlias,
                     new="--limit", help="score only the first N images in the gate (0: all); --eval-limit is its old name")

    p = add("run", _run, "segment video from a file, camera, RTSP or GStreamer into a file, window or web page")
    _add_run_arguments(p)

    p = add("eval", _eval, "mIoU of a model artifact on a labelled data set")
    p.add_argument("artifact", help="checkpoint .pt, ONNX .onnx, OpenVINO .blob or engine .engine")
    add_model_arguments(p)
    p.add_argument("--data", required=True, help="data folder (CamVid layout, or images/masks/classes.txt)")
    p.add_argument("--split", default="val", help="split to score (default: val)")
    add_data_kind(p)
    p.add_argument("--limit", type=int, default=0, help="score only the first N images (0: all)")
    p.add_argument("--json", help="write the scores as JSON here")
    p.add_argument("--overlay-dir", help="also write colour overlays of the predictions into this folder")

    p = add("compare", _compare, "mIoU of two artifacts, their difference and their label agreement")
    p.add_argument("a", help="artifact A (.pt or .onnx)")
    p.add_argument("b", help="artifact B (.pt or .onnx)")
    p.add_argument("--data", required=True, help="labelled data folder (CamVid layout, or images/masks/classes.txt)")
    p.add_argument("--split", default="val", help="split to score (default: val)")
    add_data_kind(p)
    add_model_arguments(p)
    p.add_argument("--limit", type=int, default=0, help="score only the first N images (0: all)")
    p.add_argument("--json", help="write the comparison as JSON here")

    p = add("bench", _bench, "latency and throughput of an artifact; baselines and A/B regression checks")
    p.add_argument("artifact", help=".onnx, .engine or .pt")
    add_model_arguments(p)
    p.add_argument("--scenario", default="single-stream", choices=["single-stream", "offline", "pipeline"],
                   help="single-stream: one frame at a time, latency; offline: batched throughput; "
                        "pipeline: decode, infer, overlay and encode a video (time per frame, stages)")
    p.add_argument("--source", help="pipeline: the video to loop over (default: the bundled sample clip)")
    p.add_argument("--batch", type=int, default=0, help="offline: images per call (default: max(model batch, 8))")
    p.add_argument("--warmup-s", type=float, default=1.0, help="warm-up seconds before timing (default 1)")
    p.add_argument("--min-iters", type=int, default=200, help="at least this many timed calls (default 200)")
    p.add_argument("--min-time-s", type=float, default=4.0, help="and at least this many seconds (default 4)")
    p.add_argument("--blocks", type=int, default=20,  # runtime.bench.stats.DEFAULT_BLOCKS
                   help="consecutive blocks (or A/B trials) whose medians feed the statistics (default 20)")
    p.add_argument("--json", help="write the result JSON here")
    p.add_argument("--save-baseline", metavar="FILE",
                   help="save this run as a baseline, with a copy of the artifact in FILE's .reference/ folder")
    p.add_argument("--check", metavar="BASELINE",
                   help="fail (exit 1) on a regression against BASELINE: its reference copy and ARTIFACT are timed "
                        "in interleaved trials (single-stream), else ARTIFACT against the recorded latencies")
    p.add_argument("--no-reference", action="store_true",
                   help="--save-baseline: keep no copy of the artifact; --check: compare with the recorded "
                        "latencies even where a reference copy exists (catches ~8 %% here, not 5 %%: docs/ci.md)")
    p.add_argument("--tolerance", type=float, default=0.05,
                   help="the slowdown --check must catch (default 0.05): flagged past half of it when outside the run's noise")
    p.add_argument("--confidence", type=float, default=0.99, help="confidence of the ratio's interval (default 0.99)")
    p.add_argument("--compare-anyway", action="store_true", help="check against a baseline from another environment")
    p.add_argument("--against", metavar="B", help="interleaved A/B trials of ARTIFACT against B")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="interleaved comparisons (--against, --check with a reference copy): wall (default) times "
                        "latency; cpu times this process's CPU time, which ignores other jobs' share of a loaded "
                        "CPU runner (CPU backends only; docs/ci.md)")
    p.add_argument("--plot", metavar="FILE.png", help="draw latency CDFs (current vs baseline or B)")

    p = add("info", _info, "summarise an artifact (.pt, .onnx, .engine): task, classes, input, precision, provenance, build")
    p.add_argument("artifact")
    p.add_argument("--json", action="store_true", help="print the full record (metadata, palette, sidecar) as JSON")

    add("models", _models, "list the architectures of the model zoo")

    p = add("targets", _targets, "list the build targets (engines/targets/*.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per target with its description and file")

    p = add("doctor", _doctor, "what this machine has for build/run (Jetson, JetPack, TensorRT, CUDA, cv2) and what to install")
    p.add_argument("--json", action="store_true", help="the facts and fixes as JSON")
    return parser


def _doctor(args: argparse.Namespace) -> int:
    from edgeseg.engines.doctor import run_doctor

    return run_doctor(args)


# Training and export use Python 3.10 syntax and libraries; the runtime and engine stages run on 3.8 (JetPack 5).
NEEDS_PY310 = ("train", "export", "quantize", "compare")


def _missing_cv2_message() -> str:
    return ("OpenCV (cv2) is not installed: on a desktop, pip install 'edgeseg[opencv]'; on a Jetson, use JetPack's "
            "OpenCV (with GStreamer) through a virtual environment made with --system-site-packages. "
            "'edgeseg doctor' says what this machine has")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_with_suggestions(parser, argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    if args.command in NEEDS_PY310 and sys.version_info < (3, 10):
        print(f"edgeseg {args.command}: error: needs Python 3.10 or newer (this is {sys.version.split()[0]}); "
              "run it on a desktop or a newer JetPack and copy the result here", file=sys.stderr)
        return 2
    from .progress import set_quiet

    set_quiet(args.quiet)
    try:
        from .command_checks import check_command

        check_command(args)  # numbers in range, no output over an input: before any work
        return args.handler(args)
    except BrokenPipeError:
        # `edgeseg info X | head` closed our stdout: not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe
    except ModuleNotFoundError as exc:
        if exc.name != "cv2" or args.debug:
            raise
        print(f"edgeseg {args.command}: error: {_missing_cv2_message()}", file=sys.stderr)
        return 2
    except EdgesegError as exc:
        if args.debug:
            raise
        print(f"edgeseg {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"edgeseg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
