"""The onnxruntime backend on a tiny contract ONNX (real onnxruntime session)."""

import numpy as np
import pytest
from helpers import contract_onnx_expected_labels, make_contract_onnx

from edgeseg.errors import EdgesegError
from edgeseg.runtime.backends import open_backend


def test_ort_backend_matches_reference(tmp_path):
    path, weight, bias = make_contract_onnx(tmp_path / "tiny.onnx", batch=2)
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 48, 3), dtype=np.uint8)
    with open_backend(path) as backend:
        assert backend.name == "onnxruntime" and backend.input_shape == (2, 32, 48, 3)
        labels = backend.infer(images)  # 5 images through a batch-2 model: padded last chunk
    assert labels.dtype == np.uint8 and labels.shape == (5, 32, 48)
    assert np.array_equal(labels, contract_onnx_expected_labels(images, weight, bias))


def test_ort_backend_errors(tmp_path):
    with pytest.raises(EdgesegError, match="does not exist"):
        open_backend(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(EdgesegError, match="not a loadable ONNX model"):
        open_backend(tmp_path / "junk.onnx")
    path, _, _ = make_contract_onnx(tmp_path / "nometa.onnx", metadata=False)
    with open_backend(path) as backend:  # the contract is inferred from the I/O (tests/test_bad_inputs.py)
        assert backend.metadata.num_classes == 256
    path, _, _ = make_contract_onnx(tmp_path / "ok.onnx")
    with open_backend(path) as backend, pytest.raises(EdgesegError, match=r"expects uint8 N x 32 x 48 x 3"):
        backend.infer(np.zeros((1, 10, 10, 3), np.uint8))
