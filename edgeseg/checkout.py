"""Data that ships with the source checkout (not with an installed wheel), found explicitly.

A few defaults point at files of the repository: the QAT calibration images
(``calib_data/camvid``), the sample clip of ``edgeseg bench --scenario
pipeline`` (``samples/video``). They exist where edgeseg runs from a checkout
(``pip install -e .``), and nowhere in an installed wheel, which carries code
and ``engines/targets/*.toml`` only. :func:`checkout_data` returns such a file
or says which option to pass instead, rather than a path under site-packages
that is never there.
"""

from __future__ import annotations

from pathlib import Path

from .errors import EdgesegError


def source_root() -> Path | None:
    """The checkout edgeseg is imported from (``pyproject.toml`` beside ``edgeseg/``), or None for a wheel."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "edgeseg" / "__init__.py").is_file() else None


def checkout_data(relative: str, what: str, option: str) -> Path:
    """``relative`` (a path in the checkout) if it is there, else an error naming ``option``.

    Args:
        relative: e.g. ``"calib_data/camvid"``.
        what: what it is, for the message ("the QAT calibration images").
        option: what to pass instead ("--qat-calib DIR").
    """
    root = source_root()
    path = root / relative if root is not None else None
    if path is None or not path.exists():
        where = f"{path} is missing" if path is not None else "this edgeseg is installed without its source checkout"
        raise EdgesegError(f"{relative} ({what}) is part of edgeseg's source checkout, and {where}: pass {option}")
    return path


__all__ = ["checkout_data", "source_root"]
