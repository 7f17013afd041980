"""Progress bars on a terminal, periodic parsable status lines in logs, --quiet for neither."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from helpers import SAMPLES

from edgeseg import progress
from edgeseg.cli import main
from edgeseg.runtime.run_status import format_status, parse_status


class Terminal(io.StringIO):
    """stderr as a terminal would be (the one thing a test run has not got): tqdm writes its bar here."""

    def isatty(self) -> bool:
        return True


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    """``edgeseg ARGV`` in a fresh interpreter whose stderr is a pipe, as in a CI log."""
    return subprocess.run([sys.executable, "-m", "edgeseg", *argv], capture_output=True, text=True, timeout=300)


def test_live_run_logs_parsable_status_lines(small_onnx):
    result = run_cli("run", str(small_onnx[0]), "--source", "synthetic://?fps=20&width=160&height=120",
                     "--max-frames", "40", "--sink", "null", "--status-every", "0.4")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " status frames=" in line]
    assert len(lines) >= 3, result.stderr  # 40 frames at 20 FPS: about 2 s
    records = [parse_status(line) for line in lines]
    assert all(r["source"] == "live" and set(r) == {"frames", "in", "dropped", "fps", "latency_p50_ms",
                                                    "latency_p99_ms", "source"} for r in records)
    frames = [int(r["frames"]) for r in records]
    assert frames == sorted(frames) and frames[-1] > frames[0]
    assert 5 < float(records[-1]["fps"]) < 40  # the synthetic camera's 20 FPS, within scheduling noise


def test_file_run_says_its_latency_includes_queueing_and_quiet_silences_status(small_onnx, sample_video):
    result = run_cli("run", str(small_onnx[0]), "--source", str(sample_video), "--sink", "null", "--status-every", "0.05")
    assert result.returncode == 0, result.stderr
    assert "(file source: every frame is processed, so this includes the time frames wait in the queues" in result.stderr
    assert any(parse_status(line)["source"] == "file" for line in result.stderr.splitlines() if " status frames=" in line)
    quiet = run_cli("run", str(small_onnx[0]), "--source", str(sample_video), "--sink", "null", "--status-every",
                    "0.05", "--quiet")
    assert quiet.returncode == 0 and " status frames=" not in quiet.stderr


def test_status_line_format():
    line = format_status({"frames": 3, "frames_in": 4, "dropped": 1, "fps": None, "latency_ms": {"p50": 12.345}}, True)
    assert line == "status frames=3 in=4 dropped=1 fps=na latency_p50_ms=12.3 latency_p99_ms=na source=live"
    assert parse_status("INFO edgeseg.run: " + line)["latency_p50_ms"] == "12.3"


def test_bad_status_interval(small_onnx, capsys):
    assert main(["run", str(small_onnx[0]), "--source", "synthetic://", "--sink", "null", "--status-every", "-1"]) == 2
    assert "--status-every: expected a finite number >= 0, got -1.0" in capsys.readouterr().err


@pytest.fixture
def terminal(monkeypatch):
    """A :class:`Terminal` as stderr; installed by calling it in the test body (pytest's capture
    re-installs its own stderr between fixture setup and the test)."""
    stream = Terminal()
    yield lambda: monkeypatch.setattr(sys, "stderr", stream) or stream
    progress.set_quiet(False)


def test_eval_shows_a_bar_on_a_terminal_only_and_not_with_quiet(small_onnx, terminal):
    terminal = terminal()
    # small_onnx has CamVid's 11 classes: the bundled samples score with it.
    assert progress.bars_enabled()
    assert main(["eval", str(small_onnx[0]), "--data", str(SAMPLES), "--limit", "3"]) == 0
    assert "camvid [val]:" in terminal.getvalue() and "/3 [" in terminal.getvalue() and "img/s" in terminal.getvalue()
    terminal.seek(0)
    terminal.truncate()
    assert main(["eval", str(small_onnx[0]), "--data", str(SAMPLES), "--limit", "3", "--quiet"]) == 0
    assert terminal.getvalue() == "" and not progress.bars_enabled()


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress.bars_enabled()
    items = [1, 2, 3]
    assert progress.progress(items, desc="x") is items


def test_bench_shows_a_timed_bar_on_a_terminal(small_onnx, terminal):
    terminal = terminal()
    assert main(["bench", str(small_onnx[0]), "--warmup-s", "0", "--min-iters", "5", "--min-time-s", "1.2",
                 "--blocks", "5"]) == 0
    assert "measuring:" in terminal.getvalue() and "/1 s" in terminal.getvalue()
