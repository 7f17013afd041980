"""Every TensorRT name the code uses exists in every TensorRT version the targets claim.

Against the REAL API lists (tests/data/trt_api/*.json, extracted from the
real bindings wheels by scripts/trt_api_surface.py), not the fakes: the
names, whether a property can be set, and how many arguments each call
passes against the pybind11 signatures.
"""

from __future__ import annotations

import json

import pytest
import trt_api

from edgeseg.engines.targets import load_targets

FIXTURE_SOURCE = '''
import tensorrt as trt
def f(config, parser, cache, version):
    config.set_flag(trt.BuilderFlag.FP16){guard1}
    parser.supports_model_v2(b"", "m.onnx"){guard2}
    config.set_timing_cache(cache){guard3}
    config.builder_optimization_level = 3
'''


def claimed_versions() -> list[str]:
    """The API-list versions inside some TensorRT target's tensorrt_major range."""
    majors = {m for t in load_targets().values() if t.tensorrt_major
              for m in range(t.tensorrt_major[0], t.tensorrt_major[1] + 1)}
    return [v for v in trt_api.versions() if trt_api.version_key(v)[0] in majors]


def test_api_lists_cover_every_claimed_major():
    """8 (JetPack 5/6.0; 8.6 stands for 8.5, which PyPI lacks), 10.0, 10.1, 10.3 (JetPack 6.1/6.2), 10.13, 11."""
    assert trt_api.versions() == ["8.6", "10.0", "10.1", "10.3", "10.13", "11.0", "11.4"]
    assert {trt_api.version_key(v)[0] for v in claimed_versions()} == {8, 10, 11}
    for version in trt_api.versions():
        data = trt_api.api(version)
        assert data["version"] == version and data["wheel"].endswith(".whl")
        assert "OnnxParser" in data["classes"] and "BuilderFlag" in data["enums"]


def test_code_uses_its_tensorrt_names():
    """The walk finds the call sites (a guard against a walk that finds nothing and so passes)."""
    sites = trt_api.project_call_sites()
    used = {(s.owner, s.member) for s in sites}
    for expected in [("module", "OnnxParser"), ("Builder", "create_network"), ("OnnxParser", "supports_model_v2"),
                     ("OnnxParser", "supports_model"), ("IBuilderConfig", "set_timing_cache"),
                     ("IExecutionContext", "execute_async_v3"), ("BuilderFlag", "FP16"), ("ParserError", "node_name")]:
        assert expected in used, expected
    assert len(sites) > 80


@pytest.mark.parametrize("version", trt_api.versions())
def test_every_call_site_exists_in_every_claimed_version(version):
    if version not in claimed_versions():
        pytest.skip(f"no target claims TensorRT {version}")
    found = [p for s in trt_api.project_call_sites() if trt_api.reached(s.guard, version)
             for p in trt_api.problems(s, version)]
    assert found == []


def test_a_planted_name_missing_in_one_version_fails():
    """Unguarded: FP16 flag (gone in 11), supports_model_v2 (absent in 10.0), a call with a missing argument."""
    source = FIXTURE_SOURCE.format(guard1="", guard2="", guard3="")
    sites = trt_api.call_sites(source, "planted.py")

    def problems(version: str) -> list[str]:
        return [p for s in sites if trt_api.reached(s.guard, version) for p in trt_api.problems(s, version)]

    assert any("BuilderFlag.FP16 is not a member in TensorRT 11.0" in p for p in problems("11.0"))
    assert any("OnnxParser.supports_model_v2 does not exist in TensorRT 10.0" in p for p in problems("10.0"))
    assert any("supports_model_v2" in p for p in problems("8.6"))
    assert not any("supports_model_v2" in p for p in problems("10.1"))
    arity = [p for p in problems("10.3") if "set_timing_cache" in p]
    assert arity and "called with 1 positional" in arity[0] and "ignore_mismatch" in arity[0]
    # guarded as the code guards them, only the arity mistake remains (on every version)
    guarded = trt_api.call_sites(FIXTURE_SOURCE.format(guard1="  # trt: 8", guard2="  # trt: >=10.1", guard3=""),
                                 "planted.py")
    for version in trt_api.versions():
        left = [p for s in guarded if trt_api.reached(s.guard, version) for p in trt_api.problems(s, version)]
        assert [p for p in left if "set_timing_cache" not in p] == [], version


def test_a_planted_line_in_the_real_builder_fails():
    """The project's own file, one unguarded line added: the check names file, line and version."""
    path = trt_api.ROOT / "engines/build.py"
    source = path.read_text() + "\n\ndef planted(parser):\n    return parser.supports_model_v2(b'')\n"
    line = source.count("\n")  # the last line
    sites = trt_api.call_sites(source, "engines/build.py")
    found = [p for s in sites for p in trt_api.problems(s, "10.0")]
    assert found == [f"engines/build.py:{line}: OnnxParser.supports_model_v2 does not exist in TensorRT 10.0"]


def test_setting_a_read_only_property_fails():
    sites = trt_api.call_sites("def f(engine):\n    engine.num_io_tensors = 3\n", "x.py")
    assert trt_api.problems(sites[0], "10.3") == ["x.py:2: ICudaEngine.num_io_tensors cannot be set in TensorRT 10.3"]


@pytest.mark.parametrize(("guard", "version", "expected"), [
    ("", "8.6", True), ("8", "8.6", True), ("8", "10.3", False), ("<10.1", "10.0", True), ("<10.1", "10.1", False),
    (">=10.1", "10.13", True), (">=10,<11", "11.0", False), (">=10", "11.4", True),
])
def test_guards(guard, version, expected):
    assert trt_api.reached(guard, version) is expected


def test_api_list_for_a_full_version_is_the_nearest_below():
    assert trt_api.api("10.3.0.30")["version"] == "10.3"
    assert trt_api.api("10.7.0")["version"] == "10.3"
    assert trt_api.api("8.5.2.2")["version"] == "8.6"  # 8.5 is not on PyPI: the nearest stands for it
    assert trt_api.api("11.2.1")["version"] == "11.0"


def test_api_lists_are_valid_json_with_signatures():
    data = json.loads((trt_api.API_DIR / "10.3.json").read_text())
    sig = data["classes"]["IBuilderConfig"]["set_timing_cache"]["signatures"][0]
    assert sig.startswith("set_timing_cache(self: tensorrt.IBuilderConfig, cache: tensorrt.ITimingCache, ignore_mismatch: bool)")
    assert "__version__" in data["package"]


def test_api_lists_are_the_wheels_the_extraction_script_names():
    """Each committed list came from the wheel scripts/trt_api_surface.py asks for under that name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("trt_api_surface", trt_api.ROOT / "scripts/trt_api_surface.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert sorted(script.VERSIONS, key=trt_api.version_key) == trt_api.versions()
    for name, requirement in script.VERSIONS.items():
        data = trt_api.api(name)
        assert data["requirement"] == requirement
        assert data["wheel"].replace("_", "-").startswith(requirement.split("==")[0] + "-" + requirement.split("==")[1])
