"""``edgeseg run`` end to end on the bundled clip: real decoding, onnxruntime and encoding."""

from __future__ import annotations

import json

import cv2
import numpy as np
import onnx
import pytest
from helpers import contract_onnx_expected_labels, make_contract_onnx, read_video_frames

from edgeseg.cli import main
from edgeseg.metadata import ONNX_METADATA_KEY
from edgeseg.runtime.overlay import palette_lut


def leftovers(folder) -> list[str]:
    """Temporary files an unfinished write would leave behind."""
    return [p.name for p in folder.iterdir() if ".tmp" in p.name]


def test_run_writes_overlay_video_with_every_frame_and_stats(camvid_onnx, sample_video, tmp_path):
    path, weight, bias = camvid_onnx
    out, stats = tmp_path / "overlay.mp4", tmp_path / "stats.json"
    code = main(["run", str(path), "--source", str(sample_video), "--sink", str(out), "--stats", str(stats), "--alpha", "0.5"])
    assert code == 0
    written = read_video_frames(out)
    assert len(written) == 40 == int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert written[0].shape == (360, 480, 3)
    assert leftovers(tmp_path) == []

    report = json.loads(stats.read_text())
    assert report["frames"] == 40 and report["frames_in"] == 40 and report["dropped"] == 0
    assert report["fps"] > 0 and report["end"] == "end of stream" and report["error"] is None
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
    assert set(report["stage_ms"]) == {"capture", "preprocess", "infer", "render", "sink"}

    # The frames are the blend of the input and the palette colours of the model's labels
    # (mp4v is lossy: compare means; a wrong label map or alpha moves them by tens of levels).
    source = read_video_frames(sample_video)
    lut = palette_lut(onnx_palette(path))
    for index in (0, 39):
        labels = contract_onnx_expected_labels(source[index][None], weight, bias)[0]
        expected = cv2.addWeighted(source[index], 0.5, lut[labels], 0.5, 0.0)
        error = np.abs(written[index].astype(np.int16) - expected).mean()
        assert error < 6.0, f"frame {index}: mean abs difference {error:.1f} to the expected blend"
        assert np.abs(written[index].astype(np.int16) - source[index]).mean() > 15.0


def onnx_palette(path) -> list[list[int]]:
    model = onnx.load(str(path))
    meta = json.loads({p.key: p.value for p in model.metadata_props}[ONNX_METADATA_KEY])
    return meta["palette"]


def test_overlay_none_writes_label_map_resized_back_to_the_frame(small_onnx, sample_video, tmp_path):
    # A 96x128 model on 360x480 frames: frames are resized down, labels resized back (nearest).
    path, weight, bias = small_onnx
    folder = tmp_path / "labels"
    code = main(["run", str(path), "--source", f"file://{sample_video}", "--sink", str(folder), "--overlay", "none",
                 "--max-frames", "5"])
    assert code == 0
    images = sorted(folder.glob("*.png"))
    assert [p.name for p in images] == [f"{i:06d}.png" for i in range(5)]
    lut = palette_lut(onnx_palette(path))
    colour_to_label = {tuple(int(v) for v in lut[k]): k for k in range(11)}
    for index, frame in enumerate(read_video_frames(sample_video)[:5]):
        small = cv2.resize(frame, (128, 96), interpolation=cv2.INTER_LINEAR)
        expected = cv2.resize(contract_onnx_expected_labels(small[None], weight, bias)[0], (480, 360),
                               interpolation=cv2.INTER_NEAREST)
        written = cv2.imread(str(images[index]))
        assert written.shape == (360, 480, 3)
        labels = np.array([colour_to_label[tuple(c)] for c in written.reshape(-1, 3)]).reshape(360, 480)
        # onnxruntime and numpy sum the 1x1 conv in different orders: a near-tie may flip a pixel or two.
        agreement = (labels == expected).mean()
        assert agreement > 0.999, f"frame {index}: {agreement:.5f} of pixels carry the expected label"


def test_missing_source_is_a_clear_error_and_writes_nothing(camvid_onnx, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["run", str(camvid_onnx[0]), "--source", str(tmp_path / "nope.mp4"), "--sink", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nope.mp4 does not exist" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_camera_that_cannot_be_opened(camvid_onnx, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["run", str(camvid_onnx[0]), "--source", "v4l2:///dev/video97", "--sink", str(out)]) == 2
    assert "cannot open camera v4l2:///dev/video97: /dev/video97 does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sink, message", [
    ("missing/out.mp4", "folder {tmp}/missing does not exist"),
    ("missing/frames/", "folder {tmp}/missing does not exist"),
    ("afile/", "is a file, not a folder"),
    ("out.xyz", "unknown video type .xyz"),
])
def test_bad_sink_is_a_clear_error(camvid_onnx, sample_video, tmp_path, capsys, sink, message):
    (tmp_path / "afile").write_text("x")
    assert main(["run", str(camvid_onnx[0]), "--source", str(sample_video), "--sink", f"{tmp_path}/{sink}"]) == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_stream_failing_mid_run_keeps_a_playable_file(camvid_onnx, sample_video, tmp_path, capsys):
    # A Motion-JPEG AVI cut in half: its header promises 40 frames, 21 decode.
    frames = read_video_frames(sample_video)
    full = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10, (480, 360))
    for frame in frames:
        writer.write(frame)
    writer.release()
    data = full.read_bytes()
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(data[: len(data) // 2])
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    code = main(["run", str(camvid_onnx[0]), "--source", str(damaged), "--sink", str(out), "--stats", str(stats)])
    err = capsys.readouterr().err
    assert code == 2
    assert "ended after 21 of its 40 frames: the file is truncated or damaged" in err
    assert f"kept what was written: {out} (21 frames)" in err
    assert len(read_video_frames(out)) == 21
    report = json.loads(stats.read_text())
    assert report["frames"] == 21 and report["error"].startswith("source: ")
    assert leftovers(tmp_path) == []


def _with_metadata(path, tmp_path, name, **changes):
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props[ONNX_METADATA_KEY])
    for key, value in changes.items():
        if key == "height":
            meta["input"]["height"] = value
        else:
            meta[key] = value
    onnx.helper.set_model_props(model, {ONNX_METADATA_KEY: json.dumps(meta)})
    out = tmp_path / name
    onnx.save(model, str(out))
    return out


def test_artifact_not_matching_its_metadata(tmp_path, sample_video, capsys):
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=360, width=480, num_classes=11)
    wrong_size = _with_metadata(path, tmp_path, "size.onnx", height=352)
    out = tmp_path / "out.mp4"
    assert main(["run", str(wrong_size), "--source", str(sample_video), "--sink", str(out)]) == 2
    assert "input is 360x480 but the metadata says 352x480" in capsys.readouterr().err

    three = _with_metadata(path, tmp_path, "classes.onnx", classes=["a", "b", "c"], palette=[[0, 0, 0]] * 3)
    assert main(["run", str(three), "--source", str(sample_video), "--sink", str(out)]) == 2
    err = capsys.readouterr().err
    assert "but its metadata lists 3 classes (a, b, c)" in err and "re-export" in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_bad_options(camvid_onnx, sample_video, tmp_path, capsys):
    base = ["run", str(camvid_onnx[0]), "--source", str(sample_video), "--sink", "null"]
    assert main([*base, "--alpha", "1.5"]) == 2
    assert "--alpha: expected a number from 0 to 1, got 1.5" in capsys.readouterr().err
    assert main([*base, "--max-frames", "-1"]) == 2
    assert "--max-frames: expected an integer >= 0, got -1" in capsys.readouterr().err
    assert main([*base, "--stats", str(tmp_path / "no" / "stats.json")]) == 2
    assert f"folder {tmp_path / 'no'} does not exist" in capsys.readouterr().err
