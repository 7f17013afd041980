"""edgeseg.runtime: run artifacts on frames, files and cameras.

The Python API (see docs/python_api.md)::

    from edgeseg.runtime import Segmenter, open_sink, open_source

Names are imported on first use, so ``import edgeseg.runtime`` loads neither
OpenCV nor any backend.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Segmenter": ".segmenter",
    "open_source": ".sources",
    "open_sink": ".sinks",
    "open_backend": ".backends",
    "OverlayRenderer": ".overlay",
    "Pipeline": ".pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeseg.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
