"""Progress bars for long commands: on a terminal only, and never with ``--quiet``.

A bar goes to stderr, so stdout stays the command's result; when stderr is
not a terminal (a CI log, a pipe) there is no bar at all, since carriage
returns make logs unreadable (``edgeseg run`` prints periodic one-line
status records there instead, :mod:`edgeseg.runtime.run_status`). tqdm is
used where installed; without it, commands run without bars.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_quiet = False


def set_quiet(quiet: bool) -> None:
    """``--quiet``: no bars and no periodic status lines for the rest of this process."""
    global _quiet
    _quiet = bool(quiet)


def is_quiet() -> bool:
    return _quiet


def bars_enabled() -> bool:
    """Whether a bar would be shown now: not quiet, stderr a terminal, tqdm installed."""
    if _quiet or not getattr(sys.stderr, "isatty", lambda: False)():
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _bar(**kwargs: Any) -> Any:
    from tqdm import tqdm

    return tqdm(file=sys.stderr, leave=False, dynamic_ncols=True, **kwargs)


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterable[T]:
    """``items``, with a bar while it is consumed when :func:`bars_enabled` (else ``items`` itself)."""
    if not bars_enabled():
        return items
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    return _bar(iterable=items, desc=desc, total=total, unit=unit)


class Counter:
    """A bar advanced by hand (:meth:`update`), for loops that live in another library."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "it"):
        self._bar = _bar(desc=desc, total=total, unit=unit) if bars_enabled() else None

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def timed_bar(desc: str, seconds: float) -> Iterator[None]:
    """A bar of elapsed seconds against an expected duration, advanced by a thread twice a second.

    For measurements (``bench``) whose loop must not pay for a bar update per call.
    """
    if not bars_enabled() or seconds <= 0:
        yield
        return
    bar = _bar(desc=desc, total=round(seconds, 1), unit="s", bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s")
    done = threading.Event()

    def tick() -> None:
        started = time.monotonic()
        while not done.wait(0.5):
            bar.n = min(bar.total, round(time.monotonic() - started, 1))
            bar.refresh()

    thread = threading.Thread(target=tick, name="edgeseg-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(1.0)
        bar.close()


__all__ = ["Counter", "bars_enabled", "is_quiet", "progress", "set_quiet", "timed_bar"]
