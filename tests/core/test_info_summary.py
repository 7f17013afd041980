"""``edgeseg info``: a short human summary by default, the full record with --json, a built artifact's sidecar."""

from __future__ import annotations

import json

from helpers import make_contract_onnx

from edgeseg.cli import main


def test_checkpoint_summary_is_short_and_names_what_matters(tiny_checkpoint, capsys):
    assert main(["info", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 12  # it printed about 120 lines of JSON before
    fields = {line.split("  ", 1)[0].strip(): line.split("  ", 1)[1].strip() for line in lines[:-1]}
    assert fields["artifact"] == f"{tiny_checkpoint} (checkpoint)"
    assert fields["task"].startswith("semantic, enet")
    assert fields["classes"].startswith("11: 0 Sky, 1 Building, 2 Pole, 3 Road")
    assert fields["precision"] == "fp32" and "NHWC" in fields["input"] and "provenance" in fields
    assert lines[-1] == "(all fields: edgeseg info --json)"


def test_built_cpu_artifact_shows_its_sidecar(tmp_path, capsys):
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=32, width=48)
    assert main(["build", str(path), "--target", "cpu", "--backend", "onnxruntime", "-o", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    built = tmp_path / "out" / "m.cpu.onnx"
    assert main(["info", str(built)]) == 0
    out = capsys.readouterr().out
    import onnxruntime

    assert f"built          target cpu, onnxruntime {onnxruntime.__version__}, at " in out
    assert f"built from     {path} (sha256 " in out and "input          32 x 48 BGR uint8" in out
    assert main(["info", str(built), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["sidecar"]["target"] == "cpu" and record["metadata"]["input"]["height"] == 32
    assert "metadata" not in record["sidecar"]  # once, at the top level


def test_engine_summary_reads_its_sidecar(tmp_path, capsys):
    # A fake engine (no TensorRT here): info reads only the sidecar, which is what a real build writes
    # (the cpu build's sidecar, with the fields a TensorRT build sets).
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=32, width=48)
    assert main(["build", str(path), "--target", "cpu", "--backend", "onnxruntime", "-o", str(tmp_path / "out")]) == 0
    sidecar = json.loads((tmp_path / "out" / "m.cpu.onnx.json").read_text())
    sidecar.update(kind="engine", target="jetson-orin-nano", runtime="tensorrt", runtime_version="10.3.0",
                   gpu={"name": "Orin", "compute_capability": "8.7"})
    (tmp_path / "m.engine").write_bytes(b"fake plan")
    (tmp_path / "m.engine.json").write_text(json.dumps(sidecar))
    capsys.readouterr()
    assert main(["info", str(tmp_path / "m.engine")]) == 0
    out = capsys.readouterr().out
    assert "built          target jetson-orin-nano, tensorrt 10.3.0, GPU Orin (sm 8.7), at " in out
    assert main(["info", str(tmp_path / "m.engine"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {"artifact", "kind", "metadata", "sidecar"} and record["sidecar"]["runtime"] == "tensorrt"
