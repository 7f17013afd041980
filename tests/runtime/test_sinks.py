"""Sinks by URI: video files (atomic), image folders, display, null; and their errors."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.runtime.frame_queue import END, FrameQueue
from edgeseg.runtime.sinks import DisplaySink, ImageFolderSink, NullSink, VideoFileSink, open_sink


def frames(n: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(n)]


def count_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    n = 0
    while cap.read()[0]:
        n += 1
    return n


@pytest.mark.parametrize("name, fourcc, codec", [("out.mp4", "mp4v", "mp4v"), ("out.avi", "MJPG", "auto"),
                                                 ("out.mkv", "MJPG", "auto")])
def test_video_sink_renames_into_place_on_close(tmp_path, name, fourcc, codec):
    # OpenCV's writers (.mp4 is H.264 through PyAV by default: tests/runtime/test_sinks_video.py)
    sink = open_sink(str(tmp_path / name), fps=12.0, codec=codec)
    assert isinstance(sink, VideoFileSink) and sink.fourcc == fourcc
    for frame in frames(4):
        sink.write(frame)
    sink.write(frames(1, 96, 128)[0])  # another size: resized, not silently dropped
    assert not (tmp_path / name).exists()  # under a temporary name until closed
    assert sink.close() == f"{tmp_path / name} (5 frames)"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    assert count_frames(tmp_path / name) == 5
    assert cv2.VideoCapture(str(tmp_path / name)).get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)


def test_video_sink_without_frames_or_aborted_leaves_nothing(tmp_path):
    assert "not written (no frames)" in open_sink(str(tmp_path / "a.mp4")).close()
    sink = open_sink(str(tmp_path / "b.mp4"))
    sink.write(frames(1)[0])
    sink.abort()
    assert list(tmp_path.iterdir()) == []


def test_image_folder_sink(tmp_path):
    sink = open_sink(str(tmp_path / "frames"))
    assert isinstance(sink, ImageFolderSink)
    images = frames(3)
    for image in images:
        sink.write(image)
    assert sink.close() == f"{tmp_path / 'frames'} (3 images)"
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert np.array_equal(cv2.imread(str(tmp_path / "frames" / "000002.png")), images[2])  # PNG is lossless
    pattern = open_sink(f"file://{tmp_path}/jpgs/img_%03d.jpg")
    pattern.write(images[0])
    assert [p.name for p in (tmp_path / "jpgs").iterdir()] == ["img_000.jpg"]


@pytest.mark.parametrize("uri, message", [
    ("{tmp}/nofolder/out.mp4", "folder {tmp}/nofolder does not exist"),
    ("{tmp}/nofolder/frames", "folder {tmp}/nofolder does not exist; create it first"),
    ("{tmp}/file.txt/", "is a file, not a folder"),
    ("{tmp}/out.gif", "unknown video type .gif"),
    ("{tmp}/one.png", "names one image; give a folder"),
    ("{tmp}/frames/%05d.xyz", "unknown image type .xyz"),
    ("{tmp}/adir.mp4", "it is a folder"),
    ("rtmp://host/live", "unknown sink scheme rtmp://"),
    ("", "empty --sink"),
])
def test_sink_errors(tmp_path, uri, message):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "adir.mp4").mkdir()
    with pytest.raises(EdgesegError, match=_literal(message.format(tmp=tmp_path))):
        open_sink(uri.format(tmp=tmp_path))


def _literal(text: str) -> str:
    import re

    return re.escape(text)


def test_display_needs_a_gui_and_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(EdgesegError) as info:
        open_sink("display://0")
    # pip's headless OpenCV has no GUI; a GUI OpenCV here would still have no display.
    assert "no GUI support" in str(info.value) or "no display here (DISPLAY is not set)" in str(info.value)
    assert "--sink http://127.0.0.1:8080" in str(info.value)
    assert issubclass(DisplaySink, object)


def test_null_sink():
    sink = open_sink("null")
    assert isinstance(sink, NullSink)
    sink.write(frames(1)[0])
    assert sink.close() == "null"


def test_frame_queue_keep_latest_counts_drops():
    queue = FrameQueue(1, keep_latest=True)
    for item in range(5):
        assert queue.put(item)
    assert queue.dropped == 4 and queue.get(0) == 4
    queue.close()
    assert queue.get(0) is END and not queue.put(9)


def test_frame_queue_blocks_when_full_until_read_or_closed():
    queue = FrameQueue(2)
    queue.put(1)
    queue.put(2)
    results = []
    producer = threading.Thread(target=lambda: results.append(queue.put(3)))
    producer.start()
    producer.join(0.2)
    assert producer.is_alive()  # waiting: files never drop frames
    assert queue.get() == 1
    producer.join(5)
    assert results == [True] and [queue.get(), queue.get()] == [2, 3]

    def fill() -> None:
        results.extend([queue.put(4), queue.put(5), queue.put(6)])  # the third waits

    blocked = threading.Thread(target=fill)
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()
    queue.close()  # wakes the producer; its item is discarded
    blocked.join(5)
    assert not blocked.is_alive() and results[-3:] == [True, True, False]
    assert queue.dropped == 0
