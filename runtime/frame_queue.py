"""A bounded frame queue between pipeline threads, with a "keep newest" mode for live sources.

``queue.Queue`` cannot be closed from the consumer's side or replace its
oldest item, and both are needed: a live source must never wait for the
inference thread (the camera keeps running), and a stop must wake every
thread even when one is blocked in ``put``.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

END = object()
"""What :meth:`FrameQueue.get` returns once the queue is closed and empty."""


class FrameQueue:
    """Bounded FIFO between one producer and one consumer.

    Args:
        maxsize: items held at most.
        keep_latest: when full, ``put`` drops the oldest item (counted in
            :attr:`dropped`) instead of waiting; for live sources.
    """

    def __init__(self, maxsize: int, *, keep_latest: bool = False):
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.keep_latest = keep_latest
        self.dropped = 0
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: Any) -> bool:
        """Add ``item``; False (item discarded) if the queue was closed meanwhile."""
        with self._cond:
            if self.keep_latest:
                while len(self._items) >= self.maxsize:
                    self._items.popleft()
                    self.dropped += 1
            else:
                self._cond.wait_for(lambda: len(self._items) < self.maxsize or self._closed)
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Any:
        """The oldest item; :data:`END` once closed and empty; None if ``timeout`` s pass first."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout=timeout):
                return None
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return END

    def close(self) -> None:
        """No more puts; ``get`` drains what is left, then returns :data:`END`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def clear(self) -> int:
        """Discard what is queued (after an error downstream); returns how many."""
        with self._cond:
            count = len(self._items)
            self._items.clear()
            self._cond.notify_all()
            return count

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
