"""``webrtc://HOST:PORT``: the rendered video to browsers over WebRTC (H.264 or VP8, sub-second latency).

jetson-inference's ``webrtc://`` output, with the same shape: edgeseg serves
a page at ``http://HOST:PORT/``; the browser's ``RTCPeerConnection`` sends
its offer to ``POST /offer`` and receives the stream. Signalling is the
standard library's HTTP server; the media side is aiortc (``pip install
'edgeseg[webrtc]'``), which encodes each frame for each viewer (VP8 or H.264,
whichever the browser prefers) and paces it by the wall clock. Frames the
network cannot carry are skipped: a viewer always sees the newest one.

Binds to 127.0.0.1 unless the URI names another host; any other address
needs ``?token=SECRET`` (the page must then be opened with it), as the MJPEG
viewer does. Peers on other machines need the host's address reachable
over UDP (no TURN server is involved).
"""

from __future__ import annotations

import asyncio
import fractions
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from edgeseg.errors import EdgesegError

from .sinks import Sink

log = logging.getLogger("edgeseg.webrtc")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CLOCK_RATE = 90_000  # RTP video clock
ANSWER_TIMEOUT_S = 20.0

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeseg WebRTC</title>
<style>body{margin:0;background:#111;color:#eee;font:14px system-ui,sans-serif}
video{display:block;margin:1em auto;max-width:100%;background:#000}#state{text-align:center}</style></head>
<body><video id="video" autoplay muted playsinline></video><div id="state">connecting</div>
<script>
const token = new URLSearchParams(location.search).get("token");
const pc = new RTCPeerConnection();
pc.addTransceiver("video", {direction: "recvonly"});
pc.ontrack = (e) => { document.getElementById("video").srcObject = e.streams[0] || new MediaStream([e.track]); };
pc.onconnectionstatechange = () => { document.getElementById("state").textContent = pc.connectionState; };
async function start() {
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done());
  });
  const reply = await fetch("/offer" + (token ? "?token=" + encodeURIComponent(token) : ""), {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({sdp: pc.localDescription.sdp, type: pc.localDescription.type})});
  if (!reply.ok) throw new Error("offer refused: " + reply.status);
  await pc.setRemoteDescription(await reply.json());
}
window.edgeseg = {pc: pc, started: start().catch((e) => { document.getElementById("state").textContent = String(e); })};
</script></body></html>
"""


def _require_aiortc() -> Any:
    try:
        import aiortc
    except ImportError:
        raise EdgesegError("webrtc:// output needs aiortc: pip install 'edgeseg[webrtc]' (or pip install aiortc); "
                           "or watch the MJPEG viewer with --sink http://127.0.0.1:8080") from None
    return aiortc


class _LatestFrame:
    """The newest rendered frame, shared by the sink (writer thread) and the tracks (asyncio loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.image: np.ndarray | None = None
        self.index = 0
        self.ended = False
        self.changed = asyncio.Event()

    def publish(self, image: np.ndarray | None) -> None:
        """From any thread: a new frame (None: the stream has ended)."""
        def update() -> None:
            if image is None:
                self.ended = True
            else:
                self.image, self.index = image, self.index + 1
            self.changed.set()

        self.loop.call_soon_threadsafe(update)


def _make_track(latest: _LatestFrame) -> Any:
    """An aiortc video track that sends the newest frame each time the encoder asks."""
    import av
    from aiortc import MediaStreamTrack
    from aiortc.mediastreams import MediaStreamError

    class OverlayTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._sent = 0
            self._t0: float | None = None

        async def recv(self) -> av.VideoFrame:
            while latest.index == self._sent and not latest.ended:
                latest.changed.clear()
                await latest.changed.wait()
            if latest.ended and latest.index == self._sent:
                self.stop()
                raise MediaStreamError  # the end of the stream, as aiortc's players signal it
            self._sent = latest.index
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(latest.image), format="bgr24")
            frame.pts = int((now - self._t0) * CLOCK_RATE)
            frame.time_base = fractions.Fraction(1, CLOCK_RATE)
            return frame

    return OverlayTrack()


class WebRtcSink(Sink):
    """Serves the page and answers WebRTC offers (see the module docstring).

    Args:
        host, port: where the page and signalling listen (port 0: any free one).
        token: required on every request when given (always, off loopback).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8081, token: str | None = None):
        _require_aiortc()
        if host not in LOOPBACK and not token:
            raise EdgesegError(f"webrtc://{host}:{port}: bound beyond loopback, the page needs a token: add ?token=SECRET")
        self.token = token
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self.loop.run_forever, name="edgeseg-webrtc", daemon=True)
        self._loop_thread.start()
        self.latest = asyncio.run_coroutine_threadsafe(self._make_latest(), self.loop).result(5)
        self.peers: set[Any] = set()
        self.frames = 0
        try:
            self._server = ThreadingHTTPServer((host, port), self._handler())
        except OSError as exc:
            self._stop_loop()
            raise EdgesegError(f"webrtc://{host}:{port}: cannot listen ({exc.strerror}); choose another port") from None
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_address[1]
        self.url = f"http://{host}:{self.port}/" + (f"?token={token}" if token else "")
        self.uri = f"webrtc://{host}:{self.port}"
        threading.Thread(target=self._server.serve_forever, name="edgeseg-webrtc-http", daemon=True).start()
        log.info("WebRTC viewer: open %s", self.url)

    async def _make_latest(self) -> _LatestFrame:
        return _LatestFrame(asyncio.get_running_loop())

    def _authorised(self, query: str) -> bool:
        if not self.token:
            return True
        given = parse_qs(query).get("token", [""])[-1]
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def _answer(self, offer: dict[str, str]) -> dict[str, str]:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection()
        self.peers.add(pc)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self.peers.discard(pc)
                await pc.close()

        pc.addTrack(_make_track(self.latest))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                log.debug("%s", args)

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _route(self, expected: str) -> bool:
                """Whether the request is for ``expected`` and authorised (else it has been answered)."""
                parts = urlsplit(self.path)
                if not sink._authorised(parts.query):
                    self._reply(401, b"token required\n", "text/plain")
                    return False
                if parts.path != expected:
                    self._reply(404, b"not found\n", "text/plain")
                    return False
                return True

            def do_GET(self) -> None:
                if self._route("/"):
                    self._reply(200, PAGE.encode(), "text/html; charset=utf-8")

            def do_POST(self) -> None:
                if not self._route("/offer"):
                    return
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                    offer = json.loads(self.rfile.read(min(length, 1 << 20)))
                    if offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
                        raise ValueError("not an SDP offer")
                    answer = asyncio.run_coroutine_threadsafe(sink._answer(offer), sink.loop).result(ANSWER_TIMEOUT_S)
                except (ValueError, json.JSONDecodeError) as exc:
                    return self._reply(400, f"bad offer: {exc}\n".encode(), "text/plain")
                self._reply(200, json.dumps(answer).encode(), "application/json")

        return Handler

    def write(self, image: np.ndarray) -> None:
        self.latest.publish(image.copy())  # the caller keeps ownership of its buffer
        self.frames += 1

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(5)

    def close(self) -> str:
        self.latest.publish(None)
        self._server.shutdown()
        self._server.server_close()

        async def close_peers() -> None:
            await asyncio.gather(*(pc.close() for pc in list(self.peers)), return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close_peers(), self.loop).result(10)
        self._stop_loop()
        return f"{self.uri} ({self.frames} frames)"


def open_webrtc_sink(uri: str) -> WebRtcSink:
    """``webrtc://[HOST][:PORT][?token=SECRET]`` -> :class:`WebRtcSink` (127.0.0.1:8081 by default)."""
    parts = urlsplit(uri)
    if parts.path not in ("", "/"):
        raise EdgesegError(f"WebRTC output {uri}: give only host and port, e.g. webrtc://127.0.0.1:8081")
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"token"})
    if unknown:
        raise EdgesegError(f"WebRTC output {uri}: unknown option(s) {unknown}; options: token")
    try:
        port = parts.port if parts.port is not None else 8081
    except ValueError as exc:
        raise EdgesegError(f"WebRTC output {uri}: {exc}") from None
    return WebRtcSink(parts.hostname or "127.0.0.1", port, token=query.get("token", [None])[-1])


__all__ = ["WebRtcSink", "open_webrtc_sink"]
