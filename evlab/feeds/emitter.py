"""WebSocketEmitter: a live WebSocket feed publishing every message on the bus.

``await emitter.start()`` returns once connected and subscribed (TimeoutError after
``start_timeout``, 30 s, unless told to retry forever with ``None``); the feed then runs as two
background tasks on the running loop (a notebook cell returns at once). ``stop()`` returns
within about a second whatever the state (see :meth:`WebSocketEmitter.stop`):

* the **connection** task lives the whole life of the feed's connection in one retry loop
  (:meth:`WebSocketEmitter._connection`): connect (with the feed's ping, size and timeout
  options), send the subscriptions, put every frame, as a ``WebSocketEvent`` (raw payload,
  receive time, source = the emitter's name), into a bounded buffer; when the connection
  ends, end the feed, give up, or wait and reconnect;
* the **delivery** task takes events from the buffer and publishes each with
  ``await bus.emit_async(event)``, so async handlers (``WebSocketHandler.handle``) finish
  one message before the next starts.

Buffer policy (``overflow=``, see :mod:`evlab.feeds.buffer`): ``"block"`` (default) stops
reading the socket while the buffer is full, dropping nothing; ``"drop_oldest"`` drops the
oldest buffered message and counts it. Either way at most ``buffer_size`` events are held.
``stats``: received == delivered + dropped + discarded (dropped by ``stop()``) + buffered.

The end of a stream: a server that closes normally (code 1000) after its last message, as a
finite local replay does, ends the feed (SYSTEM ``"ended"``; :meth:`wait_finished` returns
once everything received is delivered). ``end_on_normal_close=False`` reconnects instead, for a
live exchange that closes normally for maintenance. Any other close, or a failed attempt,
reconnects (``backoff=``, see :mod:`evlab.feeds.backoff`): an exponentially growing, jittered,
bounded delay, then the subscriptions again; ``Backoff(max_retries=n)`` gives up after n failed
attempts in a row (a successful connection resets the count).

SYSTEM events (``source`` = the emitter's name, ``data`` a dict) travel through the same
buffer, in order with the messages:

* ``"connected"``: ``url``, ``attempt`` (failed attempts before it: 0 if the first try
  worked), ``connections`` (how many so far);
* ``"disconnected"``: ``url``, ``code``, ``reason``;
* ``"reconnecting"``: ``url``, ``attempt``, ``delay`` (s), ``max_retries``, ``error``;
* ``"gave_up"``: ``url``, ``attempts``, ``error`` (the feed ends);
* ``"ended"``: ``url``, ``code``, ``reason``: the server closed normally (the feed ends);
* ``"stopped"``: published by ``stop()`` itself, with the final ``stats``.

A frame larger than ``max_size`` makes websockets close the connection (code 1009): the
emitter publishes an ``ErrorEvent`` (``error_type="MessageTooBig"``), counts it in
``stats["oversized"]`` and ``stats["errors"]``, and reconnects. A text frame that is not valid
UTF-8 does not cost the connection (websockets alone would close it, code 1007): it becomes
one ``ErrorEvent`` (``error_type="InvalidUTF8"``, ``payload`` = its bytes), in order with the
messages, counted in ``stats["invalid_text"]`` and ``stats["errors"]`` (not in ``received``).

``adapter=`` (a name or an ``ExchangeAdapter``) builds the subscriptions from ``symbols`` and
``channels`` and is registered under the emitter's name, so a ``WebSocketHandler`` built
without an adapter decodes this feed's messages with it. Raw ``subscriptions=`` are a list of
frames, or a function returning them: one that signs them (Coinbase Advanced Trade's JWT,
which expires after two minutes) is called again at every connection and every book resync,
so no frame is ever sent with a stale signature.

Books: where the adapter's book protocol needs REST snapshots (Binance diff depth) the emitter
fetches them (:mod:`evlab.feeds.rest`); and when ``OrderBooks`` publishes a ``book_gap`` for a
book this feed keeps, it gets that snapshot again the venue's way, REST or resubscribing
(:mod:`evlab.feeds.resync`: one resync in flight per symbol, at least 1 s apart,
``resync_timeout``; ``stats``: ``resyncs``, ``resyncs_done``, ``resyncs_coalesced``,
``resync_failures``).

The one reader: when the only subscriber to ``EventType.WEBSOCKET`` on the bus is a
``WebSocketHandler`` (registered as the usage guide does, ``handler.handle``) that decodes
this feed, and no recorder has a tape on the bus (nothing keeps the raw messages), the
delivery task does not send a message across the bus only for that handler to decode it: it
stamps and counts the ``WebSocketEvent`` as ``emit`` would (``EventBus.take``), has the
handler decode it (``WebSocketHandler.decode``, the same code as ``handle``) and publishes
what it gives with ``cause`` = the message (``emit_async`` as ``handle`` does, or ``emit``
for an event of a type no async handler listens to: the same dispatch without a
coroutine). The events, their stamps (``seq``, ``cause``) and every count are what
``handle`` would have made; only the second trip is saved. Any other subscriber to WEBSOCKET
(a second handler, an "every type" one, a profiling bus) or a tape turns it off, message by
message. ``stats["decoded"]`` counts the messages decoded so (each also in ``delivered``).

From a plain script or blocking code, ``start_in_thread()`` runs the feed on a
:class:`~evlab.feeds.loop.BackgroundLoop` of its own and returns its thread once connected;
``stop_in_thread()`` (or ``await stop()`` from any other loop) stops the feed, then that loop.
Handlers then run on the feed's thread (the bus is thread-safe), and the buffer policy still
applies, because delivery waits for the handlers. Never call ``start_in_thread`` while the
server runs on the caller's own loop: that loop could not accept the connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from evlab.bus import EventBus, Subscription
from evlab.events import (
    Event,
    EventType,
    WebSocketEvent,
    _from_ns,
    _new_websocket,
    create_error_event,
    create_system_event,
)
from evlab.feeds.adapters import ExchangeAdapter
from evlab.feeds.backoff import Backoff
from evlab.feeds.buffer import FeedBuffer, Overflow
from evlab.feeds.connection import FeedConnection
from evlab.feeds.handler import WebSocketHandler
from evlab.feeds.loop import BackgroundLoop
from evlab.feeds.rest import RestSnapshots, rest_base
from evlab.feeds.resync import BookResync
from evlab.feeds.sources import adapter_for_source, register_source, resolve_adapter, validate_url

__all__ = ["WebSocketEmitter", "adapter_for_source"]

#: ``subscriptions=`` as a function: the frames to send, made (signed) when they are sent
Subscriptions = Callable[[], Sequence[str | bytes]]

logger = logging.getLogger("evlab")

StatsPredicate = Callable[[dict[str, Any]], bool]

#: How long ``stop()`` waits for the server to answer its close frame before cutting the
#: connection (counted in ``stats["closes_abandoned"]``): a stalled server or a socket full of
#: unread messages never answers, and stopping must not wait ``close_timeout`` for that.
STOP_CLOSE_TIMEOUT = 0.5
#: How long ``stop()`` waits for cancelled tasks (a handler that swallows cancellation).
_CANCEL_GRACE = 0.5


class _FromEmitter:
    """``start()``'s default timeout: the emitter's ``start_timeout``."""


_START_TIMEOUT = _FromEmitter()
_NO_ROUTE = object()  # no WEBSOCKET route looked at yet


class WebSocketEmitter:
    """A WebSocket connection that publishes every message as a WebSocketEvent (see module)."""

    def __init__(self, name: str, url: str, event_bus: EventBus | None = None, *,
                 adapter: str | ExchangeAdapter | None = None, symbols: Sequence[str] = (),
                 channels: Sequence[str] = ("bars",), interval_s: int = 60,
                 subscriptions: Sequence[str | bytes] | Subscriptions | None = None,
                 buffer_size: int = 10_000, overflow: Overflow = "block",
                 backoff: Backoff | None = None, rng: random.Random | None = None,
                 ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0,
                 max_size: int | None = 2**20, open_timeout: float | None = 10.0,
                 close_timeout: float | None = 5.0,
                 connect_options: dict[str, Any] | None = None,
                 end_on_normal_close: bool = True,
                 start_timeout: float | None = 30.0, rest_url: str | None = None,
                 rest_retries: int = 3, resync_timeout: float = 10.0) -> None:
        """Subscribe via ``adapter`` + ``symbols``/``channels``, or send raw ``subscriptions``.

        ``end_on_normal_close``: a normal close (1000) by the server ends the feed (the end of
        a finite stream); False reconnects after it too (a live exchange's maintenance close).
        ``start_timeout``: how long ``start()`` waits for the first connection by default
        (None: retry until it connects, for a long-running live session).
        ``rest_url``: where the REST snapshots the adapter's book protocol needs are fetched
        (default: the socket's host over http/https); ``rest_retries``: retries per fetch
        (see :mod:`evlab.feeds.rest`). ``resync_timeout``: how long a book's resync (after a
        ``book_gap``) may take before it is a ``ResyncFailed`` error (see
        :mod:`evlab.feeds.resync`).
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
        #: the raw subscriptions: frames, or the function that makes them (see the module doc)
        self.subscriptions: list[str | bytes] | Subscriptions | None = (
            subscriptions if subscriptions is None or callable(subscriptions)
            else list(subscriptions))
        FeedBuffer(buffer_size, overflow)  # validate now, build on the running loop later
        self.buffer_size = buffer_size
        self.overflow = overflow
        self.backoff = backoff or Backoff()
        self.end_on_normal_close = end_on_normal_close
        if start_timeout is not None and not start_timeout > 0:
            raise ValueError(f"start_timeout must be positive or None, got {start_timeout!r}")
        self.start_timeout = start_timeout
        self._rng = rng or random.Random()
        self.connect_options: dict[str, Any] = {
            "ping_interval": ping_interval, "ping_timeout": ping_timeout, "max_size": max_size,
            "open_timeout": open_timeout, "close_timeout": close_timeout,
            **(connect_options or {})}
        if self.adapter is not None:
            register_source(name, self.adapter)
            if self.symbols:
                self._subscribe_messages()  # fail now on bad symbols/channels/interval
        self._warn_if_it_subscribes_to_nothing()
        self._stats: dict[str, Any] = {
            "received": 0, "delivered": 0, "decoded": 0, "dropped": 0, "discarded": 0,
            "errors": 0, "oversized": 0, "invalid_text": 0, "reconnects": 0, "connections": 0,
            "connected": False, "closes_abandoned": 0, "drains_abandoned": 0,
            "rest_fetched": 0, "rest_errors": 0, "rest_refetches": 0,
            "resyncs": 0, "resyncs_done": 0, "resyncs_coalesced": 0, "resync_failures": 0,
            "last_message_ns": None, "last_error": None}
        requests = [] if self.adapter is None else self.adapter.snapshot_requests(
            self._subscribe_messages(), urlsplit(self.url).path or "/")
        #: The REST snapshots this feed fetches (None: its subscriptions need none).
        self.rest: RestSnapshots | None = None if not requests else RestSnapshots(
            name, rest_url or rest_base(self.url), requests, self._put, self._stats,
            backoff=self.backoff, rng=self._rng, timeout=open_timeout, retries=rest_retries,
            max_size=max_size)
        #: Gets a book's snapshot again on a ``book_gap`` (None: no adapter, nothing to resync).
        self.resync: BookResync | None = None if self.adapter is None else BookResync(
            name, self.adapter, self._subscribe_messages, self.rest, self._send_frames,
            self._put, self._stats, self._notify, timeout=resync_timeout)
        self._ws: FeedConnection | None = None  # the connection while it is subscribed
        self._gap_subscription: Subscription | None = None
        self._stopping = False  # stop() is closing the connection: close it quickly
        self._ended = False  # the server closed normally and end_on_normal_close is set
        self._reading = False  # the connection task is connecting, connected or waiting
        self._buffer: FeedBuffer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._in_flight: Event | None = None
        self._waiters: list[tuple[StatsPredicate, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: BackgroundLoop | None = None  # the loop start_in_thread made

    def _warn_if_it_subscribes_to_nothing(self) -> None:
        """Say once, at construction, that this feed will subscribe to nothing or cannot be
        decoded: otherwise it connects and receives nothing, or only NoAdapter errors."""
        if self.subscriptions is not None or self.symbols:
            return
        if self.adapter is None:
            text = ("no adapter= and no symbols=, so it subscribes to nothing and cannot decode "
                    "what it gets (a WebSocketHandler without an adapter of its own makes each "
                    "message a NoAdapter ErrorEvent). Pass adapter='binance' (or another "
                    "exchange) and symbols=[...], or subscriptions=[...] (subscriptions=[] when "
                    "the URL itself subscribes)")
        else:
            request, _ = self.adapter.path_subscribe(urlsplit(self.url).path or "/")
            if request is not None:
                return  # the URL names the streams (a Binance /ws/btcusdt@kline_1m URL)
            text = (f"no symbols=, so it subscribes to nothing and the {self.adapter.name} "
                    f"server sends it no bars. Pass symbols=[...], or subscriptions=[...] "
                    f"(subscriptions=[] when the URL itself subscribes)")
        warnings.warn(f"WebSocketEmitter {self.name!r}: {text}", UserWarning, stacklevel=3)

    def set_event_bus(self, event_bus: EventBus) -> None:
        """Publish on ``event_bus`` (EventManager calls this for registered components)."""
        self.event_bus = event_bus

    # --- state ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from ``start()`` until ``stop()``, or until the feed ended and delivered all."""
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
        before = self._stats["connections"]
        stats = await self.wait_stats(lambda s: s["connected"] or not self._reading, timeout)
        # connected, even if it has dropped again since (the wake-up takes a turn of the loop)
        if not stats["connected"] and stats["connections"] == before:
            raise ConnectionError(f"WebSocketEmitter {self.name!r}: could not connect to "
                                  f"{self.url}: {stats['last_error']}")

    async def wait_finished(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait until the feed has ended by itself (the stream's normal end, or it gave up)
        and every message it received is delivered, or until it is stopped; returns the stats.

        TimeoutError after ``timeout`` seconds (None: no limit; a feed told to reconnect
        forever may never end).
        """
        return await self.wait_stats(lambda s: not s["running"], timeout)

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self, *, timeout: float | _FromEmitter | None = _START_TIMEOUT) -> None:
        """Connect and subscribe, then return; the feed keeps running in background tasks.

        Failed first attempts are retried under ``backoff``; if it gives up, or ``timeout``
        seconds pass first (default: the emitter's ``start_timeout``, 30 s; None: no limit),
        the emitter is stopped and ConnectionError/TimeoutError raised.
        """
        limit = self.start_timeout if isinstance(timeout, _FromEmitter) else timeout
        if self.event_bus is None:
            raise RuntimeError(f"WebSocketEmitter {self.name!r} has no bus: pass event_bus=")
        if self.running and self._loop is not asyncio.get_running_loop():
            raise RuntimeError(f"WebSocketEmitter {self.name!r} already runs on another loop")
        if not self.running:
            await self._finish_tasks(drain=None)
            loop = self._loop = asyncio.get_running_loop()
            self._buffer = FeedBuffer(self.buffer_size, self.overflow)
            self._reading = True
            self._ended = self._stopping = False
            # Fresh contexts: a feed started from inside a handler must not inherit its event.
            self._delivery = loop.create_task(self._deliver(), name=f"evlab:{self.name}:deliver",
                                              context=contextvars.Context())
            self._reader = loop.create_task(self._connection(), name=f"evlab:{self.name}:read",
                                            context=contextvars.Context())
            if self.resync is not None and self._gap_subscription is None:  # resync on a gap
                self.resync.start()
                self._gap_subscription = self.event_bus.subscribe(
                    EventType.SYSTEM, self.resync.on_system, name=f"{self.name}:book_gap",
                    weak=False)
        try:
            await self.wait_connected(limit)
        except TimeoutError:
            await self.stop()
            raise TimeoutError(
                f"WebSocketEmitter {self.name!r}: not connected to {self.url} within {limit:g} s "
                f"({self._stats['reconnects'] + 1} attempts; last error: "
                f"{self._stats['last_error']}). Is the server running? start(timeout=None) or "
                f"WebSocketEmitter(..., start_timeout=None) retries until it connects"
            ) from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self, *, drain: bool = False, drain_timeout: float = 5.0) -> None:
        """Close the connection and end both tasks; ``drain=True`` first delivers the buffer,
        for at most ``drain_timeout`` seconds (a hung handler: counted in
        ``stats["drains_abandoned"]``, the rest discarded).

        Returns within about a second otherwise, whatever the state: a server that does not
        answer the close frame within ``STOP_CLOSE_TIMEOUT`` (stalled, or behind a socket full
        of unread messages) is cut off, counted in ``stats["closes_abandoned"]``. Buffered
        messages not delivered are counted in ``stats["discarded"]``. From another loop than
        the feed's, the stop runs on the feed's loop (and ends the loop ``start_in_thread``
        made).
        """
        loop, bus = self._loop, self.event_bus
        if (self._reader is None and self._delivery is None) or loop is None or bus is None:
            return
        if loop is not asyncio.get_running_loop():
            if loop.is_closed() or not loop.is_running():
                raise RuntimeError(f"feed {self.name!r} runs on a loop that is no longer running")
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                self.stop(drain=drain, drain_timeout=drain_timeout), loop))
            self._end_background()
            return
        was_connected = self.connected
        await self._finish_tasks(drain=drain_timeout if drain else None)
        await bus.emit_async(create_system_event(
            "stopped", f"{self.name}: stopped", {"url": self.url, "was_connected": was_connected,
                                                 "stats": self.get_stats()}, source=self.name))

    async def __aenter__(self) -> WebSocketEmitter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, *, timeout: float | _FromEmitter | None = _START_TIMEOUT
                        ) -> threading.Thread:
        """Run the feed on a background loop of its own; returns its thread once connected
        (``timeout`` as for :meth:`start`)."""
        if self._background is not None and self._background.running:
            raise RuntimeError(f"feed {self.name!r} already runs in thread "
                               f"{self._background.name}")
        background = self._background = BackgroundLoop(f"evlab-feed-{self.name}")
        try:
            background.run(self.start(timeout=timeout), timeout=None)  # start() has its own
        except BaseException:
            self._end_background()
            raise
        thread = background.thread
        assert thread is not None  # it just ran start()
        return thread

    def stop_in_thread(self, *, drain: bool = False, drain_timeout: float = 5.0,
                       timeout: float | None = 30.0) -> None:
        """From blocking code: stop the feed on its loop (``start_in_thread``'s, a Lab's, any
        other thread's) and wait for it; then end the loop ``start_in_thread`` made."""
        loop = self._loop
        if loop is not None and _running_loop() is loop:
            raise RuntimeError(f"feed {self.name!r}: stop_in_thread() on the feed's own loop "
                               f"would wait for itself: await stop() there")
        try:
            if (self._reader is not None or self._delivery is not None) and loop is not None \
                    and loop.is_running():
                asyncio.run_coroutine_threadsafe(
                    self.stop(drain=drain, drain_timeout=drain_timeout), loop).result(timeout)
        finally:
            self._end_background(timeout)

    def _end_background(self, timeout: float | None = 10.0) -> None:
        background, self._background = self._background, None
        if background is not None:
            background.stop(timeout)

    # --- the connection: one retry loop --------------------------------------------------
    async def _connection(self) -> None:
        """Connect, subscribe and read until the connection ends; then end, give up, or wait
        under the backoff policy and go round again."""
        attempt = 0  # failed attempts since the last successful subscription
        policy = self.backoff
        try:
            while True:
                if await self._session(attempt):
                    attempt = 0
                if self._ended:
                    if self.rest is not None:  # the stream ended: deliver its snapshots too
                        await self.rest.wait()
                    return
                attempt += 1
                error = self._stats["last_error"]
                if not policy.allows(attempt):
                    logger.error("feed %s: giving up on %s after %d failed retries: %s", self.name,
                                 self.url, attempt - 1, error)
                    await self._notice("gave_up", f"gave up reconnecting to {self.url}",
                                       attempts=attempt - 1, error=error)
                    return
                delay = policy.delay(attempt, self._rng)
                self._stats["reconnects"] += 1
                self._notify()
                logger.warning("feed %s: reconnecting to %s in %.3g s (attempt %d): %s",
                               self.name, self.url, delay, attempt, error)
                await self._notice("reconnecting", f"reconnecting in {delay:.3g} s (attempt "
                                   f"{attempt})", attempt=attempt, delay=delay,
                                   max_retries=policy.max_retries, error=error)
                await asyncio.sleep(delay)
        finally:
            self._stats["connected"] = self._reading = False
            if self._buffer is not None:
                self._buffer.close()
            self._notify()

    async def _session(self, attempt: int) -> bool:
        """One connection: connect, subscribe, read until it closes; True if it subscribed."""
        try:
            ws = await connect(self.url, create_connection=FeedConnection,
                               **self.connect_options)
            assert isinstance(ws, FeedConnection)  # what create_connection made
        except Exception as exc:  # OSError, InvalidHandshake, TimeoutError, InvalidProxy...
            self._stats["last_error"] = f"{type(exc).__name__}: {exc}"
            logger.info("feed %s: cannot connect to %s: %s: %s", self.name, self.url,
                        type(exc).__name__, exc)
            return False
        subscribed = False
        try:
            for message in self._subscribe_messages():
                await ws.send(message)
            subscribed = True
            self._ws = ws
            self._stats["connected"] = True
            self._stats["connections"] += 1
            logger.info("feed %s: connected to %s", self.name, self.url)
            await self._notice("connected", f"connected to {self.url}", attempt=attempt,
                               connections=self._stats["connections"])
            self._notify()
            if self.rest is not None:
                self.rest.fetch_all()  # the books' snapshots, on every (re)connection
            await self._pump(ws)
        except ConnectionClosed as exc:
            await self._closed(exc, subscribed)
        except Exception as exc:  # a bug (ours or an adapter's): log it, reconnect
            logger.exception("feed %s: session failed", self.name)
            self._stats["errors"] += 1
            await self._lost(subscribed, CloseCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        finally:
            self._stats["connected"] = False
            self._ws = None
            await self._close(ws)
        return subscribed

    async def _send_frames(self, frames: list[str | bytes]) -> bool:
        """Send ``frames`` on the live connection (a book's resync); False if there is none
        or it closed meanwhile (the reconnection subscribes again)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            for frame in frames:
                await ws.send(frame)
        except ConnectionClosed:
            return False
        return True

    async def _close(self, ws: FeedConnection) -> None:
        """Close ``ws``; while stopping, cut it if the server does not answer at once."""
        if not self._stopping:
            await ws.close()  # websockets waits up to close_timeout for the handshake
            return
        try:
            async with asyncio.timeout(STOP_CLOSE_TIMEOUT):
                await ws.close()
        except TimeoutError:
            ws.transport.abort()
            self._stats["closes_abandoned"] += 1
            logger.info("feed %s: the server did not answer the close within %g s: cut off",
                        self.name, STOP_CLOSE_TIMEOUT)

    async def _pump(self, ws: FeedConnection) -> None:
        stats, put, name = self._stats, self._put, self.name
        buffer = self._buffer
        assert buffer is not None  # set by start()
        put_nowait, ready = buffer.put_nowait, ws.next_ready
        new_event = _new_websocket  # create_websocket_event's builder: a C call compiled
        while True:
            got = ready()  # a message already queued: no coroutine for it
            frame, valid = got if got is not None else await ws.recv_payload()
            if not valid:
                await self._invalid_text(frame)
                continue
            now = time.time_ns()
            event = new_event(name, frame, now)
            stats["received"] += 1
            stats["last_message_ns"] = now
            if not put_nowait(event):  # full: wait for room, or drop the oldest
                await put(event)
            if self._waiters:
                self._notify()

    async def _invalid_text(self, payload: str | bytes) -> None:
        """A text frame that is not UTF-8: one ErrorEvent with its bytes; the feed goes on."""
        self._stats["invalid_text"] += 1
        self._stats["errors"] += 1
        self._stats["last_error"] = "a text frame that is not valid UTF-8"
        await self._put(create_error_event(
            f"{self.name}: a text frame of {len(payload):,} bytes is not valid UTF-8; its "
            f"bytes are in payload", error_type="InvalidUTF8", payload=payload,
            source=self.name))

    async def _closed(self, exc: ConnectionClosed, subscribed: bool) -> None:
        frame = exc.sent if exc.rcvd is None else exc.rcvd
        code = frame.code if frame is not None else CloseCode.ABNORMAL_CLOSURE
        reason = frame.reason if frame is not None else "connection lost"
        if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
            code, reason = CloseCode.MESSAGE_TOO_BIG, exc.sent.reason
            limit = self.connect_options.get("max_size")
            self._stats["oversized"] += 1
            self._stats["errors"] += 1
            logger.error("feed %s: message larger than max_size=%s: %s", self.name, limit, reason)
            await self._put(create_error_event(
                f"{self.name}: a message exceeded max_size={limit} bytes ({reason}); "
                f"websockets closed the connection (1009), reconnecting",
                error_type="MessageTooBig", source=self.name))
        await self._lost(subscribed, code, reason)
        if (self.end_on_normal_close and exc.rcvd is not None
                and exc.rcvd.code == CloseCode.NORMAL_CLOSURE):
            self._ended = True
            logger.info("feed %s: the server ended the stream: %s", self.name, reason)
            await self._notice("ended", f"the server ended the stream ({reason})",
                               code=int(code), reason=reason)

    async def _lost(self, subscribed: bool, code: int, reason: str) -> None:
        """Record why the connection ended; publish "disconnected" if it had been up."""
        self._stats["last_error"] = f"connection closed: {int(code)} {reason}".rstrip()
        if subscribed:  # a normal close (1000) is news, not trouble
            level = logging.INFO if code == CloseCode.NORMAL_CLOSURE else logging.WARNING
            logger.log(level, "feed %s: disconnected from %s: %s %s", self.name, self.url,
                       int(code), reason)
            self._stats["connected"] = False
            await self._notice("disconnected", f"disconnected ({int(code)} {reason})",
                               code=int(code), reason=reason)

    # --- delivery ------------------------------------------------------------------------
    async def _deliver(self) -> None:
        buffer, bus, stats = self._buffer, self.event_bus, self._stats
        assert buffer is not None and bus is not None  # set by start()
        known: Any = _NO_ROUTE  # the WEBSOCKET route that ``reader`` was found on
        reader: tuple[Any, WebSocketHandler, Any] | None = None
        websocket = EventType.WEBSOCKET
        try:
            get_nowait = buffer.get_nowait
            while (event := get_nowait() or await buffer.get()) is not None:
                self._in_flight = event
                try:
                    if type(event) is WebSocketEvent and bus._tape is None:
                        route = bus._routes.get(websocket)
                        if route is not known:  # registrations changed (routes are rebuilt)
                            known, reader = route, self._sole_reader(route)
                        if reader is not None:  # decoded here: see "The one reader" above
                            call, handler, decode = reader
                            stats["decoded"] += 1
                            events = bus.take(event, decode, call)
                            if events:
                                target = handler.event_bus or bus
                                for out in events:
                                    # no async handler on its route: emit's dispatch is what
                                    # emit_async's would be, without a coroutine per event
                                    if target._routes.get(out.type, target._default_route)[1]:
                                        await target.emit_async(out, cause=event)
                                    else:
                                        target.emit(out, cause=event)
                        else:
                            await bus.emit_async(event)
                    else:
                        await bus.emit_async(event)
                except Exception:  # handlers' errors are the bus's business: this is a bug
                    logger.exception("feed %s: could not publish %r", self.name, event)
                self._in_flight = None
                if isinstance(event, WebSocketEvent):
                    stats["delivered"] += 1
                    if self._waiters:
                        self._notify()
        finally:
            # The feed ended by itself and all is delivered: wake wait_finished (running is
            # False once this task is done, so check on the next turn of the loop).
            asyncio.get_running_loop().call_soon(self._notify)

    def _sole_reader(self, route: Any) -> tuple[Any, WebSocketHandler, Any] | None:
        """``(call, handler, handler.decode)`` if the WEBSOCKET ``route`` is one subscription
        only, an async ``WebSocketHandler.handle`` (not wrapped: the bus is not profiling)
        that decodes this feed's messages; else None (see "The one reader" above)."""
        if route is None or len(route[2]) != 1:
            return None
        call, is_async = route[2][0]
        handler = getattr(call, "__self__", None)
        if not (is_async and isinstance(handler, WebSocketHandler)
                and getattr(call, "__func__", None) is WebSocketHandler.handle
                and handler.source in (None, self.name)):
            return None
        return call, handler, handler.decode

    # --- helpers -------------------------------------------------------------------------
    async def _put(self, event: Event) -> None:
        buffer = self._buffer
        assert buffer is not None  # set by start()
        try:
            dropped = await buffer.put(event)
        except asyncio.CancelledError:  # stopped while waiting for room: this one is lost too
            if isinstance(event, WebSocketEvent):
                self._stats["discarded"] += 1
            raise
        if isinstance(dropped, WebSocketEvent):
            self._stats["dropped"] += 1
        elif dropped is not None:
            logger.warning("feed %s: buffer full of notices, dropped %r", self.name, dropped)

    async def _notice(self, kind: str, text: str, **data: Any) -> None:
        """Queue a SYSTEM event of ``kind`` (see the module doc), in order with the messages."""
        await self._put(create_system_event(kind, f"{self.name}: {text}".rstrip(),
                                            {"url": self.url, **data}, source=self.name))

    def _subscribe_messages(self) -> list[str | bytes]:
        """The frames that subscribe this feed, made now (a signing function is called)."""
        subs = self.subscriptions
        if subs is not None:
            return list(subs() if callable(subs) else subs)
        if self.adapter is None or not self.symbols:
            return []
        return list(self.adapter.subscribe_messages(self.symbols, self.channels,
                                                    interval_s=self.interval_s))

    async def _finish_tasks(self, *, drain: float | None) -> None:
        """End the reader (its close bounded), then the delivery: at once, or once it has
        delivered the buffer if ``drain`` (seconds at most) is given."""
        tasks = [t for t in (self._reader, self._delivery) if t is not None]
        self._stopping = True
        if self.rest is not None:
            self.rest.cancel()
        if self._gap_subscription is not None:
            self._gap_subscription.cancel()
            self._gap_subscription = None
        if self.resync is not None:
            self.resync.cancel()
        if self._reader is not None:
            self._reader.cancel()
            # its close is bounded by STOP_CLOSE_TIMEOUT; the grace covers a hung put
            await asyncio.wait([self._reader], timeout=STOP_CLOSE_TIMEOUT + _CANCEL_GRACE)
        delivery = self._delivery
        if delivery is not None and drain is not None:
            if self._buffer is not None:
                self._buffer.close()  # deliver what is buffered, then end
            _, late = await asyncio.wait([delivery], timeout=drain)
            if late:
                self._stats["drains_abandoned"] += 1
                logger.warning("feed %s: stop(drain=True): not delivered within %g s (a hung "
                               "handler?); the rest is discarded", self.name, drain)
        if delivery is not None:
            delivery.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=_CANCEL_GRACE)
            for task in stuck:
                logger.error("feed %s: task %s ignores cancellation; left running", self.name,
                             task.get_name())
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
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


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
