"""Which TensorRT this is: the version every TensorRT stage agrees on.

The builder (:mod:`edgeseg.engines.trt_compat` branches on it) and the
TensorRT backend (which refuses an engine of another version, see
:func:`edgeseg.sidecar.check_artifact`) both read it here, so neither stage
imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeseg.errors import EdgesegError

SUPPORTED_MAJORS = (8, 10, 11)


@dataclass(frozen=True)
class TrtVersion:
    """A TensorRT version; ``text`` is ``tensorrt.__version__`` ("10.3.0.30")."""

    major: int
    minor: int
    patch: int
    text: str

    @property
    def strongly_typed(self) -> bool:
        return self.major >= 10

    @property
    def has_supports_model_v2(self) -> bool:
        """``OnnxParser.supports_model_v2`` and the subgraph queries arrived in 10.1 (not in 10.0)."""
        return (self.major, self.minor) >= (10, 1)

    def __str__(self) -> str:
        return self.text


def trt_version() -> TrtVersion:
    """The version of the importable ``tensorrt`` module."""
    import tensorrt as trt

    text = str(trt.__version__)
    parts = [int(p) if p.isdigit() else 0 for p in text.split(".")[:3]]
    parts += [0] * (3 - len(parts))
    version = TrtVersion(parts[0], parts[1], parts[2], text)
    if version.major not in SUPPORTED_MAJORS:
        raise EdgesegError(
            f"TensorRT {text} is not supported; edgeseg builds with TensorRT 8.5/8.6, 10.x or 11.x"
        )
    return version


def same_engine_version(a: str, b: str) -> bool:
    """Whether engines of TensorRT ``a`` load in ``b``: major.minor.patch must match exactly."""
    return a.split(".")[:3] == b.split(".")[:3]


__all__ = ["SUPPORTED_MAJORS", "TrtVersion", "same_engine_version", "trt_version"]
