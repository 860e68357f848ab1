"""The redraw throttle: many "data changed" requests, at most ``max_fps`` runs a second.

A ``Coalescer`` merges redraw *requests*, never data: whoever owns the data appends every
event to it, then calls ``request()``; the action (a redraw) later draws everything appended
so far. The clock and the scheduler are injected, so tests drive it with fake time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Coalescer", "Schedule", "default_scheduler", "loop_scheduler", "timer_scheduler"]

logger = logging.getLogger("evlab")

#: ``schedule(delay_seconds, fn)``: call ``fn()`` once, about ``delay_seconds`` from now.
Schedule = Callable[[float, Callable[[], None]], Any]


def loop_scheduler(loop: asyncio.AbstractEventLoop) -> Schedule:
    """Run callbacks on ``loop`` (from any thread), e.g. the Jupyter kernel's loop."""

    def schedule(delay: float, fn: Callable[[], None]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        try:
            if running is loop:
                loop.call_later(delay, fn)
            else:  # another thread (a feed's own loop): hand over to the owner's loop
                loop.call_soon_threadsafe(loop.call_later, delay, fn)
        except RuntimeError:  # the loop is closed: nothing will draw; flush() still works
            logger.debug("coalescer: loop closed, redraw dropped")
    return schedule


def timer_scheduler() -> Schedule:
    """Run callbacks on ``threading.Timer`` threads (plain scripts with no event loop)."""

    def schedule(delay: float, fn: Callable[[], None]) -> None:
        timer = threading.Timer(delay, fn)
        timer.daemon = True
        timer.start()
    return schedule


def default_scheduler() -> Schedule:
    """The running loop's scheduler if called inside a loop (a notebook cell), else timers."""
    try:
        return loop_scheduler(asyncio.get_running_loop())
    except RuntimeError:
        return timer_scheduler()


class Coalescer:
    """Calls ``action()`` after ``request()``, at most once per ``1 / max_fps`` seconds.

    The first request after a quiet spell runs at once (delay 0); requests that arrive while
    a run is pending are merged into it. ``request`` is thread-safe and cheap.
    """

    def __init__(self, action: Callable[[], Any], max_fps: float = 10.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Schedule | None = None) -> None:
        if max_fps <= 0:
            raise ValueError(f"Coalescer.max_fps: must be positive, got {max_fps!r}")
        self.action = action
        self.interval = 1.0 / max_fps
        self.clock = clock
        self.schedule = schedule if schedule is not None else default_scheduler()
        self.runs = 0
        self._lock = threading.Lock()
        self._pending = False
        self._token = 0  # a run scheduled before a flush() or close() must not run
        self._last = -float("inf")
        self._closed = False

    @property
    def pending(self) -> bool:
        """True while a run is scheduled."""
        return self._pending

    def request(self) -> None:
        """Ask for a run: now if none ran in the last interval, else when the interval ends."""
        if self._pending:  # the common case under a fast feed: already on its way
            return
        with self._lock:
            if self._pending or self._closed:
                return
            self._pending = True
            self._token += 1
            token = self._token
            delay = max(0.0, self._last + self.interval - self.clock())
        self.schedule(delay, lambda: self._fire(token))

    def flush(self) -> None:
        """Run the action now (and cancel the pending run)."""
        with self._lock:
            self._pending = False
            self._token += 1
            self._last = self.clock()
        self._run()

    def close(self) -> None:
        """Stop: pending and later requests never run."""
        with self._lock:
            self._closed = True
            self._pending = False
            self._token += 1

    def _fire(self, token: int) -> None:
        with self._lock:
            if token != self._token or not self._pending:
                return
            self._pending = False
            self._last = self.clock()
        self._run()

    def _run(self) -> None:
        self.runs += 1
        try:
            self.action()
        except Exception:  # a failed redraw must not stop the next ones
            logger.exception("coalescer: %r failed", self.action)

    def __repr__(self) -> str:
        return (f"<Coalescer {1 / self.interval:g}/s: {self.runs} runs"
                f"{', pending' if self._pending else ''}>")
