"""The cpu target for real: `edgeseg build --target cpu --backend onnxruntime`, then `edgeseg eval` on its output.

(The OpenVINO build, the default where openvino is installed, is tested in test_cpu_openvino.py.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import SAMPLES, contract_onnx_expected_labels, make_contract_onnx, rewrite_contract_onnx

from edgeseg.cli import main
from edgeseg.errors import EdgesegError
from edgeseg.runtime.backends import open_backend


def quantize_qdq(src, dst, height, width):
    """An INT8 Q/DQ variant of a contract ONNX (onnxruntime's static quantization, per-channel weights)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.batches = iter([{"image": rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    return rewrite_contract_onnx(dst, precision="int8")


def test_cpu_build_matches_the_source_model(tmp_path, capsys):
    path, weight, bias = make_contract_onnx(tmp_path / "m.onnx", batch=2)
    assert main(["build", str(path), "--target", "cpu", "--backend", "onnxruntime", "-o", str(tmp_path / "out")]) == 0
    artifact = tmp_path / "out" / "m.cpu.onnx"
    side = json.loads((tmp_path / "out" / "m.cpu.onnx.json").read_text())
    import onnxruntime

    assert side["runtime"] == "onnxruntime" and side["runtime_version"] == onnxruntime.__version__
    assert side["target"] == "cpu" and side["gpu"] is None and side["build_options"]["ort_optimization"] == "extended"
    assert side["metadata"]["classes"] == ["class0", "class1", "class2"]
    batch = np.random.default_rng(3).integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    with open_backend(artifact) as backend:  # auto: onnxruntime, sidecar checked
        assert backend.name == "onnxruntime"
        assert np.array_equal(backend.infer(batch), contract_onnx_expected_labels(batch, weight, bias))
    # the same command again: up to date, nothing rebuilt
    mtime = artifact.stat().st_mtime_ns
    assert main(["build", str(path), "--target", "cpu", "--backend", "onnxruntime", "-o", str(tmp_path / "out")]) == 0
    assert "is up to date" in capsys.readouterr().out and artifact.stat().st_mtime_ns == mtime
    # a changed artifact is refused, naming the command that rebuilds it
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(EdgesegError, match=rf"does not match its sidecar.*edgeseg build {path} --target cpu -o {tmp_path / 'out'}"):
        open_backend(artifact)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_build_cpu_then_eval(tmp_path, capsys, precision):
    """`edgeseg build MODEL[.int8].onnx --target cpu` then `edgeseg eval` on the output: the same scores as the source."""
    source, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=36, width=48, num_classes=11, seed=4)
    if precision == "int8":
        source = quantize_qdq(source, tmp_path / "m.int8.onnx", 36, 48)
    assert main(["build", str(source), "--target", "cpu", "--backend", "onnxruntime", "-o", str(tmp_path / "out")]) == 0
    artifact = tmp_path / "out" / f"{source.name[:-5]}.cpu.onnx"
    scores = {}
    for name, model in (("source", source), ("built", artifact)):
        out = tmp_path / f"{name}.json"
        assert main(["eval", str(model), "--data", str(SAMPLES), "--limit", "4", "--json", str(out)]) == 0
        scores[name] = json.loads(out.read_text())
    capsys.readouterr()
    assert scores["built"]["images"] == 4
    assert scores["built"]["miou"] == pytest.approx(scores["source"]["miou"], abs=1e-9)
    assert scores["built"]["per_class_iou"] == scores["source"]["per_class_iou"]
    assert 0.0 <= scores["built"]["miou"] <= 1.0
    if precision == "int8":
        assert json.loads((tmp_path / "out" / "m.int8.cpu.onnx.json").read_text())["metadata"]["precision"] == "int8"
