"""``make typecheck``: mypy over the whole package (core and every stage) as it is installed.

mypy reads the symlink tree of :mod:`package_tree` (``edgeseg.train`` is
``train/``, ...) with the settings of ``[tool.mypy]`` in ``pyproject.toml``,
the TensorRT code against the stubs that ``scripts/trt_stubs.py`` wrote.
Errors are printed at their source paths (``train/trainer.py:12: error: ...``).

``scripts/typecheck_pending.txt`` lists errors (path, message, code; no line
numbers) in files that another piece of work is rewriting and that this
check must not touch meanwhile. Those are reported and tolerated; any other
error fails, and so does a listed error that is gone (delete its line).

Usage: python scripts/typecheck.py
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import package_tree

ROOT = package_tree.ROOT
PENDING = ROOT / "scripts" / "typecheck_pending.txt"
LINE = re.compile(r"^(?P<path>[^:\s]+\.pyi?):\d+(?::\d+)?: error: (?P<message>.*)$")


def pending_errors(path: Path = PENDING) -> Counter[str]:
    """The tolerated errors as ``"path: message  [code]"`` keys (``#`` starts a comment line)."""
    if not path.is_file():
        return Counter()
    return Counter(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


def error_keys(report: str) -> list[tuple[str, str]]:
    """``(key, full line)`` for every error line of a mypy report."""
    found = []
    for line in report.splitlines():
        match = LINE.match(line)
        if match:
            found.append((f"{match['path']}: {match['message']}", line))
    return found


def main() -> int:
    from mypy import api

    package_tree.make_tree()
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    report = package_tree.source_path(stdout, ROOT).replace(str(ROOT) + "/", "")
    if status == 2:  # mypy itself failed (bad config, crash)
        print(report + package_tree.source_path(stderr, ROOT), file=sys.stderr)
        return 2
    tolerated = pending_errors()
    left = Counter(tolerated)
    new = []
    for key, line in error_keys(report):
        if left[key] > 0:
            left[key] -= 1
        else:
            new.append(line)
    gone = sorted((+left).elements())
    for line in new:
        print(line)
    pending_count = sum(tolerated.values()) - len(gone)
    if pending_count:
        print(f"({pending_count} known error(s) in files being rewritten elsewhere, listed in "
              f"{PENDING.relative_to(ROOT)})")
    for key in gone:
        print(f"{PENDING.relative_to(ROOT)}: no longer reported, delete the line: {key}")
    checked = re.search(r"\(checked (\d+) source files?\)", stdout)
    files = checked.group(1) if checked else "?"
    print(f"mypy: {len(new)} error(s) in {files} source files" + (" (and a stale pending list)" if gone else ""))
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
