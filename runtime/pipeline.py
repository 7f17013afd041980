"""The threaded video pipeline: capture -> inference -> render and sinks.

Three threads joined by bounded queues, so decoding, inference and
encoding overlap::

    capture thread --q_in--> inference thread --q_out--> render + sinks (the caller's thread)

- A file source fills ``q_in`` and waits when it is full: every frame is
  processed, in order.
- A live source never waits: ``q_in`` holds one frame and a newer one
  replaces it; each replaced frame is counted as dropped. Latency then stays
  bounded by about two inference times however fast the camera is.
- Stopping (:meth:`Pipeline.stop`, Ctrl-C, SIGTERM, end of stream, an error)
  closes ``q_in``; what is already queued still flows through, and the sinks
  are always closed, so video files are finalised and playable.

The render loop runs in the caller's thread because GUI toolkits want their
windows driven from one thread, and signal handlers run in the main thread.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edgeseg.errors import EdgesegError

from .backends.base import Backend
from .frame_queue import END, FrameQueue
from .run_stats import FrameTimes, RunStats
from .sinks import Sink
from .sources import Source
from .tasks import Predictor, Renderer, runtime_task

log = logging.getLogger("edgeseg.pipeline")

FILE_QUEUE_SIZE = 4
JOIN_TIMEOUT_S = 5.0


@dataclass
class Frame:
    """One frame on its way through.

    Attributes:
        image: uint8 H x W x 3 BGR as read from the source (x 4, BGR + depth, from an RGB-D source).
        prediction: what the predictor returned and the renderer draws (the task's: uint8 h x w
            labels at the model size, ``list[Proposal]``, ...).
    """

    image: np.ndarray
    times: FrameTimes
    prediction: Any = None
    source_path: str | None = None  # the image file it came from (image sources), for sinks that keep names
    model_input: np.ndarray | None = None  # file sources: ``image`` at the backend's frame size, resized by the capture thread


class Pipeline:
    """Runs ``source`` through ``backend`` into ``sinks``.

    Args:
        source: an open :class:`~.sources.Source` (the pipeline closes it).
        backend: an open backend (the caller closes it).
        sinks: open sinks (the pipeline closes them).
        renderer: draws predictions over frames (:class:`~.tasks.Renderer`).
        predictor: ``predictor(image uint8 h x w x C at the backend's frame size) -> prediction``;
            None means the model's task's default (:meth:`~.tasks.RuntimeTask.predictor`).
        max_frames: stop after reading this many frames from the source (0: no limit).
        queue_size: depth of the queues for file sources (live sources use 1).
    """

    def __init__(self, source: Source, backend: Backend, sinks: Sequence[Sink], renderer: Renderer, *,
                 max_frames: int = 0, queue_size: int = FILE_QUEUE_SIZE,
                 predictor: Predictor | None = None):
        if max_frames < 0:
            raise EdgesegError(f"--max-frames {max_frames} must be >= 0 (0: no limit)")
        self.source, self.backend, self.sinks, self.renderer = source, backend, list(sinks), renderer
        self.task = runtime_task(backend.metadata)
        self.predictor = predictor if predictor is not None else self.task.predictor(backend)
        self.max_frames = max_frames
        self.live = source.live
        depth = 1 if self.live else queue_size
        self.q_in = FrameQueue(depth, keep_latest=self.live)
        self.q_out = FrameQueue(depth)
        self.stats = RunStats()
        self.end_reason: str | None = None
        self.error: BaseException | None = None
        self.error_stage: str | None = None
        self.failed_sink: Sink | None = None
        self.written: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.height, self.width = backend.frame_size
        for sink in self.sinks:
            sink.bind_stats(self.live_stats)

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (or the run ended)."""
        return self._stop.is_set()

    @property
    def dropped(self) -> int:
        return self.q_in.dropped

    def live_stats(self) -> dict[str, Any]:
        return self.stats.snapshot(self.dropped)

    def stop(self, reason: str = "stopped") -> None:
        """Ask the pipeline to finish (from any thread or a signal handler)."""
        with self._lock:
            if self.end_reason is None:
                self.end_reason = reason
        self._stop.set()
        self.q_in.close()

    def _fail(self, stage: str, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error, self.error_stage = exc, stage
        self.stop(f"{stage} failed")

    # -- threads ---------------------------------------------------------------------------

    def _capture_loop(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                if self.max_frames and index >= self.max_frames:
                    self.stop(f"max frames ({self.max_frames})")
                    break
                started = time.perf_counter()
                image = self.source.read()
                now = time.perf_counter()
                if image is None:
                    self.stop("end of stream")
                    break
                self.stats.captured()
                # A file source's frames are all processed: resizing them here, not in the inference thread,
                # keeps that thread on the model alone (at 10-20 ms of inference a resize of a large frame is
                # no longer noise). A live source's frames may be dropped: the inference thread resizes the
                # one it takes, so no time goes into frames nobody sees.
                resize_started = time.perf_counter()
                small = None if self.live else self._resize(image)
                times = FrameTimes(index=index, captured=now, capture=now - started,
                                   preprocess=0.0 if self.live else time.perf_counter() - resize_started)
                index += 1
                if not self.q_in.put(Frame(image, times, source_path=getattr(self.source, "frame_path", None),
                                           model_input=small)):
                    break
        except BaseException as exc:  # reported by run(); the frames already read still get written
            self._fail("source", exc)
        finally:
            self.q_in.close()

    def _inference_loop(self) -> None:
        try:
            while True:
                frame = self.q_in.get()
                if frame is END:
                    break
                times = frame.times
                times.infer_start = time.perf_counter()
                image = frame.model_input if frame.model_input is not None else self._resize(frame.image)
                started = time.perf_counter()
                # Timed as inference: window cutting and decoding included.
                frame.prediction = self.predictor(image)
                times.infer_end = time.perf_counter()
                times.infer = times.infer_end - started
                if frame.model_input is None:
                    times.preprocess = started - times.infer_start
                if not self.q_out.put(frame):
                    break
        except BaseException as exc:
            self._fail("inference", exc)
            self.q_in.clear()
        finally:
            self.q_out.close()

    def _resize(self, image: np.ndarray) -> np.ndarray:
        """``image`` at the backend's frame size (bilinear), or itself when it already is."""
        if image.shape[:2] == (self.height, self.width):
            return image
        return cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)

    def _render_loop(self) -> None:
        while True:
            frame = self.q_out.get(timeout=0.2)  # a timeout keeps the main thread responsive to signals
            if frame is None:
                continue
            if frame is END:
                return
            if self.error is not None and self.error_stage in ("render", "sink"):
                continue  # drain what is left after a failure
            times = frame.times
            try:
                started = time.perf_counter()
                colour = frame.image if frame.image.shape[2] == 3 else np.ascontiguousarray(frame.image[..., :3])
                image = self.renderer.render(colour, frame.prediction, self.stats.live_fps())
                rendered = time.perf_counter()
                times.render = rendered - started
            except BaseException as exc:
                self._fail("render", exc)
                self.q_out.clear()
                continue
            sink = None
            labels = self.task.sink_labels(frame.prediction)
            try:
                for sink in self.sinks:
                    sink.write_frame(image, labels=labels, source_path=frame.source_path,
                                     source_size=colour.shape[:2])
            except BaseException as exc:
                self.failed_sink = sink
                self._fail("sink", exc)
                self.q_out.clear()
                continue
            times.output = time.perf_counter()
            times.sink = times.output - rendered
            self.stats.add(times)
            if any(sink.stop_requested for sink in self.sinks):
                self.stop("closed by the viewer")

    # -- driver ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Process until the end of the stream, ``max_frames``, a stop or an error; returns :meth:`summary`.

        Errors do not raise here: they are in :attr:`error` (and the summary),
        after the sinks have been closed, so the caller can report them along
        with what was written.
        """
        capture = threading.Thread(target=self._capture_loop, name="edgeseg-capture", daemon=True)
        inference = threading.Thread(target=self._inference_loop, name="edgeseg-inference", daemon=True)
        capture.start()
        inference.start()
        try:
            self._render_loop()
        finally:
            self.stop(self.end_reason or "interrupted")
            self.stats.running = False
            inference.join(JOIN_TIMEOUT_S)
            capture.join(JOIN_TIMEOUT_S)
            if capture.is_alive():
                # A camera or network read that never returns; the daemon thread dies with the process.
                log.warning("the source did not return from a read within %.0f s; leaving it", JOIN_TIMEOUT_S)
            else:
                self.source.close()
            self.written = self._close_sinks()
        return self.summary()

    def _close_sinks(self) -> list[str]:
        written = []
        for sink in self.sinks:
            try:
                if sink is self.failed_sink:
                    sink.abort()  # its output is likely broken: remove it
                else:
                    written.append(sink.close())
            except Exception as exc:  # one sink failing to close must not keep the others open
                log.error("closing %s failed: %s", sink.uri, exc)
                if self.error is None:
                    self.error, self.error_stage = exc, "sink"
        return written

    def summary(self) -> dict[str, Any]:
        """The run's report: counts, FPS, latency percentiles, mean stage times, how it ended."""
        out = self.stats.summary(self.dropped)
        out["live"] = self.live
        out["end"] = self.end_reason
        out["error"] = None if self.error is None else f"{self.error_stage}: {self.error}"
        out["written"] = self.written
        return out


@contextlib.contextmanager
def stop_on_signals(pipeline: Pipeline) -> Iterator[None]:
    """While active, SIGINT and SIGTERM stop ``pipeline`` cleanly; a second signal acts as usual.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}

    def handler(signum: int, _frame) -> None:
        log.warning("%s: stopping; the output is being finalised (send again to abort)", signal.Signals(signum).name)
        pipeline.stop(f"stopped by {signal.Signals(signum).name}")
        for number, old in previous.items():
            signal.signal(number, old)

    for number in (signal.SIGINT, signal.SIGTERM):
        previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


__all__ = ["Frame", "Pipeline", "Predictor", "Renderer", "stop_on_signals"]
