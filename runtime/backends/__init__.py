"""Inference backends behind one contract (:class:`~.base.Backend`).

:func:`open_backend` picks one from the artifact's suffix; each backend module
imports its heavy dependency only when a backend is constructed.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeseg.errors import EdgesegError

from .base import Backend

BACKENDS = ("auto", "onnxruntime", "tensorrt", "torch")


def open_backend(path: str | os.PathLike, backend: str = "auto", *, providers: list[str] | None = None, threads: int = 0, device: str = "cpu") -> Backend:
    """Load ``path`` with ``backend`` (``auto``: by suffix: .pt -> torch, .onnx -> onnxruntime, .engine -> tensorrt).

    An ``.onnx`` with a ``.onnx.json`` sidecar (the cpu target of ``edgeseg build``)
    is checked against its sidecar first, like an engine.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if backend == "auto":
        if suffix == ".pt":
            backend = "torch"
        elif suffix == ".onnx":
            backend = "onnxruntime"
        elif suffix == ".engine":
            backend = "tensorrt"
        else:
            raise EdgesegError(f"cannot tell the backend for {path} (suffix {suffix or 'none'}); expected .pt, .onnx or .engine, or pass --backend")
    if backend == "torch":
        from .pytorch import TorchBackend

        return TorchBackend(path, device=device)
    if backend == "tensorrt":
        from .trt import TrtBackend

        return TrtBackend(path)
    if backend == "onnxruntime":
        from .ort import OrtBackend

        if path.with_name(path.name + ".json").is_file():  # built by 'edgeseg build --target cpu'
            import onnxruntime

            from edgeseg.engines.sidecar import check_artifact

            check_artifact(path, runtime="onnxruntime", runtime_version=onnxruntime.__version__, gpu=None)

        return OrtBackend(path, providers=providers, threads=threads)
    raise EdgesegError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "open_backend"]
