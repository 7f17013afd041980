"""A program that knows only the contract can use the ONNX: onnxruntime + onnx, no edgeseg.

The inference runs in a fresh interpreter that imports only numpy, OpenCV,
onnx and onnxruntime, and checks that edgeseg was never imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import SAMPLES

from edgeseg.runtime.backends import open_backend

CLIENT = r"""
import json, sys
import cv2, numpy as np, onnx, onnxruntime as ort

path, image_path, out_path = sys.argv[1:4]
props = {p.key: p.value for p in onnx.load(path).metadata_props}
meta = json.loads(props["edgeseg"])
height, width = meta["input"]["height"], meta["input"]["width"]
frame = cv2.resize(cv2.imread(image_path), (width, height), interpolation=cv2.INTER_LINEAR)
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
(labels,) = session.run(["labels"], {"image": frame[None]})
assert labels.dtype == np.uint8 and labels.shape == (1, height, width), (labels.dtype, labels.shape)
assert not any(name == "edgeseg" or name.startswith("edgeseg.") for name in sys.modules)
np.save(out_path, labels)
print(json.dumps({"classes": meta["classes"], "precision": meta["precision"]}))
"""


@pytest.mark.parametrize("model", ["tiny_int8", "imported_int8"])  # an 'edgeseg export' and an 'edgeseg import'
def test_contract_without_edgeseg(model, request, tmp_path):
    tiny_int8 = request.getfixturevalue(model)
    image_path = sorted((SAMPLES / "val").glob("*.jpg"))[0]
    out = tmp_path / "labels.npy"
    done = subprocess.run([sys.executable, "-c", CLIENT, str(tiny_int8), str(image_path), str(out)],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["precision"] == "int8" and len(info["classes"]) == 11
    # Same labels as the edgeseg runtime computes for the same frame.
    import cv2

    with open_backend(tiny_int8) as backend:
        _, height, width, _ = backend.input_shape
        frame = cv2.resize(cv2.imread(str(image_path)), (width, height), interpolation=cv2.INTER_LINEAR)
        expected = backend.infer(frame[None])
    assert np.array_equal(np.load(out), expected)
