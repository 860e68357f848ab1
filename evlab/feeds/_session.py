"""The feed server's connection side: subscriptions, replay streams, the live timeline, and
writing pre-encoded frames to sockets in batches. :class:`evlab.feeds.server.FeedServer` is
the public face; this base class holds what happens per connection."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from evlab.feeds import _frames
from evlab.feeds._pacing import Clock, Schedule, wake
from evlab.feeds.adapters import AdapterError, ExchangeAdapter, Subscribe

log = logging.getLogger("evlab.feeds.server")

_BATCH = 512  # frames per socket write


class _Gone(Exception):
    """The client's connection is no longer open."""


class _Client:
    __slots__ = ("bars_sent", "buf", "cache", "codes", "ended", "fast", "id", "pending",
                 "sender", "streams", "tasks", "wake", "ws")

    def __init__(self, cid: int, ws: ServerConnection, cache: _frames.FrameCache) -> None:
        self.id, self.ws, self.cache = cid, ws, cache
        self.codes: set[int] = set()
        self.bars_sent = 0
        self.streams = 0  # replay streams still running
        self.pending: list[bytes] = []  # injected frames, sent before the next bars
        self.tasks: set[asyncio.Task[None]] = set()
        self.buf: list[bytes] = []  # live mode: bars published, not yet written
        self.wake = asyncio.Event()
        self.ended = False  # live mode: the timeline is over
        self.sender: asyncio.Task[None] | None = None
        # Frames go straight to the socket, pre-framed and batched, when nothing (compression,
        # another extension) transforms them; else through ws.send one by one.
        proto = getattr(ws, "protocol", None)
        self.fast = (proto is not None and not proto.extensions
                     and hasattr(ws, "transport") and hasattr(ws, "drain"))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


class _Stream:
    """One replay subscription's frames: the rows of its symbols, cycle by cycle."""

    def __init__(self, cache: _frames.FrameCache, rows: Any) -> None:
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


class FeedSession:
    """Per-connection behaviour of the feed server (state is set up by FeedServer)."""

    exchange: str
    mode: str
    rate: float | None
    speed: float | None
    loop: bool
    _table: _frames.BarTable
    _wire: list[str]
    _codes: dict[str, int]
    _adapter: ExchangeAdapter
    _cache: _frames.FrameCache
    _combined: _frames.FrameCache | None
    _clock: Clock
    _clients: dict[int, _Client]
    _ids: Any
    _bars_sent: int
    _finished: int
    _finish_waiters: list[asyncio.Future[None]]
    _finish_cond: threading.Condition
    _live: Schedule
    _t0: float | None
    _live_next: int
    _live_done: bool

    @property
    def interval_s(self) -> int:
        """The bar length in seconds (documented, given, or inferred from the bars' times)."""
        return self._table.interval_s

    def _note_finished(self) -> None:
        self._finished += 1
        waiters, self._finish_waiters = self._finish_waiters, []
        for fut in waiters:
            wake(fut)
        with self._finish_cond:
            self._finish_cond.notify_all()

    def _inject(self, frame: bytes) -> None:
        for client in self._clients.values():
            if client.codes:
                client.pending.append(frame)

    # --- connections -------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        client = _Client(next(self._ids), ws, self._cache)
        self._clients[client.id] = client
        try:
            for text in _frames.welcome(self.exchange):
                await ws.send(text)
            if self.exchange == "binance" and ws.request is not None:
                found = _frames.binance_path_request(ws.request.path)
                if found is not None:
                    if found[1]:
                        client.cache = self._combined_cache()
                    await self._on_message(client, found[0], ack=False)
            async for message in ws:
                await self._on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.pop(client.id, None)
            tasks = [t for t in client.tasks if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _combined_cache(self) -> _frames.FrameCache:
        if self._combined is None:
            self._combined = _frames.FrameCache(self._table, self.exchange, self._wire,
                                                {"combined": True})
        return self._combined

    async def _on_message(self, client: _Client, message: str | bytes, *,
                          ack: bool = True) -> None:
        ws = client.ws
        try:
            request = self._adapter.parse_subscribe(message)
        except AdapterError as exc:
            await ws.send(_frames.error_frame(self.exchange, str(exc)))
            return
        if request is None:
            replies = _frames.control_reply(self.exchange, message)
            if not replies:
                log.debug("feed server: ignored %r", message[:200])
            for text in replies:
                await ws.send(text)
            return
        known = [s for s in request.symbols if s in self._codes]
        for s in request.symbols:
            if s not in self._codes:
                await ws.send(_frames.error_frame(
                    self.exchange, f"unknown symbol {s!r}: this server streams "
                    f"{', '.join(self._wire)}", request.req_id))
        if "bars" not in request.channels:
            await ws.send(_frames.error_frame(
                self.exchange, "this server streams bars only", request.req_id))
            return
        if not known:
            return
        if request.interval_s not in (None, self.interval_s):
            log.warning("feed server: %s asked for %s s bars, serving %s s bars",
                        ws.remote_address, request.interval_s, self.interval_s)
        if ack:
            granted = Subscribe(tuple(known), ("bars",), request.req_id, self.interval_s)
            for text in self._adapter.subscribe_ack(granted):
                await ws.send(text)
        new = frozenset(self._codes[s] for s in known) - client.codes
        client.codes |= new
        if self.mode == "replay":
            if new:
                client.streams += 1
                client.spawn(self._replay(client, new))
        elif client.sender is None:
            client.ended = self._live_done
            client.sender = client.spawn(self._live_sender(client))
            client.wake.set()

    # --- sending ------------------------------------------------------------------------------
    async def _write(self, client: _Client, frames: list[bytes]) -> None:
        """Hand injected frames, then ``frames``, to the client's socket, with flow control."""
        if client.pending:
            pending, client.pending = client.pending, []
            await self._write_raw(client, pending)
        for a in range(0, len(frames), _BATCH):
            chunk = frames[a:a + _BATCH]
            await self._write_raw(client, chunk)
            client.bars_sent += len(chunk)
            self._bars_sent += len(chunk)

    @staticmethod
    async def _write_raw(client: _Client, frames: list[bytes]) -> None:
        ws = client.ws
        if client.fast:
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

    async def _replay(self, client: _Client, codes: frozenset[int]) -> None:
        t = self._table
        rows = t.rows(codes)
        stream = _Stream(client.cache, rows)
        times = t.times if rows is None else t.times[rows]
        sched = Schedule.build(times, t.span_ns, self.rate, self.speed, self.loop)
        clock, start, g = self._clock, self._clock.now(), 0
        try:
            while g < sched.total:
                if sched.offsets is None:
                    end = g + stream.n
                else:
                    await clock.sleep_until(start + sched.offset(g))
                    end = max(g + 1, sched.due(clock.now() - start))
                end = min(end, g + stream.n, sched.total)  # at most one cycle per write
                await self._write(client, stream.frames(g, int(end)))
                g = int(end)
            client.streams -= 1
            if client.streams == 0:
                self._note_finished()
                await client.ws.close(1000, "end of data")
        except (ConnectionClosed, _Gone):
            pass
        except Exception:
            log.exception("feed server: replay to client %d failed", client.id)
            await client.ws.close(1011, "internal error")

    async def _publish(self) -> None:
        """The live timeline: at each bar's due time, hand it to the clients subscribed to it."""
        t, sched, clock = self._table, self._live, self._clock
        assert self._t0 is not None
        n, t0, g = len(t), self._t0, self._live_next
        while g < sched.total:
            await clock.sleep_until(t0 + sched.offset(g))
            k, i = divmod(g, n)
            end = min(max(g + 1, sched.due(clock.now() - t0)), (k + 1) * n)
            j = i + end - g
            codes = t.codes[i:j].tolist()
            for client in list(self._clients.values()):
                if not client.codes or client.ended:
                    continue
                frames = client.cache.cycle(k)[i:j]
                if len(client.codes) < len(t.symbols):
                    frames = [f for f, c in zip(frames, codes, strict=True) if c in client.codes]
                if frames:
                    client.buf.extend(frames)
                    client.wake.set()
            g = self._live_next = end
        self._live_done = True
        self._note_finished()
        for client in list(self._clients.values()):
            client.ended = True
            if client.sender is None:
                client.sender = client.spawn(self._live_sender(client))
            client.wake.set()

    async def _live_sender(self, client: _Client) -> None:
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                buf, client.buf = client.buf, []
                if buf:
                    await self._write(client, buf)
                if client.ended and not client.buf:
                    await client.ws.close(1000, "end of data")
                    return
        except (ConnectionClosed, _Gone):
            pass
