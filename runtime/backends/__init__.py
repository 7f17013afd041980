"""Inference backends behind one contract (:class:`~.base.Backend`).

:func:`open_backend` picks one from the artifact's suffix; each backend module
imports its heavy dependency only when a backend is constructed.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeseg.errors import EdgesegError

from .base import Backend

BACKENDS = ("auto", "onnxruntime", "openvino", "tensorrt", "torch")
# ``auto``: the backend for each artifact suffix. ``.blob`` is the cpu target's OpenVINO compiled model.
BACKEND_BY_SUFFIX = {".pt": "torch", ".onnx": "onnxruntime", ".engine": "tensorrt", ".blob": "openvino"}


def resolve_backend(path: str | os.PathLike, backend: str = "auto") -> str:
    """The backend that will load ``path``: ``backend`` itself, or for ``auto`` the one its suffix names.

    The one place that decides (every command's ``--backend`` goes through it).
    """
    if backend not in BACKENDS:
        raise EdgesegError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    suffix = Path(path).suffix.lower()
    if suffix not in BACKEND_BY_SUFFIX:
        raise EdgesegError(f"cannot tell the backend for {path} (suffix {suffix or 'none'}); expected "
                           f"{', '.join(BACKEND_BY_SUFFIX)}, or pass --backend")
    return BACKEND_BY_SUFFIX[suffix]


def open_backend(path: str | os.PathLike, backend: str = "auto", *, providers: list[str] | None = None, threads: int = 0, device: str = "cpu") -> Backend:
    """Load ``path`` with ``backend`` (``auto``: by suffix, see :func:`resolve_backend`).

    An ``.onnx`` with a ``.onnx.json`` sidecar (the cpu target of ``edgeseg build``
    without OpenVINO) is checked against its sidecar first, like an engine; so is
    a ``.blob`` (the cpu target with OpenVINO). ``threads``: onnxruntime's or
    OpenVINO's inference threads (0: the runtime's default, or the build's for a ``.blob``).
    """
    path = Path(path)
    backend = resolve_backend(path, backend)
    if backend == "openvino":
        from .openvino import OpenVinoBackend

        return OpenVinoBackend(path, threads=threads)
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

            from edgeseg.sidecar import check_artifact

            check_artifact(path, runtime="onnxruntime", runtime_version=onnxruntime.__version__, gpu=None)

        return OrtBackend(path, providers=providers, threads=threads)
    raise EdgesegError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "open_backend", "resolve_backend"]
