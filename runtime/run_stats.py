"""Per-frame timestamps and what the pipeline reports from them.

All times are ``time.perf_counter()`` seconds. A frame's latency runs from
*captured* (the source handed it over) to *output* (the last sink took it).

Memory stays bounded on runs of any length (a camera left on for weeks):
counts, means and maxima are running totals, and percentiles come from the
last :data:`KEEP_FRAMES` frames.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

STAGES = ("capture", "preprocess", "infer", "render", "sink")
LIVE_WINDOW_S = 2.0
KEEP_FRAMES = 10_000


@dataclass  # no slots=True: that needs Python 3.10, and the runtime runs on JetPack 5's 3.8
class FrameTimes:
    """Timestamps of one frame (seconds, perf_counter) and stage durations (seconds)."""

    index: int
    captured: float
    capture: float = 0.0
    infer_start: float = 0.0
    infer_end: float = 0.0
    preprocess: float = 0.0
    infer: float = 0.0
    render: float = 0.0
    sink: float = 0.0
    output: float = 0.0

    @property
    def latency(self) -> float:
        return self.output - self.captured


def percentiles_ms(values: list[float] | np.ndarray) -> dict[str, float | None]:
    """p50/p90/p99/mean/max of durations in seconds, as milliseconds (None when empty)."""
    if len(values) == 0:
        return {"p50": None, "p90": None, "p99": None, "mean": None, "max": None}
    ms = np.asarray(values, np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(ms.mean()), "max": float(ms.max())}


class RunStats:
    """Collects finished frames; thread-safe, so the web viewer can read it live."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # The last KEEP_FRAMES frames (for percentiles); totals below cover the whole run.
        self.finished: collections.deque[FrameTimes] = collections.deque(maxlen=KEEP_FRAMES)
        self.frames_out = 0
        self.first_captured: float | None = None
        self.latency_sum = 0.0
        self.latency_max = 0.0
        self.stage_sums = dict.fromkeys(STAGES, 0.0)
        self.frames_in = 0
        self.dropped = 0
        self.running = True
        self._recent: collections.deque[FrameTimes] = collections.deque()

    def captured(self) -> None:
        with self._lock:
            self.frames_in += 1

    def add(self, times: FrameTimes) -> None:
        with self._lock:
            self.finished.append(times)
            self.frames_out += 1
            if self.first_captured is None or times.captured < self.first_captured:
                self.first_captured = times.captured
            self.latency_sum += times.latency
            self.latency_max = max(self.latency_max, times.latency)
            for stage in STAGES:
                self.stage_sums[stage] += getattr(times, stage)
            self._recent.append(times)
            while self._recent and self._recent[0].output < times.output - LIVE_WINDOW_S:
                self._recent.popleft()

    def live_fps(self) -> float | None:
        """Output rate over the last couple of seconds."""
        with self._lock:
            if len(self._recent) < 2:
                return None
            span = self._recent[-1].output - self._recent[0].output
            return (len(self._recent) - 1) / span if span > 0 else None

    def snapshot(self, dropped: int) -> dict[str, Any]:
        """Live figures for the web viewer: recent FPS and latency, totals so far."""
        fps = self.live_fps()
        with self._lock:
            recent = [t.latency for t in self._recent]
            return {"frames": self.frames_out, "frames_in": self.frames_in, "dropped": dropped,
                    "fps": fps, "latency_ms": percentiles_ms(recent), "running": self.running}

    def summary(self, dropped: int) -> dict[str, Any]:
        """The end-of-run report (the ``--stats`` JSON's core keys)."""
        with self._lock:
            kept = list(self.finished)
            n, frames_in = self.frames_out, self.frames_in
            first, latency_sum, latency_max = self.first_captured, self.latency_sum, self.latency_max
            stage_sums = dict(self.stage_sums)
        out: dict[str, Any] = {"frames": n, "frames_in": frames_in, "dropped": dropped}
        if n and first is not None:
            span = kept[-1].output - first
            out["seconds"] = span
            out["fps"] = n / span if span > 0 else None
        else:
            out["seconds"] = 0.0
            out["fps"] = None
        latency = percentiles_ms([t.latency for t in kept])
        if n:  # mean and max over the whole run; percentiles over the last KEEP_FRAMES frames
            latency.update(mean=1000.0 * latency_sum / n, max=1000.0 * latency_max)
        out["latency_ms"] = latency
        out["stage_ms"] = {stage: (1000.0 * total / n if n else None) for stage, total in stage_sums.items()}
        return out


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines for the end of a run."""
    def num(value: float | None, digits: int = 1) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    lat = summary["latency_ms"]
    stages = "  ".join(f"{name} {num(ms)}" for name, ms in summary["stage_ms"].items())
    return "\n".join([
        f"frames: {summary['frames_in']} in, {summary['frames']} out, {summary['dropped']} dropped "
        f"in {num(summary['seconds'], 2)} s: {num(summary['fps'])} FPS",
        f"latency capture->output ms: p50 {num(lat['p50'])}  p90 {num(lat['p90'])}  p99 {num(lat['p99'])}  max {num(lat['max'])}",
        f"mean ms per frame: {stages}",
    ])
