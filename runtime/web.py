"""A small web viewer: the live overlay as MJPEG plus the run's statistics.

So a headless Jetson can be watched from a laptop's browser. Built on the
standard library's ``ThreadingHTTPServer``; it serves exactly four things and
never a file from disk:

- ``/``: the page (the stream and live FPS, latency and dropped-frame counts);
- ``/stream.mjpg``: ``multipart/x-mixed-replace`` JPEG stream of the newest frames;
- ``/frame.jpg``: the newest frame alone;
- ``/stats.json``: the run's live statistics (polled by the page).

It binds to 127.0.0.1 unless given another host. With a token, every request
must carry ``?token=...`` (the page passes its own on to the stream and stats).
Bound to any other address without a token, it makes a random one and logs
the URL that carries it: what the network can reach always needs a token.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from edgeseg.errors import EdgesegError

log = logging.getLogger("edgeseg.web")

LOOPBACK = ("127.0.0.1", "localhost", "::1")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeseg live</title>
<style>
  body { margin: 0; background: #111; color: #eee; font: 14px system-ui, sans-serif; }
  header { display: flex; gap: 1.5em; padding: .6em 1em; background: #222; flex-wrap: wrap; }
  header b { font-variant-numeric: tabular-nums; }
  main { display: flex; justify-content: center; padding: 1em; }
  img { max-width: 100%; height: auto; background: #000; }
  #state { color: #8c8; }
</style>
</head>
<body>
<header>
  <span>FPS <b id="fps">-</b></span>
  <span>latency p50 <b id="latency">-</b> ms</span>
  <span>p99 <b id="latency99">-</b> ms</span>
  <span>frames <b id="frames">0</b></span>
  <span>dropped <b id="dropped">0</b></span>
  <span id="state">connecting</span>
</header>
<main><img id="stream" alt="live segmentation overlay"></main>
<script>
  "use strict";
  const token = new URLSearchParams(location.search).get("token");
  const suffix = token ? "?token=" + encodeURIComponent(token) : "";
  document.getElementById("stream").src = "stream.mjpg" + suffix;
  const show = (id, value, digits) => {
    document.getElementById(id).textContent =
      (value === null || value === undefined) ? "-" : Number(value).toFixed(digits);
  };
  async function poll() {
    try {
      const response = await fetch("stats.json" + suffix, {cache: "no-store"});
      if (!response.ok) throw new Error(response.status);
      const s = await response.json();
      show("fps", s.fps, 1);
      show("latency", s.latency_ms.p50, 1);
      show("latency99", s.latency_ms.p99, 1);
      show("frames", s.frames, 0);
      show("dropped", s.dropped, 0);
      document.getElementById("state").textContent = s.running ? "live" : "ended";
    } catch (err) {
      document.getElementById("state").textContent = "disconnected";
    }
  }
  poll();
  setInterval(poll, 500);
</script>
</body>
</html>
"""


class WebViewer:
    """Serves the newest published frame and the statistics of a run.

    Args:
        host: address to bind (127.0.0.1 keeps it on this machine; 0.0.0.0 for every interface).
        port: TCP port; 0 picks a free one (see :attr:`url` after :meth:`start`).
        token: when set, required as ``?token=`` on every request.
        quality: JPEG quality, 1..100.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, token: str | None = None, quality: int = 80):
        if not 1 <= quality <= 100:
            raise EdgesegError(f"web viewer JPEG quality {quality} is outside 1..100")
        if not 0 <= port <= 65535:
            raise EdgesegError(f"web viewer port {port} is outside 0..65535")
        self.host, self.port, self.token, self.quality = host, port, token, quality
        self.stats_provider: Callable[[], dict[str, Any]] | None = None
        self._jpeg: bytes | None = None
        self._version = 0
        self._cond = threading.Condition()
        self._closed = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Bind and serve in a background thread."""
        handler = _make_handler(self)
        server_class = _ThreadingHTTPServer6 if ":" in self.host else ThreadingHTTPServer
        try:
            self._server = server_class((self.host, self.port), handler)
        except OSError as exc:
            raise EdgesegError(
                f"web viewer cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); "
                "choose another port (http://127.0.0.1:8081) or stop what is using it"
            ) from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="edgeseg-web", daemon=True)
        self._thread.start()
        if self.host not in LOOPBACK and not self.token:
            # Reachable from the network: never without a token. Make one (as Jupyter does) and show the URL with it.
            self.token = secrets.token_urlsafe(16)
            log.warning("web viewer on %s is reachable from the network: requests need the token; open %s?token=%s "
                        "(or choose one with ?token=SECRET on the sink)", self.url, self.url, self.token)
            return
        log.info("web viewer at %s%s", self.url, "?token=..." if self.token else "")

    def publish(self, image: np.ndarray) -> None:
        """Make uint8 H x W x 3 BGR ``image`` the newest frame (JPEG-encoded here, once for all clients)."""
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise EdgesegError("OpenCV cannot encode JPEG for the web viewer")
        with self._cond:
            self._jpeg = data.tobytes()
            self._version += 1
            self._cond.notify_all()

    def latest(self, after: int, timeout: float) -> tuple[int, bytes | None]:
        """(version, JPEG) of a frame newer than ``after``, or the current one after ``timeout`` s."""
        with self._cond:
            self._cond.wait_for(lambda: self._version > after or self._closed, timeout=timeout)
            return self._version, self._jpeg

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> dict[str, Any]:
        data = dict(self.stats_provider()) if self.stats_provider else {}
        data.setdefault("frames", 0)
        data.setdefault("dropped", 0)
        data.setdefault("fps", None)
        data.setdefault("latency_ms", {"p50": None, "p90": None, "p99": None})
        data["running"] = data.get("running", True) and not self._closed
        return data

    def authorised(self, query: dict[str, list[str]]) -> bool:
        if not self.token:
            return True
        given = query.get("token", [""])[-1]
        return hmac.compare_digest(given.encode(), self.token.encode())

    def close(self) -> None:
        """Stop serving; open streams end."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _ThreadingHTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _make_handler(viewer: WebViewer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edgeseg"
        sys_version = ""

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            if not viewer.authorised(parse_qs(parts.query)):
                self._send(401, b"token required: open the page as /?token=...\n", "text/plain; charset=utf-8")
                return
            route = parts.path
            if route in ("/", "/index.html"):
                self.send_response(200)
                body = PAGE.encode()
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Security-Policy",
                                 "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
                self.end_headers()
                self.wfile.write(body)
            elif route == "/stats.json":
                self._send(200, json.dumps(viewer.stats()).encode(), "application/json")
            elif route == "/frame.jpg":
                _, jpeg = viewer.latest(-1, 0)
                if jpeg is None:
                    self._send(503, b"no frame yet\n", "text/plain; charset=utf-8")
                else:
                    self._send(200, jpeg, "image/jpeg")
            elif route == "/stream.mjpg":
                self._stream()
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = -1
            try:
                while not viewer.closed:
                    version, jpeg = viewer.latest(seen, timeout=0.5)
                    if jpeg is None or version == seen:
                        continue
                    seen = version
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser went away

    return Handler


__all__ = ["PAGE", "WebViewer"]
