"""``rtsp://HOST:PORT/PATH``: publish the rendered video to an RTSP server, as H.264.

jetson-inference users pair its RTSP output with a media server (MediaMTX,
formerly rtsp-simple-server; GStreamer's rtsp-server; Wowza): edgeseg
*publishes* (RTSP ANNOUNCE + RECORD, over TCP) to ``rtsp://HOST:PORT/PATH``
and every viewer (VLC, ffplay, a browser through the server's WebRTC/HLS
gateway, another ``edgeseg run --source rtsp://...``) reads it from the
server. The encoder is tuned for latency (libx264 ``zerolatency``, no
B-frames, a key frame every 2 s so a late viewer starts quickly; NVENC's
low-latency preset where present), and timestamps follow the wall clock,
so dropped frames of a live source do not make the stream run fast.

The connection opens with the first frame (the stream's size goes into
its SDP announcement); a server that is not running fails there, with the
address in the message, and the run stops.
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from urllib.parse import urlsplit

import numpy as np

from edgeseg.errors import EdgesegError

from .sinks import Sink
from .sinks_video import H264Encoder, _frame_rate, pick_h264_encoder

DEFAULT_PORT = 554  # RTSP's own, what FFmpeg uses when the URI names none (MediaMTX listens on 8554)
log = logging.getLogger("edgeseg.sinks")
CLOCK = Fraction(1, 1000)  # pts in milliseconds of wall-clock time


class RtspSink(Sink):
    """Publishes H.264 to an RTSP server (see the module docstring).

    Args:
        uri: ``rtsp://HOST[:PORT]/PATH``.
        fps: the nominal rate announced (the source's).
        encoder: ``auto``/``h264``, ``h264_nvenc`` or ``libx264``.
    """

    def __init__(self, uri: str, fps: float | None = None, encoder: str = "auto"):
        parts = urlsplit(uri)
        if not parts.hostname or parts.path in ("", "/"):
            raise EdgesegError(f"RTSP output {uri}: give the server and a stream path, e.g. rtsp://127.0.0.1:8554/edgeseg")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise EdgesegError(f"RTSP output {uri}: {exc}") from None
        self.uri, self.host, self.port = uri, parts.hostname, port
        self.encoder = pick_h264_encoder(encoder)
        rate = _frame_rate(fps or 30.0)
        gop = str(max(1, round(2 * float(rate))))
        options = ({"preset": "ultrafast", "tune": "zerolatency", "bf": "0", "g": gop} if self.encoder == "libx264"
                   else {"preset": "p1", "tune": "ll", "bf": "0", "g": gop})
        self._encoder = H264Encoder(uri, "rtsp", self.encoder, rate, CLOCK,
                                    container_options={"rtsp_transport": "tcp"}, encoder_options=options)
        self.frames = 0
        self._t0: float | None = None
        self._last_pts = -1

    def write(self, image: np.ndarray) -> None:
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        pts = max(self._last_pts + 1, round((now - self._t0) * 1000))  # strictly increasing
        try:
            self._encoder.encode(image, pts)
        except OSError as exc:  # av.error.* derive from OSError: no server, or it went away
            hint = ("; start the RTSP server first (e.g. MediaMTX, which listens on :8554) or give its address"
                    if self.frames == 0 else "")
            raise EdgesegError(f"publishing to {self.uri} failed after {self.frames} frames: "
                               f"{exc.strerror or exc}{hint}") from None
        self._last_pts = pts
        self.frames += 1

    def close(self) -> str:
        try:
            self._encoder.finish()  # sends TEARDOWN: viewers see the end of the stream
        except OSError as exc:  # the server is gone: nothing left to tell it
            log.warning("%s: closing the stream failed (%s); the server may have stopped", self.uri, exc.strerror or exc)
        return f"{self.uri} ({self.frames} frames published)"

    def abort(self) -> None:
        self._encoder.close()


__all__ = ["DEFAULT_PORT", "RtspSink"]
