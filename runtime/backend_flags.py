"""Refusing backend options that cannot apply to an artifact, before anything is loaded.

``--providers cuda`` with a ``.pt`` used to be ignored silently, and the run
measured the CPU: each option is now checked against the backend that will run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from edgeseg.errors import EdgesegError


def resolved_backend(artifact: str | os.PathLike, backend: str = "auto") -> str:
    """The backend ``auto`` stands for with this artifact (``backend`` itself otherwise)."""
    from .backends import BACKEND_BY_SUFFIX  # the one table of which suffix runs where

    return BACKEND_BY_SUFFIX.get(Path(artifact).suffix.lower(), backend) if backend == "auto" else backend


def check_backend_flags(artifact: str | os.PathLike, backend: str = "auto", providers: Sequence[str] | None = None,
                        threads: int = 0) -> None:
    """Raise when ``providers`` or ``threads`` are given for a backend that does not use them."""
    name = resolved_backend(artifact, backend)
    if threads < 0:
        raise EdgesegError(f"--threads {threads} must be >= 0 (0: the runtime's default)")
    if name == "onnxruntime":
        return
    if name == "openvino":
        threads = 0  # OpenVINO takes --threads too; its providers are not onnxruntime's
    asked = [p for p in (providers or []) if p.strip().lower() not in ("", "cpu")]
    if asked:
        raise EdgesegError(f"--providers {','.join(asked)}: execution providers are onnxruntime's; {artifact} runs "
                           f"on {name}" + (" (for CUDA, export it to ONNX and pass --providers cuda, or build an "
                                           "engine)" if name == "torch" else "") + "; drop --providers")
    if threads:
        raise EdgesegError(f"--threads {threads}: inference threads are onnxruntime's and OpenVINO's; {artifact} runs "
                           f"on {name}; drop --threads")


__all__ = ["check_backend_flags", "resolved_backend"]
