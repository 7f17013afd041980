"""What the builder asks of TensorRT, per target and TensorRT major version, against a FAKE tensorrt.

TensorRT cannot be installed on CPU machines, so these flow tests run the
real builder code (engines/build.py, engines/trt_compat.py) against
tests/fakes/fake_tensorrt.py, which records every call and has the names
(and enum values) of the real TensorRT version it stands for, from the API
lists extracted from the real bindings wheels.
"""

from __future__ import annotations

import json

import pytest
from fakes.fake_tensorrt import touched
from helpers import make_contract_onnx, rewrite_contract_onnx

from edgeseg.cuda_rt import GpuInfo
from edgeseg.engines.build import build
from edgeseg.engines.targets import load_targets
from edgeseg.errors import EdgesegError

TARGETS = {name: t for name, t in load_targets().items() if t.is_tensorrt}
VERSIONS = {8: ["8.5.2.2", "8.6.2.3"], 10: ["10.0.1.6", "10.3.0.30"], 11: ["11.4.1.0"]}
CASES = [(name, v) for name, t in sorted(TARGETS.items()) for major, vs in VERSIONS.items() if t.supports_tensorrt(major) for v in vs]


def gpu_for(target):
    return lambda: GpuInfo(f"fake {target.name} GPU", target.compute_capability[0])


def onnx_for(tmp_path, version: str, precision: str, batch="1"):
    """A contract ONNX (uint8 labels) with ``precision`` in its metadata."""
    path, _, _ = make_contract_onnx(tmp_path / f"m.{precision}.onnx", batch=int(batch) if batch.isdigit() else batch)
    return rewrite_contract_onnx(path, precision=precision)


def dla_ok(target, version: str, precision: str) -> bool:
    """Whether a DLA build of ``precision`` is allowed (DLA: FP16/INT8 only; 8.x: no explicit Q/DQ INT8)."""
    return target.dla_core is None or precision == "fp16" or (precision == "int8" and not version.startswith("8."))


def test_every_tensorrt_target_has_cases():
    assert {name for name, _ in CASES} == set(TARGETS)
    assert {v.split(".")[0] for _, v in CASES} == {"8", "10", "11"}


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
@pytest.mark.parametrize(("target_name", "version"), CASES)
def test_builder_flow(tmp_path, cache_dir, install_fake_trt, target_name, version, precision):
    target = TARGETS[target_name]
    fake = install_fake_trt(version)
    major, minor = (int(p) for p in version.split(".")[:2])
    onnx_path = onnx_for(tmp_path, version, precision)
    dla = target.dla_core is not None and dla_ok(target, version, precision)
    result = build(onnx_path, target, tmp_path / "out", gpu_probe=gpu_for(target))

    assert not result.skipped and result.artifact == tmp_path / "out" / f"m.{precision}.{target_name}.engine"
    assert fake.errors == []
    # network: strongly typed on 10/11, explicit batch on 8.x
    flags = {c[1] for c in touched(fake, "create_network")}
    flag = fake.NetworkDefinitionCreationFlag.STRONGLY_TYPED if major >= 10 else fake.NetworkDefinitionCreationFlag.EXPLICIT_BATCH
    assert flags == {1 << int(flag)}
    # the support check runs on its own parser, before the parser that builds
    parsers = touched(fake, "OnnxParser")
    assert len(parsers) == 2 and parsers[0][1] != parsers[1][1]
    names = [c[0] for c in fake.calls]
    has_v2 = (major, minor) >= (10, 1)  # supports_model_v2 arrived in 10.1
    check = "supports_model_v2" if has_v2 else "supports_model"
    assert names.index(check) < names.index("parse") < names.index("build_serialized_network")
    assert ("supports_model" in names) == (not has_v2)
    # precision flags only on 8.x
    set_flags = [c[1] for c in touched(fake, "set_flag")]
    expected = [] if major >= 10 else {"fp32": [], "fp16": ["FP16"], "int8": ["FP16", "INT8"]}[precision]
    assert [f for f in set_flags if f != "GPU_FALLBACK"] == expected
    # workspace limit and optimisation level
    assert touched(fake, "set_memory_pool_limit") == [("set_memory_pool_limit", "WORKSPACE", target.workspace_mib << 20)]
    levels = touched(fake, "builder_optimization_level")
    assert levels == ([] if (major, minor) == (8, 5) else [("builder_optimization_level", target.builder_optimization_level)])
    # DLA core with GPU fallback where the device has DLA, nothing DLA elsewhere
    if dla:
        assert ("default_device_type", "DLA") in fake.calls and ("DLA_core", target.dla_core) in fake.calls
        assert "GPU_FALLBACK" in set_flags
    else:
        assert not touched(fake, "default_device_type") and not touched(fake, "DLA_core") and "GPU_FALLBACK" not in set_flags
    # optimisation profile for the (static) input shape
    assert touched(fake, "set_shape") == [("set_shape", "image", (1, 32, 48, 3), (1, 32, 48, 3), (1, 32, 48, 3))]
    # sidecar
    side = json.loads(result.sidecar.read_text())
    assert side["target"] == target_name and side["runtime_version"] == version
    assert side["gpu"] == {"name": f"fake {target_name} GPU", "compute_capability": target.compute_capability[0]}
    assert side["metadata"]["precision"] == precision
    assert side["build_options"]["strongly_typed"] == (major >= 10)
    assert side["build_options"]["precision_flags"] == expected
    assert side["source_onnx"]["path"] == str(onnx_path)
    plan = json.loads(result.artifact.read_bytes()[len(b"FAKEPLAN"):])
    assert plan["strongly_typed"] == (major >= 10)
    # TensorRT 8.x cannot cast ArgMax -> uint8: the build chose int32 labels by itself
    assert side["build_options"]["labels_dtype"] == ("int32" if major == 8 else "uint8")
    assert plan["io"]["outputs"]["labels"]["dtype"] == ("INT32" if major == 8 else "UINT8")
    # DLA where it runs the model; where it would not (FP32, 8.x Q/DQ), GPU only and the sidecar says why
    assert side["build_options"]["dla_core"] == (target.dla_core if dla else None)
    assert side["build_options"]["dla_layers"] == ({"dla": 5, "gpu": 0} if dla else None)
    assert (side["dla_skipped"] is not None) == (target.dla_core is not None and not dla)


def test_dynamic_batch_profile_uses_the_target_batch(tmp_path, cache_dir, install_fake_trt):
    target = TARGETS["desktop-hopper"]
    assert target.batch == 4
    fake = install_fake_trt("10.3.0.30")
    path, _, _ = make_contract_onnx(tmp_path / "dyn.onnx", batch="N")
    build(path, target, tmp_path, gpu_probe=gpu_for(target))
    assert touched(fake, "set_shape") == [("set_shape", "image", (1, 32, 48, 3), (4, 32, 48, 3), (4, 32, 48, 3))]


def test_no_dla_builds_for_the_gpu_only(tmp_path, cache_dir, install_fake_trt, contract_onnx):
    target = TARGETS["jetson-agx-orin"]
    fake = install_fake_trt("10.3.0.30")
    result = build(contract_onnx, target, tmp_path, gpu_probe=gpu_for(target), use_dla=False)
    assert not touched(fake, "DLA_core") and not touched(fake, "default_device_type")
    assert json.loads(result.sidecar.read_text())["build_options"]["dla_core"] is None


def test_tensorrt11_builder_never_touches_removed_names(tmp_path, cache_dir, install_fake_trt):
    """On a fake shaped like TensorRT 11 (the removed names raise AttributeError), every precision builds."""
    fake = install_fake_trt("11.4.1.0")
    # the fake really lacks them: touching one fails
    with pytest.raises(AttributeError):
        _ = fake.BuilderFlag.FP16
    with pytest.raises(AttributeError):
        _ = fake.BuilderFlag.INT8
    with pytest.raises(AttributeError):
        _ = fake.NetworkDefinitionCreationFlag.EXPLICIT_BATCH
    with pytest.raises(AttributeError):
        _ = fake.IInt8EntropyCalibrator2
    config = fake.Builder(None).create_builder_config()
    with pytest.raises(AttributeError):
        config.int8_calibrator = None
    with pytest.raises(AttributeError):
        _ = fake.OnnxParser(fake.Builder(None).create_network(0), None).supports_model
    target = TARGETS["jetson-agx-orin"]
    for precision in ("fp32", "fp16", "int8"):
        result = build(onnx_for(tmp_path, "11.4.1.0", precision), target, tmp_path / "out", gpu_probe=gpu_for(target))
        assert result.artifact.is_file()
    assert not any(c[0] == "set_flag" and c[1] in ("FP16", "INT8") for c in fake.calls)


def test_device_memory_size_uses_v2_on_11(install_fake_trt):
    from edgeseg.engines import trt_compat as compat
    from edgeseg.trt_version import trt_version

    fake = install_fake_trt("11.4.1.0")
    engine = fake.ICudaEngine(fake, {"io": {"inputs": {}, "outputs": {}}})
    with pytest.raises(AttributeError):
        _ = engine.device_memory_size
    assert compat.device_memory_size(engine, trt_version()) == 1 << 20


@pytest.mark.parametrize("version", ["8.6.2.3", "10.3.0.30", "11.4.1.0"])
def test_unsupported_nodes_named_before_the_build(tmp_path, cache_dir, install_fake_trt, version):
    target = TARGETS["jetson-agx-orin"]
    fake = install_fake_trt(version, unsupported_ops=("ArgMax",))
    path = onnx_for(tmp_path, version, "fp32")
    with pytest.raises(EdgesegError, match=r"(?s)cannot build 1 node\(s\).*node #3 'ArgMax_3' \(ArgMax\): No importer registered for op: ArgMax"):
        build(path, target, tmp_path / "out", gpu_probe=gpu_for(target))
    assert not touched(fake, "build_serialized_network") and not touched(fake, "parse")
    assert not (tmp_path / "out").exists()


def test_tensorrt8_builds_int32_labels_automatically(tmp_path, cache_dir, install_fake_trt, contract_onnx):
    """8.x refuses ArgMax -> Cast(uint8) (the fake's parser too): the build casts to int32 instead, in memory."""
    target = TARGETS["jetson-xavier-nx"]
    before = contract_onnx.read_bytes()
    fake = install_fake_trt("8.5.2.2")
    # the 8.x fake's parser really refuses the uint8 contract, as 8.x does
    network = fake.Builder(None).create_network(0)
    parser = fake.OnnxParser(network, None)
    assert not parser.parse(before, str(contract_onnx)) and "UINT8" in parser.get_error(0).desc()
    fake.calls.clear()
    side = json.loads(build(contract_onnx, target, tmp_path / "out", gpu_probe=gpu_for(target), use_dla=False)
                      .sidecar.read_text())
    assert side["build_options"]["labels_dtype"] == "int32" and side["io"]["outputs"]["labels"][0] == "uint8"
    assert contract_onnx.read_bytes() == before  # the ONNX on disk stays the uint8 contract


def test_parser_keeps_only_the_logger_alive(install_fake_trt, contract_onnx):
    """The fake follows the real binding: a parser whose network was a temporary fails (the real one crashes)."""
    fake = install_fake_trt("10.3.0.30")
    builder = fake.Builder(None)
    parser = fake.OnnxParser(builder.create_network(0), None)  # the network is freed right here
    with pytest.raises(RuntimeError, match="network was freed"):
        parser.supports_model_v2(contract_onnx.read_bytes(), str(contract_onnx))


def test_rejected_timing_cache_is_replaced_not_ignored(tmp_path, cache_dir, install_fake_trt, contract_onnx):
    """set_timing_cache's False (a cache of another device/version) is seen: empty cache, sidecar says so."""
    target = TARGETS["desktop-ada"]
    install_fake_trt("10.3.0.30")
    first = json.loads(build(contract_onnx, target, tmp_path / "a", gpu_probe=gpu_for(target)).sidecar.read_text())
    assert first["build_options"]["timing_cache"]["state"] == "new"
    fake = install_fake_trt("10.3.0.30", reject_timing_cache=True)
    side = json.loads(build(contract_onnx, target, tmp_path / "b", gpu_probe=gpu_for(target)).sidecar.read_text())
    assert side["build_options"]["timing_cache"]["state"] == "rejected"
    attached = touched(fake, "set_timing_cache")
    assert len(attached) == 2 and attached[0][1] != [] and attached[1][1] == []  # the file's cache, then an empty one


@pytest.mark.parametrize(("version", "precision", "match"), [
    ("10.3.0.30", "fp32", "DLA runs only FP16 and INT8 layers"),
    ("8.6.2.3", "fp32", "DLA runs only FP16 and INT8 layers"),
    ("8.6.2.3", "int8", "TensorRT 8.6.2.3's DLA takes INT8 only from calibration"),
])
def test_dla_that_would_run_nothing_is_not_claimed(tmp_path, cache_dir, install_fake_trt, caplog, version, precision, match):
    """Not 'DLA core 0' in the sidecar while every layer runs on the GPU: a GPU build, a warning, the reason."""
    target = TARGETS["jetson-agx-orin"]
    fake = install_fake_trt(version)
    with caplog.at_level("WARNING", logger="edgeseg.engines"):
        side = json.loads(build(onnx_for(tmp_path, version, precision), target, tmp_path / "out",
                                gpu_probe=gpu_for(target)).sidecar.read_text())
    assert f"not using DLA core 0 of jetson-agx-orin: {match}" in caplog.text.replace("\n", " ") or match in caplog.text
    assert match in side["dla_skipped"]
    assert side["build_options"]["dla_core"] is None and side["build_options"]["dla_layers"] is None
    assert not touched(fake, "DLA_core") and not touched(fake, "default_device_type")


def test_dla_layers_that_fall_back_are_counted_in_the_sidecar(tmp_path, cache_dir, install_fake_trt, caplog):
    target = TARGETS["jetson-agx-orin"]
    install_fake_trt("10.3.0.30", dla_unsupported_ops=("ArgMax", "Cast"))
    with caplog.at_level("WARNING", logger="edgeseg.engines"):
        side = json.loads(build(onnx_for(tmp_path, "10.3.0.30", "fp16"), target, tmp_path / "out",
                                gpu_probe=gpu_for(target)).sidecar.read_text())
    assert side["build_options"]["dla_layers"] == {"dla": 2, "gpu": 3}
    assert "DLA core 0 runs 2 of 5 layers" in caplog.text
    install_fake_trt("10.3.0.30", dla_unsupported_ops=("ArgMax", "Cast", "Transpose", "Conv", "Mul", "Add", "Div", "Sub"))
    with pytest.raises(EdgesegError, match="can run none of the 5 layers"):
        build(onnx_for(tmp_path, "10.3.0.30", "fp16"), target, tmp_path / "out2", gpu_probe=gpu_for(target))


def test_wrong_gpu_or_tensorrt_version_is_refused(tmp_path, cache_dir, install_fake_trt, contract_onnx):
    install_fake_trt("10.3.0.30")
    with pytest.raises(EdgesegError, match=r"GPU fake desktop-hopper GPU \(compute capability 9.0\) is not a jetson-orin-nano.*built on the target device"):
        build(contract_onnx, TARGETS["jetson-orin-nano"], tmp_path / "out", gpu_probe=gpu_for(TARGETS["desktop-hopper"]))
    with pytest.raises(EdgesegError, match=r"target jetson-xavier-nx ships TensorRT 8-8.x, but this machine has TensorRT 10.3.0.30"):
        build(contract_onnx, TARGETS["jetson-xavier-nx"], tmp_path / "out", gpu_probe=gpu_for(TARGETS["jetson-xavier-nx"]))
    assert not (tmp_path / "out").exists()


def test_failed_build_leaves_nothing(tmp_path, cache_dir, install_fake_trt, contract_onnx):
    install_fake_trt("10.3.0.30", fail_build=True)
    target = TARGETS["desktop-ada"]
    with pytest.raises(EdgesegError, match="failed to build"):
        build(contract_onnx, target, tmp_path / "out", gpu_probe=gpu_for(target))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_uint8_input_must_feed_a_cast(tmp_path, cache_dir, install_fake_trt, contract_onnx):
    """TensorRT takes a uint8 input only straight into a Cast: Transpose first is refused before building."""
    import onnx

    model = onnx.load(str(contract_onnx))
    cast, transpose = model.graph.node[0], model.graph.node[1]  # image -> Cast -> Transpose
    cast.input[0], cast.output[0], transpose.input[0], transpose.output[0] = "t", "nchw", "image", "t"
    model.graph.node.remove(transpose)
    model.graph.node.insert(0, transpose)
    onnx.save(model, str(contract_onnx))
    fake = install_fake_trt("10.3.0.30")
    target = TARGETS["desktop-ada"]
    with pytest.raises(EdgesegError, match=r"only straight into/out of a Cast, but Transpose_0 \(Transpose\) reads or writes one"):
        build(contract_onnx, target, tmp_path / "out", gpu_probe=gpu_for(target))
    assert not touched(fake, "Builder")


def test_tensorrt8_without_onnx_says_to_install_it(tmp_path, cache_dir, install_fake_trt, contract_onnx):
    """A Jetson without the onnx package: the int32 rewrite is impossible, and the error says what to install."""
    import dataclasses

    from edgeseg.engines.build import build_tensorrt, read_onnx

    install_fake_trt("8.6.2.3")
    facts = dataclasses.replace(read_onnx(contract_onnx), nodes=[], uint8_casts_from_int=[], uint8_not_via_cast=[])
    target = TARGETS["jetson-orin-nano"]
    with pytest.raises(EdgesegError, match="cannot build uint8 labels straight from ArgMax.*pip install onnx"):
        build_tensorrt(facts, target, tmp_path / "out", gpu_probe=gpu_for(target))
