"""The real TensorRT Python API per version, and the TensorRT call sites of edgeseg's code.

The API lists (``tests/data/trt_api/VERSION.json``) were extracted from the real
bindings wheels by ``scripts/trt_api_surface.py``: every class with its
methods (pybind11 signatures) and properties, every enum with its members.

:func:`call_sites` walks the TensorRT code's AST and records every use of a
TensorRT name: ``trt.X`` (module level), ``trt.X.Y`` (enum member or class
attribute), and ``obj.y`` / ``obj.y(...)`` where ``obj`` is a variable the
code names after a TensorRT object (``builder``, ``config``, ``parser``...,
see :data:`OBJECT_VARIABLES`). A call site reached only on some versions says
so in a trailing comment, ``# trt: <10.1`` or ``# trt: 8`` or ``# trt: >=10.1``
(clauses joined by ``,`` must all hold); :func:`reached` reads it.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_DIR = Path(__file__).resolve().parent / "data" / "trt_api"
# The files that talk to TensorRT (the ones mypy checks against the 10.13 stubs).
TRT_FILES = ("engines/build.py", "engines/trt_compat.py", "engines/cache.py", "runtime/backends/trt.py", "edgeseg/trt_version.py")
# variable (or self.attribute) name -> the TensorRT class it holds in those files
OBJECT_VARIABLES = {
    "builder": "Builder", "config": "IBuilderConfig", "parser": "OnnxParser", "check_parser": "OnnxParser",
    "network": "INetworkDefinition", "check_network": "INetworkDefinition", "profile": "IOptimizationProfile", "engine": "ICudaEngine",
    "context": "IExecutionContext", "runtime": "Runtime", "error": "ParserError", "cache": "ITimingCache",
    "merged": "ITimingCache", "built": "ITimingCache", "logger": "Logger",
}
GUARD = re.compile(r"#\s*trt:\s*([<>=0-9., ]+)")


def versions() -> list[str]:
    """The versions with an extracted API list ("8.6", "10.0", ... "11.4"), oldest first."""
    return sorted((p.stem for p in API_DIR.glob("*.json")), key=version_key)


def version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2])


@cache
def api(version: str) -> dict:
    """The API list of ``version`` ("10.3"); a full version ("10.3.0.30") picks the nearest list at or below it.

    8.5 (JetPack 5.1) has no wheel on PyPI: the 8.6 list stands for it.
    """
    key = version_key(version)
    known = versions()
    candidates = [v for v in known if version_key(v)[0] == key[0] and version_key(v) <= key] or \
                 [v for v in known if version_key(v)[0] == key[0]]
    if not candidates:
        raise KeyError(f"no TensorRT API list for {version} in {API_DIR} (have {known})")
    return json.loads((API_DIR / f"{candidates[-1]}.json").read_text())


def class_members(version: str, cls: str) -> set[str]:
    return set(api(version)["classes"].get(cls, {}))


@dataclass(frozen=True)
class CallSite:
    """One use of a TensorRT name: ``owner`` is "module", a class, or an enum; ``member`` the name used."""

    file: str
    line: int
    owner: str
    member: str
    call_args: tuple[int, tuple[str, ...]] | None  # (positional count, keyword names) when called
    assigned: bool  # written (``config.x = ...``)
    guard: str  # the line's ``# trt:`` clause, "" when reached on every version

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _owner(node: ast.expr) -> str | None:
    """The TensorRT class a ``Name`` or ``self.name`` holds, per :data:`OBJECT_VARIABLES`."""
    if isinstance(node, ast.Name):
        return "module" if node.id == "trt" else OBJECT_VARIABLES.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return OBJECT_VARIABLES.get(node.attr)
    return None


def call_sites(source: str, file: str) -> list[CallSite]:
    """Every TensorRT name ``source`` uses (see the module docstring)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    calls: dict[int, ast.Call] = {id(n.func): n for n in ast.walk(tree) if isinstance(n, ast.Call)}
    stores = {id(t) for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets}
    found: list[CallSite] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = _owner(node.value)
        if owner is None and isinstance(node.value, ast.Attribute) and _owner(node.value.value) == "module":
            owner = node.value.attr  # trt.X.Y: member Y of class/enum X
        if owner is None:
            continue
        call = calls.get(id(node))
        args = None
        if call is not None:
            args = (len(call.args), tuple(k.arg for k in call.keywords if k.arg))
        match = GUARD.search(lines[node.lineno - 1])
        found.append(CallSite(file, node.lineno, owner, node.attr, args, id(node) in stores,
                              match.group(1).strip() if match else ""))
    return found


def project_call_sites() -> list[CallSite]:
    return [s for f in TRT_FILES for s in call_sites((ROOT / f).read_text(), f)]


def reached(guard: str, version: str) -> bool:
    """Whether a call site with ``guard`` ("<10.1", "8", ">=10.1,<11") runs on ``version``."""
    if not guard:
        return True
    key = version_key(version)
    for clause in guard.split(","):
        m = re.fullmatch(r"\s*(>=|<=|<|>|==)?\s*(\d+(?:\.\d+)?)\s*", clause)
        if not m:
            raise ValueError(f"bad '# trt:' guard {guard!r}")
        op, bound = m.group(1) or "==", version_key(m.group(2))
        value = key[: len(bound)]
        ok = {"==": value == bound, ">=": value >= bound, "<=": value <= bound, "<": value < bound, ">": value > bound}[op]
        if not ok:
            return False
    return True


def _arity(signature: str) -> tuple[int, int, set[str]] | None:
    """(required, total, names) of a pybind11 signature's parameters after ``self``; None if unparsable."""
    m = re.match(r"^(?:\d+\.\s*)?\w+\((.*)\)\s*->", signature)
    if not m:
        return None
    params, depth, current = [], 0, ""
    for ch in m.group(1):
        depth += ch in "[(<" and 1 or 0
        depth -= ch in "])>" and 1 or 0
        if ch == "," and depth == 0:
            params.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        params.append(current.strip())
    params = [p for p in params if not p.startswith("self") and p not in ("*", "/")]
    names = {p.split(":")[0].strip() for p in params}
    required = sum(1 for p in params if "=" not in p.split(":", 1)[-1] and not p.startswith("*"))
    return required, len(params), names


def problems(site: CallSite, version: str) -> list[str]:
    """Why ``site`` would fail on TensorRT ``version`` (empty: it would not)."""
    data = api(version)
    if site.owner == "module":
        names = set(data["classes"]) | set(data["enums"]) | set(data["functions"]) | set(data["constants"]) \
            | set(data["package"])
        if site.member not in names:
            return [f"{site.where()}: trt.{site.member} does not exist in TensorRT {version}"]
        if site.call_args is not None and site.member in data["classes"]:  # a constructor call
            init = data["classes"][site.member].get("__init__")
            if init:
                return _check_call(site, f"trt.{site.member}", init, version)
        return []
    if site.owner in data["enums"]:
        if site.member not in data["enums"][site.owner] and site.member not in ("name", "value"):
            return [f"{site.where()}: trt.{site.owner}.{site.member} is not a member in TensorRT {version}"]
        return []
    members = data["classes"].get(site.owner)
    if members is None:
        return [f"{site.where()}: class {site.owner} does not exist in TensorRT {version}"]
    member = members.get(site.member)
    if member is None:
        return [f"{site.where()}: {site.owner}.{site.member} does not exist in TensorRT {version}"]
    if site.assigned and not (member["kind"] == "property" and member.get("writable")):
        return [f"{site.where()}: {site.owner}.{site.member} cannot be set in TensorRT {version}"]
    if site.call_args is not None and member["kind"] == "method":
        return _check_call(site, f"{site.owner}.{site.member}", member, version)
    return []


def _check_call(site: CallSite, what: str, member: dict, version: str) -> list[str]:
    """Whether the call's argument count and keyword names fit one of the method's signatures."""
    assert site.call_args is not None
    n, keywords = site.call_args
    arities = [_arity(sig) for sig in member.get("signatures", [])]
    if not arities or any(a is None or (a[0] <= n + len(keywords) <= a[1] and set(keywords) <= a[2]) for a in arities):
        return []
    return [f"{site.where()}: {what} called with {n} positional + {list(keywords)} arguments; "
            f"TensorRT {version} has {member['signatures']}"]
