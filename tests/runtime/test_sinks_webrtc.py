"""WebRTC output received by a real headless Chromium on loopback: its decoder counts the frames."""

from __future__ import annotations

import pytest
from helpers import synthetic_run, wait_until

from edgeseg.errors import EdgesegError
from edgeseg.runtime.sinks import open_sink

pytest.importorskip("aiortc")

STATS = """
const done = arguments[arguments.length - 1];
const pc = window.edgeseg && window.edgeseg.pc;
if (!pc) { done(null); return; }
pc.getStats().then((report) => {
  let out = null;
  report.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") out = {
      decoded: s.framesDecoded || 0, width: s.frameWidth || 0, codec: s.codecId || "", state: pc.connectionState}; });
  done(out);
});
"""


def test_chromium_receives_and_decodes_the_live_overlay(small_onnx, browser):
    browser.set_script_timeout(20)
    with synthetic_run(small_onnx[0], "webrtc://127.0.0.1:0") as (sink, _):
        browser.get(sink.url)

        def stats():
            return browser.execute_async_script(STATS)

        first = wait_until(lambda: (s := stats()) and s["decoded"] >= 5 and s, 60, "5 decoded frames")
        assert first["width"] == 320 and first["state"] == "connected"
        later = wait_until(lambda: (s := stats()) and s["decoded"] >= first["decoded"] + 10 and s, 60,
                           "10 more decoded frames")
        shown = browser.execute_script("const v = document.getElementById('video');"
                                       " return [v.videoWidth, v.videoHeight, v.paused];")
        print(f"Chromium decoded {later['decoded']} frames; video element {shown}")
        assert shown == [320, 240, False]



def test_beyond_loopback_needs_a_token():
    with pytest.raises(EdgesegError, match=r"needs a token: add \?token=SECRET"):
        open_sink("webrtc://0.0.0.0:0")
    with pytest.raises(EdgesegError, match="give only host and port"):
        open_sink("webrtc://127.0.0.1:0/x")


def test_token_is_checked_on_the_page_and_the_offer():
    import http.client

    sink = open_sink("webrtc://127.0.0.1:0?token=s3cret")
    try:
        def status(method: str, path: str) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=10)
            conn.request(method, path, body=b"{}" if method == "POST" else None)
            code = conn.getresponse().status
            conn.close()
            return code

        assert status("GET", "/") == 401 and status("POST", "/offer") == 401
        assert status("GET", "/?token=s3cret") == 200
        assert status("POST", "/offer?token=s3cret") == 400  # not an SDP offer
        assert status("GET", "/etc/passwd?token=s3cret") == 404
    finally:
        assert sink.close() == f"webrtc://127.0.0.1:{sink.port} (0 frames)"
