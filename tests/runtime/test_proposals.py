"""Proposal decoding and drawing (numpy + OpenCV), on synthetic outputs and through a real exported DeepMask."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.runtime.proposals import (
    cut_windows,
    decode_proposals,
    draw_proposals,
    paste_mask,
    propose,
    window_boxes,
)


def test_window_grid_covers_the_frame():
    boxes = window_boxes(100, 130, 64, 32)
    xs, ys = sorted({int(b[0]) for b in boxes}), sorted({int(b[1]) for b in boxes})
    assert xs == [0, 32, 64, 66] and ys == [0, 32, 36]
    assert len(boxes) == 12 and set(boxes[:, 2].tolist()) == {64}
    assert window_boxes(40, 50, 64, 16).tolist() == [[0, 0, 64]]  # smaller than a window: one, padded
    with pytest.raises(EdgesegError, match="must be positive"):
        window_boxes(10, 10, 0, 4)


def test_cut_windows_pads_outside_the_frame_with_black():
    frame = np.arange(40 * 50 * 3, dtype=np.uint32).reshape(40, 50, 3).astype(np.uint8)
    patches = cut_windows(frame, np.array([[0, 0, 64], [10, 5, 64]]))
    assert patches.shape == (2, 64, 64, 3)
    assert np.array_equal(patches[0, :40, :50], frame) and not patches[0, 40:].any() and not patches[0, :, 50:].any()
    assert np.array_equal(patches[1, :35, :40], frame[5:, 10:])


def disc_logits(size: int, cx: float, cy: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.where((xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2, 8.0, -8.0).astype(np.float32)


def test_decode_keeps_best_non_overlapping_proposals():
    boxes = np.array([[0, 0, 32], [4, 0, 32], [60, 20, 32], [30, 30, 32]])
    masks = np.stack([
        disc_logits(16, 8, 8, 4),     # window 0: a disc at frame (16, 16), r = 8 px
        disc_logits(16, 6, 8, 4),     # window 1: the same disc seen from 4 px to the right (duplicate)
        disc_logits(16, 8, 8, 6),     # window 2: another object at frame (76, 36)
        disc_logits(16, 8, 8, 4),     # window 3: low score
    ])
    scores = np.array([2.0, 1.0, 3.0, -2.0], np.float32)  # sigmoid: 0.88, 0.73, 0.95, 0.12
    proposals = decode_proposals(masks, scores, boxes, (80, 100, 3), top_k=5, score_threshold=0.5, nms_iou=0.5)
    assert [p.box for p in proposals] == [(60, 20, 32), (0, 0, 32)]  # best first; duplicate and low score gone
    assert [round(p.score, 3) for p in proposals] == [round(1 / (1 + np.exp(-3.0)), 3), round(1 / (1 + np.exp(-2.0)), 3)]
    first = proposals[1].mask
    assert first.shape == (80, 100) and first[16, 16] and not first[16, 30] and not first[40, 60]
    assert abs(int(first.sum()) - np.pi * 8 ** 2) < 0.15 * np.pi * 8 ** 2
    assert len(decode_proposals(masks, scores, boxes, (80, 100), top_k=1)) == 1
    assert len(decode_proposals(masks, scores, boxes, (80, 100), nms_iou=1.0)) == 3  # no suppression


def test_decode_rejects_mismatched_outputs():
    with pytest.raises(EdgesegError, match="one of each per window"):
        decode_proposals(np.zeros((3, 4, 4)), np.zeros(2), np.zeros((3, 3), np.int64), (10, 10))
    with pytest.raises(EdgesegError, match="K x M x M"):
        decode_proposals(np.zeros((3, 4, 5)), np.zeros(3), np.zeros((3, 3), np.int64), (10, 10))


def test_paste_clips_windows_leaving_the_frame():
    mask = paste_mask(np.ones((4, 4)), (-8, 90, 32), 100, 20)
    assert mask.sum() == 10 * 20 and mask[90:, :].all()


def test_draw_outlines_with_scores():
    frame = np.full((80, 100, 3), 40, np.uint8)
    boxes = np.array([[0, 0, 32]])
    proposals = decode_proposals(disc_logits(16, 8, 8, 5)[None], np.array([4.0]), boxes, frame.shape)
    drawn = draw_proposals(frame, proposals, thickness=1)
    assert drawn.shape == frame.shape and np.array_equal(frame, np.full((80, 100, 3), 40, np.uint8))  # copy
    changed = np.any(drawn != frame, axis=2)
    assert changed[6:26, 6:26].any()                           # the outline around the disc
    assert not changed[40:, 40:].any()                         # nothing far away
    yellow = (drawn[..., 0] < 100) & (drawn[..., 1] > 150) & (drawn[..., 2] > 150)  # first colour, BGR (0, 255, 255)
    assert yellow[6:26, 6:26].sum() >= 20                      # anti-aliased, so near the colour, not exact
    assert not changed[16, 16]                                 # outline only, interior untouched


def test_propose_through_onnxruntime_matches_torch(tmp_path):
    """A real DeepMask exported to ONNX gives the runtime the same proposals as the PyTorch model."""
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from edgeseg.preprocess import normalize_image
    from edgeseg.train.models import build_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors; many threads on a busy 2-core machine are much slower
    torch.manual_seed(0)
    model = build_model("deepmask", 1, window=64).eval()
    path = tmp_path / "deepmask.onnx"
    torch.onnx.export(model, (torch.zeros(2, 3, 64, 64),), str(path), opset_version=17, dynamo=False,
                      input_names=["x"], output_names=["mask_logits", "score_logits"],
                      dynamic_axes={"x": {0: "k"}, "mask_logits": {0: "k"}, "score_logits": {0: "k"}})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mean, std = [105.0, 108.0, 110.0], [78.0, 79.0, 78.0]

    def run_onnx(patches):
        return session.run(None, {"x": normalize_image(patches, mean, std)})

    def run_torch(patches):
        with torch.no_grad():
            m, s = model(torch.from_numpy(normalize_image(patches, mean, std)))
        return m.numpy(), s.numpy()

    frame = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    args = {"top_k": 5, "score_threshold": 0.0, "mask_threshold": 0.5}
    a = propose(frame, run_onnx, 64, 16, batch_size=7, **args)
    b = propose(frame, run_torch, 64, 16, batch_size=32, **args)
    torch.set_num_threads(threads)
    assert len(a) == len(b) > 0
    for pa, pb in zip(a, b):
        assert pa.box == pb.box and abs(pa.score - pb.score) < 1e-5
        assert (pa.mask != pb.mask).sum() <= 2  # pixels within 1e-5 of the threshold may flip
