"""H.264 MP4 output (PyAV), played by a real headless Chromium; image folders that keep input names; label maps."""

from __future__ import annotations

import functools
import http.server
import threading
import time

import cv2
import numpy as np
import pytest
from helpers import contract_onnx_expected_labels, read_video_frames, write_video

from edgeseg.cli import main
from edgeseg.errors import EdgesegError
from edgeseg.runtime.sinks import ImageFolderSink, VideoFileSink, open_sink
from edgeseg.runtime.sinks_labels import LabelMapSink
from edgeseg.runtime.sinks_video import H264FileSink, encoder_works

av = pytest.importorskip("av")


def gradient_frames(n: int, height: int, width: int) -> list[np.ndarray]:
    """Smooth moving frames (an encoder's realistic case; noise would measure nothing but bitrate)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return [np.dstack([(xx * 2 + 7 * i) % 256, (yy * 3 + 5 * i) % 256, ((xx + yy) + 11 * i) % 256]).astype(np.uint8)
            for i in range(n)]


def probe(path) -> dict:
    """Codec, pixel format, size and decoded frames of a video, read by FFmpeg through PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        return {"codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
                "size": (stream.codec_context.height, stream.codec_context.width), "frames": frames,
                "rate": float(stream.average_rate), "profile": stream.codec_context.profile}


def test_mp4_is_h264_by_default_and_decodes_to_what_was_written(tmp_path):
    out = tmp_path / "out.mp4"
    sink = open_sink(str(out), fps=12.5)
    assert isinstance(sink, H264FileSink)
    # NVENC where it opens (a GPU with its driver), libx264 otherwise -- here, no GPU.
    assert sink.encoder == ("h264_nvenc" if encoder_works("h264_nvenc") else "libx264")
    images = gradient_frames(6, 96, 128)
    for image in images:
        sink.write(image)
    assert not out.exists()  # under a temporary name until closed
    assert sink.close() == f"{out} (6 frames)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    info = probe(out)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["size"] == (96, 128)
    assert len(info["frames"]) == 6 and info["rate"] == pytest.approx(12.5)
    for index, (written, decoded) in enumerate(zip(images, info["frames"])):
        error = np.abs(written.astype(np.int16) - decoded).mean()
        assert error < 6.0, f"frame {index}: mean abs difference {error:.2f} after H.264 (crf 18, 4:2:0 chroma)"
        # and in order: the neighbouring frame is much further away
        assert np.abs(images[index - 1].astype(np.int16) - decoded).mean() > 2 * error
    # OpenCV's FFmpeg (what `edgeseg run --source out.mp4` uses) reads it too.
    assert len(read_video_frames(out)) == 6


def test_odd_sizes_are_padded_and_later_sizes_resized(tmp_path):
    sink = open_sink(str(tmp_path / "odd.mp4"), fps=10)
    first = gradient_frames(1, 45, 63)[0]
    sink.write(first)
    sink.write(gradient_frames(1, 90, 126)[0])
    sink.close()
    info = probe(tmp_path / "odd.mp4")
    assert info["size"] == (46, 64) and len(info["frames"]) == 2
    assert np.abs(info["frames"][0][:45, :63].astype(np.int16) - first).mean() < 6.0


def test_codec_choices(tmp_path):
    assert isinstance(open_sink(str(tmp_path / "a.mp4"), codec="mp4v"), VideoFileSink)
    assert open_sink(str(tmp_path / "b.avi")).fourcc == "MJPG"
    assert isinstance(open_sink(str(tmp_path / "c.mov"), codec="libx264"), H264FileSink)
    with pytest.raises(EdgesegError, match=r"H.264 is written into .mp4, .m4v or .mov files, not .avi"):
        open_sink(str(tmp_path / "d.avi"), codec="h264")
    with pytest.raises(EdgesegError, match="video codec 'vp9' is not one of"):
        open_sink(str(tmp_path / "e.mp4"), codec="vp9")
    if not encoder_works("h264_nvenc"):
        with pytest.raises(EdgesegError, match="h264_nvenc does not open here .NVENC needs an NVIDIA GPU"):
            open_sink(str(tmp_path / "f.mp4"), codec="h264_nvenc")
    assert sorted(p.name for p in tmp_path.iterdir() if ".tmp" not in p.name) == []


def test_aborted_or_empty_h264_leaves_nothing(tmp_path):
    assert "not written (no frames)" in open_sink(str(tmp_path / "a.mp4")).close()
    sink = open_sink(str(tmp_path / "b.mp4"))
    sink.write(gradient_frames(1, 32, 32)[0])
    sink.abort()
    assert list(tmp_path.iterdir()) == []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def file_server(tmp_path):
    """Serves ``tmp_path`` on loopback (Chromium plays media from http://, as a user's page would)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


PLAYER = """<!doctype html><video id="v" muted playsinline src="{src}"></video>
<script>
const v = document.getElementById('v');
window.result = {{ended: false, error: null}};
v.addEventListener('ended', () => window.result.ended = true);
v.addEventListener('error', () => window.result.error = v.error ? v.error.code + ' ' + v.error.message : 'error');
v.play().catch(e => window.result.error = String(e));
</script>"""


def play_in_chromium(browser, base_url: str, tmp_path, video_name: str, timeout: float = 60.0) -> dict:
    (tmp_path / f"{video_name}.html").write_text(PLAYER.format(src=video_name))
    browser.get(f"{base_url}/{video_name}.html")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = browser.execute_script(
            "return Object.assign({width: document.getElementById('v').videoWidth,"
            " duration: document.getElementById('v').duration}, window.result)")
        if result["ended"] or result["error"]:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{video_name} neither ended nor failed in {timeout} s: {result}")


def test_edgeseg_run_mp4_plays_to_the_end_in_chromium(camvid_onnx, sample_video, tmp_path, browser, file_server):
    # What a user does: `edgeseg run ... --sink out.mp4`, then opens the file in a browser.
    assert main(["run", str(camvid_onnx[0]), "--source", str(sample_video), "--sink", str(tmp_path / "run.mp4")]) == 0
    result = play_in_chromium(browser, file_server, tmp_path, "run.mp4")
    assert result["error"] is None and result["ended"] is True
    assert result["width"] == 480 and result["duration"] == pytest.approx(40 / 10, abs=0.15)  # 40 frames at the clip's 10 FPS

    # The control: OpenCV's mp4v in the same container does not play (what --sink .mp4 wrote before).
    write_video(tmp_path / "mp4v.mp4", read_video_frames(sample_video)[:5], fourcc="mp4v")
    control = play_in_chromium(browser, file_server, tmp_path, "mp4v.mp4")
    assert control["ended"] is False and control["error"] is not None


# -- image folders that keep input names, and label maps ----------------------------------------

@pytest.fixture
def image_folder(tmp_path):
    """Three CamVid-sized JPEG frames named like a user's data set."""
    folder = tmp_path / "input"
    folder.mkdir()
    for name, frame in zip(("street_b", "street_a", "street_c"), gradient_frames(3, 360, 480)):
        cv2.imwrite(str(folder / f"{name}.jpg"), frame)
    return folder


def test_image_and_label_sinks_keep_input_names(camvid_onnx, image_folder, tmp_path):
    path, weight, bias = camvid_onnx
    overlays, masks, small = tmp_path / "overlays", tmp_path / "masks", tmp_path / "small"
    assert main(["run", str(path), "--source", str(image_folder), "--sink", str(overlays),
                 "--sink", f"labels://{masks}", "--sink", f"labels://{small}?size=model"]) == 0
    names = ["street_a.png", "street_b.png", "street_c.png"]
    assert sorted(p.name for p in overlays.iterdir()) == names
    assert sorted(p.name for p in masks.iterdir()) == names
    for name in names:
        source = cv2.imread(str(image_folder / name.replace(".png", ".jpg")))
        written = cv2.imread(str(masks / name), cv2.IMREAD_UNCHANGED)
        assert written.dtype == np.uint8 and written.ndim == 2 and written.shape == (360, 480)
        expected = contract_onnx_expected_labels(source[None], weight, bias)[0]
        # onnxruntime and numpy sum the 1x1 conv in different orders: a near-tie may flip a pixel or two.
        assert (written == expected).mean() > 0.999 and written.max() < 11
        assert np.array_equal(cv2.imread(str(small / name), cv2.IMREAD_UNCHANGED), written)  # model size == frame size


def test_label_maps_of_a_video_are_numbered_at_frame_size(small_onnx, sample_video, tmp_path):
    # A 96x128 model on 360x480 frames: ?size=model keeps the model's map, the default resizes it (nearest).
    assert main(["run", str(small_onnx[0]), "--source", str(sample_video), "--max-frames", "3",
                 "--sink", f"labels://{tmp_path}/full/", "--sink", f"labels://{tmp_path}/model?size=model"]) == 0
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    full = cv2.imread(str(tmp_path / "full" / "000001.png"), cv2.IMREAD_UNCHANGED)
    model = cv2.imread(str(tmp_path / "model" / "000001.png"), cv2.IMREAD_UNCHANGED)
    assert full.shape == (360, 480) and model.shape == (96, 128)
    assert np.array_equal(full, cv2.resize(model, (480, 360), interpolation=cv2.INTER_NEAREST))


def test_folder_sink_names_patterns_collisions_and_inputs(tmp_path):
    sink = ImageFolderSink(tmp_path / "out")
    image = gradient_frames(1, 8, 8)[0]
    sink.write_frame(image, source_path="x/a.jpg")
    sink.write_frame(image, source_path="y/a.jpg")  # the same stem from another folder: numbered, not overwritten
    sink.write_frame(image)  # a video frame: numbered
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000002.png", "a.png", "a_000001.png"]
    numbered = ImageFolderSink(tmp_path / "num", "%03d.jpg")  # a pattern always numbers
    numbered.write_frame(image, source_path="x/a.jpg")
    assert [p.name for p in (tmp_path / "num").iterdir()] == ["000.jpg"]
    own = tmp_path / "own"
    own.mkdir()
    cv2.imwrite(str(own / "a.png"), image)
    with pytest.raises(EdgesegError, match="would overwrite its input .*a.png; write into another folder"):
        ImageFolderSink(own).write_frame(image, source_path=str(own / "a.png"))


@pytest.mark.parametrize("uri, message", [
    ("labels://", "give a folder"),
    ("labels://{tmp}/m?size=huge", "size='huge' is not one of frame, model"),
    ("labels://{tmp}/m?colour=1", r"unknown option\(s\) \['colour'\]"),
])
def test_label_sink_errors(tmp_path, uri, message):
    with pytest.raises(EdgesegError, match=message):
        open_sink(uri.format(tmp=tmp_path))


def test_label_sink_needs_labels(tmp_path):
    sink = open_sink(f"labels://{tmp_path}/m")
    assert isinstance(sink, LabelMapSink)
    with pytest.raises(EdgesegError, match="label maps come from semantic models"):
        sink.write_frame(np.zeros((4, 4, 3), np.uint8), labels=None)


def test_without_pyav_mp4_falls_back_to_mp4v_with_a_warning(tmp_path, monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "av", None)  # what an install without the [video] extra has: import fails
    with caplog.at_level("WARNING"):
        sink = open_sink(str(tmp_path / "a.mp4"))
    assert isinstance(sink, VideoFileSink) and sink.fourcc == "mp4v"
    assert "browsers do not play; for H.264 install PyAV: pip install 'edgeseg[video]'" in caplog.text
    with pytest.raises(EdgesegError, match=r"H.264 output needs PyAV: pip install 'edgeseg\[video\]'"):
        open_sink(str(tmp_path / "b.mp4"), codec="h264")
