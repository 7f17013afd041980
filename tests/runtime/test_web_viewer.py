"""The web viewer: its HTTP surface, then the page in a real headless Chromium."""

from __future__ import annotations

import http.client
import json

import cv2
import numpy as np
import pytest
from helpers import synthetic_run, wait_until

from edgeseg.errors import EdgesegError
from edgeseg.runtime.sinks import WebSink, open_sink
from edgeseg.runtime.web import WebViewer


def get(viewer: WebViewer, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", viewer.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    status, headers, body = response.status, dict(response.getheaders()), response.read()
    conn.close()
    return status, headers, body


@pytest.fixture
def viewer():
    viewer = WebViewer("127.0.0.1", 0)
    viewer.start()
    yield viewer
    viewer.close()


def test_routes_page_stats_and_frames(viewer):
    status, headers, body = get(viewer, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'id="fps"' in body and b'id="dropped"' in body and b"stream.mjpg" in body
    status, _, _ = get(viewer, "/frame.jpg")
    assert status == 503  # nothing published yet

    viewer.stats_provider = lambda: {"frames": 7, "dropped": 2, "fps": 12.5, "latency_ms": {"p50": 40.0, "p90": 50.0, "p99": 60.0}}
    status, headers, body = get(viewer, "/stats.json")
    stats = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert stats["frames"] == 7 and stats["dropped"] == 2 and stats["fps"] == 12.5 and stats["running"] is True

    image = np.zeros((48, 64, 3), np.uint8)
    image[:, 32:] = (0, 0, 255)
    viewer.publish(image)
    status, headers, body = get(viewer, "/frame.jpg")
    decoded = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and decoded.shape == (48, 64, 3)
    assert np.abs(decoded.astype(int) - image).mean() < 3


def test_stream_is_multipart_jpeg(viewer):
    viewer.publish(np.full((24, 32, 3), 200, np.uint8))
    conn = http.client.HTTPConnection("127.0.0.1", viewer.port, timeout=10)
    conn.request("GET", "/stream.mjpg")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "multipart/x-mixed-replace; boundary=frame"
    assert response.readline() == b"--frame\r\n"
    assert response.readline() == b"Content-Type: image/jpeg\r\n"
    length = int(response.readline().split(b":")[1])
    assert response.readline() == b"\r\n"
    jpeg = response.read(length)
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (24, 32, 3)
    conn.close()


@pytest.mark.parametrize("path", ["/etc/passwd", "/../README.md", "/%2e%2e/pyproject.toml", "/static/x.js", "/index.html/.."])
def test_serves_nothing_but_its_own_routes(viewer, path):
    status, _, body = get(viewer, path)
    assert status == 404 and body == b"not found\n"


def test_token_is_required_when_set():
    viewer = WebViewer("127.0.0.1", 0, token="s3cret")
    viewer.start()
    try:
        for path in ("/", "/stats.json", "/stream.mjpg", "/frame.jpg", "/?token=wrong"):
            assert get(viewer, path)[0] == 401
        assert get(viewer, "/?token=s3cret")[0] == 200
        assert get(viewer, "/stats.json?token=s3cret")[0] == 200
    finally:
        viewer.close()


def _raw(viewer: WebViewer, request: bytes) -> bytes:
    """Send bytes as they are (http.client would normalise the request line)."""
    import socket

    with socket.create_connection(("127.0.0.1", viewer.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("request_line", [b"GET ../../etc/passwd HTTP/1.0", b"GET //etc/passwd HTTP/1.0",
                                          b"GET /..%2f..%2fetc%2fpasswd HTTP/1.0", b"GET http://evil/../README.md HTTP/1.0",
                                          b"GET /%00 HTTP/1.0"])
def test_raw_traversal_requests_get_404(viewer, request_line):
    reply = _raw(viewer, request_line + b"\r\n\r\n")
    assert reply.split(b"\r\n", 1)[0].split(b" ")[1] == b"404"
    assert b"root:" not in reply and b"[project]" not in reply


def test_only_get_is_served(viewer):
    for method in (b"POST", b"PUT", b"DELETE"):
        reply = _raw(viewer, method + b" / HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        assert reply.split(b" ")[1] == b"501", reply[:80]


def test_viewer_binds_loopback_by_default():
    viewer = WebViewer(port=0)
    viewer.start()
    try:
        assert viewer.host == "127.0.0.1" and viewer._server.server_address[0] == "127.0.0.1"
        assert viewer.token is None and get(viewer, "/")[0] == 200
    finally:
        viewer.close()


def test_bound_to_every_interface_it_always_needs_a_token(caplog):
    import logging

    viewer = WebViewer("0.0.0.0", 0)
    with caplog.at_level(logging.WARNING):
        viewer.start()
    try:
        token = viewer.token
        assert token and len(token) >= 16
        assert f"?token={token}" in caplog.text  # the URL to open is shown once
        for path in ("/", "/stats.json", "/frame.jpg", "/?token=wrong"):
            assert get(viewer, path)[0] == 401
        assert get(viewer, f"/?token={token}")[0] == 200
    finally:
        viewer.close()
    other = WebViewer("0.0.0.0", 0)
    other.start()
    try:
        assert other.token != token  # random per run, not a fixed default
    finally:
        other.close()


def test_sink_uri_binds_loopback_by_default():
    sink = open_sink("http://:0")  # no host given
    try:
        assert isinstance(sink, WebSink) and sink.viewer.host == "127.0.0.1" and sink.viewer.port > 0
    finally:
        sink.close()
    with pytest.raises(EdgesegError, match="give only host and port"):
        open_sink("http://127.0.0.1:0/some/file")
    with pytest.raises(EdgesegError, match=r"unknown option\(s\) \['foo'\]"):
        open_sink("http://127.0.0.1:0?foo=1")


def test_port_in_use_is_a_clear_error(viewer):
    with pytest.raises(EdgesegError, match=f"cannot listen on 127.0.0.1:{viewer.port}.*choose another port"):
        WebViewer("127.0.0.1", viewer.port).start()


# -- in a real browser ------------------------------------------------------------------------

def number(driver, element_id: str) -> float | None:
    text = driver.find_element("id", element_id).text
    try:
        return float(text)
    except ValueError:
        return None


def test_page_shows_changing_frames_and_live_fps_in_chromium(small_onnx, browser):
    # A real run: synthetic camera at 15 FPS -> onnxruntime -> web viewer, watched by Chromium.
    with synthetic_run(small_onnx[0], "http://127.0.0.1:0") as (sink, _):
        browser.get(sink.viewer.url)
        image = browser.find_element("id", "stream")
        wait_until(lambda: browser.execute_script("return arguments[0].naturalWidth", image) == 320, 60,
                   "the MJPEG stream to show a 320 px frame")
        def screenshot():
            return cv2.imdecode(np.frombuffer(image.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)

        # Polled, not slept: on a loaded machine a new frame may take longer than a fixed pause.
        shots = [screenshot()]
        assert shots[0].shape[:2] == (240, 320)
        for _ in range(2):
            def changed() -> bool:
                shot = screenshot()
                if np.abs(shot.astype(int) - shots[-1]).mean() <= 2.0:
                    return False
                shots.append(shot)
                return True

            wait_until(changed, 60, "the picture to change")

        first_fps = wait_until(lambda: number(browser, "fps"), 60, "an FPS figure")
        first_frames = number(browser, "frames")
        assert 0 < first_fps < 100
        # The figures are polled live: the frame count grows and the FPS figure is re-measured.
        wait_until(lambda: number(browser, "frames") > first_frames, 60, "the frame count to grow")
        wait_until(lambda: number(browser, "fps") != first_fps, 60, f"the FPS figure to change from {first_fps}")
        assert browser.find_element("id", "state").text == "live"
        assert number(browser, "latency") > 0 and number(browser, "dropped") is not None

