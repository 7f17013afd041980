"""Ctrl-C and SIGTERM stop a real ``edgeseg run`` process cleanly, with a finished, playable video."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import pytest


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_finalises_a_playable_video(small_onnx, tmp_path, signum):
    out, stats = tmp_path / "live.mp4", tmp_path / "stats.json"
    # An endless live source: only the signal ends this run.
    command = [sys.executable, "-m", "edgeseg", "run", str(small_onnx[0]), "--source", "synthetic://?fps=30&width=320&height=240",
               "--sink", str(out), "--stats", str(stats)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # Frames are being encoded once the temporary video has grown past its header.
        temporary = lambda: [p for p in tmp_path.iterdir() if p.name.startswith(".live.mp4.")]  # noqa: E731
        wait_for(lambda: any(p.stat().st_size > 20_000 for p in temporary()), 300, "frames to be written")
        assert not out.exists()  # still under its temporary name while running
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"stopped by {signal.Signals(signum).name}" in json.loads(stats.read_text())["end"]
    assert temporary() == []
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened()
    decoded = 0
    while cap.read()[0]:
        decoded += 1
    report = json.loads(stats.read_text())
    assert decoded == report["frames"] > 0
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == decoded  # the container's index was written
