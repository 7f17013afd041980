"""The Python API: ``from edgeseg.runtime import Segmenter, open_source, open_sink``, and its documented loop."""

from __future__ import annotations

import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import COMMITTED_ENET, ROOT, contract_onnx_expected_labels, read_video_frames

from edgeseg.errors import EdgesegError
from edgeseg.runtime import Segmenter, open_sink, open_source
from edgeseg.runtime.overlay import palette_lut


@pytest.mark.parametrize("height, width", [(96, 128), (360, 480), (541, 961)])
def test_segment_takes_any_frame_size_and_returns_labels_at_that_size(small_onnx, height, width):
    path, weight, bias = small_onnx
    frame = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    with Segmenter(path) as seg:
        assert seg.input_size == (96, 128) and len(seg.classes) == 11
        labels = seg.segment(frame)
    assert labels.shape == (height, width) and labels.dtype == np.uint8
    small = cv2.resize(frame, (128, 96), interpolation=cv2.INTER_LINEAR) if (height, width) != (96, 128) else frame
    expected = cv2.resize(contract_onnx_expected_labels(small[None], weight, bias)[0], (width, height),
                          interpolation=cv2.INTER_NEAREST)
    # onnxruntime and numpy sum the 1x1 conv in different orders: a near-tie may flip a pixel or two.
    assert (labels == expected).mean() > 0.999


def test_overlay_views_and_linear_filter(small_onnx):
    frame = np.full((192, 256, 3), 90, np.uint8)
    frame[:, 128:] = 200
    with Segmenter(small_onnx[0], filter="linear") as seg:
        labels = seg.segment(frame)
        assert set(np.unique(labels)) <= set(range(11))
        drawn = seg.overlay(frame, labels, alpha=1.0)
        assert np.array_equal(drawn, palette_lut(seg.metadata.palette)[labels])
        assert seg.overlay(frame, view="side-by-side").shape == (192, 512, 3)  # labels=None: segments first
        assert seg.overlay(frame, labels, view="mask", ignore=[int(labels[0, 0])])[0, 0].tolist() == [0, 0, 0]


def test_bad_frames_and_options_are_clear_errors(small_onnx):
    with Segmenter(small_onnx[0]) as seg:
        with pytest.raises(EdgesegError, match=r"wants one uint8 H x W x 3 BGR frame .*got float32 \(10, 10, 3\)"):
            seg.segment(np.zeros((10, 10, 3), np.float32))
        with pytest.raises(EdgesegError, match=r"got uint8 \(10, 10\)"):
            seg.segment(np.zeros((10, 10), np.uint8))
    with pytest.raises(EdgesegError, match="--filter 'cubic' is not one of linear, point"):
        Segmenter(small_onnx[0], filter="cubic")


@pytest.mark.parametrize("kwargs, message", [
    ({"providers": ["cuda"]}, "--providers cuda: execution providers are onnxruntime's; .*camvid_enet.pt runs on torch"),
    ({"threads": 2}, "--threads 2: inference threads are onnxruntime's and OpenVINO's; .* runs on torch"),
])
def test_flags_that_cannot_apply_are_refused_before_loading(kwargs, message):
    with pytest.raises(EdgesegError, match=message):
        Segmenter(COMMITTED_ENET, **kwargs)


def test_importing_the_api_loads_no_opencv_or_backend():
    code = "import sys, edgeseg.runtime as r; print(sorted({'cv2', 'onnxruntime', 'torch'} & set(sys.modules)), r.__all__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("[] [") and "'Segmenter'" in out and "'open_sink'" in out and "'open_source'" in out


def docs_loop() -> str:
    text = (ROOT / "docs" / "python_api.md").read_text()
    block = re.search(r"<!-- runnable slow -->\n```python\n(.*?)```", text, re.S)
    assert block, "docs/python_api.md lost its runnable loop"
    return block.group(1)


def test_the_documented_loop_on_the_sample_clip(small_onnx, tmp_path):
    # The docs' loop line for line, with a small ONNX for the committed .pt (its as-written run is slow:
    # tests/test_docs_blocks.py under `make test-slow`). Real decoding, onnxruntime and H.264 encoding.
    code = docs_loop()
    assert len(code.strip().splitlines()) <= 12 and code.count("models/camvid_enet.pt") == 1
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    result = subprocess.run([sys.executable, "-c", code.replace("models/camvid_enet.pt", str(small_onnx[0]))],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / "out" / "api_overlay.mp4"
    assert result.stdout.strip() == f"{out.relative_to(tmp_path)} (40 frames)"
    frames, source = read_video_frames(out), read_video_frames(ROOT / "samples" / "video" / "camvid_0016E5_40f.mp4")
    assert len(frames) == 40 and frames[0].shape == source[0].shape
    # blended at alpha 0.5: neither the plain frame nor empty
    assert 10 < np.abs(frames[20].astype(np.int16) - source[20]).mean() < 120


def test_open_source_and_open_sink_are_the_runtime_ones(sample_video, tmp_path):
    source = open_source(str(sample_video))
    sink = open_sink(str(tmp_path / "copy.mp4"), fps=source.fps)
    while (frame := source.read()) is not None:
        sink.write(frame)
    source.close()
    assert sink.close() == f"{tmp_path / 'copy.mp4'} (40 frames)"
