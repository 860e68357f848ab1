"""WebSocketEmitter: a live WebSocket feed publishing every message on the bus.

``await emitter.start()`` returns once connected and subscribed; the feed then runs as two
background tasks on the running loop (a notebook cell returns at once):

* the **reader** connects, sends the subscriptions, and puts every frame, as a
  ``WebSocketEvent`` (raw payload, receive time, source = the emitter's name), into a bounded
  buffer;
* the **delivery** task takes events from the buffer and publishes each with
  ``await bus.emit_async(event)``, so async handlers (``WebSocketHandler.handle``) finish
  one message before the next starts.

Buffer policy (``overflow=``, see :mod:`evlab.feeds.buffer`): ``"block"`` (default) stops
reading the socket while the buffer is full, dropping nothing; ``"drop_oldest"`` drops the
oldest buffered message and counts it. Either way at most ``buffer_size`` events are held.
``stats``: received == delivered + dropped + discarded (dropped by ``stop()``) + buffered.

Reconnection (``backoff=``, see :mod:`evlab.feeds.backoff`): after a lost connection or a
failed attempt the reader waits an exponentially growing, jittered, bounded delay and
reconnects, re-sending its subscriptions; ``Backoff(max_retries=n)`` gives up after n
failed attempts in a row (a successful connection resets the count).

SYSTEM events (``source`` = the emitter's name, ``data`` a dict) travel through the same
buffer, in order with the messages:

* ``"connected"``: ``url``, ``attempt`` (failed attempts before it: 0 if the first try
  worked), ``connections`` (how many so far);
* ``"disconnected"``: ``url``, ``code``, ``reason``;
* ``"reconnecting"``: ``url``, ``attempt``, ``delay`` (s), ``max_retries``, ``error``;
* ``"gave_up"``: ``url``, ``attempts``, ``error`` (the feed ends);
* ``"ended"``: ``url``, ``code``, ``reason``: with ``end_on_normal_close=True``, the server
  closed normally (1000), which a finite local replay does after its last bar: the feed
  ends there instead of reconnecting (and replaying the stream from its start again);
* ``"stopped"``: published by ``stop()`` itself, with the final ``stats``.

A frame larger than ``max_size`` makes websockets close the connection (code 1009): the
emitter publishes an ``ErrorEvent`` (``error_type="MessageTooBig"``), counts it in
``stats["oversized"]`` and ``stats["errors"]``, and reconnects.

``adapter=`` (a name or an ``ExchangeAdapter``) builds the subscriptions from ``symbols`` and
``channels`` and is registered under the emitter's name, so a ``WebSocketHandler`` built
without an adapter decodes this feed's messages with it. From a plain script or a blocking
thread, use ``start_in_thread()``/``stop_in_thread()`` (see :mod:`evlab.feeds.threaded`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

from evlab.bus import EventBus
from evlab.events import Event, WebSocketEvent, _from_ns, create_system_event
from evlab.feeds.adapters import ExchangeAdapter
from evlab.feeds.backoff import Backoff
from evlab.feeds.buffer import FeedBuffer, Overflow
from evlab.feeds.reader import FeedTasks
from evlab.feeds.sources import adapter_for_source, register_source, resolve_adapter, validate_url
from evlab.feeds.threaded import ThreadedFeed

__all__ = ["WebSocketEmitter", "adapter_for_source"]

logger = logging.getLogger("evlab")

StatsPredicate = Callable[[dict[str, Any]], bool]


class WebSocketEmitter(FeedTasks, ThreadedFeed):
    """A WebSocket connection that publishes every message as a WebSocketEvent (see module)."""

    def __init__(self, name: str, url: str, event_bus: EventBus | None = None, *,
                 adapter: str | ExchangeAdapter | None = None, symbols: Sequence[str] = (),
                 channels: Sequence[str] = ("bars",), interval_s: int = 60,
                 subscriptions: Sequence[str | bytes] | None = None,
                 buffer_size: int = 10_000, overflow: Overflow = "block",
                 backoff: Backoff | None = None, rng: random.Random | None = None,
                 ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0,
                 max_size: int | None = 2**20, open_timeout: float | None = 10.0,
                 close_timeout: float | None = 5.0,
                 connect_options: dict[str, Any] | None = None,
                 end_on_normal_close: bool = False) -> None:
        """Subscribe via ``adapter`` + ``symbols``/``channels``, or send raw ``subscriptions``.

        ``end_on_normal_close``: a normal close (1000) by the server ends the feed (a finite
        local replay) instead of starting a reconnect (what a live exchange needs).
        """
        self.name = name
        self.url = validate_url(url)
        self.event_bus = event_bus
        self.adapter = resolve_adapter(adapter)
        if symbols and self.adapter is None:
            raise ValueError(f"WebSocketEmitter {name!r}: symbols= needs adapter= to build "
                             f"subscribe messages (or pass subscriptions=[...])")
        if subscriptions is not None and symbols:
            raise ValueError(f"WebSocketEmitter {name!r}: pass symbols= or subscriptions=, "
                             f"not both")
        self.symbols = tuple(symbols)
        self.channels = tuple(channels)
        self.interval_s = interval_s
        self.subscriptions = None if subscriptions is None else list(subscriptions)
        FeedBuffer(buffer_size, overflow)  # validate now, build on the running loop later
        self.buffer_size = buffer_size
        self.overflow = overflow
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self.connect_options: dict[str, Any] = {
            "ping_interval": ping_interval, "ping_timeout": ping_timeout, "max_size": max_size,
            "open_timeout": open_timeout, "close_timeout": close_timeout,
            **(connect_options or {})}
        if self.adapter is not None:
            register_source(name, self.adapter)
            if self.symbols:
                self._subscribe_messages()  # fail now on bad symbols/channels/interval
        self._stats: dict[str, Any] = {
            "received": 0, "delivered": 0, "dropped": 0, "discarded": 0, "errors": 0,
            "oversized": 0, "reconnects": 0, "connections": 0, "connected": False,
            "last_message_ns": None, "last_error": None}
        self.end_on_normal_close = end_on_normal_close
        self._ended = False  # the server closed normally and end_on_normal_close is set
        self._reading = False  # the reader task is connecting, connected or waiting to retry
        self._buffer: FeedBuffer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._in_flight: Event | None = None
        self._waiters: list[tuple[StatsPredicate, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def set_event_bus(self, event_bus: EventBus) -> None:
        """Publish on ``event_bus`` (EventManager calls this for registered components)."""
        self.event_bus = event_bus

    # --- state ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from ``start()`` until ``stop()`` (or until the feed gave up and drained)."""
        return any(t is not None and not t.done() for t in (self._reader, self._delivery))

    @property
    def connected(self) -> bool:
        """True while the socket is open and subscribed."""
        return bool(self._stats["connected"])

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters (same as ``get_stats()``)."""
        return self.get_stats()

    def get_stats(self) -> dict[str, Any]:
        """Counters: received, delivered, dropped, discarded, errors, reconnects, connected..."""
        out = dict(self._stats)
        out["running"] = self.running
        out["buffered"] = self._buffer.messages if self._buffer is not None else 0
        ns = out["last_message_ns"]
        out["last_message_time"] = None if ns is None else _from_ns(ns)
        return out

    async def wait_stats(self, predicate: StatsPredicate, timeout: float | None = None
                         ) -> dict[str, Any]:
        """Wait until ``predicate(get_stats())`` is true (checked at each change); returns them."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            raise RuntimeError(f"WebSocketEmitter {self.name!r}: wait on the feed's own loop")
        stats = self.get_stats()
        if predicate(stats):
            return stats
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, fut)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            self._waiters.remove(entry)
        return self.get_stats()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until connected and subscribed; ConnectionError if the feed ended instead."""
        if self._reader is None:
            raise RuntimeError(f"WebSocketEmitter {self.name!r} is not started")
        stats = await self.wait_stats(lambda s: s["connected"] or not self._reading, timeout)
        if not stats["connected"]:
            raise ConnectionError(f"WebSocketEmitter {self.name!r}: could not connect to "
                                  f"{self.url}: {stats['last_error']}")

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self, *, timeout: float | None = None) -> None:
        """Connect and subscribe, then return; the feed keeps running in background tasks.

        Failed first attempts are retried under ``backoff``; if it gives up, or ``timeout``
        seconds pass first, the emitter is stopped and ConnectionError/TimeoutError raised.
        """
        if self.event_bus is None:
            raise RuntimeError(f"WebSocketEmitter {self.name!r} has no bus: pass event_bus=")
        if self.running and self._loop is not asyncio.get_running_loop():
            raise RuntimeError(f"WebSocketEmitter {self.name!r} already runs on another loop")
        if not self.running:
            await self._finish_tasks(drain=False)
            loop = self._loop = asyncio.get_running_loop()
            self._buffer = FeedBuffer(self.buffer_size, self.overflow)
            self._reading = True
            self._ended = False
            # Fresh contexts: a feed started from inside a handler must not inherit its event.
            self._delivery = loop.create_task(self._deliver(), name=f"evlab:{self.name}:deliver",
                                              context=contextvars.Context())
            self._reader = loop.create_task(self._read(), name=f"evlab:{self.name}:read",
                                            context=contextvars.Context())
        try:
            await self.wait_connected(timeout)
        except TimeoutError:
            await self.stop()
            raise TimeoutError(f"WebSocketEmitter {self.name!r}: not connected to {self.url} "
                               f"within {timeout} s: {self._stats['last_error']}") from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self, *, drain: bool = False) -> None:
        """Close the connection and end both tasks; ``drain=True`` first delivers the buffer.

        Buffered messages not delivered are counted in ``stats["discarded"]``.
        """
        if self._reader is None and self._delivery is None:
            return
        if self._loop is not asyncio.get_running_loop():
            await self._stop_elsewhere(drain)
            return
        was_connected = self.connected
        await self._finish_tasks(drain=drain)
        await self.event_bus.emit_async(create_system_event(  # type: ignore[union-attr]
            "stopped", f"{self.name}: stopped", {"url": self.url, "was_connected": was_connected,
                                                 "stats": self.get_stats()}, source=self.name))

    async def __aenter__(self) -> WebSocketEmitter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _finish_tasks(self, *, drain: bool) -> None:
        tasks = [t for t in (self._reader, self._delivery) if t is not None]
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
        if self._delivery is not None and not drain:
            self._delivery.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                logger.error("feed %s: task %s failed", self.name, task.get_name(),
                             exc_info=task.exception())
        if self._buffer is not None:
            lost = self._buffer.clear() + isinstance(self._in_flight, WebSocketEvent)
            self._stats["discarded"] += lost
        self._in_flight = None
        self._reader = self._delivery = None
        self._stats["connected"] = self._reading = False
        self._notify()

    def _notify(self) -> None:
        if not self._waiters:
            return
        stats = self.get_stats()
        for predicate, fut in self._waiters:
            if fut.done():
                continue
            try:
                if predicate(stats):
                    fut.set_result(None)
            except Exception as exc:
                fut.set_exception(exc)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "running" if self.running else "stopped"
        return (f"<WebSocketEmitter {self.name!r} {self.url} {state}: "
                f"{self._stats['received']} received>")
