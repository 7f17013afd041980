"""Lay out the installed package shape (``edgeseg.train`` in ``train/``, ...) as a tree of symlinks.

``pyproject.toml`` maps the stage folders into ``edgeseg.*`` with
``package-dir``; the editable install does that mapping with an import hook,
which static tools (mypy, import-linter's grimp) cannot follow. This writes
``build/package-tree/edgeseg/...``: real folders, one symlink per module to
its source file, exactly the packages of ``[tool.setuptools] packages``.
It is made anew on every run (a second or less), so a new or removed module
is never stale, and an edit in the work tree is seen at once.

``make typecheck`` and ``make layers`` run it; they put the tree first on
the tools' path and report errors at the source paths (``train/trainer.py``).

Usage: python scripts/package_tree.py [--print-root]
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "package-tree"


def package_sources(root: Path = ROOT) -> dict[str, Path]:
    """``{package name: its source folder}`` for every package the distribution installs."""
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = config.get("package-dir", {})
    sources = {}
    for package in config["packages"]:
        # The longest mapped prefix decides, as in setuptools: edgeseg.train.models -> train/models.
        parts = package.split(".")
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in mapping:
                sources[package] = root / mapping[prefix] / Path(*parts[cut:])
                break
        else:
            sources[package] = root / Path(*parts)
    return sources


def make_tree(root: Path = ROOT, tree: Path = TREE) -> Path:
    """Write the symlink tree under ``tree`` (replacing an old one); returns ``tree``."""
    if tree.exists():
        shutil.rmtree(tree)
    for package, source in package_sources(root).items():
        if not (source / "__init__.py").is_file():
            raise SystemExit(f"package {package}: {source}/__init__.py is missing (pyproject.toml [tool.setuptools] packages)")
        target = tree / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in sorted(source.glob("*.py")):
            (target / module.name).symlink_to(module)
        typed = source / "py.typed"
        if typed.is_file():
            (target / "py.typed").symlink_to(typed)
    return tree


def source_path(text: str, root: Path = ROOT, tree: Path = TREE) -> str:
    """``text`` with every path inside the tree replaced by the source file's path (relative to ``root``)."""
    prefix = str(tree.relative_to(root)) + "/"
    if prefix not in text and str(tree) not in text:
        return text
    sources = {str(tree / Path(*p.split("."))): src for p, src in package_sources(root).items()}
    for folder in sorted(sources, key=len, reverse=True):
        relative_folder = str(Path(folder).relative_to(root))
        source = sources[folder]
        relative_source = str(source.relative_to(root)) if source != root else "."
        text = text.replace(folder + "/", str(source) + "/").replace(relative_folder + "/", relative_source + "/")
    return text


if __name__ == "__main__":
    made = make_tree()
    if "--print-root" in sys.argv[1:]:
        print(made)
