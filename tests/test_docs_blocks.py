"""Every README / docs code block marked ``<!-- runnable -->`` runs as written from a clone's root.

Each block runs in a fresh folder holding links to the clone's committed
folders (samples/, models/, calib_data/, configs/, engines/), so what it writes (out/...) stays in
the test's temporary folder. ``bash`` blocks run with ``set -euo pipefail``
and the environment's ``edgeseg`` first on PATH; ``python`` blocks with this
interpreter. A block fails the test on a non-zero exit or a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

MARKER = "<!-- runnable -->"
SLOW_MARKER = "<!-- runnable slow -->"  # minutes on a 2-core CPU (a torch model on every frame): `make test-slow`
FENCE = re.compile(r"^```(\w+)\s*$")
LINKED = ("samples", "models", "calib_data", "configs", "engines")


def runnable_blocks(paths: list[Path]) -> list:
    """``pytest.param(file, line, language, code)`` of each block whose fence follows a runnable marker."""
    blocks = []
    for path in paths:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() not in (MARKER, SLOW_MARKER):
                continue
            match = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if match is None:
                raise AssertionError(f"{path}:{i + 1}: {MARKER} must be followed by a ``` fence")
            end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
            where = str(path.relative_to(ROOT))
            marks = [pytest.mark.slow] if line.strip() == SLOW_MARKER else []
            blocks.append(pytest.param(where, i + 2, match.group(1), "\n".join(lines[i + 2:end]) + "\n",
                                       id=f"{where}:{i + 2}", marks=marks))
    return blocks


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = runnable_blocks(DOCS)


def test_some_blocks_are_marked():
    assert {b.values[0] for b in BLOCKS} >= {"README.md", "docs/python_api.md"}


@pytest.mark.parametrize("where, line, language, code", BLOCKS)
def test_block_runs_as_written(where, line, language, code, tmp_path):
    for name in LINKED:
        if (ROOT / name).exists():
            (tmp_path / name).symlink_to(ROOT / name)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    if language == "python":
        argv = [sys.executable, "-c", code]
    elif language in ("bash", "sh", "shell"):
        argv = ["bash", "-c", "set -euo pipefail\n" + code]
    else:
        raise AssertionError(f"{where}:{line}: cannot run a {language} block")
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{where}:{line} exited {result.returncode}:\n{output[-3000:]}"
    assert "Traceback (most recent call last)" not in output, f"{where}:{line}:\n{output[-3000:]}"
