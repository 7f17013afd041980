"""The cpu target with OpenVINO for real: candidates timed, gated on the built blob, written with a keyed sidecar.

Tiny contract ONNX files (a 1x1 convolution and an argmax), real OpenVINO; the
tests that need OpenVINO skip where it is not installed, the fallback test
runs there too.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from helpers import SAMPLES, contract_onnx_expected_labels, make_contract_onnx

from edgeseg.cli import main
from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.runtime.backends import open_backend

AGREEMENT = 0.999  # float32 in another summation order than numpy: a near-tie may flip


def int8_variant(src, dst, height, width, *, fp32_sha256):
    """An INT8 Q/DQ variant of a contract ONNX with the calibration record ``edgeseg quantize`` writes."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.batches = iter([{"image": rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    model = onnx.load(str(dst))
    for prop in model.metadata_props:
        if prop.key == "edgeseg":
            meta = json.loads(prop.value)
            meta["precision"] = "int8"
            meta["calibration"] = {"method": "minmax", "num_images": 4, "fp32_onnx_sha256": fp32_sha256}
            prop.value = json.dumps(meta)
    onnx.save(model, str(dst))
    return dst


@pytest.fixture
def openvino():
    return pytest.importorskip("openvino")


def test_build_without_gate_data_picks_the_exact_model(tmp_path, capsys, cache_dir, openvino):
    path, weight, bias = make_contract_onnx(tmp_path / "m.onnx", batch=2)
    out = tmp_path / "out"
    assert main(["build", str(path), "--target", "cpu", "--threads", "1", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    artifact, sidecar = out / "m.cpu.blob", out / "m.cpu.blob.json"
    assert sorted(p.name for p in out.iterdir()) == ["m.cpu.blob", "m.cpu.blob.json"]  # no temporary left
    side = json.loads(sidecar.read_text())
    assert "cpu target: picked fp32" in printed and "without --eval-data only the input ONNX at f32" in printed
    assert side["runtime"] == "openvino" and side["runtime_version"] == str(openvino.get_version())
    assert side["build_options"]["inference_precision_hint"] == "f32" and side["build_options"]["threads"] == 1
    key_options = side["key_fields"]["options"]
    assert key_options["threads"] == 1 and key_options["cpu"]["model"] == side["cpu"]["model"]
    assert isinstance(key_options["cpu"]["isa"], list)
    hints = {c["hint"] for c in key_options["candidates"]}
    assert "f32" in hints  # bf16/f16 join where this CPU has them
    picked = [c for c in side["selection"]["candidates"] if c["name"] == side["selection"]["picked"]]
    assert picked and picked[0]["gate"] == "exact" and picked[0]["median_ms"] > 0
    assert all(c["gate"] in ("exact", "not scored (no --eval-data)") for c in side["selection"]["candidates"])

    images = np.random.default_rng(3).integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    with open_backend(artifact, threads=1) as backend:  # auto: .blob -> openvino, sidecar checked
        assert backend.name == "openvino" and backend.precision_hint == "f32" and backend.input_shape == (2, 32, 48, 3)
        labels = backend.infer(images)
    assert (labels == contract_onnx_expected_labels(images, weight, bias)).mean() >= AGREEMENT

    # the same build again: up to date, nothing rebuilt; another thread count is another key
    mtime = artifact.stat().st_mtime_ns
    assert main(["build", str(path), "--target", "cpu", "--threads", "1", "-o", str(out)]) == 0
    assert "is up to date" in capsys.readouterr().out and artifact.stat().st_mtime_ns == mtime
    assert main(["build", str(path), "--target", "cpu", "--threads", "2", "-o", str(out)]) == 0
    assert "is up to date" not in capsys.readouterr().out
    assert json.loads(sidecar.read_text())["build_options"]["threads"] == 2


def test_blob_refused_when_altered_or_from_another_cpu_or_version(tmp_path, capsys, cache_dir, openvino):
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx")
    out = tmp_path / "out"
    assert main(["build", str(path), "--target", "cpu", "-o", str(out)]) == 0
    capsys.readouterr()
    artifact, sidecar = out / "m.cpu.blob", out / "m.cpu.blob.json"
    good = json.loads(sidecar.read_text())
    rebuild = rf"edgeseg build {path} --target cpu -o {out}"

    other_cpu = json.loads(json.dumps(good))
    other_cpu["cpu"]["model"] = "Some Other CPU"
    sidecar.write_text(json.dumps(other_cpu))
    with pytest.raises(EdgesegError, match=rf"compiled for CPU Some Other CPU .* rebuild it here with: {rebuild}"):
        open_backend(artifact)
    other_version = dict(good, runtime_version="2020.1.0-0000")
    sidecar.write_text(json.dumps(other_version))
    with pytest.raises(EdgesegError, match=rf"built with openvino 2020.1.0-0000 but this machine has .*{rebuild}"):
        open_backend(artifact)
    sidecar.write_text(json.dumps(good))
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(EdgesegError, match=rf"does not match its sidecar.*{rebuild}"):
        open_backend(artifact)
    assert main(["eval", str(artifact), "--data", str(SAMPLES)]) == 2  # the CLI: one message, no traceback
    assert "does not match its sidecar" in capsys.readouterr().err


def test_build_gates_every_candidate_it_considers_on_the_built_blob(tmp_path, capsys, cache_dir, openvino):
    from edgeseg.hashing import sha256_file

    source, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=36, width=48, num_classes=11, seed=4)
    int8 = int8_variant(source, tmp_path / "m.int8.onnx", 36, 48, fp32_sha256=sha256_file(source))
    out = tmp_path / "out"
    # m.int8.onnx beside m.onnx is found (its calibration names m.onnx's sha256)
    assert main(["build", str(source), "--target", "cpu", "--threads", "1", "--eval-data", str(SAMPLES),
                 "--eval-limit", "4", "-o", str(out)]) == 0
    capsys.readouterr()
    side = json.loads((out / "m.cpu.blob.json").read_text())
    selection = side["selection"]
    names = [c["name"] for c in selection["candidates"]]
    assert {"fp32", "int8"} <= set(names)
    assert {c["onnx"] for c in selection["candidates"]} == {str(source), str(int8)}
    # a candidate OpenVINO cannot compile on this CPU is left out with its reason, not a failed build
    assert all(s["why"].startswith("OpenVINO cannot compile") for s in selection["skipped"])
    # the pick is the fastest that passed; every faster one failed its gate; slower ones were not scored
    by_speed = sorted(selection["candidates"], key=lambda c: c["median_ms"])
    index = [c["name"] for c in by_speed].index(selection["picked"])
    assert by_speed[index]["gate"].startswith("pass")
    assert all(c["gate"].startswith("fail") for c in by_speed[:index])
    assert all(c["gate"] == "not scored" for c in by_speed[index + 1:])
    gates = {"exact": 0.0, "bf16": 0.2, "f16": 0.2, "int8": 1.0}
    chosen = by_speed[index]
    # scored with the blob itself: its mIoU matches an eval of the written artifact
    scores = tmp_path / "scores.json"
    assert main(["eval", str(out / "m.cpu.blob"), "--data", str(SAMPLES), "--limit", "4", "--json", str(scores)]) == 0
    capsys.readouterr()
    assert json.loads(scores.read_text())["miou"] == pytest.approx(chosen["miou"], abs=1e-9)
    reference = tmp_path / "reference.json"
    assert main(["eval", str(source), "--data", str(SAMPLES), "--limit", "4", "--json", str(reference)]) == 0
    capsys.readouterr()
    gate = "int8" if chosen["precision"] == "int8" else {"f32": "exact"}.get(chosen["inference_precision_hint"], "bf16")
    drop = 100 * (json.loads(reference.read_text())["miou"] - chosen["miou"])
    assert drop <= gates[gate] + 1e-9 or gate == "exact"
    assert side["metadata"]["precision"] == chosen["precision"]  # the sidecar describes what the blob runs
    assert side["key_fields"]["options"]["gate"]["limit"] == 4


def test_int8_from_another_onnx_is_refused(tmp_path, cache_dir, openvino):
    source, _, _ = make_contract_onnx(tmp_path / "m.onnx", seed=1)
    int8 = int8_variant(source, tmp_path / "other.int8.onnx", 32, 48, fp32_sha256="0" * 64)
    with pytest.raises(EdgesegError, match=r"other\.int8\.onnx was calibrated from another FP32 ONNX .*edgeseg quantize"):
        from edgeseg.engines.build import build
        from edgeseg.engines.targets import get_target

        build(source, get_target("cpu"), tmp_path / "out", int8=[int8])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_without_openvino_the_cpu_target_is_onnxruntime(tmp_path, capsys, cache_dir, monkeypatch):
    path, weight, bias = make_contract_onnx(tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    assert main(["build", str(path), "--target", "cpu", "-o", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.cpu.onnx", "m.cpu.onnx.json"]
    assert json.loads((tmp_path / "out" / "m.cpu.onnx.json").read_text())["runtime"] == "onnxruntime"
    with pytest.raises(MissingDependencyError, match=r"pip install 'edgeseg\[openvino\]'"):
        from edgeseg.engines.build import build
        from edgeseg.engines.targets import get_target

        build(path, get_target("cpu"), tmp_path / "ov", backend="openvino")


def test_cpu_identity_reads_model_and_kernel_flags():
    from edgeseg.cpu_facts import cpu_identity

    x86 = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse4_2 avx2 avx512f avx512_vnni amx_bf16 ht\n\n" \
          "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse4_2\n"
    ident = cpu_identity(x86)
    assert ident["model"] == "Intel(R) Xeon(R) Processor"
    assert ident["isa"] == ["sse4_2", "avx2", "avx512f", "avx512_vnni", "amx_bf16"]  # the first CPU's; fpu/ht select no kernels
    arm = "processor\t: 0\nFeatures\t: fp asimd asimdhp asimddp sve i8mm\nCPU part\t: 0xd42\n"
    assert cpu_identity(arm)["isa"] == ["asimd", "asimdhp", "asimddp", "sve", "i8mm"]
