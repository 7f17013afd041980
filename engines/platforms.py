"""The version matrix: which Python, CUDA, TensorRT and cuda-python go with each JetPack and desktop setup.

One table for ``edgeseg doctor``'s advice; ``docs/jetson.md`` shows the same
rows and ``pyproject.toml``'s ``jetson``/``trt`` extras pin the same
cuda-python ranges (a test checks all three agree). :data:`TRT_RELEASES`,
the TensorRT releases the ONNX operator checks of :mod:`.op_compat` run
against, is kept here beside it, and a test checks that every platform it
names is a row of :data:`PLATFORMS`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    """One row: ``cuda_python`` is the pip requirement whose major matches the platform's CUDA."""

    name: str
    python: str
    cuda: str
    tensorrt: str
    cuda_python: str
    extra: str  # the edgeseg extra that installs that cuda-python
    tensorrt_install: str


PLATFORMS = (
    Platform("JetPack 5.1", "3.8", "11.4", "8.5", "cuda-python>=11.7.1,<11.8.3", "jetson",
             "comes with JetPack (apt install python3-libnvinfer)"),
    Platform("JetPack 6.0", "3.10", "12.2", "8.6", "cuda-python>=12.2,<13", "jetson",
             "comes with JetPack (apt install python3-libnvinfer)"),
    Platform("JetPack 6.1/6.2", "3.10", "12.6", "10.3", "cuda-python>=12.2,<13", "jetson",
             "comes with JetPack (apt install python3-libnvinfer)"),
    Platform("JetPack 7.x", "3.12", "13.0", "10.13 (7.0/7.1), 11 (7.2.2+)", "cuda-python>=13,<14", "jetson",
             "comes with JetPack (apt install python3-libnvinfer)"),
    Platform("desktop, CUDA 12 driver", "3.10-3.13", "12.x", "10.x or 11.x for CUDA 12", "cuda-python>=12,<13", "trt",
             "pip install tensorrt-cu12"),
    Platform("desktop, CUDA 13 driver", "3.10-3.13", "13.x", "10.13+ or 11.x for CUDA 13", "cuda-python>=13,<14",
             "trt-cu13", "pip install tensorrt-cu13"),
)


# TensorRT releases edgeseg targets, oldest first: (major, minor, where it ships: PLATFORMS names).
# Each stands for the releases of its platforms whose ONNX parsers take the same operators.
TRT_RELEASES: tuple[tuple[int, int, str], ...] = (
    (8, 5, "JetPack 5.1"),
    (8, 6, "JetPack 6.0"),
    (10, 3, "JetPack 6.1/6.2"),
    (10, 15, "desktop (PyPI), JetPack 7.0/7.1"),
    (11, 4, "desktop (PyPI), JetPack 7.2.2+"),
)


def jetpack_platform(jetpack: str | None) -> Platform | None:
    """The row of JetPack ``jetpack`` ("6.1/6.2", "5.1.2", "7.0"...), None if unknown."""
    if not jetpack:
        return None
    major = jetpack.split(".")[0]
    rows = [p for p in PLATFORMS if p.name.startswith(f"JetPack {major}")]
    for row in rows:
        if any(jetpack.startswith(v) for v in row.name.split(" ", 1)[1].split("/")):
            return row
    return rows[-1] if rows else None


def desktop_platform(driver_cuda_major: int) -> Platform:
    """The desktop row for a driver of CUDA major ``driver_cuda_major`` (13 or newer: the CUDA 13 row)."""
    return PLATFORMS[-1] if driver_cuda_major >= 13 else PLATFORMS[-2]
