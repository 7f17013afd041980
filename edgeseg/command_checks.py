"""What each command reads and writes, and the range of each numeric flag: checked before any work.

:func:`check_command` runs in :func:`edgeseg.cli.main` after parsing and
before the handler imports its stage, so a bad number or an output over an
input is refused in milliseconds, with nothing written. The tables name
argparse ``dest`` attributes; a command or flag missing from them is simply
not checked here (``train`` checks its run folder itself, once its config
names the data, see :mod:`edgeseg.train.cli`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable

from .errors import EdgesegError
from .paths import Named, check_outputs, input_paths, sink_path
from .ranges import AT_LEAST_ONE, FRACTION, NON_NEGATIVE, POSITIVE, SIDE, Range, check_frame_fits

# command -> ((dest, flag), ...) it reads. Artifacts also bring their build sidecar (ARTIFACT.json).
INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "export": (("checkpoint", "checkpoint"), ("parity_images", "--parity-images"), ("parity_data", "--parity-data")),
    "quantize": (("model", "model"), ("calib", "--calib"), ("eval_data", "--eval-data")),
    "build": (("onnx", "onnx"), ("int8", "--int8"), ("eval_data", "--eval-data")),
    "import": (("model", "model"), ("classes", "--classes"), ("palette", "--palette"), ("parity_images", "--parity-images")),
    "run": (("artifact", "artifact"), ("source", "--source"), ("depth", "--depth")),
    "eval": (("artifact", "artifact"), ("data", "--data")),
    "compare": (("a", "a"), ("b", "b"), ("data", "--data")),
    "bench": (("artifact", "artifact"), ("source", "--source"), ("check", "--check"), ("against", "--against")),
    "train": (("config", "config"), ("qat_from", "--qat-from"), ("qat_calib", "--qat-calib")),
}
ARTIFACT_DESTS = ("artifact", "a", "b", "against", "onnx", "model")

# command -> ((dest, flag, is_folder), ...) it writes. Sinks are read by sink_path (file or image folder).
OUTPUTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "export": (("output", "-o", False),),
    "quantize": (("output", "-o", False),),
    "import": (("out", "-o", False),),
    "build": (("out", "-o", True),),
    "run": (("stats", "--stats", False),),
    "eval": (("json", "--json", False), ("overlay_dir", "--overlay-dir", True)),
    "compare": (("json", "--json", False),),
    "bench": (("json", "--json", False), ("save_baseline", "--save-baseline", False), ("plot", "--plot", False)),
    "train": (("out", "--out", True),),
}

_PROBABILITY = FRACTION
FLAG_RANGES: dict[str, dict[str, Range]] = {
    "train": {"stop_after": AT_LEAST_ONE},
    "export": {"height": SIDE, "width": SIDE, "batch": Range(1, 4096), "opset": Range(7, 99),
               "parity_count": AT_LEAST_ONE},
    "build": {"threads": NON_NEGATIVE, "eval_limit": NON_NEGATIVE},
    "import": {"scale": POSITIVE, "batch": Range(1, 4096), "opset": Range(7, 99), "parity_count": AT_LEAST_ONE},
    "quantize": {"num_images": NON_NEGATIVE, "max_miou_drop": Range(-100, 100), "eval_limit": NON_NEGATIVE},
    "run": {"depth_scale": POSITIVE, "loop": NON_NEGATIVE, "reconnect": NON_NEGATIVE, "max_frames": NON_NEGATIVE,
            "alpha": FRACTION, "threads": NON_NEGATIVE, "top_k": AT_LEAST_ONE, "score_threshold": _PROBABILITY,
            "nms_iou": _PROBABILITY, "mask_threshold": _PROBABILITY, "status_every": NON_NEGATIVE,
            "legend_min_share": FRACTION},
    "eval": {"limit": NON_NEGATIVE, "threads": NON_NEGATIVE},
    "compare": {"limit": NON_NEGATIVE, "threads": NON_NEGATIVE},
    "bench": {"batch": Range(0, 4096), "threads": NON_NEGATIVE, "warmup_s": NON_NEGATIVE, "min_iters": AT_LEAST_ONE,
              "min_time_s": NON_NEGATIVE, "blocks": Range(1, 10_000), "tolerance": Range(0, 10),
              "confidence": Range(0, 1, low_open=True, high_open=True)},
}

# Build artifacts are files: `build -o` names the folder they go in, never one of them.
_ARTIFACT_SUFFIXES = (".onnx", ".engine", ".plan", ".json")


def flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_flag_ranges(command: str, args: argparse.Namespace) -> None:
    """Each numeric flag of ``command`` finite and in its range (see :data:`FLAG_RANGES`)."""
    for dest, allowed in FLAG_RANGES.get(command, {}).items():
        allowed.check(getattr(args, dest, None), flag_name(dest))
    if command == "export" and args.height and args.width:
        check_frame_fits(args.height, args.width, 4, args.batch or 1, "--height x --width")


def _inputs(command: str, args: argparse.Namespace) -> Iterable[Named]:
    for dest, flag in INPUTS.get(command, ()):
        value = getattr(args, dest, None)
        if isinstance(value, list):  # a repeatable flag (build --int8)
            for item in value:
                yield from input_paths(flag, item)
            continue
        yield from input_paths(flag, value)
        if dest in ARTIFACT_DESTS and value and os.path.isfile(str(value) + ".json"):
            yield Named(f"{flag}'s sidecar", str(value) + ".json")


def _outputs(command: str, args: argparse.Namespace) -> Iterable[Named]:
    for dest, flag, folder in OUTPUTS.get(command, ()):
        value = getattr(args, dest, None)
        if value:
            yield Named(flag, str(value), folder=folder)
    if command == "run":
        for uri in getattr(args, "sink", None) or ():
            named = sink_path(uri)
            if named is not None:
                yield named


def check_build_out(args: argparse.Namespace) -> None:
    """``build -o`` is a folder: refuse a name that looks like one of the files it will hold."""
    out = getattr(args, "out", None)
    if out and not os.path.isdir(out) and out.lower().endswith(_ARTIFACT_SUFFIXES):
        raise EdgesegError(
            f"-o {out}: build -o names the output folder (the artifact is MODEL.TARGET.onnx or MODEL.TARGET.engine "
            f"inside it, beside its .json sidecar); give a folder, e.g. -o {os.path.dirname(out) or '.'}"
        )


def command_paths(command: str, args: argparse.Namespace) -> tuple[list[Named], list[Named]]:
    """``(inputs, outputs)`` that ``args`` name for ``command``, per :data:`INPUTS` and :data:`OUTPUTS`."""
    return list(_inputs(command, args)), list(_outputs(command, args))


def check_command(args: argparse.Namespace) -> None:
    """All checks of this module for the parsed ``args`` (``args.command`` names the command)."""
    command = getattr(args, "command", None)
    if command is None:
        return
    check_flag_ranges(command, args)
    if command == "build":
        check_build_out(args)
    if command == "train":
        return  # its outputs depend on the config: checked in edgeseg.train.cli with the data root
    check_outputs(*command_paths(command, args))
