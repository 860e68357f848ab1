"""The two tasks of a WebSocket feed: the socket reader and the bus delivery.

The reader loops: connect (``websockets.asyncio.client.connect`` with the feed's ping,
size and timeout options), send the subscriptions, put every frame into the bounded buffer
as a ``WebSocketEvent``; when the connection ends or cannot be made it waits
``backoff.delay(attempt)`` and tries again, until ``backoff.max_retries`` failed attempts
in a row. Connection changes are SYSTEM events put into the same buffer, so they reach the
bus in order with the messages (their kinds are listed in :mod:`evlab.feeds.emitter`).
The delivery task publishes the buffer's events one at a time with ``await
bus.emit_async``. Both tasks are owned, cancelled and awaited by ``WebSocketEmitter``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from evlab.bus import EventBus
from evlab.events import (
    Event,
    WebSocketEvent,
    create_error_event,
    create_system_event,
    create_websocket_event,
)
from evlab.feeds.adapters import ExchangeAdapter
from evlab.feeds.backoff import Backoff
from evlab.feeds.buffer import FeedBuffer

__all__ = ["FeedTasks"]

logger = logging.getLogger("evlab")


class FeedTasks:
    """Mixin: the reader and delivery coroutines of ``WebSocketEmitter`` (see the module)."""

    name: str
    url: str
    event_bus: EventBus | None
    adapter: ExchangeAdapter | None
    symbols: tuple[str, ...]
    channels: tuple[str, ...]
    interval_s: int
    subscriptions: list[str | bytes] | None
    backoff: Backoff
    connect_options: dict[str, Any]
    _rng: random.Random
    _stats: dict[str, Any]
    _buffer: FeedBuffer | None
    _reading: bool
    _in_flight: Event | None
    end_on_normal_close: bool
    _ended: bool
    _waiters: Sequence[Any]

    def _notify(self) -> None:  # pragma: no cover - provided by the emitter
        raise NotImplementedError

    async def _read(self) -> None:
        attempt = 0  # failed attempts since the last successful connection
        policy = self.backoff
        try:
            while True:
                if await self._session(attempt):
                    attempt = 0
                if self._ended:
                    return
                attempt += 1
                error = self._stats["last_error"]
                if not policy.allows(attempt):
                    logger.error("feed %s: giving up on %s after %d failed retries: %s", self.name,
                                 self.url, attempt - 1, error)
                    await self._put(create_system_event(
                        "gave_up", f"{self.name}: gave up reconnecting to {self.url}",
                        {"url": self.url, "attempts": attempt - 1, "error": error},
                        source=self.name))
                    return
                delay = policy.delay(attempt, self._rng)
                self._stats["reconnects"] += 1
                logger.warning("feed %s: reconnecting to %s in %.3g s (attempt %d): %s",
                               self.name, self.url, delay, attempt, error)
                await self._put(create_system_event(
                    "reconnecting", f"{self.name}: reconnecting in {delay:.3g} s "
                    f"(attempt {attempt})", {"url": self.url, "attempt": attempt, "delay": delay,
                                             "max_retries": policy.max_retries, "error": error},
                    source=self.name))
                await asyncio.sleep(delay)
        finally:
            self._stats["connected"] = self._reading = False
            if self._buffer is not None:
                self._buffer.close()
            self._notify()

    async def _session(self, attempt: int) -> bool:
        """One connection: connect, subscribe, read until it closes; True if it subscribed."""
        try:
            ws = await connect(self.url, **self.connect_options)
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
            self._stats["connected"] = True
            self._stats["connections"] += 1
            logger.info("feed %s: connected to %s", self.name, self.url)
            await self._put(create_system_event(
                "connected", f"{self.name}: connected to {self.url}",
                {"url": self.url, "attempt": attempt, "connections": self._stats["connections"]},
                source=self.name))
            self._notify()
            await self._pump(ws)
        except ConnectionClosed as exc:
            await self._closed(exc, subscribed)
        except Exception as exc:  # a bug (ours or an adapter's): log it, reconnect
            logger.exception("feed %s: session failed", self.name)
            self._stats["errors"] += 1
            await self._lost(subscribed, CloseCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        finally:
            self._stats["connected"] = False
            await ws.close()
        return subscribed

    async def _pump(self, ws: ClientConnection) -> None:
        stats, put, name = self._stats, self._put, self.name
        while True:
            frame = await ws.recv()
            event = create_websocket_event(name, frame, time.time_ns())
            stats["received"] += 1
            stats["last_message_ns"] = event.received_ns
            await put(event)
            if self._waiters:
                self._notify()

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
            await self._put(create_system_event(
                "ended", f"{self.name}: the server ended the stream ({reason})".rstrip(),
                {"url": self.url, "code": int(code), "reason": reason}, source=self.name))

    async def _lost(self, subscribed: bool, code: int, reason: str) -> None:
        """Record why the connection ended; publish "disconnected" if it had been up."""
        self._stats["last_error"] = f"connection closed: {int(code)} {reason}".rstrip()
        if subscribed:  # a normal close (1000) is news, not trouble
            level = logging.INFO if code == CloseCode.NORMAL_CLOSURE else logging.WARNING
            logger.log(level, "feed %s: disconnected from %s: %s %s", self.name, self.url,
                       int(code), reason)
            self._stats["connected"] = False
            await self._put(create_system_event(
                "disconnected", f"{self.name}: disconnected ({int(code)} {reason})".rstrip(),
                {"url": self.url, "code": int(code), "reason": reason}, source=self.name))

    async def _deliver(self) -> None:
        buffer, bus, stats = self._buffer, self.event_bus, self._stats
        assert buffer is not None and bus is not None
        while (event := await buffer.get()) is not None:
            self._in_flight = event
            try:
                await bus.emit_async(event)
            except Exception:  # handlers' errors are the bus's business: this is a bug
                logger.exception("feed %s: could not publish %r", self.name, event)
            self._in_flight = None
            if isinstance(event, WebSocketEvent):
                stats["delivered"] += 1
                if self._waiters:
                    self._notify()

    # --- helpers -------------------------------------------------------------------------
    async def _put(self, event: Event) -> None:
        dropped = await self._buffer.put(event)  # type: ignore[union-attr]
        if isinstance(dropped, WebSocketEvent):
            self._stats["dropped"] += 1
        elif dropped is not None:
            logger.warning("feed %s: buffer full of notices, dropped %r", self.name, dropped)

    def _subscribe_messages(self) -> list[str | bytes]:
        if self.subscriptions is not None:
            return list(self.subscriptions)
        if self.adapter is None or not self.symbols:
            return []
        return list(self.adapter.subscribe_messages(self.symbols, self.channels,
                                                    interval_s=self.interval_s))
