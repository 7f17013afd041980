"""Sources by URI: files, images, cameras, streams, GStreamer, synthetic; and their errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import SAMPLES

from edgeseg.errors import EdgesegError
from edgeseg.runtime.sources import (
    CaptureSource,
    ImageSource,
    SourceError,
    SyntheticSource,
    gstreamer_available,
    open_source,
)


def read_all(source) -> list[np.ndarray]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


@pytest.mark.parametrize("form", ["{p}", "file://{p}"])
def test_video_file_every_frame(sample_video, form):
    with open_source(form.format(p=sample_video)) as source:
        assert isinstance(source, CaptureSource) and not source.live
        assert source.frame_count == 40 and source.fps == 10.0
        frames = read_all(source)
    assert len(frames) == 40 and frames[0].shape == (360, 480, 3) and frames[0].dtype == np.uint8


def test_images_folder_glob_and_single(tmp_path):
    val = SAMPLES / "val"
    names = sorted(p.name for p in val.iterdir())
    folder = open_source(str(val))
    assert isinstance(folder, ImageSource) and folder.frame_count == len(names) and not folder.live
    first = folder.read()
    assert np.array_equal(first, cv2.imread(str(val / names[0])))
    glob_source = open_source(f"{val}/0016E5_0795*.jpg")
    assert [p.name for p in glob_source.paths] == [n for n in names if n.startswith("0016E5_0795")]
    single = open_source(str(val / names[3]))
    assert len(read_all(single)) == 1


def test_unreadable_image_in_a_folder_is_a_source_error(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"not a png")
    source = open_source(str(tmp_path))
    assert source.read() is not None
    with pytest.raises(SourceError, match=r"cannot read image .*b.png \(image 2 of 2"):
        source.read()


@pytest.mark.parametrize("uri, message", [
    ("{tmp}/missing.mp4", "{tmp}/missing.mp4 does not exist"),
    ("file://{tmp}/missing.mp4", "{tmp}/missing.mp4 does not exist"),
    ("{tmp}/empty.mp4", "video file {tmp}/empty.mp4 is empty"),
    ("{tmp}/junk.mp4", "cannot open video file {tmp}/junk.mp4: the file is damaged or not a video"),
    ("{tmp}/noimages", "source folder {tmp}/noimages holds no images"),
    ("{tmp}/*.png", "no images match {tmp}/*.png"),
    ("ftp://host/x", "unknown source scheme ftp://"),
    ("", "empty --source"),
    ("v4l2:///dev/video97", "cannot open camera v4l2:///dev/video97: /dev/video97 does not exist"),
    ("/dev/video97", "/dev/video97 does not exist"),
    ("97", "cannot open camera 97: /dev/video97 does not exist"),
    ("v4l2:///dev/video0?zoom=2", "unknown option 'zoom'"),
    ("synthetic://?fps=abc", "option fps='abc' is not a number"),
    ("rtsp://127.0.0.1:9/stream", "cannot open stream rtsp://127.0.0.1:9/stream: check the address"),
])
def test_source_errors(tmp_path, uri, message):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 4096)
    (tmp_path / "noimages").mkdir()
    with pytest.raises(EdgesegError, match=_literal(message.format(tmp=tmp_path))):
        open_source(uri.format(tmp=tmp_path))


def _literal(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.skipif(gstreamer_available(), reason="this OpenCV has GStreamer")
@pytest.mark.parametrize("uri", ["csi://0", "gst:videotestsrc ! videoconvert ! appsink"])
def test_gstreamer_sources_without_gstreamer_say_how_to_get_it(uri):
    with pytest.raises(EdgesegError) as info:
        open_source(uri)
    message = str(info.value)
    assert "built without it" in message and "GStreamer: NO" in message
    assert "python3-opencv" in message and "pip uninstall opencv-python" in message


def test_truncated_video_is_a_source_error_after_its_good_frames(sample_video, tmp_path):
    full = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10, (480, 360))
    for frame in read_all(open_source(str(sample_video))):
        writer.write(frame)
    writer.release()
    data = full.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    source = open_source(str(tmp_path / "cut.avi"))
    good = 0
    with pytest.raises(SourceError, match="ended after 21 of its 40 frames: the file is truncated or damaged"):
        while source.read() is not None:
            good += 1
    assert good == 21


def test_synthetic_source_moves_and_ends():
    source = open_source("synthetic://?width=64&height=48&fps=1000&frames=3")
    assert isinstance(source, SyntheticSource) and source.live and source.fps == 1000
    frames = read_all(source)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 5  # the pattern moves


def test_non_ascii_digits_are_not_camera_indices(tmp_path, monkeypatch):
    """'²'.isdigit() is True but int('²') fails: found by hypothesis; must be a clean EdgesegError."""
    from edgeseg.errors import EdgesegError
    from edgeseg.runtime.sources import open_source

    monkeypatch.chdir(tmp_path)
    with pytest.raises(EdgesegError, match="does not exist"):
        open_source("²")
