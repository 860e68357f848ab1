"""``ReadAhead``: the next windows of a streamed replay, made on a thread while it emits.

Reading a row group (pyarrow decodes without the GIL) and building its window take about
as long as emitting its events; on a second core they overlap. At most ``depth`` windows
wait made (bounded memory); a reader that fails hands its exception over in their place,
after the windows made before it. ``stop()`` ends the thread; so does dropping the last
reference to the ``ReadAhead`` (the thread holds none to it).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ReadAhead"]

_END = object()


def _produce(items: Iterator[Any], out: queue.Queue[Any], stop: threading.Event,
             count: Callable[[Any], int], ahead: list[int], lock: threading.Lock) -> None:
    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)  # checks ``stop`` between waits for room
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in items:
            with lock:
                ahead[0] += count(item)
            if not put(item):
                return
    except BaseException as exc:
        put(_Failed(exc))
        return
    put(_END)


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class ReadAhead:
    """``items`` consumed on a daemon thread, up to ``depth`` ahead of ``next()``.

    ``count(item)``: the rows an item holds, summed in ``rows_ahead`` until it is taken.
    """

    def __init__(self, items: Iterator[Any], *, count: Callable[[Any], int], depth: int = 1,
                 name: str = "evlab-read-ahead") -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._ahead = [0]
        self._lock = threading.Lock()
        self._count = count
        self._done = False
        self._thread = threading.Thread(
            target=_produce, args=(items, self._queue, self._stop, count, self._ahead,
                                   self._lock), name=name, daemon=True)
        self._thread.start()
        weakref.finalize(self, self._stop.set)

    @property
    def rows_ahead(self) -> int:
        """Rows of the items made and not taken yet."""
        return self._ahead[0]

    def next(self) -> Any:
        """The next item (None once there are no more); re-raises the reader's error."""
        if self._done:
            return None
        while True:
            try:
                item = self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._done = True
                    raise RuntimeError("the read-ahead thread ended without a result") from None
        if item is _END or isinstance(item, _Failed):
            self._done = True
            self._thread.join(5.0)  # it has nothing left to do but return
            if isinstance(item, _Failed):
                raise item.exc
            return None
        with self._lock:
            self._ahead[0] -= self._count(item)
        return item

    def stop(self) -> None:
        """End the thread (what it made is dropped); returns once it has ended."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()  # makes room: a waiting put returns, sees stop
            self._thread.join(0.05)
        self._done = True
