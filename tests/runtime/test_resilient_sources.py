"""Looping files and reconnecting live sources (real file decoding; a scripted fake camera)."""

import json

import cv2
import numpy as np
import pytest

from edgeseg.cli import main
from edgeseg.errors import EdgesegError
from edgeseg.runtime.resilient_sources import LoopingSource, ReconnectingSource
from edgeseg.runtime.sources import Source, SourceError, open_source


def test_looping_source_replays_the_file(sample_video):
    source = LoopingSource(lambda: open_source(str(sample_video)), loops=2)
    frames = 0
    while source.read() is not None:
        frames += 1
    source.close()
    assert frames == 80 and source.completed_loops == 2


class FakeCamera(Source):
    """A fake live camera (named as one): yields ``frames`` frames, then fails like an unplugged device."""

    def __init__(self, frames: int):
        self.uri, self.live, self.fps, self.left = "v4l2:///dev/video9", True, 30.0, frames

    def read(self):
        if self.left == 0:
            raise SourceError("camera v4l2:///dev/video9 stopped delivering frames")
        self.left -= 1
        return np.zeros((4, 4, 3), np.uint8)


def test_reconnect_backs_off_and_continues():
    script = [FakeCamera(3), EdgesegError("cannot open camera"), EdgesegError("cannot open camera"), FakeCamera(2)]
    sleeps = []

    def opener():
        item = script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    source = ReconnectingSource(opener, attempts=5, sleep=sleeps.append)
    frames = [source.read() for _ in range(5)]
    assert all(f is not None for f in frames)
    assert sleeps == [0.5, 1.0, 2.0] and source.reconnects == 1


def test_reconnect_gives_up_after_n_attempts():
    calls = []

    def opener():
        calls.append(1)
        if len(calls) == 1:
            return FakeCamera(1)
        raise EdgesegError("cannot open camera v4l2:///dev/video9")

    source = ReconnectingSource(opener, attempts=3, sleep=lambda s: None)
    assert source.read() is not None
    with pytest.raises(SourceError, match="is gone: 3 reconnection attempts failed"):
        source.read()


def test_run_loop_flag_writes_every_replayed_frame(camvid_onnx, sample_video, tmp_path):
    out, stats = tmp_path / "loop.mp4", tmp_path / "s.json"
    assert main(["run", str(camvid_onnx[0]), "--source", str(sample_video), "--loop", "2",
                 "--sink", str(out), "--stats", str(stats)]) == 0
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 80
    assert json.loads(stats.read_text())["frames"] == 80


def test_loop_and_reconnect_together_are_refused(camvid_onnx, sample_video, capsys):
    assert main(["run", str(camvid_onnx[0]), "--source", str(sample_video), "--loop", "--reconnect",
                 "--sink", "null"]) == 2
    assert "choose one" in capsys.readouterr().err
