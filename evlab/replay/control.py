"""Pause, resume and stop, from any thread or task; and pacing by event time.

The replay loop tests one list per event (``interrupt``: non-empty while paused or
stopped), which costs a few nanoseconds; waits (a pause, a paced delay) wake at once on a
change, on a thread (a condition) or on an asyncio loop (a future resolved thread-safely).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Control", "Pacer"]


class Control:
    """The replay's pause/stop state, shared by the replay loop and its callers."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.paused = False
        self.stopped = False
        self.interrupt: list[bool] = []  # non-empty: the loop must look at the state
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def pause(self) -> None:
        with self.cond:
            self.paused = True
            self._changed()

    def resume(self) -> None:
        with self.cond:
            self.paused = False
            self._changed()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.paused = False
            self._changed()

    def rearm(self) -> None:
        """A new run starts: neither stopped nor paused."""
        with self.cond:
            self.stopped = self.paused = False
            self._changed()

    def _changed(self) -> None:
        if self.paused or self.stopped:
            if not self.interrupt:
                self.interrupt.append(True)
        else:
            self.interrupt.clear()
        self.cond.notify_all()
        waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, fut)

    def wait_resumed(self) -> None:
        """Block while paused (returns at once when stopped)."""
        with self.cond:
            self.cond.wait_for(lambda: not self.paused or self.stopped)

    def wait_interrupt(self, timeout: float) -> None:
        """Sleep ``timeout`` seconds, or less if paused or stopped meanwhile."""
        with self.cond:
            self.cond.wait_for(lambda: bool(self.interrupt), timeout)

    async def _next_change(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self.cond:
            self._waiters.append((loop, fut))
        try:
            await asyncio.wait({fut}, timeout=timeout)
        finally:
            with self.cond:
                if (loop, fut) in self._waiters:
                    self._waiters.remove((loop, fut))

    async def wait_resumed_async(self) -> None:
        """``wait_resumed`` for a coroutine: the loop keeps running meanwhile."""
        while self.paused and not self.stopped:
            await self._next_change(None)

    async def wait_interrupt_async(self, timeout: float) -> None:
        """``wait_interrupt`` for a coroutine."""
        if not self.interrupt:
            await self._next_change(timeout)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


_MIN_DELAY = 1e-6  # shorter waits (float residue of equal event times) are skipped


class Pacer:
    """Waits so that event-time deltas divided by ``speed`` elapse in wall time.

    The schedule is anchored at the first event paced (and again after each pause), so a
    pause never makes the replay rush to catch up. ``sleep``/``clock`` are injectable.
    """

    def __init__(self, speed: float, control: Control, clock: Callable[[], float] | None,
                 sleep: Callable[[float], Any] | None) -> None:
        if not speed > 0:
            raise ValueError(f"speed: must be positive (or None for as fast as possible), "
                             f"got {speed!r}")
        self.speed = float(speed)
        self.control = control
        self.clock = clock or time.monotonic
        self.sleep = sleep
        self.anchor: tuple[int, float] | None = None

    def reanchor(self) -> None:
        self.anchor = None

    def _delay(self, t_ns: int) -> float:
        if self.anchor is None:
            self.anchor = (t_ns, self.clock())
            return 0.0
        t0, w0 = self.anchor
        return (t_ns - t0) / 1e9 / self.speed - (self.clock() - w0)

    def wait(self, t_ns: int) -> None:
        """Block until event time ``t_ns`` is due (returns early on pause or stop)."""
        delay = self._delay(t_ns)
        if delay > _MIN_DELAY:
            if self.sleep is not None:
                self.sleep(delay)
            else:
                self.control.wait_interrupt(delay)

    async def wait_async(self, t_ns: int) -> None:
        """``wait`` for a coroutine (an injected ``sleep`` may be sync or async)."""
        delay = self._delay(t_ns)
        if delay > _MIN_DELAY:
            if self.sleep is None:
                await self.control.wait_interrupt_async(delay)
            else:
                result = self.sleep(delay)
                if inspect.isawaitable(result):
                    await result
