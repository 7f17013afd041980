"""Inference backends behind one contract (:class:`~.base.Backend`).

:func:`open_backend` picks one from the artifact's suffix; each backend module
imports its heavy dependency only when a backend is constructed.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeseg.errors import EdgesegError

from .base import Backend

BACKENDS = ("auto", "onnxruntime", "torch")


def open_backend(path: str | os.PathLike, backend: str = "auto", *, providers: list[str] | None = None, threads: int = 0, device: str = "cpu") -> Backend:
    """Load ``path`` with ``backend`` (``auto``: by suffix: .pt -> torch, .onnx -> onnxruntime)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if backend == "auto":
        if suffix == ".pt":
            backend = "torch"
        elif suffix == ".onnx":
            backend = "onnxruntime"
        else:
            raise EdgesegError(f"cannot tell the backend for {path} (suffix {suffix or 'none'}); expected .pt or .onnx, or pass --backend")
    if backend == "torch":
        from .pytorch import TorchBackend

        return TorchBackend(path, device=device)
    if backend == "onnxruntime":
        from .ort import OrtBackend

        return OrtBackend(path, providers=providers, threads=threads)
    raise EdgesegError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "open_backend"]
