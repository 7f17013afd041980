"""RTSP output, received on loopback by a real client: FFmpeg (through PyAV) as the RTSP server a publisher pushes to.

FFmpeg's RTSP demuxer in listen mode (``rtsp_flags=listen``) is the receiving
end of an RTSP publish (ANNOUNCE, SETUP, RECORD over TCP), as a media server
such as MediaMTX is; its decoder then counts and compares the frames.
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from helpers import read_video_frames

from edgeseg.cli import main
from edgeseg.errors import EdgesegError
from edgeseg.runtime.sinks import open_sink
from edgeseg.runtime.sinks_rtsp import RtspSink

av = pytest.importorskip("av")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """An FFmpeg RTSP listener on loopback that decodes every frame published to it."""

    def __init__(self):
        self.url = f"rtsp://127.0.0.1:{free_port()}/edgeseg"
        self.frames: list[np.ndarray] = []
        self.codec: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        time.sleep(0.5)  # let FFmpeg bind the port before the publisher connects

    def _run(self) -> None:
        try:
            with av.open(self.url, options={"rtsp_flags": "listen", "listen_timeout": "60"}) as container:
                stream = container.streams.video[0]
                self.codec = stream.codec_context.name
                for frame in container.decode(stream):
                    self.frames.append(frame.to_ndarray(format="bgr24"))
        except BaseException as exc:  # reported by the test
            self.error = exc

    def join(self, timeout: float = 60.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the receiver did not see the end of the stream"


def test_published_frames_are_received_and_decoded():
    receiver = Receiver()
    sink = open_sink(receiver.url, fps=20)
    assert isinstance(sink, RtspSink)
    yy, xx = np.mgrid[0:120, 0:160]
    sent = [np.dstack([(xx + 4 * i) % 256, (yy * 2) % 256, np.full_like(xx, 8 * i)]).astype(np.uint8) for i in range(25)]
    for image in sent:
        sink.write(image)
        time.sleep(0.01)
    assert sink.close() == f"{receiver.url} (25 frames published)"
    receiver.join()
    assert receiver.error is None, receiver.error
    assert receiver.codec == "h264" and len(receiver.frames) == 25
    for index in (0, 12, 24):
        error = np.abs(receiver.frames[index].astype(np.int16) - sent[index]).mean()
        assert error < 8.0, f"frame {index}: mean abs difference {error:.1f}"


def test_edgeseg_run_publishes_every_frame_of_a_file(small_onnx, sample_video):
    receiver = Receiver()
    assert main(["run", str(small_onnx[0]), "--source", str(sample_video), "--sink", receiver.url]) == 0
    receiver.join()
    assert receiver.error is None, receiver.error
    source = read_video_frames(sample_video)
    assert len(receiver.frames) == len(source) == 40
    assert receiver.frames[0].shape == source[0].shape
    # the overlay, not the plain frame: blended at alpha 0.5
    assert np.abs(receiver.frames[20].astype(np.int16) - source[20]).mean() > 10


def test_no_server_is_a_clear_error(small_onnx, sample_video, capsys):
    url = f"rtsp://127.0.0.1:{free_port()}/edgeseg"
    assert main(["run", str(small_onnx[0]), "--source", str(sample_video), "--sink", url]) == 2
    err = capsys.readouterr().err
    assert f"publishing to {url} failed after 0 frames" in err and "start the RTSP server first" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("uri, message", [
    ("rtsp://127.0.0.1:8554", "give the server and a stream path"),
    ("rtsp://127.0.0.1:99999/x", "Port out of range"),
])
def test_bad_rtsp_uris(uri, message):
    with pytest.raises(EdgesegError, match=message):
        open_sink(uri)
    with pytest.raises(EdgesegError, match="RTSP output is H.264; drop --video-codec mp4v"):
        open_sink("rtsp://127.0.0.1:8554/x", codec="mp4v")
