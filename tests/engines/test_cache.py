"""The build key (each field changed alone forces a rebuild), the timing cache and its lock, against a FAKE tensorrt."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time

import pytest
from fakes.fake_tensorrt import make_fake_tensorrt, touched
from helpers import make_contract_onnx

from edgeseg.cuda_rt import GpuInfo
from edgeseg.engines.build import build_tensorrt, read_onnx
from edgeseg.engines.cache import file_lock, merge_timing_cache, timing_cache_path
from edgeseg.engines.targets import get_target

AMPERE = get_target("desktop-ampere")  # two compute capabilities: 8.0 and 8.6
A100 = GpuInfo("NVIDIA A100", "8.0")


class Builds:
    """Runs build_tensorrt with a chosen fake TensorRT version and GPU; counts real builds."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp_path, self.monkeypatch = tmp_path, monkeypatch
        self.count = 0

    def __call__(self, facts, target=AMPERE, *, version="10.3.0.30", gpu=A100, **kwargs):
        fake = make_fake_tensorrt(version)
        self.monkeypatch.setitem(sys.modules, "tensorrt", fake)
        result = build_tensorrt(facts, target, self.tmp_path / "out", gpu_probe=lambda: gpu, **kwargs)
        built = len(touched(fake, "build_serialized_network"))
        assert built == (0 if result.skipped else 1)
        self.count += built
        return result


@pytest.fixture
def builds(tmp_path, monkeypatch, cache_dir):
    return Builds(tmp_path, monkeypatch)


def test_same_inputs_do_not_rebuild(tmp_path, builds):
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx", batch="N")
    first = builds(read_onnx(path))
    again = builds(read_onnx(path))
    assert (builds.count, again.skipped, again.key) == (1, True, first.key)


@pytest.mark.parametrize("field", ["onnx content", "tensorrt version", "gpu name", "compute capability", "precision",
                                   "shapes", "target options", "dla"])
def test_each_key_field_alone_forces_a_rebuild(tmp_path, builds, field):
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx", batch="N")
    facts = read_onnx(path)
    if field == "dla":  # an FP16 model: DLA does not run FP32, so an FP32 build never uses it
        facts = dataclasses.replace(facts, metadata=dataclasses.replace(facts.metadata, precision="fp16"))
    target = get_target("jetson-agx-orin") if field == "dla" else AMPERE
    gpu = GpuInfo("Orin", "8.7") if field == "dla" else GpuInfo("NVIDIA A100", "8.0")
    first = builds(facts, target, gpu=gpu)
    kwargs: dict = {"gpu": gpu}
    if field == "onnx content":
        make_contract_onnx(path, batch="N", seed=1)  # same name, other weights
        facts = read_onnx(path)
    elif field == "tensorrt version":
        kwargs["version"] = "10.4.0.26"
    elif field == "gpu name":
        kwargs["gpu"] = GpuInfo("NVIDIA A30", "8.0")
    elif field == "compute capability":
        kwargs["gpu"] = GpuInfo("NVIDIA A100", "8.6")
    elif field == "precision":
        facts = dataclasses.replace(facts, metadata=dataclasses.replace(facts.metadata, precision="fp16"))
    elif field == "shapes":
        target = dataclasses.replace(target, batch=8)  # the dynamic batch's opt/max
    elif field == "target options":
        target = dataclasses.replace(target, workspace_mib=2048)
    elif field == "dla":
        kwargs["use_dla"] = False
    second = builds(facts, target, **kwargs)
    assert not second.skipped and second.key != first.key and builds.count == 2
    # and the rebuilt artifact is again reused as it is
    assert builds(facts, target, **kwargs).skipped and builds.count == 2


def test_changed_engine_file_forces_a_rebuild(tmp_path, builds):
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx")
    first = builds(read_onnx(path))
    first.artifact.write_bytes(first.artifact.read_bytes()[:-3])  # truncated
    assert not builds(read_onnx(path)).skipped and builds.count == 2


def test_timing_cache_round_trip(tmp_path, builds):
    """Build A writes the cache; build B (another model, same target+version) starts from it and adds its own."""
    cache = timing_cache_path(AMPERE.name, "10.3.0.30")
    a, _, _ = make_contract_onnx(tmp_path / "a.onnx")
    builds(read_onnx(a))
    after_a = set(json.loads(cache.read_bytes()))
    assert len(after_a) == 1
    b, _, _ = make_contract_onnx(tmp_path / "b.onnx", height=64)
    fake = make_fake_tensorrt("10.3.0.30")
    builds.monkeypatch.setitem(sys.modules, "tensorrt", fake)
    build_tensorrt(read_onnx(b), AMPERE, tmp_path / "out", gpu_probe=lambda: GpuInfo("NVIDIA A100", "8.0"))
    (loaded,) = touched(fake, "set_timing_cache")
    assert set(loaded[1]) == after_a and loaded[2] is False
    after_b = set(json.loads(cache.read_bytes()))
    assert after_a < after_b and len(after_b) == 2
    # another TensorRT version gets its own file
    assert timing_cache_path(AMPERE.name, "10.4.0.26") != cache


def test_merge_keeps_entries_written_by_another_build(tmp_path):
    """The merge re-reads the file under the lock: entries another build wrote meanwhile survive."""
    fake = make_fake_tensorrt("10.3.0.30")
    path = tmp_path / "t.cache"
    config = fake.Builder(None).create_builder_config()
    ours = config.create_timing_cache(b"")
    ours.entries.add("ours")
    path.write_bytes(json.dumps(["theirs"]).encode())  # written after our build read the (empty) cache
    merge_timing_cache(path, config, ours)
    assert set(json.loads(path.read_bytes())) == {"ours", "theirs"}


def test_file_lock_is_exclusive(tmp_path):
    path = tmp_path / "t.cache"
    order: list[str] = []
    held = threading.Event()

    def holder():
        with file_lock(path):
            held.set()
            time.sleep(0.2)
            order.append("first released")

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    with file_lock(path):
        order.append("second acquired")
    thread.join()
    assert order == ["first released", "second acquired"]
