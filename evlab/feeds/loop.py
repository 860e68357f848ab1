"""One asyncio loop on a daemon thread: where feeds, feed servers, paced replays and a Lab run.

ipykernel runs every cell inside its own loop, and that loop freezes while a cell blocks; a
loop on another thread keeps going (and a plain script has no loop to run feeds on at all).
:class:`BackgroundLoop` is the one place evlab makes such a loop::

    bg = BackgroundLoop("evlab-lab")
    server = bg.run(FeedServer("btcusd_1m").start())   # blocks until started; returns its value
    task = bg.submit(replayer.run_async())             # a concurrent.futures.Future, at once
    bg.stop()                                          # cancels what is left, joins the thread

Everything submitted to one ``BackgroundLoop`` shares its thread: a Lab's feeds, servers and
replays run side by side on it, and their handlers run there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, Self, TypeVar

__all__ = ["BackgroundLoop"]

T = TypeVar("T")


class BackgroundLoop:
    """An asyncio loop running on a daemon thread, started on first use, ended by ``stop()``."""

    def __init__(self, name: str = "evlab-loop") -> None:
        """``name`` names the thread (``threading.enumerate()`` shows it)."""
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True from ``start()`` (or the first ``submit``) until ``stop()``."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (started if it was not)."""
        loop = self.start()._loop
        if loop is None:
            raise RuntimeError(f"{self.name}: stopped while starting")
        return loop

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread while it runs."""
        return self._thread

    def in_thread(self) -> bool:
        """True when called from the loop's own thread (a handler, a task on it)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> Self:
        """Start the thread and its loop if they are not running; returns ``self``."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_main, args=(loop,), name=self.name, daemon=True)
            self._loop, self._thread = loop, thread
            thread.start()
        return self

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop (from any thread); its result arrives in the future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    @classmethod
    def started(cls, name: str, coro: Coroutine[Any, Any, Any],
                timeout: float | None = 30.0) -> BackgroundLoop:
        """A new loop named ``name`` that has run ``coro`` (a server's ``start()``); if that
        fails or times out, the loop is stopped again and the error raised."""
        background = cls(name)
        try:
            background.run(coro, timeout)
        except BaseException:
            background.stop()
            raise
        return background

    def finish(self, coro: Coroutine[Any, Any, Any], timeout: float | None = 30.0) -> None:
        """Run ``coro`` (a server's ``stop()``) on this loop, then stop the loop, whatever
        ``coro`` did."""
        try:
            self.run(coro, timeout)
        finally:
            self.stop(timeout)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the loop and block this thread for its result (or its exception).

        TimeoutError (and ``coro`` cancelled) after ``timeout`` seconds; RuntimeError from the
        loop's own thread, which would wait for itself.
        """
        if self.in_thread():
            coro.close()
            raise RuntimeError(f"{self.name}: run() from the loop's own thread would wait for "
                               f"itself: await the coroutine there instead")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{self.name}: not done within {timeout} s") from None

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the loop from any loop (directly when already on it)."""
        if self.in_thread():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self, timeout: float | None = 10.0) -> None:
        """Cancel the tasks left on the loop, close it and join its thread (idempotent).

        From the loop's own thread it only asks the loop to stop (a thread cannot join itself).
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # already closed
            loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout)

    def __repr__(self) -> str:
        return f"<BackgroundLoop {self.name!r} {'running' if self.running else 'stopped'}>"


def _main(loop: asyncio.AbstractEventLoop) -> None:
    """The thread: run the loop until stopped, then cancel what is left and close it."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
