"""Running a feed on its own event loop in a daemon thread (plain scripts, blocking code).

``feed.start_in_thread()`` starts a new loop in a daemon thread, runs ``await feed.start()``
there and returns once connected. The feed then publishes from that loop with
``await bus.emit_async(...)``: handlers run on the feed's thread (the bus is thread-safe),
and the feed's buffer policy still applies, because delivery waits for the handlers.
(``emit_threadsafe`` was not used: it would queue events on another loop without bound.)
Widget code in handlers should hand its updates to the UI thread itself.
``feed.stop_in_thread()`` (or ``await feed.stop()`` from any other loop) stops the feed,
then the loop and the thread. ``start_in_thread`` blocks its caller until connected: in a
notebook prefer ``await feed.start()``, and never use it while the server runs on the
caller's own loop (it could not accept the connection).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

__all__ = ["ThreadedFeed"]


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


class ThreadedFeed:
    """Mixin giving a feed with async ``start()``/``stop()`` a thread-and-loop of its own."""

    name: str
    _loop: asyncio.AbstractEventLoop | None
    _thread: threading.Thread | None = None

    async def start(self, *, timeout: float | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    async def stop(self, *, drain: bool = False) -> None:  # pragma: no cover
        raise NotImplementedError

    def start_in_thread(self, *, timeout: float | None = None) -> threading.Thread:
        """Run the feed on a new loop in a daemon thread; returns the thread once connected."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"feed {self.name!r} already runs in thread {self._thread.name}")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_run_loop, args=(loop,), daemon=True,
                                  name=f"evlab-feed-{self.name}")
        self._thread = thread
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(timeout=timeout), loop).result()
        except BaseException:
            self._end_thread(loop)
            raise
        return thread

    def stop_in_thread(self, *, drain: bool = False, timeout: float | None = None) -> None:
        """Stop a feed started by ``start_in_thread`` and end its loop and thread (blocking)."""
        loop = self._loop
        if self._thread is None or loop is None or loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(drain=drain), loop).result(timeout)
        finally:
            self._end_thread(loop, timeout)

    async def _stop_elsewhere(self, drain: bool) -> None:
        """``await stop()`` on a loop other than the feed's: run it there, then end its thread."""
        loop = self._loop
        assert loop is not None
        if loop.is_closed() or not loop.is_running():
            raise RuntimeError(f"feed {self.name!r} runs on a loop that is no longer running")
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.stop(drain=drain), loop))
        if self._thread is not None:
            self._end_thread(loop)

    def _end_thread(self, loop: asyncio.AbstractEventLoop, timeout: Any = None) -> None:
        thread, self._thread = self._thread, None
        self._loop = None
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
