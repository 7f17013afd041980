"""Rules that several stages apply are defined once: extras named by errors, data layouts, the mIoU gate."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import tomllib

from edgeseg.cli import build_parser
from edgeseg.cli_vocab import DATA_KINDS
from edgeseg.dataset_types import LAYOUTS
from edgeseg.gates import DEFAULT_MAX_MIOU_DROP, MAX_MIOU_DROP_BY_CLASS

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def require_calls():
    """``(file, line, module, extra)`` of every ``require("module", extra)`` in the package."""
    for folder in ("edgeseg", "train", "export", "engines", "runtime"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "require" \
                        and len(node.args) == 2 and isinstance(node.args[0], ast.Constant):
                    extra = node.args[1].value if isinstance(node.args[1], ast.Constant) else "?"
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0].value, extra


def test_every_missing_dependency_message_names_an_extra_that_exists():
    calls = list(require_calls())
    assert len(calls) > 20
    wrong = [(where, module, extra) for where, module, extra in calls if extra is not None and extra not in EXTRAS]
    assert not wrong, f"extras not in pyproject.toml ({sorted(EXTRAS)}): {wrong}"


def test_the_base_dependencies_are_required_without_an_extra():
    base = {"onnxruntime", "numpy"}
    assert [c for c in require_calls() if c[1] in base and c[2] not in (None, "export")] == []


def test_data_layouts_are_one_list():
    assert DATA_KINDS == ("auto", *LAYOUTS)
    from edgeseg.train.config import DataConfig

    kinds = typing.get_args(typing.get_type_hints(DataConfig)["kind"])
    # coco: instance annotations, read by the proposals trainer only (not a semantic layout)
    assert set(kinds) == {*LAYOUTS, "coco"}


def test_the_miou_gate_default_is_one_number():
    from edgeseg.engines.cpu_openvino import GATES
    from edgeseg.export.gate import miou_gate
    from edgeseg.export.quantize import quantize_onnx

    args = build_parser().parse_args(["quantize", "m.onnx", "--precision", "int8"])
    assert args.max_miou_drop == DEFAULT_MAX_MIOU_DROP
    assert inspect.signature(quantize_onnx).parameters["max_miou_drop"].default == DEFAULT_MAX_MIOU_DROP
    assert inspect.signature(miou_gate).parameters["max_drop"].default == DEFAULT_MAX_MIOU_DROP
    assert GATES is MAX_MIOU_DROP_BY_CLASS and GATES["int8"] == DEFAULT_MAX_MIOU_DROP
