"""The OpenVINO backend on a tiny contract ONNX (real OpenVINO), and the one backend-selection function."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import SAMPLES, contract_onnx_expected_labels, make_contract_onnx

from edgeseg.cli import main
from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.runtime.backends import open_backend, resolve_backend

# float32 sums in another order than numpy's: a pixel whose two best classes tie to the last bit may flip
AGREEMENT = 0.999


def test_resolve_backend_by_suffix_and_by_name(tmp_path):
    assert resolve_backend("m.cpu.blob") == "openvino"
    assert resolve_backend("m.onnx") == "onnxruntime"
    assert resolve_backend("m.engine") == "tensorrt"
    assert resolve_backend("m.pt") == "torch"
    assert resolve_backend("m.onnx", "openvino") == "openvino"
    with pytest.raises(EdgesegError, match=r"cannot tell the backend for m\.bin .*\.blob, or pass --backend"):
        resolve_backend("m.bin")
    with pytest.raises(EdgesegError, match="unknown backend 'openvin'; choose one of auto, onnxruntime, openvino"):
        resolve_backend("m.onnx", "openvin")


def test_missing_openvino_names_the_extra(tmp_path, monkeypatch):
    import sys

    path, _, _ = make_contract_onnx(tmp_path / "tiny.onnx")
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'edgeseg\[openvino\]'"):
        open_backend(path, "openvino")


def test_openvino_backend_matches_reference(tmp_path):
    pytest.importorskip("openvino")
    path, weight, bias = make_contract_onnx(tmp_path / "tiny.onnx", batch=2)
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 48, 3), dtype=np.uint8)
    with open_backend(path, "openvino", threads=1) as backend:
        assert backend.name == "openvino" and backend.input_shape == (2, 32, 48, 3)
        assert backend.precision_hint == "f32"  # a plain ONNX runs exact unless asked (not OpenVINO's bf16 default)
        assert int(backend.compiled.get_property("INFERENCE_NUM_THREADS")) == 1
        labels = backend.infer(images)  # 5 images through a batch-2 model: padded last chunk
        again = backend.infer(images[:2])
    expected = contract_onnx_expected_labels(images, weight, bias)
    assert labels.dtype == np.uint8 and labels.shape == (5, 32, 48)
    assert (labels == expected).mean() >= AGREEMENT
    assert np.array_equal(again, labels[:2])  # the returned array is the caller's, not the request's buffer


def test_openvino_backend_dynamic_batch_and_errors(tmp_path):
    pytest.importorskip("openvino")
    path, weight, bias = make_contract_onnx(tmp_path / "dyn.onnx", batch="N")
    images = np.random.default_rng(2).integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    with open_backend(path, "openvino") as backend:
        assert backend.dynamic_batch
        assert (backend.infer(images) == contract_onnx_expected_labels(images, weight, bias)).mean() >= AGREEMENT
        with pytest.raises(EdgesegError, match=r"expects uint8 N x 32 x 48 x 3 BGR images, got uint8 \(1, 16, 48, 3\)"):
            backend.infer(images[:1, :16])
    with pytest.raises(EdgesegError, match="does not exist"):
        open_backend(tmp_path / "missing.onnx", "openvino")
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(EdgesegError, match="junk.onnx"):
        open_backend(tmp_path / "junk.onnx", "openvino")
    (tmp_path / "m.xml").write_text("<net/>")
    with pytest.raises(EdgesegError, match=r"loads \.onnx or a cpu-target \.blob, not \.xml"):
        open_backend(tmp_path / "m.xml", "openvino")


def test_eval_and_bench_with_backend_openvino(tmp_path, capsys):
    pytest.importorskip("openvino")
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=36, width=48, num_classes=11, seed=4)
    scores = {}
    for backend in ("onnxruntime", "openvino"):
        out = tmp_path / f"{backend}.json"
        assert main(["eval", str(path), "--backend", backend, "--threads", "1", "--data", str(SAMPLES),
                     "--limit", "3", "--json", str(out)]) == 0
        scores[backend] = json.loads(out.read_text())
    assert scores["openvino"]["miou"] == pytest.approx(scores["onnxruntime"]["miou"], abs=1e-3)
    bench = tmp_path / "bench.json"
    assert main(["bench", str(path), "--backend", "openvino", "--threads", "1", "--warmup-s", "0", "--min-iters", "10",
                 "--min-time-s", "0", "--json", str(bench)]) == 0
    result = json.loads(bench.read_text())
    import openvino

    assert result["environment"]["backend"] == "openvino" and result["environment"]["threads"] == 1
    assert result["environment"]["openvino"] == openvino.__version__ and result["latency_ms"]["count"] == 10
    capsys.readouterr()
