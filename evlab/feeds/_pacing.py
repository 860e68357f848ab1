"""Pacing for the feed server: when each bar is due, and the clocks that say when it is now."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import threading
import time
from typing import Protocol

import numpy as np

__all__ = ["Clock", "ManualClock", "MonotonicClock", "Schedule"]

_NS = 1_000_000_000


class Clock(Protocol):
    """What pacing needs from a clock: the time in seconds, and a way to wait for a time."""

    def now(self) -> float: ...

    async def sleep_until(self, t: float) -> None: ...


class MonotonicClock:
    """The default clock: ``time.monotonic()`` seconds, waited for with ``asyncio.sleep``."""

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    async def sleep_until(self, t: float) -> None:
        """Return once ``now() >= t``."""
        delay = t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """A clock that moves only when :meth:`advance` is called: deterministic paced/live tests."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        """The clock's time in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake whatever waits for a time now reached (any thread)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds!r})")
        with self._lock:
            self._now += seconds
            due = [w for w in self._waiters if w[0] <= self._now]
            self._waiters = [w for w in self._waiters if w[0] > self._now]
        for _, fut in due:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                fut.get_loop().call_soon_threadsafe(wake, fut)

    async def sleep_until(self, t: float) -> None:
        """Return once the clock has been advanced to ``t`` or beyond."""
        with self._lock:
            if t <= self._now:
                return
            waiter = (t, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(waiter)


def wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


# --- pacing -----------------------------------------------------------------------------------

class Schedule:
    """When each bar of a stream is due, in seconds after the stream starts (looping or not).

    Bar ``g`` of an endless (looping) stream is bar ``g % n`` of cycle ``g // n``, due at
    ``cycle * period + offsets[g % n]``. ``offsets`` is None for an unpaced stream.
    """

    def __init__(self, offsets: list[float] | None, period: float, n: int, loop: bool) -> None:
        self.offsets, self.period, self.n, self.loop = offsets, period, n, loop

    @classmethod
    def build(cls, times: np.ndarray, span_ns: int, rate: float | None, speed: float | None,
              loop: bool) -> Schedule:
        """Pacing by ``rate`` bars/s, by the bars' own times divided by ``speed``, or none."""
        n = len(times)
        if rate is not None:
            return cls([i / rate for i in range(n)], n / rate, n, loop)
        if speed is not None:
            rel = ((times - times[0]) / (_NS * speed)).tolist()
            return cls(rel, span_ns / (_NS * speed), n, loop)
        return cls(None, 0.0, n, loop)

    @property
    def total(self) -> float:
        """Number of bars in the stream (``inf`` when it loops)."""
        return float("inf") if self.loop else self.n

    def offset(self, g: int) -> float:
        """Seconds after the start at which bar ``g`` is due."""
        k, i = divmod(g, self.n)
        return k * self.period + self.offsets[i] if self.offsets is not None else 0.0

    def due(self, elapsed: float) -> int:
        """How many bars are due ``elapsed`` seconds after the start."""
        if self.offsets is None:
            return self.n
        k = max(int(elapsed // self.period), 0)
        count = k * self.n + bisect.bisect_right(self.offsets, elapsed - k * self.period)
        return count if self.loop else min(count, self.n)
