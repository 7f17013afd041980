"""``make typecheck``: mypy over the whole package (core and every stage) as it is installed.

mypy reads the symlink tree of :mod:`package_tree` (``edgeseg.train`` is
``train/``, ...) with the settings of ``[tool.mypy]`` in ``pyproject.toml``,
the TensorRT code against the stubs that ``scripts/trt_stubs.py`` wrote.
Errors are printed at their source paths (``train/trainer.py:12: error: ...``).

Any error fails; there is no list of tolerated ones.

Usage: python scripts/typecheck.py
"""

from __future__ import annotations

import re
import sys

import package_tree

ROOT = package_tree.ROOT
LINE = re.compile(r"^(?P<path>[^:\s]+\.pyi?):\d+(?::\d+)?: error: (?P<message>.*)$")


def error_lines(report: str) -> list[str]:
    """The error lines of a mypy report."""
    return [line for line in report.splitlines() if LINE.match(line)]


def main() -> int:
    from mypy import api

    package_tree.make_tree()
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    report = package_tree.source_path(stdout, ROOT).replace(str(ROOT) + "/", "")
    if status == 2:  # mypy itself failed (bad config, crash)
        print(report + package_tree.source_path(stderr, ROOT), file=sys.stderr)
        return 2
    errors = error_lines(report)
    for line in errors:
        print(line)
    checked = re.search(r"(?:checked|in) (\d+) source files?", stdout)
    files = checked.group(1) if checked else "?"
    print(f"mypy: {len(errors)} error(s) in {files} source files")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
