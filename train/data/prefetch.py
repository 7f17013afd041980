"""Augment the next batches in a background thread while the model trains on this one.

OpenCV and numpy release the GIL in the augmentation's heavy calls, so one
thread overlaps data preparation with the training step without the process
start-up and pickling of DataLoader workers. The sample order and every
sample's augmentation are fixed by their seeds (see ``TrainDataset``), so
running ahead changes nothing in what is trained.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sized
from typing import Any

_DONE = object()


class Prefetcher:
    """Iterate ``iterable`` in a daemon thread, ``depth`` items ahead; re-raises the thread's exception.

    The iterator is created in the caller's thread (a DataLoader draws its
    base seed from torch's global RNG when it is created, which must stay in
    the caller's deterministic order). ``depth`` 0 iterates in the caller's thread.
    """

    def __init__(self, iterable: Iterable[Any], depth: int):
        self._iterator = iter(iterable)
        self._depth = depth
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._length = len(iterable) if isinstance(iterable, Sized) else None

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("the wrapped iterable has no length")
        return self._length

    def _run(self) -> None:
        try:
            for item in self._iterator:
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(_DONE)
        except BaseException as exc:  # noqa: B036 - handed to the consumer, which re-raises it
            self._queue.put(exc)

    def __iter__(self) -> Iterator[Any]:
        if self._depth <= 0:
            yield from self._iterator
            return
        self._thread = threading.Thread(target=self._run, name="edgeseg-prefetch", daemon=True)
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the thread (an abandoned epoch, an exception in the step) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(timeout=0.05)
            self._thread = None
