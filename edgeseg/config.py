"""TOML configs with ``--set key=value`` overrides, checked against dataclasses.

A config is a tree of dataclasses. :func:`load_config` reads the TOML file,
applies overrides (dotted keys, values parsed as TOML literals, so
``--set epochs=3`` is an int and ``--set data.root=/x`` a string), and builds
the dataclass tree. An unknown key, a value of the wrong type, or a number outside the range a
dataclass declares in its ``FIELD_RANGES`` (``{field name: Range}``, see
:mod:`edgeseg.ranges`; NaN and infinities are never accepted) is an
:class:`~edgeseg.errors.EdgesegError` that names the key and what is valid.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from .errors import EdgesegError

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


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(types, "UnionType", typing.Union)):  # UnionType (X | Y): 3.10+
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except EdgesegError as exc:
                errors.append(str(exc))
        raise EdgesegError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise EdgesegError(f"{where}: {value!r} is not one of {list(choices)}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise EdgesegError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise EdgesegError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EdgesegError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):  # TOML reads nan and inf as floats; no setting means either
            raise EdgesegError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EdgesegError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise EdgesegError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise EdgesegError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {where}")


def _check_range(allowed: Any, value: Any, where: str) -> None:
    """A number, or each number of a list, within ``allowed`` (an :class:`edgeseg.ranges.Range`)."""
    for i, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
        allowed.check(item, where if i is None else f"{where}[{i}]")


def build_dataclass(cls: type[T], data: Any, where: str = "config") -> T:
    """Build dataclass ``cls`` from a nested dict, checking keys and types."""
    if not isinstance(data, dict):
        raise EdgesegError(f"{where}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = [k for k in data if k not in valid]
    if unknown:
        prefix = "" if where == "config" else where + "."
        raise EdgesegError(
            f"{where}: unknown key '{prefix}{unknown[0]}'; valid keys here: {', '.join(valid)}"
        )
    values = {}
    ranges = getattr(cls, "FIELD_RANGES", {})
    for name, value in data.items():
        key = name if where == "config" else f"{where}.{name}"
        values[name] = _coerce(value, hints[name], key)
        if name in ranges:
            _check_range(ranges[name], values[name], key)
    try:
        return cls(**values)
    except TypeError as exc:
        raise EdgesegError(f"{where}: {exc}") from None


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
