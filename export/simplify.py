"""Graph simplification with either maintained simplifier: onnxslim, onnx-simplifier (``onnxsim``), or none.

Both fold constants, fuse BatchNorm into convolutions and drop dead nodes.
onnxslim is pure Python (it installs on every platform and Python, Jetson
included); onnxsim is a compiled extension with wheels for fewer
platform/Python pairs. Where the one asked for does not import, the other is
used and the log says so, so an export never fails for want of a wheel.

The default, :data:`DEFAULT_SIMPLIFIER`, was chosen by measurement over the
zoo and imported models (``scripts/measure_simplifiers.py``; figures in
``docs/own_model.md``). Both keep node names, which the FP16 step relies on
(the ``/preprocess/`` and ``/postprocess/`` scopes).
"""

from __future__ import annotations

import importlib
import logging
import warnings

from edgeseg.errors import EdgesegError, require
from edgeseg.import_args import DEFAULT_SIMPLIFIER, SIMPLIFIERS

log = logging.getLogger("edgeseg.export")

__all__ = ["DEFAULT_SIMPLIFIER", "SIMPLIFIERS", "available_simplifier", "check_simplifier", "simplified"]
_MODULES = {"onnxslim": "onnxslim", "onnxsim": "onnxsim"}


def check_simplifier(name: str) -> None:
    if name not in SIMPLIFIERS:
        raise EdgesegError(f"unknown simplifier {name!r}; choose one of {', '.join(SIMPLIFIERS)}")


def available_simplifier(name: str) -> str:
    """``name`` if its module imports (or ``none``), else the other simplifier, logged; raise if neither does."""
    check_simplifier(name)
    if name == "none":
        return name
    other = "onnxsim" if name == "onnxslim" else "onnxslim"
    for candidate in (name, other):
        try:
            importlib.import_module(_MODULES[candidate])
        except ImportError:
            continue
        if candidate != name:
            log.warning("simplifier %s is not installed (no wheel for this platform?); using %s instead", name, candidate)
        return candidate
    raise EdgesegError("neither onnxslim nor onnxsim is installed: pip install 'edgeseg[export]', or pass --simplifier none")


def simplified(model, simplifier: str = DEFAULT_SIMPLIFIER):
    """``(simplified onnx.ModelProto, name of the simplifier that ran)``; ``none`` returns ``model`` itself."""
    used = available_simplifier(simplifier)
    if used == "none":
        return model, used
    if used == "onnxslim":
        onnxslim = require("onnxslim", "export")
        return onnxslim.slim(model), used
    onnxsim = require("onnxsim", "export")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # check_n=0: no random-input self-check; edgeseg's own parity check on real frames follows.
        result, ok = onnxsim.simplify(model, check_n=0)
    if not ok:  # pragma: no cover - only with check_n > 0
        raise EdgesegError("onnxsim could not validate its simplified graph; retry with --simplifier onnxslim or none")
    return result, used
