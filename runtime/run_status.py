"""``edgeseg run``'s progress while it runs: a bar on a terminal, one-line status records in logs.

A status record is one log line of ``key=value`` fields, every
``--status-every`` seconds (default 5)::

    INFO edgeseg.run: status frames=120 in=121 dropped=0 fps=14.8 latency_p50_ms=65.2 latency_p99_ms=80.1 source=file

``frames``: frames written so far; ``in``: read from the source; ``dropped``:
replaced before inference (live sources); ``fps`` and latency: over the last
2 seconds. ``source=file`` means every frame is processed in order, so the
latency includes the time a frame waits in the queues behind earlier ones;
``source=live`` latency is capture to output of a fresh frame. Values that
are not known yet are ``na``. :func:`parse_status` reads a line back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from edgeseg.progress import bars_enabled, is_quiet

log = logging.getLogger("edgeseg.run")
DEFAULT_INTERVAL_S = 5.0


def format_status(stats: dict[str, Any], live: bool) -> str:
    """One ``status k=v ...`` line from :meth:`~.pipeline.Pipeline.live_stats`."""
    def num(value: float | None) -> str:
        return "na" if value is None else f"{value:.1f}"

    latency = stats.get("latency_ms") or {}
    return (f"status frames={stats['frames']} in={stats['frames_in']} dropped={stats['dropped']} "
            f"fps={num(stats.get('fps'))} latency_p50_ms={num(latency.get('p50'))} "
            f"latency_p99_ms={num(latency.get('p99'))} source={'live' if live else 'file'}")


def parse_status(line: str) -> dict[str, str]:
    """The fields of a status line (anything before ``status`` is ignored)."""
    fields = line.split("status ", 1)[1].split()
    return dict(field.split("=", 1) for field in fields)


class StatusReporter:
    """Reports a running pipeline from a thread until :meth:`stop`.

    Args:
        stats: ``Pipeline.live_stats``.
        live: whether the source is live (for the ``source`` field).
        total: frames expected (a file), for the bar; None if unknown.
        interval_s: seconds between status lines; 0 turns them off.
    """

    def __init__(self, stats: Callable[[], dict[str, Any]], *, live: bool, total: int | None = None,
                 interval_s: float = DEFAULT_INTERVAL_S):
        self.stats, self.live, self.total, self.interval_s = stats, live, total, interval_s
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self.lines: list[str] = []

    def start(self) -> StatusReporter:
        if is_quiet():
            return self
        if bars_enabled():
            import sys

            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc="run", unit="frame", file=sys.stderr, leave=False, dynamic_ncols=True)
        elif self.interval_s <= 0:
            return self
        self._thread = threading.Thread(target=self._loop, name="edgeseg-status", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        period = 0.5 if self._bar is not None else self.interval_s
        while not self._done.wait(period):
            self._report()

    def _report(self) -> None:
        stats = self.stats()
        if self._bar is not None:
            self._bar.n = stats["frames"]
            fps = stats.get("fps")
            self._bar.set_postfix_str(f"{fps:.1f} FPS, {stats['dropped']} dropped" if fps else f"{stats['dropped']} dropped")
            return
        line = format_status(stats, self.live)
        self.lines.append(line)
        log.info("%s", line)

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._bar is not None:
            self._bar.close()


__all__ = ["DEFAULT_INTERVAL_S", "StatusReporter", "format_status", "parse_status"]
