"""The pipeline with live sources at set rates, against a backend of known speed.

The backend is the real onnxruntime one plus a fixed sleep, so it is at least
``DELAY`` s a frame on any machine; the bounds below are stated relative to
that delay and to the source's period, not as absolute times.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.runtime.backends import open_backend
from edgeseg.runtime.backends.base import Backend
from edgeseg.runtime.overlay import OverlayRenderer
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.sinks import NullSink, Sink
from edgeseg.runtime.sources import SyntheticSource, open_source


class DelayedBackend(Backend):
    """A real backend made slower by a fixed sleep per call, to give inference a known minimum time."""

    name = "delayed"

    def __init__(self, inner: Backend, delay: float):
        self.inner, self.delay = inner, delay
        self.metadata, self.batch_size = inner.metadata, inner.batch_size
        self.calls = 0

    def _run(self, feed: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        time.sleep(self.delay)
        self.calls += 1
        return self.inner.run(feed, names)

    def close(self) -> None:
        self.inner.close()


def run_pipeline(onnx_path, source, delay: float, sinks: list[Sink] | None = None, **kwargs) -> tuple[Pipeline, dict]:
    with open_backend(onnx_path) as inner:
        backend = DelayedBackend(inner, delay)
        meta = inner.metadata
        pipeline = Pipeline(source, backend, sinks or [NullSink()], OverlayRenderer(meta.palette, meta.classes), **kwargs)
        return pipeline, pipeline.run()


def test_live_source_slower_than_inference_drops_nothing(small_onnx):
    # 5 frames a second (200 ms apart) into a model taking 20 ms: every frame is processed.
    # (The wide margin is for loaded CI machines: a frame is dropped only if one waits 180 ms for a thread.)
    source = SyntheticSource(width=160, height=120, fps=5.0, frames=8)
    pipeline, summary = run_pipeline(small_onnx[0], source, delay=0.02)
    assert pipeline.live and summary["end"] == "end of stream" and summary["error"] is None
    assert summary["frames_in"] == 8 and summary["frames"] == 8 and summary["dropped"] == 0
    assert [t.index for t in pipeline.stats.finished] == list(range(8))


def test_live_source_faster_than_inference_drops_and_latency_stays_bounded(small_onnx):
    # 200 frames a second into a model taking at least 80 ms: about 15 of 16 frames must be dropped.
    delay = 0.08
    source = SyntheticSource(width=160, height=120, fps=200.0)
    pipeline, summary = run_pipeline(small_onnx[0], source, delay=delay, max_frames=300)
    done = pipeline.stats.finished
    assert summary["frames_in"] == 300
    assert summary["frames_in"] == summary["frames"] + summary["dropped"]  # every frame accounted for
    assert summary["dropped"] > 2 * summary["frames"] > 0
    indices = [t.index for t in done]
    assert indices == sorted(indices)  # newest-first never reorders
    # Without dropping, frame k would wait for k earlier inferences (seconds by the end).
    # Keeping only the newest frame, one waits at most for the inference in progress, then its own.
    latencies = np.array([t.latency for t in done])
    assert latencies.max() < 4 * delay, f"latencies {np.round(latencies * 1000).astype(int)} ms"
    third = len(latencies) // 3
    assert latencies[-third:].mean() < latencies[:third].mean() + delay  # not growing with time


def test_file_source_processes_every_frame_in_order(small_onnx, sample_video):
    source = open_source(str(sample_video))
    pipeline, summary = run_pipeline(small_onnx[0], source, delay=0.0, queue_size=2)
    assert not pipeline.live
    assert summary["frames"] == summary["frames_in"] == 40 and summary["dropped"] == 0
    assert [t.index for t in pipeline.stats.finished] == list(range(40))


def test_file_played_live_is_paced_at_its_frame_rate(small_onnx, sample_video):
    # --live on a file: delivered at its 10 FPS like a camera, so 6 frames take >= 0.5 s.
    source = open_source(str(sample_video), live=True)
    assert source.live and source.fps == 10.0
    started = time.perf_counter()
    pipeline, summary = run_pipeline(small_onnx[0], source, delay=0.0, max_frames=6)
    assert time.perf_counter() - started >= 0.5
    assert summary["frames"] + summary["dropped"] == 6


class FailingSink(Sink):
    """A sink that breaks on its third frame (disk full, say)."""

    uri = "failing"

    def __init__(self) -> None:
        self.frames, self.aborted = 0, False

    def write(self, image: np.ndarray) -> None:
        if self.frames == 2:
            raise EdgesegError("disk full")
        self.frames += 1

    def abort(self) -> None:
        self.aborted = True


def test_failing_sink_stops_the_run_and_is_aborted(small_onnx, sample_video, tmp_path):
    from edgeseg.runtime.sinks import VideoFileSink

    failing, video = FailingSink(), VideoFileSink(tmp_path / "other.avi", 10.0)
    pipeline, summary = run_pipeline(small_onnx[0], open_source(str(sample_video)), 0.0, sinks=[video, failing])
    assert summary["error"] == "sink: disk full" and failing.aborted
    assert summary["frames"] == 2  # the frame the failing sink refused is not counted as output
    assert (tmp_path / "other.avi").exists()  # the healthy sink is finalised with what it got


@pytest.mark.parametrize("max_frames", [1, 3])
def test_max_frames_counts_frames_read(small_onnx, max_frames):
    pipeline, summary = run_pipeline(small_onnx[0], SyntheticSource(width=64, height=48, fps=50.0), 0.0,
                                     max_frames=max_frames)
    assert summary["frames_in"] == max_frames and summary["end"] == f"max frames ({max_frames})"
