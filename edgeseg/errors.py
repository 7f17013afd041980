"""Errors a user can act on.

An :class:`EdgesegError` carries a message that says what was wrong, where,
and how to fix it. The command line prints it without a traceback (unless
``--debug``) and exits with its ``exit_code``.
"""

from __future__ import annotations


class EdgesegError(Exception):
    """A problem with the user's input or environment, explained in the message."""

    exit_code = 2


class MissingDependencyError(EdgesegError):
    """An optional package is not installed; the message names the extra."""

    exit_code = 3


def require(module: str, extra: str | None):
    """Import ``module`` or raise a :class:`MissingDependencyError` naming the extra.

    Args:
        module: dotted module name, e.g. ``"torch"``.
        extra: the ``pip install edgeseg[extra]`` that provides it (an extra of
            ``pyproject.toml``, which a test checks); None for a base
            dependency of edgeseg, which ``pip install edgeseg`` brings.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        where = f"pip install 'edgeseg[{extra}]'" if extra else f"pip install edgeseg (or {module.split('.')[0]} alone)"
        raise MissingDependencyError(f"{module} is not installed ({exc}); install it with: {where}") from exc
