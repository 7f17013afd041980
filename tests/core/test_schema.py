"""One validator (edgeseg.schema) for configs, metadata, targets and sidecars: the same kind of message for each.

Every message is ``SOURCE: KEY.PATH: WHAT WAS WRONG[; HOW TO FIX]``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from edgeseg.config import build_dataclass
from edgeseg.errors import EdgesegError
from edgeseg.metadata import InputSpec, ModelMetadata
from edgeseg.schema import field_types, type_name
from edgeseg.sidecar import read_sidecar

ROOT = Path(__file__).resolve().parents[2]


def _metadata() -> dict[str, Any]:
    return ModelMetadata("enet", ["road", "sky"], [[1, 2, 3], [4, 5, 6]], InputSpec(32, 48)).to_dict()


def _sidecar(tmp_path: Path, **changes) -> Path:
    artifact = tmp_path / "m.engine"
    artifact.write_bytes(b"plan")
    data = {"schema_version": 1, "kind": "tensorrt", "target": "jetson-orin-nano",
            "source_onnx": {"path": "m.onnx", "sha256": "0" * 64}, "metadata": _metadata(),
            "runtime": "tensorrt", "runtime_version": "10.3.0.30", "engine_sha256": "0" * 64, "key": "k",
            "build_options": {}, "gpu": None, "built_at": "now", **changes}
    (tmp_path / "m.engine.json").write_text(json.dumps(data))
    return artifact


def test_annotations_are_read_without_get_type_hints():
    types = {name: type_name(tp) for name, tp in field_types(ModelMetadata).items()}
    assert types["classes"] == "list[str]" and types["calibration"] == "dict[str, Any] | None"
    assert types["palette"] == "list[list[int]]" and types["input"] == "InputSpec"
    from edgeseg.engines.targets import Target

    target = {name: type_name(tp) for name, tp in field_types(Target).items()}
    assert target["tensorrt_major"] == "tuple[int, int] | None" and target["compute_capability"] == "tuple[str, ...]"
    assert target["dla_core"] == "int | None"


@pytest.mark.parametrize("change, message", [
    ({"input": {"height": "x", "width": 48}}, "m.onnx: input.height: expected an integer, got 'x'"),
    ({"colours": []}, "m.onnx: metadata: unknown key 'colours'; valid keys here: architecture, classes"),
    ({"classes": ["road", 3]}, "m.onnx: classes[1]: expected a string, got 3"),
    ({"input": {"height": 32}}, "m.onnx: input: missing key 'width'"),
    ({"schema_version": "1"}, "m.onnx: schema_version must be an integer, got '1'"),
])
def test_metadata_messages(change, message):
    with pytest.raises(EdgesegError) as err:
        ModelMetadata.from_dict({**_metadata(), **change}, source="m.onnx")
    assert str(err.value).startswith(message), str(err.value)


def test_sidecar_messages(tmp_path):
    fix = "; rebuild with 'edgeseg build MODEL.onnx --target NAME'"
    assert read_sidecar(_sidecar(tmp_path))["built_at"] == "now"  # the builder's other facts are kept
    with pytest.raises(EdgesegError, match=f"sidecar {tmp_path}/m.engine.json: key: expected a string, got 7{fix}"):
        read_sidecar(_sidecar(tmp_path, key=7))
    data = json.loads((tmp_path / "m.engine.json").read_text())
    del data["runtime"]
    (tmp_path / "m.engine.json").write_text(json.dumps(data))
    with pytest.raises(EdgesegError, match=f"sidecar {tmp_path}/m.engine.json: missing key 'runtime'{fix}"):
        read_sidecar(tmp_path / "m.engine")


def test_target_messages(tmp_path):
    from edgeseg.engines.targets import load_targets

    base = 'description = "x"\nkind = "tensorrt"\ntensorrt_major = [10, 10]\ncompute_capability = ["8.7"]\n'
    cases = {
        "input_height = 0\ninput_width = 8\n": "input_height: expected an integer >= 1, got 0",
        "input_height = 8\ninput_width = 8\nbuilder_optimization_level = 9\n":
            "builder_optimization_level: expected an integer from 0 to 5, got 9",
        "input_height = 8\n": "missing key 'input_width'",
    }
    for text, message in cases.items():
        (tmp_path / "t.toml").write_text(base + text)
        with pytest.raises(EdgesegError) as err:
            load_targets([tmp_path])
        assert str(err.value).startswith(f"target file {tmp_path}/t.toml: {message}"), str(err.value)
    (tmp_path / "t.toml").write_text(base.replace('"tensorrt"', '"gpu"') + "input_height = 8\ninput_width = 8\n")
    with pytest.raises(EdgesegError, match=r"t.toml: kind: 'gpu' is not one of \['tensorrt', 'onnxruntime'\]"):
        load_targets([tmp_path])


def test_config_messages():
    from edgeseg.train.config import TrainConfig

    with pytest.raises(EdgesegError, match=r"^data.root: expected a string, got 3$"):
        build_dataclass(TrainConfig, {"data": {"root": 3}})
    with pytest.raises(EdgesegError, match=r"^config: unknown keys 'a', 'b'; valid keys here: "):
        build_dataclass(TrainConfig, {"a": 1, "b": 2})


# JetPack 5's Python 3.8 with numpy (the core's one dependency): the venv `make cuda-matrix` builds
# (scripts/cuda_python_matrix.py, cu11-py38), which `make test` runs before the tests.
PY38 = ROOT / ".venv-cuda" / "cu11-py38" / "bin" / "python"


@pytest.mark.skipif(not PY38.is_file(), reason="no Python 3.8 venv here (make cuda-matrix builds it)")
def test_metadata_is_read_on_python_3_8():
    """The runtime reads metadata on JetPack 5's Python 3.8: list[str] and X | None annotations included."""
    code = ("import json, sys\nfrom edgeseg.metadata import ModelMetadata\n"
            "meta = ModelMetadata.from_dict(json.loads(sys.argv[1]), source='m.onnx')\n"
            "assert meta.input.mean == [0.0, 0.0, 0.0] and meta.classes == ['road', 'sky'], meta\n"
            "try:\n    ModelMetadata.from_dict({**json.loads(sys.argv[1]), 'opset': 'x'}, source='m.onnx')\n"
            "except Exception as exc:\n    print(exc)\n")
    result = subprocess.run([str(PY38), "-c", code, json.dumps(_metadata())], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "m.onnx: opset: expected int | None, got 'x'"
