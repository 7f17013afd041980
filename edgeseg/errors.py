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


def require(module: str, extra: str):
    """Import ``module`` or raise a :class:`MissingDependencyError` naming the extra.

    Args:
        module: dotted module name, e.g. ``"torch"``.
        extra: the ``pip install edgeseg[extra]`` that provides it.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is not installed ({exc}); install it with: pip install 'edgeseg[{extra}]'"
        ) from exc
