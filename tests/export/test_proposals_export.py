"""``edgeseg export`` of proposal checkpoints (DeepMask, SharpMask): contract, metadata, parity, refusals.

Tiny real models (window 64, random trunk) exported through the CLI and run
by real onnxruntime against eager PyTorch on windows cut from bundled images.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from helpers import SAMPLES, make_proposals_checkpoint

from edgeseg.cli import main
from edgeseg.export.tolerances import PROPOSALS_MASK_LOGITS_ATOL, PROPOSALS_SCORES_ATOL
from edgeseg.metadata import ONNX_METADATA_KEY, ModelMetadata
from edgeseg.preprocess import normalize_bgr, resize_to_input
from edgeseg.runtime.proposals import cut_windows, window_boxes

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

WINDOW, STRIDE, FRAME = 64, 32, (96, 128)
K = len(window_boxes(*FRAME, WINDOW, STRIDE))  # 2 rows x 3 columns = 6


@pytest.fixture(scope="module")
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors on a busy 2-core machine: one thread is faster
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, single_thread):
    """(checkpoint, onnx) of a confident tiny DeepMask, exported through the CLI with the default K."""
    folder = tmp_path_factory.mktemp("proposals_export")
    ckpt = make_proposals_checkpoint(folder / "deepmask.pt", window=WINDOW, stride=STRIDE, frame=FRAME)
    out = folder / "deepmask.onnx"
    assert main(["export", str(ckpt), "-o", str(out), "--parity-images", str(SAMPLES / "val"), "--parity-count", "2"]) == 0
    return ckpt, out


def io_of(path):
    model = onnx.load(str(path))

    def describe(values):
        return {v.name: (onnx.TensorProto.DataType.Name(v.type.tensor_type.elem_type),
                         [d.dim_value for d in v.type.tensor_type.shape.dim]) for v in values}

    props = {p.key: p.value for p in model.metadata_props}
    return describe(model.graph.input), describe(model.graph.output), json.loads(props[ONNX_METADATA_KEY])


def test_export_writes_the_proposals_contract_and_metadata(exported, capsys):
    _, path = exported
    inputs, outputs, meta = io_of(path)
    assert inputs == {"windows": ("UINT8", [K, WINDOW, WINDOW, 3])}
    assert outputs == {"mask_logits": ("FLOAT", [K, 16, 16]), "scores": ("FLOAT", [K])}
    assert meta["task"] == "proposals"
    assert (meta["input"]["height"], meta["input"]["width"], meta["input"]["multiple"]) == (*FRAME, 1)
    assert (meta["arch_args"]["window"], meta["arch_args"]["stride"]) == (WINDOW, STRIDE)
    assert ModelMetadata.from_dict(meta).window_geometry == (WINDOW, STRIDE)


def test_onnx_matches_pytorch_on_windows_of_real_frames(exported):
    """Independent of the exporter's own check: ORT vs. eager PyTorch, sigmoid applied to the scores in the graph."""
    import cv2

    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt, path = exported
    model, meta = model_from_checkpoint(load_checkpoint(ckpt))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    boxes = window_boxes(*FRAME, WINDOW, STRIDE)
    images = sorted((SAMPLES / "val").iterdir())[-3:]  # not the ones the exporter checked
    assert images
    for image_path in images:
        frame = resize_to_input(cv2.imread(str(image_path)), *FRAME)
        windows = cut_windows(frame, boxes)
        masks, scores = session.run(["mask_logits", "scores"], {"windows": windows})
        assert masks.dtype == np.float32 and scores.dtype == np.float32
        with torch.no_grad():
            ref_masks, ref_logits = model(torch.from_numpy(normalize_bgr(windows, meta.input.mean, meta.input.std)))
        ref_scores = torch.sigmoid(ref_logits).numpy()
        assert np.abs(masks - ref_masks.numpy()).max() <= PROPOSALS_MASK_LOGITS_ATOL
        assert np.abs(scores - ref_scores).max() <= PROPOSALS_SCORES_ATOL
        assert 0.9 < scores.min() <= scores.max() < 1.0  # probabilities (the confident model: sigmoid(~4))
        assert np.ptp(scores) > 1e-6  # and they depend on the windows, so the comparison means something


def test_batch_override_and_sharpmask(tmp_path, single_thread, capsys):
    """``--batch`` fixes K; SharpMask (bilinear refinement, M = window / 2) exports too."""
    ckpt = make_proposals_checkpoint(tmp_path / "sharpmask.pt", architecture="sharpmask", window=WINDOW, stride=STRIDE,
                                     frame=FRAME, confident=False)
    out = tmp_path / "sharpmask.onnx"
    assert main(["export", str(ckpt), "-o", str(out), "--batch", "4", "--height", "64", "--width", "80",
                 "--parity-images", str(SAMPLES / "val"), "--parity-count", "1"]) == 0
    inputs, outputs, meta = io_of(out)
    assert inputs == {"windows": ("UINT8", [4, WINDOW, WINDOW, 3])}
    assert outputs == {"mask_logits": ("FLOAT", [4, 32, 32]), "scores": ("FLOAT", [4])}
    assert (meta["input"]["height"], meta["input"]["width"], meta["architecture"]) == (64, 80, "sharpmask")
    assert "windows uint8 4x64x64x3 BGR -> mask_logits float32 4x32x32" in capsys.readouterr().out


def expect_error(argv, capsys, text, out=None):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert text in err and "Traceback" not in err
    if out is not None:
        assert not out.exists()


def test_export_refusals(tmp_path, exported, capsys):
    ckpt, _ = exported
    out = tmp_path / "x.onnx"
    expect_error(["export", str(ckpt), "-o", str(out), "--logits"], capsys,
                 "--logits is for semantic models; a proposals ONNX always outputs mask_logits and scores", out)
    no_frame = make_proposals_checkpoint(tmp_path / "no_frame.pt", frame=None, confident=False)
    expect_error(["export", str(no_frame), "-o", str(out)], capsys,
                 "does not record the frame size it was trained on; pass --height and --width", out)
    expect_error(["export", str(ckpt), "-o", str(out), "--batch", "0"], capsys, "--batch: expected an integer from 1 to 4096, got 0", out)


def test_quantize_refuses_a_proposals_onnx(exported, tmp_path, capsys):
    _, path = exported
    for precision in ("fp16", "int8"):
        out = tmp_path / f"x.{precision}.onnx"
        expect_error(["quantize", str(path), "--precision", precision, "-o", str(out), "--calib", str(SAMPLES / "val")],
                     capsys, "is a proposals model (deepmask); 'edgeseg quantize' makes FP16/INT8 variants of semantic "
                     "models only", out)


def test_metadata_task_defaults_to_semantic_and_is_validated():
    semantic = {"schema_version": 1, "architecture": "enet", "classes": ["a"], "palette": [[0, 0, 0]],
                "input": {"height": 8, "width": 8}}
    meta = ModelMetadata.from_dict(semantic)  # written before the field existed
    assert meta.task == "semantic" and "task" not in meta.to_dict()  # and still readable by those versions
    with pytest.raises(Exception, match="task 'boxes' is not one of"):
        ModelMetadata.from_dict({**semantic, "task": "boxes"})
    with pytest.raises(Exception, match="a proposals model needs arch_args.window as a positive integer"):
        ModelMetadata.from_dict({**semantic, "task": "proposals", "arch_args": {"stride": 16}})
    proposals = ModelMetadata.from_dict({**semantic, "task": "proposals", "arch_args": {"window": 64, "stride": 16}})
    assert proposals.to_dict()["task"] == "proposals" and proposals.window_geometry == (64, 16)


def test_parity_check_catches_a_preprocessing_mismatch(exported):
    """The exporter's check fails when PyTorch is fed other normalisation than the graph has (a real export bug's symptom)."""
    from dataclasses import replace

    from edgeseg.export.parity import onnx_vs_torch
    from edgeseg.export.tasks.proposals import parity_windows
    from edgeseg.images import load_image_folder
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt, path = exported
    model, meta = model_from_checkpoint(load_checkpoint(ckpt))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = load_image_folder(SAMPLES / "val", *FRAME, count=2).images
    windows = parity_windows(images, window_boxes(*FRAME, WINDOW, STRIDE), 16)
    good = onnx_vs_torch(model, meta, session, windows, K)
    assert good.passed and good.count == 2 * K and good.unit == "windows"
    swapped = replace(meta, input=replace(meta.input, mean=meta.input.mean[::-1], std=[1.0, 1.0, 1.0]))
    bad = onnx_vs_torch(model, swapped, session, windows, K)
    assert not bad.passed and bad.measures["mask_logits_max_abs"] > 100 * PROPOSALS_MASK_LOGITS_ATOL, bad.describe()
