"""What ``edgeseg bench`` checks before it measures for minutes: output paths, and flags against ``--check``.

A bad ``--save-baseline newdir/x.json`` or a ``--check`` with other
``--threads`` used to fail only after the whole measurement.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

from ..backend_flags import resolved_backend

OUTPUT_FLAGS = (("json", "--json"), ("save_baseline", "--save-baseline"), ("plot", "--plot"))


def check_output_path(path: str | os.PathLike, flag: str) -> None:
    """Raise unless ``path`` can be written: an existing, writable folder, and not a folder itself."""
    target = Path(path)
    parent = target.resolve().parent
    if target.is_dir():
        raise EdgesegError(f"{flag} {path} is a folder; give a file name")
    if not parent.is_dir():
        raise EdgesegError(f"{flag} {path}: folder {parent} does not exist; create it first (nothing was measured)")
    if not os.access(parent, os.W_OK):
        raise EdgesegError(f"{flag} {path}: folder {parent} is not writable (nothing was measured)")


def check_outputs(args: argparse.Namespace) -> None:
    """Every output flag of ``bench``, and matplotlib for ``--plot``, before measuring."""
    for name, flag in OUTPUT_FLAGS:
        value = getattr(args, name, None)
        if value:
            check_output_path(value, flag)
    if getattr(args, "plot", None):
        from edgeseg.errors import require

        require("matplotlib", "bench")


def check_flags_against_baseline(args: argparse.Namespace, baseline: dict[str, Any], source: str) -> None:
    """Refuse a ``--check`` whose run would differ from the baseline's in a way the environment check only sees later."""
    env = baseline.get("environment", {})
    problems = []
    if baseline.get("scenario") != args.scenario:
        problems.append(f"--scenario {args.scenario} (the baseline is {baseline.get('scenario')})")
    recorded_threads = int(env.get("threads") or 0)
    if args.threads != recorded_threads:
        problems.append(f"--threads {args.threads} (the baseline used {recorded_threads})")
    recorded_backend = env.get("backend")
    backend = resolved_backend(args.artifact, args.backend)
    if recorded_backend and backend != recorded_backend:
        problems.append(f"--backend {backend} (the baseline used {recorded_backend})")
    if args.scenario == "offline" and args.batch and baseline.get("images_per_call") not in (None, args.batch):
        problems.append(f"--batch {args.batch} (the baseline sent {baseline.get('images_per_call')} images per call)")
    if problems and not getattr(args, "compare_anyway", False):
        raise EdgesegError(f"{source} was measured differently; this run would not be comparable: "
                           + "; ".join(problems) + ". Match the baseline's flags, or record a new one with "
                           "--save-baseline (nothing was measured)")


def baseline_artifact_field(artifact: str | os.PathLike, baseline_path: str | os.PathLike) -> str:
    """The artifact's path relative to the baseline file's folder (so CI can run from any directory)."""
    artifact_abs = Path(artifact).resolve()
    folder = Path(baseline_path).resolve().parent
    try:
        return os.path.relpath(artifact_abs, folder)
    except ValueError:  # another drive (Windows): keep it absolute
        return str(artifact_abs)


def resolve_baseline_artifact(baseline_path: str | os.PathLike, recorded: str) -> Path:
    """Where a baseline's artifact is: relative to the baseline file (new baselines), else as recorded."""
    candidate = Path(recorded)
    if candidate.is_absolute():
        return candidate
    beside = Path(baseline_path).parent / candidate
    if beside.exists() or not candidate.exists():
        return beside
    return candidate  # an old baseline that stored the path as typed, from the current directory


__all__ = ["baseline_artifact_field", "check_flags_against_baseline", "check_output_path", "check_outputs",
           "resolve_baseline_artifact"]
