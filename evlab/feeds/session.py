"""One client connection of the feed server: its greeting, subscriptions and bar streams.

:class:`~evlab.feeds.server.FeedServer` makes one :class:`ClientSession` per connection and
keeps what all clients share (the bars, their pre-encoded frames, the live timeline, the
counters); a session asks the exchange's adapter how to answer each request, so nothing here
knows an exchange by name. Frames are written straight to the socket, pre-framed and in
batches, when nothing (compression, another extension) must transform them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from evlab.feeds import _frames
from evlab.feeds.adapters import AdapterError, Subscribe

if TYPE_CHECKING:
    from evlab.feeds.server import FeedServer

__all__ = ["ClientSession"]

log = logging.getLogger("evlab.feeds.server")

_BATCH = 512  # frames per socket write
#: Unknown symbols named in the error frame refusing a subscribe, before a count of the rest.
MAX_ERROR_REPLIES = 10


class _Gone(Exception):
    """The client's connection is no longer open."""


class ClientSession:
    """One connected client: what it subscribed to, its streams, and the frames it was sent."""

    def __init__(self, server: FeedServer, cid: int, ws: ServerConnection) -> None:
        self.server, self.id, self.ws = server, cid, ws
        self.frames = server.frames()  # the encoded bars this client gets (per URL options)
        self.adapter = server.adapter  # what speaks to this client (per URL/header options)
        self.codes: set[int] = set()  # the symbols subscribed to, as table codes
        self.bars_sent = 0
        self.queue_peak = 0  # live mode: the most frames waiting for this client at once
        self._streams = 0  # replay streams still running
        self._replays: list[set[int]] = []  # each running replay's symbols still subscribed
        self._pending: list[bytes] = []  # injected frames, sent before the next bars
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None  # the heartbeats channel's sender
        self._buf: list[bytes] = []  # live mode: bars published, not yet written
        self._wake = asyncio.Event()
        self._ended = False  # live mode: the timeline is over
        self._sender: asyncio.Task[None] | None = None
        proto = getattr(ws, "protocol", None)
        self._fast = (proto is not None and not proto.extensions
                      and hasattr(ws, "transport") and hasattr(ws, "drain"))

    # --- the connection ------------------------------------------------------------------
    async def serve(self) -> None:
        """Greet, take a subscription from the URL path if the exchange has those, then answer
        every message until the connection closes."""
        server, ws = self.server, self.ws
        try:
            request = None
            if ws.request is not None:  # the URL path and headers may choose the encoding
                request, options = server.adapter.path_subscribe(ws.request.path)
                options = {**options, **server.adapter.header_options(ws.request.headers)}
                if options:
                    self.frames = server.frames(options)
                    self.adapter = server.connection_adapter(options)
            for text in self.adapter.welcome():
                await ws.send(text)
            if request is not None:
                await self.on_message(request, ack=False)
            async for message in ws:
                await self.on_message(message)
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        """Cancel this client's streams and wait for them to end."""
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def on_message(self, message: str | bytes, *, ack: bool = True) -> None:
        """Answer one client frame: a subscribe or unsubscribe request (the adapter's
        ``parse_subscribe``, the one the CaptureServer reads too), a control request, or an
        error. A request is granted whole or refused whole: a malformed one, one naming an
        unknown symbol or a channel other than bars gets the exchange's error frame and
        subscribes nothing (counted in the server's ``requests_refused``)."""
        server, adapter, ws = self.server, self.adapter, self.ws
        try:
            request = adapter.parse_subscribe(message)
        except AdapterError as exc:
            await self._refuse(str(exc), exc.req_id)
            return
        if request is None:
            replies = adapter.control_reply(message)
            if not replies:
                log.debug("feed server: ignored %r", message[:200])
            for text in replies:
                await ws.send(text)
            return
        if request.unsubscribe:
            await self._unsubscribe(request, ack)
            return
        others = [c for c in request.channels if c not in ("bars", "heartbeats")]
        if others:
            await self._refuse(f"this server streams bars only (asked for {', '.join(others)})",
                               request.req_id)
            return
        unknown = [s for s in request.symbols if server.code(s) is None]
        if unknown:
            more = len(unknown) - MAX_ERROR_REPLIES  # one request cannot make megabytes of text
            await self._refuse(
                f"unknown symbol{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown[:MAX_ERROR_REPLIES]))}"
                f"{f' and {more:,} more unknown symbols (not listed)' if more > 0 else ''}: "
                f"this server streams {', '.join(server.symbols)}", request.req_id)
            return
        if "heartbeats" in request.channels:
            await self._heartbeats(request, ack)
        if "bars" not in request.channels or not request.symbols:
            return
        if request.interval_s not in (None, server.interval_s):
            log.warning("feed server: %s asked for %s s bars, serving %s s bars",
                        ws.remote_address, request.interval_s, server.interval_s)
        # subscribed before the ack goes out: a client that has its ack is in the timeline
        new = {c for s in request.symbols if (c := server.code(s)) is not None} - self.codes
        self.codes |= new
        if ack:
            for text in adapter.subscribe_ack(self._granted(request)):
                await ws.send(text)
        if server.mode == "replay":
            if new:
                self._streams += 1
                self._spawn(self._replay(frozenset(new)))
        elif self._sender is None:
            self._ended = server.live_done
            self._sender = self._spawn(self._live_sender())
            self._wake.set()

    async def _refuse(self, why: str, req_id: int | str | None) -> None:
        """One error frame in the exchange's style; nothing of the request is subscribed."""
        self.server.refused()
        await self.ws.send(self.adapter.error_frame(why, req_id))

    async def _unsubscribe(self, request: Subscribe, ack: bool) -> None:
        """Stop the bars of the symbols named (their replays send no more of them; live, they
        are no longer published to this client), then acknowledge as the exchange does."""
        gone = {c for s in request.symbols if (c := self.server.code(s)) is not None}
        self.codes -= gone
        for alive in self._replays:
            alive -= gone
        if ack:
            for text in self.adapter.subscribe_ack(self._granted(request)):
                await self.ws.send(text)

    def _granted(self, request: Subscribe) -> Subscribe:
        """What an ack lists: the request's bars, or, where the exchange's acks list all of
        a connection's subscriptions (``acks_all``: Alpaca, Coinbase), every symbol this
        client is subscribed to now."""
        server = self.server
        if not self.adapter.acks_all:
            return Subscribe(request.symbols, ("bars",), request.req_id, server.interval_s,
                             request.streams, request.unsubscribe)
        wire = server.symbols
        return Subscribe(tuple(wire[c] for c in sorted(self.codes)), ("bars",), request.req_id,
                         server.interval_s, (), request.unsubscribe)

    async def _heartbeats(self, request: Subscribe, ack: bool) -> None:
        """Acknowledge a heartbeats subscription and send one heartbeat a second from now on."""
        if ack:
            for text in self.adapter.subscribe_ack(
                    Subscribe((), ("heartbeats",), request.req_id, None)):
                await self.ws.send(text)
        if self._heartbeat is None:
            self._heartbeat = self._spawn(self._beat())

    async def _beat(self) -> None:
        adapter, clock = self.adapter, self.server.clock
        start = clock.now()
        try:
            for counter in itertools.count():
                text = adapter.heartbeat(counter)
                if text is None:
                    return
                await self.ws.send(text)
                await clock.sleep_until(start + counter + 1)
        except ConnectionClosed:
            pass

    def inject(self, frame: bytes) -> None:
        """Send ``frame`` as is before the next bars (if this client subscribed to any)."""
        if self.codes and not self._ended:
            if len(self._pending) >= self.server.client_queue:
                self.drop_slow(len(self._pending) + 1)
                return
            self._pending.append(frame)

    def abort(self) -> None:
        """Cut the connection without a close frame (the client sees 1006)."""
        self.ws.transport.abort()

    # --- replay: this client's own stream ------------------------------------------------
    async def _replay(self, codes: frozenset[int]) -> None:
        server = self.server
        table = server.table
        rows = table.rows(codes)
        stream = _Stream(self.frames, rows)
        sched = server.schedule(table.times if rows is None else table.times[rows])
        clock = server.clock
        start, g = clock.now(), 0
        alive = set(codes)  # an unsubscribe takes its symbols out
        self._replays.append(alive)
        try:
            while g < sched.total:
                if sched.offsets is None:
                    end = g + stream.n
                else:
                    await clock.sleep_until(start + sched.offset(g))
                    end = max(g + 1, sched.due(clock.now() - start))
                end = int(min(end, g + stream.n, sched.total))  # at most one cycle a write
                frames = stream.frames(g, end)
                if len(alive) < len(codes):  # unsubscribed from some (or all) of its symbols
                    if not alive:
                        self._streams -= 1
                        return
                    frames = [f for f, code in zip(frames, stream.codes(table.codes, g, end),
                                                   strict=True) if code in alive]
                await self._write(frames)
                g = end
            self._streams -= 1
            if self._streams == 0:
                server.stream_finished()
                await self.ws.close(1000, "end of data")
        except (ConnectionClosed, _Gone):
            pass
        except Exception:
            log.exception("feed server: replay to client %d failed", self.id)
            await self.ws.close(1011, "internal error")
        finally:
            self._replays.remove(alive)

    # --- live: the server's shared timeline ----------------------------------------------
    def publish(self, cycle: int, i: int, j: int, codes: list[int]) -> None:
        """Live mode: rows ``i:j`` of timeline cycle ``cycle`` (their symbol ``codes``) are due."""
        if not self.codes or self._ended:
            return
        frames = self.frames.cycle(cycle)[i:j]
        if len(self.codes) < len(self.server.table.symbols):
            frames = [f for f, c in zip(frames, codes, strict=True) if c in self.codes]
        if not frames:
            return
        if len(self._buf) + len(frames) > self.server.client_queue:
            self.drop_slow(len(self._buf) + len(frames))
            return
        self._buf.extend(frames)
        self.queue_peak = max(self.queue_peak, len(self._buf))
        self._wake.set()

    def drop_slow(self, unsent: int) -> None:
        """Cut a client that does not read: its unsent frames would exceed the server's
        ``client_queue``. Counted in ``server.clients_dropped``; the client sees 1006."""
        log.warning("feed server: client %d does not keep up (%d frames unsent, "
                    "client_queue=%d): dropped", self.id, unsent, self.server.client_queue)
        self._buf = []
        self._ended = True
        self.server.dropped_slow(self)
        self.abort()

    def end(self) -> None:
        """Live mode: the timeline is over; close once what was published is written."""
        self._ended = True
        if self._sender is None:
            self._sender = self._spawn(self._live_sender())
        self._wake.set()

    async def _live_sender(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                buf, self._buf = self._buf, []
                if buf:
                    await self._write(buf)
                if self._ended and not self._buf:
                    await self.ws.close(1000, "end of data")
                    return
        except (ConnectionClosed, _Gone):
            pass

    # --- writing -------------------------------------------------------------------------
    async def _write(self, frames: list[bytes]) -> None:
        """Hand injected frames, then ``frames``, to the socket, with flow control."""
        if self._pending:
            pending, self._pending = self._pending, []
            await self._write_raw(pending)
        for a in range(0, len(frames), _BATCH):
            chunk = frames[a:a + _BATCH]
            await self._write_raw(chunk)
            self.bars_sent += len(chunk)
            self.server.sent(len(chunk))

    async def _write_raw(self, frames: list[bytes]) -> None:
        ws = self.ws
        if self._fast:
            transport = ws.transport
            if ws.protocol.state is not State.OPEN or transport.is_closing():
                raise _Gone
            transport.write(b"".join(frames))
            await ws.drain()  # waits while the socket's buffer is above its high-water mark
            await asyncio.sleep(0)  # let other clients and connections run between batches
            return
        for frame in frames:
            payload, text = _frames.frame_payload(frame)
            await ws.send(payload, text=text)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


class _Stream:
    """One replay subscription's frames: the rows of its symbols, cycle by cycle."""

    def __init__(self, cache: _frames.FrameCache, rows: np.ndarray | None) -> None:
        self.cache, self.rows = cache, rows
        self.n = len(cache.table) if rows is None else len(rows)
        self._k = -1
        self._frames: list[bytes] = []

    def cycle(self, k: int) -> list[bytes]:
        if k != self._k:
            frames = self.cache.cycle(k)
            self._frames = frames if self.rows is None else [frames[i] for i in self.rows]
            self._k = k
        return self._frames

    def codes(self, table_codes: np.ndarray, a: int, b: int) -> list[int]:
        """The symbol codes of stream positions ``a`` to ``b`` (as :meth:`frames`)."""
        picked = table_codes if self.rows is None else table_codes[self.rows]
        return [int(picked[i % self.n]) for i in range(a, b)]

    def frames(self, a: int, b: int) -> list[bytes]:
        """Frames of stream positions ``a`` to ``b`` (exclusive; positions run across cycles)."""
        out: list[bytes] = []
        while a < b:
            k, i = divmod(a, self.n)
            j = min(self.n, i + b - a)
            chunk = self.cycle(k)[i:j]
            if not out and j - i == b - a:
                return chunk
            out.extend(chunk)
            a += j - i
        return out
