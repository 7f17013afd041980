"""The layer table of DESIGN.md holds: import-linter's contracts ([tool.importlinter] in pyproject.toml).

``make layers`` runs the same check; here it also proves that the contracts
see what they must: a function-level import across a layer breaks one.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

sys.path.insert(0, str(ROOT / "scripts"))
import package_tree  # noqa: E402

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.is_file() or importlib.util.find_spec("importlinter") is None,
                                reason="import-linter is not installed (pip install -e '.[dev]')")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # From inside the tree: import-linter puts the working folder first on sys.path.
    return subprocess.run([str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tree,
                          capture_output=True, text=True, timeout=300)


def test_every_contract_is_kept(tmp_path):
    tree = package_tree.make_tree(ROOT, tmp_path / "tree")
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " broken" in result.stdout and "0 broken" in result.stdout


def test_the_tree_has_every_stage_module(tmp_path):
    tree = package_tree.make_tree(ROOT, tmp_path / "tree")
    for stage in ("train", "export", "engines", "runtime"):
        sources = {p.name for p in (ROOT / stage).glob("*.py")}
        assert sources == {p.name for p in (tree / "edgeseg" / stage).glob("*.py")}


def test_a_function_level_import_across_layers_breaks_a_contract(tmp_path):
    tree = package_tree.make_tree(ROOT, tmp_path / "tree")
    legend = tree / "edgeseg" / "runtime" / "legend.py"
    text = legend.read_text()
    legend.unlink()
    legend.write_text(text + "\n\ndef _load(path):\n    from edgeseg.train.checkpoint import load_checkpoint\n\n"
                             "    return load_checkpoint(path)\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout
    assert "edgeseg.runtime.legend -> edgeseg.train.checkpoint" in result.stdout


def test_errors_in_the_tree_are_reported_at_the_source_path():
    tree = package_tree.TREE
    text = f"{tree}/edgeseg/train/trainer.py:3: error\nbuild/package-tree/edgeseg/runtime/backends/trt.py:9: note"
    assert package_tree.source_path(text) == f"{ROOT}/train/trainer.py:3: error\nruntime/backends/trt.py:9: note"


def test_a_missing_package_init_is_named(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    with pytest.raises(SystemExit, match="__init__.py is missing"):
        package_tree.make_tree(root, tmp_path / "tree")
