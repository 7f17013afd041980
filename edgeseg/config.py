"""TOML configs with ``--set key=value`` overrides, checked against dataclasses.

A config is a tree of dataclasses. :func:`load_config` reads the TOML file,
applies overrides (dotted keys, values parsed as TOML literals, so
``--set epochs=3`` is an int and ``--set data.root=/x`` a string), and builds
the dataclass tree with :func:`edgeseg.schema.build`, the validator of every
file edgeseg reads. An unknown key, a value of the wrong type, or a number outside the range a
dataclass declares in its ``FIELD_RANGES`` (``{field name: Range}``, see
:mod:`edgeseg.ranges`; NaN and infinities are never accepted) is an
:class:`~edgeseg.errors.EdgesegError` that names where it came from (the
file or ``--set``), the key and what is valid.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, TypeVar

from .errors import EdgesegError
from .schema import build

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (JetPack 6): the same parser from PyPI
    import tomli as tomllib

T = TypeVar("T")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b=value"`` into ``(["a", "b"], value)``.

    The value is read as a TOML literal (``3``, ``0.5``, ``true``, ``[1, 2]``,
    ``"text"``); anything that is not a TOML literal is taken as a plain string.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise EdgesegError(f"--set {text!r}: expected KEY=VALUE, for example --set epochs=10")
    parts = key.split(".")
    if any(not p for p in parts):
        raise EdgesegError(f"--set {text!r}: empty part in key {key!r}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return parts, value


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``tree`` with each ``KEY=VALUE`` override set."""
    import copy

    tree = copy.deepcopy(tree)
    for text in overrides:
        parts, value = parse_override(text)
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise EdgesegError(f"--set {text!r}: {part!r} is a value, not a table")
            node = child
        node[parts[-1]] = value
    return tree


def build_dataclass(cls: type[T], data: Any, where: str = "config") -> T:
    """Build dataclass ``cls`` from a nested dict, checking keys, types and ranges (:func:`edgeseg.schema.build`)."""
    return build(cls, data, where=where)


def load_config(path: str | Path, cls: type[T], overrides: list[str] | None = None) -> T:
    """Read TOML ``path``, apply ``overrides`` and build ``cls``."""
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"config {path} does not exist; see configs/ for examples")
    try:
        tree = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EdgesegError(f"config {path} is not valid TOML: {exc}") from None
    try:
        build_dataclass(cls, tree)
        file_error = None
    except EdgesegError as exc:
        file_error = str(exc)
    try:
        return build_dataclass(cls, apply_overrides(tree, overrides or []))
    except EdgesegError as exc:
        # Say where the bad value came from: the file, or a --set override (an
        # override may also fix a bad file value, which then is not an error).
        origin = str(path) if str(exc) == file_error or not overrides else "--set"
        raise EdgesegError(f"{origin}: {exc}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """The dataclass tree as a plain dict (for checkpoints and logs)."""
    return dataclasses.asdict(config)
