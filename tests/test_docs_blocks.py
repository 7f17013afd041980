"""Every README / docs code block marked ``<!-- runnable -->`` runs as written from a clone's root.

Each block runs in a fresh folder holding links to the clone's committed
folders (samples/, models/, calib_data/, configs/, engines/), so what it writes (out/...) stays in
the test's temporary folder. ``bash`` blocks run with ``set -euo pipefail``
and the environment's ``edgeseg`` first on PATH; ``python`` blocks with this
interpreter. A block fails the test on a non-zero exit or a traceback.

The other tests check what the README and every docs page name without running it: each ``edgeseg``
command (in shell blocks and code spans) and its flags exist in the CLI, each repository file they name
exists, every docs page is in the site's nav (mkdocs.yml), the README's links reach existing pages and
headings, and the README states the ``make demo`` / ``make test`` that CI runs (the site's own links are
checked by ``make docs``, ``mkdocs build --strict``).
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


# --- What the README and the docs site name must exist -------------------------------------------------------

SITE = ROOT / "mkdocs.yml"
NAV_PAGE = re.compile(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w./-]+\.md)\s*$")
COMMAND = re.compile(r"(?:^|[\s/(])edgeseg\s+([a-z][\w-]*)((?:\s+[^\s|;&#]+)*)")
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")
SHELL = ("bash", "sh", "shell", "", "yaml")
# A repository file the docs name (source, scripts, benchmarks, configs); placeholders (NAME, X) are skipped.
REPO_FILE = re.compile(r"(?<![\w./-])((?:edgeseg|train|export|engines|runtime|scripts|benchmarks|tests|configs)/[\w./-]*\.(?:py|toml))")
EXAMPLE_FILES = {"tests/test_latency.py"}  # docs/ci.md: the file a user writes


def fenced_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """``(language, first line, lines)`` of every fenced block (language "" for a bare fence)."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        match = re.match(r"^```(\w*)\s*$", lines[i])
        if match:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            blocks.append((match.group(1), i + 2, lines[i + 1:end]))
            i = end
        i += 1
    return blocks


def prose(text: str) -> str:
    """The text outside fenced and indented code blocks (those lines blanked, so line numbers stay)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            out.append("")
        else:
            out.append("" if fenced or line.startswith("    ") else line)
    return "\n".join(out)


def edgeseg_commands(lines: list[str]) -> list[tuple[str, list[str]]]:
    """``(subcommand, --flags)`` of each ``edgeseg SUB ...`` in shell lines (continuations joined, comments cut)."""
    joined, pending = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    found = []
    for line in joined:
        line = "" if line.lstrip().startswith("#") else line.split(" #")[0]
        for part in re.split(r"&&|\|\||;|\|", line):
            match = COMMAND.search(part)
            if match:
                flags = [t.strip("[]()").split("=")[0] for t in match.group(2).split()]
                found.append((match.group(1), [f for f in flags if f.startswith("--")]))
    return found


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """``(where, subcommand, flags)`` of every ``edgeseg`` command in a code block or code span."""
    found = []
    for path in DOCS:
        text, where = path.read_text(), str(path.relative_to(ROOT))
        for language, line, lines in fenced_blocks(text):
            if language in SHELL:
                found += [(f"{where}:{line}", cmd, flags) for cmd, flags in edgeseg_commands(lines)]
        for match in CODE_SPAN.finditer(prose(text)):
            span = " ".join(match.group(1).split())
            if span.startswith("edgeseg "):
                line = text.count("\n", 0, match.start()) + 1
                found += [(f"{where}:{line}", cmd, flags) for cmd, flags in edgeseg_commands([span])]
    return found


def test_every_documented_command_and_flag_exists():
    import argparse

    from edgeseg.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    commands = documented_commands()
    assert len(commands) > 50, "the command scan found almost nothing: is the pattern still right?"
    wrong = []
    for where, cmd, flags in commands:
        if cmd not in sub.choices:
            wrong.append(f"{where}: edgeseg {cmd}: no such command (edgeseg --help)")
            continue
        known = sub.choices[cmd]._option_string_actions.keys() | parser._option_string_actions.keys()
        wrong += [f"{where}: edgeseg {cmd} has no flag {flag}" for flag in flags if flag not in known]
    assert not wrong, "\n".join(wrong)


def test_every_documented_repository_file_exists():
    missing = []
    for path in DOCS:
        text = path.read_text()
        for match in REPO_FILE.finditer(text):
            name = match.group(1)
            if name not in EXAMPLE_FILES and not re.search(r"NAME|/[A-Z]\b|_X\.", name) and not (ROOT / name).exists():
                missing.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {name}")
    assert not missing, "files the docs name that do not exist:\n" + "\n".join(missing)


def test_readme_states_the_make_commands_the_ci_runs():
    readme = (ROOT / "README.md").read_text()
    shell = [line for language, _, lines in fenced_blocks(readme) if language in SHELL for line in lines]
    assert any(line.startswith("make demo") for line in shell) and any(line.startswith("make test") for line in shell)
    assert "make test" in (ROOT / ".ci" / "run").read_text().splitlines()
    makefile = (ROOT / "Makefile").read_text()
    test_prerequisites = re.search(r"^test:(.*)$", makefile, re.M).group(1).split()
    assert "docs" in test_prerequisites, "`make test` must build the docs site (make docs)"
    assert re.search(r"^docs:.*\n\t.*mkdocs build --strict", makefile, re.M)


def test_every_docs_page_is_in_the_site_nav():
    nav = [m.group(1) for line in SITE.read_text().splitlines() if (m := NAV_PAGE.match(line))]
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert sorted(nav) == pages, f"mkdocs.yml nav {sorted(nav)} != docs/*.md {pages}"
    assert len(nav) == len(set(nav))
    # The generated tables are pages of the site: the zoo table (scripts/zoo_table.py) and the bad-input catalogue.
    assert "<!-- zoo-table:start -->" in (ROOT / "docs" / "zoo.md").read_text()
    assert {"zoo.md", "bad_inputs.md", "architecture.md", "architecture_tasks.md"} <= set(nav)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (lower case, punctuation dropped, spaces to hyphens)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def test_readme_links_point_at_existing_pages_and_headings():
    # The site's own links and anchors are checked by `mkdocs build --strict` (make docs); the README is not
    # part of the site, so its links are checked here, with GitHub's anchors.
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", prose(readme))
    assert links
    broken = []
    for link in links:
        if re.match(r"^[a-z]+://", link):
            continue
        target, _, anchor = link.partition("#")
        path = ROOT / target if target else ROOT / "README.md"
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md":
            headings = re.findall(r"^#+\s+(.*)$", prose(path.read_text()), re.M)
            if anchor not in {github_anchor(h) for h in headings}:
                broken.append(link)
    assert not broken, f"README links to missing pages or headings: {broken}"
