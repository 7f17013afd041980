"""Sources that outlive their stream: looping files and reconnecting cameras.

- :class:`LoopingSource` reopens a file at its end (``edgeseg run --loop``):
  demos on a screen, and soak tests over tens of thousands of frames.
- :class:`ReconnectingSource` reopens a live source that fails or stops
  (``--reconnect N``), waiting 0.5, 1, 2, 4 ... up to 10 s between attempts,
  so a camera that is unplugged for a moment or an RTSP server that restarts
  does not end a field deployment. After ``N`` failed attempts in a row the
  last error ends the run (and the pipeline finalises its outputs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from edgeseg.errors import EdgesegError

from .sources import Source, SourceError

log = logging.getLogger("edgeseg.sources")

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 10.0


class LoopingSource(Source):
    """Replays a file source from the start each time it ends, ``loops`` times (0: forever)."""

    def __init__(self, opener: Callable[[], Source], loops: int = 0):
        self.opener, self.loops = opener, loops
        self.inner = opener()
        if self.inner.live and self.inner.frame_count is None:
            self.inner.close()
            raise EdgesegError(f"--loop replays files; {self.inner.uri} is a live stream (use --reconnect)")
        self.uri, self.live, self.fps = self.inner.uri, self.inner.live, self.inner.fps
        self.frame_count = None
        self.completed_loops = 0

    def read(self) -> np.ndarray | None:
        frame = self.inner.read()
        while frame is None:
            self.completed_loops += 1
            if self.loops and self.completed_loops >= self.loops:
                return None
            self.inner.close()
            self.inner = self.opener()
            frame = self.inner.read()
            if frame is None:
                raise SourceError(f"{self.uri} holds no frames to loop over")
        return frame

    def close(self) -> None:
        self.inner.close()


class ReconnectingSource(Source):
    """Reopens a live source after a failure or an end, with exponential back-off.

    Args:
        opener: opens the underlying source (raises :class:`EdgesegError` if it cannot).
        attempts: reopen attempts in a row before giving up (0: never give up).
        sleep: the wait function (tests pass a fake clock).
    """

    def __init__(self, opener: Callable[[], Source], attempts: int = 5, sleep: Callable[[float], None] = time.sleep):
        self.opener, self.attempts, self.sleep = opener, attempts, sleep
        self.inner: Source | None = opener()
        self.uri, self.live, self.fps, self.frame_count = self.inner.uri, True, self.inner.fps, None
        self.reconnects = 0

    def read(self) -> np.ndarray | None:
        while True:
            if self.inner is not None:
                try:
                    frame = self.inner.read()
                except SourceError as exc:
                    log.warning("%s", exc)
                    frame = None
                if frame is not None:
                    return frame
                self.inner.close()
                self.inner = None
            self._reopen()

    def _reopen(self) -> None:
        delay, failures = BACKOFF_START_S, 0
        while True:
            self.sleep(delay)
            try:
                self.inner = self.opener()
            except EdgesegError as exc:
                failures += 1
                log.warning("reconnecting to %s failed (%d%s): %s", self.uri, failures,
                            f" of {self.attempts}" if self.attempts else "", exc)
                if self.attempts and failures >= self.attempts:
                    raise SourceError(f"{self.uri} is gone: {failures} reconnection attempts failed; last: {exc}") from None
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            self.reconnects += 1
            log.warning("reconnected to %s (reconnection %d)", self.uri, self.reconnects)
            return

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
            self.inner = None
