"""Extract the real TensorRT Python API of each version from its bindings wheel on PyPI.

    python scripts/trt_api_surface.py            # every version in VERSIONS -> tests/data/trt_api/*.json
    python scripts/trt_api_surface.py 10.3.0     # one version

Why this works without TensorRT: the bindings wheels (``tensorrt-bindings``,
``tensorrt-cu12-bindings``, ``tensorrt-cu13-bindings``) carry the pybind11
module ``tensorrt_bindings/tensorrt.so``, which links to ``libnvinfer.so.N``,
``libnvonnxparser.so.N`` and ``libnvinfer_plugin.so.N`` but, TensorRT's C++
API being all virtual interfaces, imports only a handful of factory functions
from them (``createInferBuilder_INTERNAL``...). This script compiles empty
stand-ins for those libraries (each of those functions returns NULL; none is
called while the module initialises), imports the real module against them
in a subprocess and records what pybind11 registered: every class with its
methods, properties and their signatures (the first line of each docstring),
every enum with its members and their values, every module-level function. Nothing of
TensorRT ever runs, so the lists are exactly the names each version defines.
The names the package's ``__init__.py`` adds (``__version__``...) come from
reading that file.

Which wheel stands for which release (TensorRT 8.5, JetPack 5.1's, is not on
PyPI; 8.6.1 is the nearest): see VERSIONS. Needs ``pip`` (PyPI), a C compiler
and binutils (``readelf``, ``nm``), on Linux x86_64 with a Python that every
listed wheel is built for (3.8-3.11; tensorrt-bindings 8.6.1 stops at 3.11).
The output is what ``tests/engines/test_trt_api_surface.py`` checks the code against.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "tests" / "data" / "trt_api"
# version file name -> pip requirement of the bindings wheel that stands for it
VERSIONS = {
    "8.6": "tensorrt-bindings==8.6.1",          # JetPack 6.0; also the nearest to 8.5 (JetPack 5.1), absent on PyPI
    "10.0": "tensorrt-cu12-bindings==10.0.1",
    "10.1": "tensorrt-cu12-bindings==10.1.0",   # supports_model_v2 arrives here
    "10.3": "tensorrt-cu12-bindings==10.3.0",   # JetPack 6.1/6.2
    "10.13": "tensorrt-cu12-bindings==10.13.3.9",  # JetPack 7.0/7.1 (10.13), the stubs mypy uses
    "11.0": "tensorrt-cu13-bindings==11.0.0.114",
    "11.4": "tensorrt-cu13-bindings==11.4.0.106",
}
# symbols the module takes from the C/C++ runtime and Python, not from TensorRT's libraries
SYSTEM_SYMBOL = re.compile(r"^(_?Py|_ITM_|__gmon|__pthread|__cxa|__gxx|_Unwind|dl[a-z]+$)|@")

DUMP = r'''
import importlib.util, inspect, json, sys
spec = importlib.util.spec_from_file_location("tensorrt", sys.argv[1])
trt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(trt)

def signature(obj):
    doc = getattr(obj, "__doc__", None) or ""
    lines = [l.strip() for l in doc.splitlines() if l.strip()]
    sigs = [l for l in lines if "(" in l and "->" in l and not l.startswith(":")]
    return sigs[:4]  # overloads are listed as "1. name(...)", "2. ..."

def is_enum(cls):
    return isinstance(getattr(cls, "__members__", None), dict)

api = {"classes": {}, "enums": {}, "functions": {}, "constants": []}
for name in sorted(dir(trt)):
    if name.startswith("__"):
        continue
    obj = getattr(trt, name)
    if inspect.isclass(obj) and is_enum(obj):
        api["enums"][name] = {k: int(v) for k, v in obj.__members__.items()}  # values: flags are 1 << value
    elif inspect.isclass(obj):
        members = {}
        for attr in sorted(dir(obj)):
            if attr.startswith("__") and attr != "__init__":
                continue
            try:
                value = inspect.getattr_static(obj, attr)
            except AttributeError:
                continue
            if inspect.isclass(value):  # a nested class, e.g. Logger.Severity
                members[attr] = {"kind": "enum" if is_enum(value) else "class",
                                 "members": {k: int(v) for k, v in value.__members__.items()} if is_enum(value) else {}}
            elif isinstance(value, property):
                members[attr] = {"kind": "property", "writable": value.fset is not None}
            elif callable(value) or hasattr(value, "__func__"):
                target = getattr(obj, attr)
                members[attr] = {"kind": "method", "signatures": signature(target)}
            else:
                members[attr] = {"kind": "attribute"}
        api["classes"][name] = members
    elif callable(obj):
        api["functions"][name] = signature(obj)
    else:
        api["constants"].append(name)
print(json.dumps(api))
'''


def stub_libraries(module: Path, folder: Path) -> None:
    """Compile an empty stand-in for each TensorRT library ``module`` links to, exporting what it imports."""
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", subprocess.run(["readelf", "-d", str(module)], check=True,
                                                                capture_output=True, text=True).stdout)
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(module)], check=True,
                               capture_output=True, text=True).stdout.split()
    symbols = sorted({s for s in undefined if s not in ("U", "w") and not SYSTEM_SYMBOL.search(s)})
    source = folder / "stub.c"
    source.write_text("".join(f"void *{s}(void) {{ return 0; }}\n" for s in symbols))
    for lib in needed:
        if lib.startswith("libnv"):
            subprocess.run(["cc", "-shared", "-fPIC", "-o", str(folder / lib), str(source)], check=True)


def extract(name: str, requirement: str) -> dict:
    """The API of ``requirement``'s bindings (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        py = f"{sys.version_info.major}{sys.version_info.minor}"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", py, "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "-d", str(work), requirement], check=True)
        wheel = next(work.glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(work / "wheel")
        module = next((work / "wheel").glob("tensorrt*/tensorrt*.so"))
        package = package_names(module.parent / "__init__.py")
        stub_libraries(module, work)
        env = {**os.environ, "LD_LIBRARY_PATH": str(work)}
        out = subprocess.run([sys.executable, "-c", DUMP, str(module)], check=True, capture_output=True,
                             text=True, env=env).stdout
    api = json.loads(out)
    return {"version": name, "wheel": wheel.name, "requirement": requirement, "package": package, **api}


def package_names(init: Path) -> list[str]:
    """Names the package's ``__init__.py`` defines itself (``__version__``, Python helpers) besides the module's."""
    tree = ast.parse(init.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return sorted(names)


def one_line_per_entry(api: dict) -> str:
    """JSON with one line per class, enum and function, so a new version's diff reads entry by entry."""
    def compact(value: object) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    parts = []
    for key, value in sorted(api.items()):
        if isinstance(value, dict):
            inner = ",\n".join(f"  {json.dumps(k)}: {compact(v)}" for k, v in sorted(value.items()))
            parts.append(f"{json.dumps(key)}: {{\n{inner}\n}}")
        else:
            parts.append(f"{json.dumps(key)}: {compact(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main(argv: list[str]) -> int:
    wanted = argv or list(VERSIONS)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        api = extract(name, VERSIONS[name])
        path = OUT_DIR / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        # one line per class or enum: small, and a new version's diff reads class by class
        tmp.write_text(one_line_per_entry(api))
        tmp.replace(path)
        print(f"{path}: {len(api['classes'])} classes, {len(api['enums'])} enums, "
              f"{sum(len(m) for m in api['classes'].values())} class members, from {api['wheel']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
