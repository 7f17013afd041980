"""RGB-D (LSTM-CF) end to end through the CLI: train -> export -> quantize -> eval -> run with a depth stream.

Real parts: LSTM-CF trained for a few seconds on a made-up RGB-D set whose
label is a function of depth (so the model must read the depth channel),
the TorchScript ONNX export, onnxruntime, and colour and depth videos encoded
and decoded with OpenCV's FFmpeg (mp4v).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers import ROOT, make_contract_onnx, write_video

from edgeseg.cli import main
from edgeseg.preprocess import depth_to_u8

H, W = 32, 48
DEPTH_SCALE = 40.0
NAMES = ("a", "b", "c", "d")


def scene_depth(i: int) -> np.ndarray:
    """uint16 H x W millimetres: three vertical bands (near / middle / far) whose borders move with ``i``."""
    depth = np.full((H, W), 7000, np.uint16)
    near_end, middle_end = 10 + 2 * i, 28 + 2 * i
    depth[:, :near_end] = 800 + 50 * i
    depth[:, near_end:middle_end] = 3000
    depth[0, 0] = 0  # a missing reading
    return depth


def make_rgbd_set(root):
    """images/, depth/ (uint16 mm), masks/ for train and val, classes.txt; label = depth band (near, middle, far)."""
    rng = np.random.default_rng(0)
    (root / "classes.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("near\nmiddle\nfar\n")
    for split in ("train", "val"):
        for sub in ("images", "depth", "masks"):
            (root / sub / split).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(NAMES):
            depth = scene_depth(i)
            cv2.imwrite(str(root / "images" / split / f"{name}.png"), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
            cv2.imwrite(str(root / "depth" / split / f"{name}.png"), depth)
            cv2.imwrite(str(root / "masks" / split / f"{name}.png"), np.digitize(depth, [2000, 5000]).astype(np.uint8))
    return root



@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(folder, data root, checkpoint, FP32 ONNX with logits): LSTM-CF trained 20 epochs (~3 s), exported via the CLI."""
    tmp = tmp_path_factory.mktemp("rgbd_deploy")
    root = make_rgbd_set(tmp / "data")
    values = {
        "model.name": '"lstmcf"', "model.args": "{hidden = 8}", "data.kind": '"rgbd"', "data.root": f'"{root}"',
        "data.height": H, "data.width": W, "data.mean": "[128.0, 128.0, 128.0, 100.0]",
        "data.std": "[64.0, 64.0, 64.0, 60.0]", "data.depth_scale": DEPTH_SCALE, "augment.crop_height": H,
        "augment.crop_width": W, "augment.scale_min": 1.0, "augment.scale_max": 1.0, "batch_size": 4,
        "warmup_epochs": 0, "lr": 1e-2, "threads": 1, "class_weighting": '"none"', "epochs": 20,
    }
    overrides = sum((["--set", f"{k}={v}"] for k, v in values.items()), [])
    assert main(["train", str(ROOT / "configs" / "camvid_enet.toml"), "--out", str(tmp / "run"), "--no-progress",
                 *overrides]) == 0
    checkpoint = tmp / "run" / "last.pt"
    onnx_path = tmp / "lstmcf.onnx"
    assert main(["export", str(checkpoint), "-o", str(onnx_path), "--logits", "--parity-data", str(root)]) == 0
    return tmp, root, checkpoint, onnx_path


def val_frames(root) -> np.ndarray:
    """uint8 N x H x W x 4 (B, G, R, depth) of the val split, as eval builds them."""
    frames = []
    for name in NAMES:
        image = cv2.imread(str(root / "images" / "val" / f"{name}.png"))
        depth = cv2.imread(str(root / "depth" / "val" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        frames.append(np.dstack([image, depth_to_u8(depth, DEPTH_SCALE)]))
    return np.stack(frames)


def ort_outputs(path, frames: np.ndarray, names=("labels", "logits")):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = [session.run(list(names), {"image": frame[None]}) for frame in frames]
    return [np.concatenate([o[k] for o in out]) for k in range(len(names))]


def test_export_writes_the_4_channel_contract_and_agrees_with_pytorch(deployed, capsys):
    import onnx
    import torch

    from edgeseg.metadata import ONNX_METADATA_KEY, ModelMetadata
    from edgeseg.preprocess import normalize_image
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    _, root, checkpoint, onnx_path = deployed
    model_proto = onnx.load(str(onnx_path))
    (image,) = model_proto.graph.input
    assert image.name == "image" and image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in image.type.tensor_type.shape.dim] == [1, H, W, 4]
    outputs = {o.name: o.type.tensor_type for o in model_proto.graph.output}
    assert list(outputs) == ["labels", "logits"]
    assert outputs["labels"].elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in outputs["labels"].shape.dim] == [1, H, W]
    assert [d.dim_value for d in outputs["logits"].shape.dim] == [1, 3, H, W]
    props = {p.key: p.value for p in model_proto.metadata_props}
    meta = ModelMetadata.from_json(props[ONNX_METADATA_KEY])
    assert (meta.input.channels, meta.input.depth_scale, meta.precision) == (4, DEPTH_SCALE, "fp32")

    frames = val_frames(root)
    labels, logits = ort_outputs(onnx_path, frames)
    model, _ = model_from_checkpoint(load_checkpoint(checkpoint))
    with torch.no_grad():
        reference = model(torch.from_numpy(normalize_image(frames, meta.input.mean, meta.input.std))).numpy()
    # FP32 vs FP32 on the same graph: logits to 1e-4 (STYLE.md), labels identical on >= 99.9 % of pixels.
    assert np.abs(logits - reference).max() < 1e-4
    assert (labels == reference.argmax(1)).mean() >= 0.999
    # The depth path is live in the graph: with the depth mirrored left-right the labels follow it
    # on many pixels, so the parity above did exercise the depth channel.
    (mirrored,) = ort_outputs(onnx_path, np.concatenate([frames[..., :3], frames[:, :, ::-1, 3:]], -1), ("labels",))
    assert (mirrored != labels).mean() > 0.15  # measured 31 %


def test_export_without_rgbd_data_checks_parity_on_a_depth_ramp(deployed, tmp_path, caplog, capsys):
    from edgeseg.export.rgbd_frames import with_ramp_depth

    ramped = with_ramp_depth(np.zeros((2, 5, 3, 3), np.uint8))
    assert ramped.shape == (2, 5, 3, 4) and ramped[0, :, 0, 3].tolist() == [250, 190, 130, 70, 10]
    _, _, checkpoint, _ = deployed
    caplog.set_level("INFO", logger="edgeseg.export")
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "m.onnx"), "--parity-count", "2"]) == 0
    assert "made-up depth channel (vertical ramp 250..10, top to bottom)" in caplog.text
    out = capsys.readouterr().out
    assert f"image uint8 1x{H}x{W}x4 BGR + depth (40 mm per step) -> labels" in out
    assert "2 images:" in out and "label agreement 100.000 %" in out


def test_eval_scores_the_checkpoint_and_the_onnx_alike(deployed):
    tmp, root, checkpoint, onnx_path = deployed
    scores = {}
    for artifact in (checkpoint, onnx_path):
        report = tmp / f"{artifact.suffix[1:]}.json"
        assert main(["eval", str(artifact), "--data", str(root), "--split", "val", "--json", str(report)]) == 0
        scores[artifact.suffix] = json.loads(report.read_text())
    assert scores[".pt"]["images"] == scores[".onnx"]["images"] == len(NAMES)
    # Same FP32 model through torch and onnxruntime: logits agree to ~1e-6, so mIoU to 0.01 points.
    assert abs(scores[".pt"]["miou"] - scores[".onnx"]["miou"]) <= 1e-4
    assert scores[".onnx"]["miou"] > 0.4  # learned from depth: one-class output scores about 0.15 here


def test_quantized_rgbd_variants(deployed, capsys):
    tmp, root, checkpoint, _ = deployed
    # Labels only: the FP16 conversion of a 'logits' output made by a Resize (kept FP32) breaks the graph.
    onnx_path = tmp / "labels_only.onnx"
    assert main(["export", str(checkpoint), "-o", str(onnx_path), "--parity-data", str(root)]) == 0
    frames = val_frames(root)
    (fp32,) = ort_outputs(onnx_path, frames, ("labels",))
    assert main(["quantize", str(onnx_path), "--precision", "fp16", "-o", str(tmp / "m.fp16.onnx")]) == 0
    (fp16,) = ort_outputs(tmp / "m.fp16.onnx", frames, ("labels",))
    assert (fp16 == fp32).mean() >= 0.99  # FP16 keeps the pre/post-processing in FP32

    assert main(["quantize", str(onnx_path), "--precision", "int8", "-o", str(tmp / "x.onnx")]) == 2
    assert "needs calibration frames with depth for this RGB-D model (lstmcf): pass --calib ROOT" in capsys.readouterr().err
    assert not (tmp / "x.onnx").exists()
    assert main(["quantize", str(onnx_path), "--precision", "int8", "--calib", str(root), "-o", str(tmp / "m.int8.onnx"),
                 "--eval-data", str(root), "--max-miou-drop", "5"]) == 0
    assert "calibration: entropy on 4 images" in capsys.readouterr().out
    (int8,) = ort_outputs(tmp / "m.int8.onnx", frames, ("labels",))
    assert (int8 == fp32).mean() >= 0.95  # INT8: task-level agreement (measured 99.4 %)


def test_run_pairs_a_colour_video_with_a_depth_video(deployed, tmp_path):
    from edgeseg.runtime.backends.ort import OrtBackend
    from edgeseg.runtime.overlay import colorize, palette_lut
    from edgeseg.runtime.rgbd_source import RGBDSource

    _, root, _, onnx_path = deployed
    rng = np.random.default_rng(1)
    colour = write_video(tmp_path / "colour.mp4", [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(6)])
    depth_u8 = [depth_to_u8(scene_depth(i % 4), DEPTH_SCALE) for i in range(5)]  # one frame shorter than the colour
    depth = write_video(tmp_path / "depth.mp4", [cv2.cvtColor(d, cv2.COLOR_GRAY2BGR) for d in depth_u8])
    out, labels_dir, stats = tmp_path / "out.mp4", tmp_path / "labels", tmp_path / "stats.json"
    assert main(["run", str(onnx_path), "--source", str(colour), "--depth", str(depth), "--sink", str(out),
                 "--stats", str(stats)]) == 0
    capture = cv2.VideoCapture(str(out))
    written = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = capture.read()
    capture.release()
    assert written == 5 and ok and first.shape == (H, W, 3)  # stops at the shorter (depth) stream
    assert json.loads(stats.read_text())["frames"] == 5

    # The colourised label maps (lossless PNGs) are what the model gives on the decoded colour + depth frames.
    assert main(["run", str(onnx_path), "--source", str(colour), "--depth", str(depth), "--sink", str(labels_dir),
                 "--overlay", "none"]) == 0
    with OrtBackend(onnx_path) as backend, RGBDSource(colour, depth, DEPTH_SCALE) as source:
        lut = palette_lut(backend.metadata.palette)
        expected = [colorize(backend.infer(frame[None])[0], lut) for frame in source]
    pngs = sorted(labels_dir.iterdir())
    assert len(pngs) == len(expected) == 5
    for png, want in zip(pngs, expected):
        assert np.array_equal(cv2.imread(str(png)), want)


def test_run_with_a_depth_png_folder(deployed, tmp_path):
    _, root, _, onnx_path = deployed
    colour = write_video(tmp_path / "colour.mp4", [np.full((H, W, 3), 100, np.uint8)] * 4)
    folder = tmp_path / "depth"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:06d}.png"), scene_depth(i))
    stats = tmp_path / "stats.json"
    assert main(["run", str(onnx_path), "--source", str(colour), "--depth", str(folder), "--depth-scale", "40",
                 "--sink", "null", "--stats", str(stats)]) == 0
    assert json.loads(stats.read_text())["frames"] == 3


@pytest.mark.parametrize("case, message", [
    ("no_depth", "(tiny_conv1x1): this model takes BGR + depth: pass --depth DEPTH.mp4 (8-bit depth video) or "
                 "--depth DEPTH_FOLDER (16-bit PNGs in millimetres), paired frame by frame with --source COLOUR.mp4"),
    ("depth_with_bgr_model", "--depth is for RGB-D models (4 input channels); {model} (tiny_conv1x1) takes BGR only: "
                             "drop --depth"),
    ("camera", "--depth needs a colour video file as --source; 0 is a live source, and live cameras with depth are "
               "not supported: record both streams to files first"),
    ("live", "--depth pairs two recorded files frame by frame; --live and --reconnect are not supported with it"),
    ("depth_missing", "depth video {tmp}/none.mp4 does not exist"),
    ("depth_unreadable", "cannot open depth video {tmp}/junk.mp4: not a video OpenCV can decode"),
    ("scale_without_depth", "--depth-scale converts the --depth stream; it needs --depth"),
])
def test_run_depth_errors(tmp_path, capsys, case, message):
    model = tmp_path / "rgbd.onnx"
    make_contract_onnx(model, height=H, width=W, channels=3 if case in ("depth_with_bgr_model", "scale_without_depth") else 4)
    colour = write_video(tmp_path / "colour.mp4", [np.zeros((H, W, 3), np.uint8)] * 2)
    depth = write_video(tmp_path / "depth.mp4", [np.zeros((H, W, 3), np.uint8)] * 2)
    (tmp_path / "junk.mp4").write_bytes(b"garbage" * 100)
    source, extra = str(colour), ["--depth", str(depth)]
    if case == "no_depth":
        extra = []
    elif case == "camera":
        source = "0"
    elif case == "live":
        extra.append("--live")
    elif case == "depth_missing":
        extra = ["--depth", str(tmp_path / "none.mp4")]
    elif case == "depth_unreadable":
        extra = ["--depth", str(tmp_path / "junk.mp4")]
    elif case == "scale_without_depth":
        extra = ["--depth-scale", "40"]
    out = tmp_path / "out.mp4"
    assert main(["run", str(model), "--source", source, *extra, "--sink", str(out)]) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path, model=model) in err and "Traceback" not in err
    assert not out.exists()


def test_eval_of_a_4_channel_onnx_needs_depth_and_parity_data_needs_a_4_channel_model(tmp_path, capsys, samples_dir):
    model = tmp_path / "rgbd.onnx"
    make_contract_onnx(model, height=H, width=W, channels=4, num_classes=11)
    assert main(["eval", str(model), "--data", str(samples_dir)]) == 2
    assert f"tiny_conv1x1 takes colour + depth, but {samples_dir} is a 'camvid' data set without depth" in capsys.readouterr().err

    assert main(["export", str(ROOT / "models" / "camvid_enet.pt"), "-o", str(tmp_path / "x.onnx"),
                 "--parity-data", str(tmp_path)]) == 2
    assert ("--parity-data gives colour + depth frames, for RGB-D models; enet takes BGR only: use --parity-images DIR"
            in capsys.readouterr().err)
    assert not (tmp_path / "x.onnx").exists()


def test_bench_feeds_4_channel_frames_and_refuses_the_colour_video_pipeline(tmp_path, capsys):
    model = tmp_path / "rgbd.onnx"
    make_contract_onnx(model, height=H, width=W, channels=4)
    fast = ["--warmup-s", "0", "--min-iters", "5", "--min-time-s", "0", "--blocks", "1", "--threads", "1"]
    report = tmp_path / "bench.json"
    assert main(["bench", str(model), *fast, "--json", str(report)]) == 0
    assert json.loads(report.read_text())["latency_ms"]["count"] >= 5
    assert main(["bench", str(model), "--scenario", "pipeline", *fast]) == 2
    assert f"--scenario pipeline reads a colour video, but {model} takes BGR + depth" in capsys.readouterr().err
