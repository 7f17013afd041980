"""Opening an ONNX file in onnxruntime, with errors that name the file and the fix.

Shared by every stage that reads an ONNX without the ``onnx`` package (a
Jetson may lack it): the runtime's onnxruntime backend, ``edgeseg build``
and ``edgeseg info``.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeseg.errors import EdgesegError, require

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def open_session(path: str | os.PathLike, providers: list[str] | None = None, threads: int = 0):
    """An ``onnxruntime.InferenceSession`` with clear errors for bad files.

    Args:
        path: the ONNX file.
        providers: short names (cpu, cuda, tensorrt) or onnxruntime provider
            names, in order of preference; None means CPU.
        threads: intra-op threads, 0 for onnxruntime's default.
    """
    ort = require("onnxruntime", None)
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"ONNX file {path} does not exist; check the path, or export one: edgeseg export CHECKPOINT.pt -o {path}")
    if path.stat().st_size == 0:
        raise EdgesegError(f"ONNX file {path} is empty (0 bytes)")
    wanted = [PROVIDER_ALIASES.get(p, p) for p in (providers or ["cpu"])]
    available = ort.get_available_providers()
    missing = [p for p in wanted if p not in available]
    if missing:
        raise EdgesegError(
            f"onnxruntime here has no {', '.join(missing)} (available: {', '.join(available)}); "
            "install onnxruntime-gpu for CUDA/TensorRT providers, or use --providers cpu"
        )
    if "CPUExecutionProvider" not in wanted:
        wanted.append("CPUExecutionProvider")  # for the nodes a GPU provider does not take
    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgesegError(f"{path} is not a loadable ONNX model ({first[:300]}); re-export it with 'edgeseg export'") from None


__all__ = ["PROVIDER_ALIASES", "open_session"]
