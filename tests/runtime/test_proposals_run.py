"""``edgeseg run`` with a proposals ONNX (DeepMask) end to end, and the refusals around it.

A tiny DeepMask (window 64, stride 32) is built and exported through the CLI
for 96 x 128 frames (6 windows); its last layers are biased so every window
proposes a centred disc with objectness ~0.98 (see
``helpers.make_proposals_checkpoint``): where the outlines must appear is known.
Real video decoding, real onnxruntime, real encoding.
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from helpers import SAMPLES, heavy_modules_after_run, make_proposals_checkpoint, read_video_frames

from edgeseg.cli import main
from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.proposals import window_boxes
from edgeseg.runtime.tasks.proposals import ProposalOptions, ProposalPredictor, ProposalRenderer

WINDOW, STRIDE, FRAME = 64, 32, (96, 128)



@pytest.fixture(scope="module")
def proposals_model(tmp_path_factory):
    """(checkpoint, onnx) of the confident tiny DeepMask, exported with ``edgeseg export``."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("proposals_run")
    ckpt = make_proposals_checkpoint(folder / "deepmask.pt", window=WINDOW, stride=STRIDE, frame=FRAME)
    onnx_path = folder / "deepmask.onnx"
    code = main(["export", str(ckpt), "-o", str(onnx_path), "--parity-images", str(SAMPLES / "val"), "--parity-count", "1"])
    torch.set_num_threads(threads)
    assert code == 0
    return ckpt, onnx_path


def expected_proposals(onnx_path, source_frame, **options):
    """The proposals the runtime must find on one source frame (resized to the model's frame size)."""
    with open_backend(onnx_path) as backend:
        resized = cv2.resize(source_frame, (backend.frame_size[1], backend.frame_size[0]), interpolation=cv2.INTER_LINEAR)
        return ProposalPredictor(backend, ProposalOptions(**options))(resized)


def test_backend_runs_windows_and_predictor_finds_the_discs(proposals_model, sample_video):
    _, onnx_path = proposals_model
    with open_backend(onnx_path) as backend:
        assert backend.task == "proposals" and backend.frame_size == FRAME
        assert backend.input_shape == (6, WINDOW, WINDOW, 3) and backend.batch_size == 6
        windows = np.random.default_rng(0).integers(0, 256, (8, WINDOW, WINDOW, 3), dtype=np.uint8)
        outputs = backend.run({"windows": windows})  # 8 windows: one full batch of 6, one padded batch of 2
        assert outputs["mask_logits"].shape == (8, 16, 16) and outputs["mask_logits"].dtype == np.float32
        assert outputs["scores"].shape == (8,) and outputs["scores"].dtype == np.float32
        first_six = backend.run({"windows": windows[:6]})
        np.testing.assert_allclose(outputs["scores"][:6], first_six["scores"], rtol=0, atol=1e-6)
        with pytest.raises(Exception, match="needs a semantic model"):
            backend.infer(np.zeros((1, *FRAME, 3), np.uint8))
        with pytest.raises(Exception, match="expects uint8 N x 64 x 64 x 3 BGR windows"):
            backend.run({"windows": np.zeros((1, 32, 32, 3), np.uint8)})
    frame = read_video_frames(sample_video)[0]
    proposals = expected_proposals(onnx_path, frame)
    # every window's disc, none suppressed (neighbouring discs overlap by IoU ~0.06), best first
    assert sorted(p.box for p in proposals) == sorted(tuple(b) for b in window_boxes(*FRAME, WINDOW, STRIDE).tolist())
    assert all(0.95 < p.score < 1.0 for p in proposals)
    assert [p.score for p in proposals] == sorted((p.score for p in proposals), reverse=True)
    for p in proposals:  # a disc of radius 20 px centred in its window
        x, y, side = p.box
        cy, cx = y + side // 2, x + side // 2
        assert p.mask[cy, cx] and not p.mask[cy, min(cx + 24, FRAME[1] - 1)] and abs(p.mask.sum() - np.pi * 400) < 0.15 * np.pi * 400
    assert len(expected_proposals(onnx_path, frame, top_k=2)) == 2
    assert expected_proposals(onnx_path, frame, score_threshold=0.999) == []


def test_run_draws_proposals_into_an_mp4_with_every_frame(proposals_model, sample_video, tmp_path):
    _, onnx_path = proposals_model
    out, stats = tmp_path / "proposals.mp4", tmp_path / "stats.json"
    assert main(["run", str(onnx_path), "--source", str(sample_video), "--sink", str(out), "--stats", str(stats)]) == 0
    written, sources = read_video_frames(out), read_video_frames(sample_video)
    assert len(written) == len(sources) == 40
    report = json.loads(stats.read_text())
    assert report["frames"] == 40 and report["error"] is None
    height, width = sources[0].shape[:2]
    fps_box = np.zeros((height, width), bool)
    fps_box[:34, width - 120:] = True  # where the FPS figure is drawn
    for index in (0, 19, 39):
        source, output = sources[index].astype(np.int16), written[index].astype(np.int16)
        expected = ProposalRenderer(show_fps=False).render(sources[index], expected_proposals(onnx_path, sources[index]))
        drawn = np.any(expected != sources[index], axis=2) & ~fps_box
        assert drawn.sum() > 2000  # six outlines of radius ~75 px at 480 x 360, and their scores
        # Where outlines were drawn, the video holds them (it is closer to the drawing than to the plain frame);
        # elsewhere it is the plain frame, up to mp4v's re-encoding error.
        to_drawing = np.abs(output - expected.astype(np.int16)).sum(2)[drawn].mean()
        to_plain = np.abs(output - source).sum(2)[drawn].mean()
        print(f"frame {index}: {drawn.sum()} drawn pixels, mean abs error to the drawing {to_drawing:.1f}, "
              f"to the plain frame {to_plain:.1f}")
        assert to_drawing < to_plain / 3, (index, to_drawing, to_plain)
        assert np.abs(output - source).sum(2)[~drawn & ~fps_box].mean() < 12


def test_run_image_sink_matches_the_renderer_exactly(proposals_model, sample_video, tmp_path):
    """``--overlay none`` (outlines on black, no FPS text) into PNGs: bit-exact against predictor + renderer."""
    _, onnx_path = proposals_model
    folder = tmp_path / "frames"
    assert main(["run", str(onnx_path), "--source", str(sample_video), "--sink", f"{folder}/", "--overlay", "none",
                 "--max-frames", "3", "--top-k", "2", "--score-threshold", "0.9", "--nms-iou", "0.3",
                 "--mask-threshold", "0.5"]) == 0
    images = sorted(folder.iterdir())
    assert len(images) == 3
    for path, source in zip(images, read_video_frames(sample_video)[:3]):
        proposals = expected_proposals(onnx_path, source, top_k=2, score_threshold=0.9, nms_iou=0.3)
        assert len(proposals) == 2
        expected = ProposalRenderer(mode="none").render(source, proposals)
        assert np.any(expected, axis=2).sum() > 500  # two outlines and scores on black
        assert np.array_equal(cv2.imread(str(path)), expected)


def expect_error(argv, capsys, text):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert text in err and "Traceback" not in err


@pytest.mark.parametrize(("flags", "message"), [
    (["--top-k", "0"], "--top-k: expected an integer >= 1, got 0"),
    (["--score-threshold", "1.5"], "--score-threshold: expected a number from 0 to 1, got 1.5"),
    (["--nms-iou", "-0.1"], "--nms-iou: expected a number from 0 to 1, got -0.1"),
    (["--legend"], "--legend lists classes of a semantic model; a proposals model has none"),
])
def test_run_refuses_bad_proposal_options(proposals_model, sample_video, tmp_path, capsys, flags, message):
    _, onnx_path = proposals_model
    out = tmp_path / "out.mp4"
    expect_error(["run", str(onnx_path), "--source", str(sample_video), "--sink", str(out), *flags], capsys, message)
    assert not out.exists()


def test_proposal_options_on_a_semantic_model_are_refused(small_onnx, sample_video, capsys):
    path, _, _ = small_onnx
    expect_error(["run", str(path), "--source", str(sample_video), "--sink", "null", "--top-k", "3"], capsys,
                 "--top-k: for proposal models (DeepMask, SharpMask)")


def test_semantic_commands_refuse_a_proposals_model(proposals_model, capsys):
    ckpt, onnx_path = proposals_model
    expect_error(["eval", str(onnx_path), "--data", str(SAMPLES), "--split", "val"], capsys,
                 "edgeseg eval (mIoU of class labels) needs a semantic model (per-pixel class labels), but deepmask "
                 "is a proposals model")
    expect_error(["run", str(ckpt), "--source", str(SAMPLES / "val"), "--sink", "null"], capsys,
                 "is a proposals model (deepmask); the torch backend runs semantic checkpoints only: export it first")


def test_tensorrt_backend_runs_the_proposals_contract(proposals_model, tmp_path, monkeypatch):
    """The real builder and TensorRT backend against the FAKE TensorRT and CUDA of tests/fakes (no GPU here).

    The fake engine's "model" returns each window's blue channel (top-left M x M) as mask logits and its
    mean pixel / 255 as score, so the values prove every buffer's copy in and out.
    """
    from fakes.fake_cuda import FakeCudaRuntime
    from fakes.fake_tensorrt import make_fake_tensorrt

    from edgeseg.cuda_rt import CudaRuntime, GpuInfo
    from edgeseg.engines.build import build
    from edgeseg.engines.targets import get_target
    from edgeseg.runtime.backends.trt import TrtBackend

    _, onnx_path = proposals_model
    monkeypatch.setenv("EDGESEG_CACHE_DIR", str(tmp_path / "cache"))
    cuda = FakeCudaRuntime("Orin", 8, 7)
    monkeypatch.setitem(sys.modules, "tensorrt", make_fake_tensorrt("10.3.0.30", cuda=cuda))
    result = build(onnx_path, get_target("jetson-orin-nano"), tmp_path / "out", gpu_probe=lambda: GpuInfo("Orin", "8.7"))
    backend = TrtBackend(result.artifact, cuda=CudaRuntime(cuda), cuda_graphs=False)
    try:
        assert backend.task == "proposals" and backend.input_shape == (6, WINDOW, WINDOW, 3)
        windows = np.random.default_rng(1).integers(0, 256, (8, WINDOW, WINDOW, 3), dtype=np.uint8)
        outputs = backend.run({"windows": windows})
        assert np.array_equal(outputs["mask_logits"], windows[:, :16, :16, 0].astype(np.float32))
        np.testing.assert_allclose(outputs["scores"], windows.reshape(8, -1).mean(1) / 255, rtol=1e-5)
        assert outputs["scores"].dtype == np.float32
        proposals = ProposalPredictor(backend, ProposalOptions(score_threshold=0.0))(
            np.full((*FRAME, 3), 200, np.uint8))
        assert proposals and all(abs(p.score - 200 / 255) < 1e-5 for p in proposals)
    finally:
        backend.close()
    assert cuda.device == set() and cuda.host == set()


def test_proposals_run_imports_no_torch(proposals_model, tmp_path):
    """The proposals path, like the semantic one, runs without torch, onnx, edgeseg.train or edgeseg.export."""
    _, onnx_path = proposals_model
    assert heavy_modules_after_run(onnx_path, tmp_path / "out.avi", 128, 96) == []
