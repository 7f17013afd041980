"""A baseline's reference artifact: the measured build, kept beside the baseline so a check can re-time it.

Two separate runs of the same artifact on one machine differ by 2-3 % (the
machine's speed drifts between runs; measured in docs/ci.md), so a check
against recorded latencies alone cannot catch a 5 % slowdown reliably.
``--save-baseline B.json`` therefore copies the artifact (and its sidecar)
to ``B.reference/``; ``--check B.json`` then times that copy and the new
build in interleaved trials, where the drift is common to both and cancels.

Layout (``B.json`` records the copy relative to itself)::

    bench/baselines/cpu-enet.json
    bench/baselines/cpu-enet.reference/enet.cpu.blob
    bench/baselines/cpu-enet.reference/enet.cpu.blob.json   # the sidecar, where the artifact has one
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from edgeseg.atomic import atomic_path
from edgeseg.hashing import sha256_file
from edgeseg.sidecar import sidecar_path


def reference_folder(baseline_path: str | os.PathLike) -> Path:
    """``B.json`` -> ``B.reference/`` beside it."""
    baseline_path = Path(baseline_path)
    return baseline_path.with_name(baseline_path.stem + ".reference")


def save_reference(artifact: str | os.PathLike, baseline_path: str | os.PathLike) -> dict[str, Any]:
    """Copy ``artifact`` (and its sidecar) into the baseline's reference folder, each file atomically.

    Returns the baseline's ``"reference"`` field: the copy's path relative to
    the baseline file, its sha256 and size. The artifact itself is only read.
    """
    artifact = Path(artifact)
    folder = reference_folder(baseline_path)
    folder.mkdir(exist_ok=True)
    files = [artifact] + [p for p in (sidecar_path(artifact),) if p.is_file()]
    for source in files:
        with atomic_path(folder / source.name) as tmp:
            shutil.copyfile(source, tmp)
    copy = folder / artifact.name
    return {"path": os.path.relpath(copy.resolve(), Path(baseline_path).resolve().parent),
            "sha256": sha256_file(copy), "bytes": copy.stat().st_size}


def find_reference(baseline_path: str | os.PathLike, baseline: dict[str, Any]) -> tuple[Path | None, str]:
    """The reference copy a baseline names, or None and why not (no copy saved, missing, or changed since)."""
    field = baseline.get("reference")
    if not field:
        return None, "the baseline has no reference copy (saved with --no-reference, or by an older edgeseg)"
    copy = Path(baseline_path).parent / field["path"]
    if not copy.is_file():
        return None, f"its reference copy {copy} is missing"
    if sha256_file(copy) != field["sha256"]:
        return None, f"its reference copy {copy} changed since the baseline was saved (sha256 differs)"
    return copy, ""


__all__ = ["find_reference", "reference_folder", "save_reference"]
