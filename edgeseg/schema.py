"""One validator for every file edgeseg reads: training configs, artifact metadata, targets and sidecars.

A format is a dataclass: its annotations are the schema (``str``, ``int``,
``float``, ``bool``, ``Any``, ``Literal[...]``, ``list[X]``, ``tuple[X, ...]``,
``tuple[X, Y]``, ``dict[str, X]``, ``X | None`` and nested dataclasses), a
field without a default is a required key, and an optional class attribute
``FIELD_RANGES`` (``{field: Range}``, :mod:`edgeseg.ranges`) bounds numbers
(NaN and infinities are never accepted). :func:`build` checks a parsed TOML
or JSON tree against it and builds the dataclass; every problem is one
:class:`~edgeseg.errors.EdgesegError` in the same form for every format::

    SOURCE: KEY.PATH: WHAT WAS WRONG; HOW TO FIX

for example ``runs/a/config.json: data.root: expected a string, got 3`` or
``sidecar m.engine.json: key: expected a string, got 7; rebuild with 'edgeseg
build MODEL.onnx --target NAME'``. Cross-field rules (a palette entry per
class, a TensorRT target's compute capabilities) stay with each format, in
the same form.

The annotations are read with a small evaluator of their own (not
``typing.get_type_hints``), so ``list[str]`` and ``X | None`` work on the
Python 3.8 of JetPack 5, where the runtime reads metadata and sidecars.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import math
import sys
import typing
from typing import Any, Dict, List, Tuple, TypeVar, Union  # noqa: UP035 (values built at run time on 3.8)

from .errors import EdgesegError

T = TypeVar("T")

# Builtin generics of the annotations, as typing's (subscriptable on Python 3.8).
_GENERIC: dict[Any, Any] = {list: List, dict: Dict, tuple: Tuple}  # noqa: UP006 (list[str] fails on 3.8)


def _eval(node: ast.AST, namespace: dict[str, Any]) -> Any:
    """Evaluate an annotation expression: names, attributes, subscripts, ``X | Y``, constants, tuples."""
    if isinstance(node, ast.Expression):
        return _eval(node.body, namespace)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return Union[_eval(node.left, namespace), _eval(node.right, namespace)]  # noqa: UP007 (X | Y: 3.10+)
    if isinstance(node, ast.Subscript):
        base = _eval(node.value, namespace)
        inner = node.slice
        if sys.version_info < (3, 9) and isinstance(inner, ast.Index):  # Python 3.8 wraps the subscript
            inner = inner.value  # type: ignore[attr-defined,unused-ignore]  # ast.Index.value exists on 3.8 only
        args = tuple(_eval(e, namespace) for e in inner.elts) if isinstance(inner, ast.Tuple) else _eval(inner, namespace)
        return _GENERIC.get(base, base)[args]
    if isinstance(node, ast.Name):
        if node.id in namespace:
            return namespace[node.id]
        return getattr(builtins, node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_eval(node.value, namespace), node.attr)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List):  # Callable[[...], ...] and the like: not schema types, kept as lists
        return [_eval(e, namespace) for e in node.elts]
    raise TypeError(f"unsupported annotation syntax: {ast.dump(node)}")


def field_types(cls: type) -> dict[str, Any]:
    """``{field name: type}`` of dataclass ``cls``, its string annotations evaluated in its module."""
    namespace = dict(vars(sys.modules[cls.__module__]))
    types: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        annotation = f.type
        types[f.name] = _eval(ast.parse(annotation, mode="eval"), namespace) if isinstance(annotation, str) else annotation
    return types


def type_name(tp: Any) -> str:
    """``int | None``, ``list[str]``: the annotation as written, on every Python."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return "None"
    if origin is Union:
        return " | ".join(type_name(a) for a in args)
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join('...' if a is Ellipsis else type_name(a) for a in args)}]"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _plural(word: str, names: list[str]) -> str:
    quoted = ", ".join(f"'{n}'" for n in names)
    return f"{word} {quoted}" if len(names) == 1 else f"{word}s {quoted}"


class _Checker:
    def __init__(self, source: str, fix: str):
        self.source, self.fix = source, fix

    def fail(self, where: str, problem: str) -> EdgesegError:
        text = ": ".join(part for part in (self.source, where, problem) if part)
        return EdgesegError(text + (f"; {self.fix}" if self.fix else ""))

    def value(self, value: Any, tp: Any, where: str) -> Any:
        """``value`` checked against ``tp`` (ints are accepted, as floats, where a float is asked for)."""
        origin = typing.get_origin(tp)
        if tp is Any:
            return value
        if origin is Union:
            options = typing.get_args(tp)
            if value is None and type(None) in options:
                return None
            for option in options:
                if option is type(None):
                    continue
                try:
                    return self.value(value, option, where)
                except EdgesegError:
                    continue
            raise self.fail(where, f"expected {type_name(tp)}, got {value!r}")
        if origin is typing.Literal:
            choices = typing.get_args(tp)
            if value not in choices:
                raise self.fail(where, f"{value!r} is not one of {list(choices)}")
            return value
        if origin is list:
            (item,) = typing.get_args(tp)
            if not isinstance(value, list):
                raise self.fail(where, f"expected a list, got {value!r}")
            return [self.value(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin is tuple:
            items = typing.get_args(tp)
            if not isinstance(value, (list, tuple)):
                raise self.fail(where, f"expected a list, got {value!r}")
            if len(items) == 2 and items[1] is Ellipsis:
                return tuple(self.value(v, items[0], f"{where}[{i}]") for i, v in enumerate(value))
            if len(value) != len(items):
                raise self.fail(where, f"expected a list of {len(items)} ({', '.join(map(type_name, items))}), got {value!r}")
            return tuple(self.value(v, t, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, items)))
        if origin is dict or tp is dict:
            if not isinstance(value, dict):
                raise self.fail(where, f"expected a table, got {value!r}")
            args = typing.get_args(tp)
            if args and args[1] is not Any:
                return {k: self.value(v, args[1], f"{where}.{k}") for k, v in value.items()}
            return dict(value)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return self.table(tp, value, where)
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(where, f"expected a number, got {value!r}")
            if not math.isfinite(value):  # TOML reads nan and inf as floats; no setting means either
                raise self.fail(where, f"expected a finite number, got {value!r}")
            return float(value)
        if tp is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(where, f"expected an integer, got {value!r}")
            return value
        if tp is bool:
            if not isinstance(value, bool):
                raise self.fail(where, f"expected true or false, got {value!r}")
            return value
        if tp is str:
            if not isinstance(value, str):
                raise self.fail(where, f"expected a string, got {value!r}")
            return value
        raise TypeError(f"unsupported schema type {tp!r} at {where}")

    def table(self, cls: type, data: Any, where: str, *, open_keys: bool = False,
              given: dict[str, Any] | None = None) -> Any:
        """Dataclass ``cls`` from the table ``data`` at key path ``where`` ("", "config" and "metadata": the top)."""
        if not isinstance(data, dict):
            raise self.fail(where, f"expected a table, got {data!r}")
        given = given or {}
        types = field_types(cls)
        valid = [name for name in types if name not in given]
        top = where in _TOP
        unknown = [str(k) for k in data if k not in valid]
        if unknown and not open_keys:
            prefix = "" if top else f"{where}."
            raise self.fail(where, f"{_plural('unknown key', [prefix + k for k in unknown])}; "
                                   f"valid keys here: {', '.join(valid)}")
        missing = [f.name for f in dataclasses.fields(cls) if f.name in valid and f.name not in data
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise self.fail(where, _plural("missing key", missing))
        ranges = getattr(cls, "FIELD_RANGES", {})
        values = dict(given)
        for name in valid:
            if name not in data:
                continue
            key = name if top else f"{where}.{name}"
            value = values[name] = self.value(data[name], types[name], key)
            if name in ranges:
                many = isinstance(value, (list, tuple))
                for i, item in enumerate(value if many else [value]):
                    try:
                        ranges[name].check(item, f"{key}[{i}]" if many else key)
                    except EdgesegError as exc:
                        raise self.fail("", str(exc)) from None
        try:
            return cls(**values)
        except TypeError as exc:
            raise self.fail(where, str(exc)) from None


# Key paths that stand for the top of a file: their keys are named bare ("lr", not "config.lr").
_TOP = ("", "config", "metadata")


def build(cls: type[T], data: Any, *, where: str = "", source: str = "", fix: str = "", open_keys: bool = False,
          given: dict[str, Any] | None = None) -> T:
    """Check ``data`` (a parsed TOML or JSON tree) against dataclass ``cls`` and build it.

    Args:
        where: the key path of ``data`` ("config", "metadata", or "" for the top of a file named by ``source``).
        source: what the message starts with: the file, or "--set" (empty: the caller adds it).
        fix: how to fix any problem, appended to the message.
        open_keys: accept (and ignore) keys ``cls`` does not name (a sidecar's builder facts).
        given: fields the caller sets (a target's name and file), not keys of ``data``.
    """
    return _Checker(source, fix).table(cls, data, where, open_keys=open_keys, given=given)


def check_schema_version(data: dict[str, Any], current: int, *, source: str, what: str, fix: str = "") -> int:
    """The integer ``schema_version`` of ``data``; refused when missing or newer than ``current``."""
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise EdgesegError(f"{source}: schema_version must be an integer, got {version!r}" + (f"; {fix}" if fix else ""))
    if version > current:
        raise EdgesegError(f"{source}: {what} schema version {version} is newer than this edgeseg understands "
                           f"({current}); upgrade edgeseg (pip install -U edgeseg)")
    return version


__all__ = ["build", "check_schema_version", "field_types", "type_name"]
