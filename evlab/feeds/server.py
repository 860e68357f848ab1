"""A local WebSocket feed server: a dataset's bars streamed as one exchange's live messages.

The embedded default that the demo, the notebooks and the tests use; nothing leaves the machine
(it binds 127.0.0.1 unless told otherwise)::

    async with FeedServer("btcusd_1m", exchange="binance", rate=50) as server:
        async with connect(server.url) as ws:
            for text in server.subscribe_messages():
                await ws.send(text)
            ...

    server = FeedServer("btcusd_1m", exchange="kraken", speed=60).start_in_thread()  # notebooks
    ...
    server.close()

**Protocol.** Everything about the exchange comes from its adapter
(:mod:`evlab.feeds.adapters`): a client is greeted as the exchange greets (``welcome``), sends
the exchange's own subscribe message (``parse_subscribe``) and gets its acknowledgement
(``subscribe_ack``), then the bars of the symbols it named, each encoded once
(``encode_bar``). Symbols are the exchange's spelling (:attr:`FeedServer.symbols`,
``wire_symbol``: ``BTC-USD`` is binance ``BTCUSDT``, kraken ``BTC/USD``). An unknown symbol,
a malformed request or one for another channel than bars gets an error message in the
exchange's style (``error_frame``) and subscribes nothing, counted in ``requests_refused``; an
unsubscribe stops the bars of the symbols it names; auth and ping requests are answered
(``control_reply``); Binance stream URLs (``/ws/btcusdt@kline_1m``, combined
``/stream?streams=...``) subscribe by path (``path_subscribe``). The bar length the request
names is not checked (a warning is logged): the dataset's bars are what is served. Coinbase
candles carry no interval: clients decode with :meth:`FeedServer.client_adapter`. Per
connection, a :class:`~evlab.feeds.session.ClientSession` does the talking.

**Modes.** ``"replay"`` (default): every subscription streams the dataset from its first bar,
so N bars sent are N bars received, in order. ``"live"``: one shared timeline starts with the
server; a client gets the bars published after it subscribed; bars due at (re)start are not
sent, and after ``stop()``/``start()`` (same port) the timeline resumes as if time had kept
running: bars due while the server was down are never sent (a reconnecting client sees a gap).

**Pacing.** ``rate`` bars per second, or ``speed``: bar times divided by the speed factor
(``speed=60`` plays a minute per second); neither streams as fast as the client reads (replay)
or at ``speed=1`` (live).

**The end.** Without ``loop`` a stream ends with a normal close (1000) after its last bar and
counts as finished (:meth:`FeedServer.wait_finished`); a ``WebSocketEmitter`` ends there too
(its ``wait_finished()``). ``stop()`` closes with 1001 (going away), which clients reconnect
after. With ``loop=True`` it starts again from
the first bar, every time shifted by the dataset's span (first bar to one interval past the
last), so times keep increasing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import numpy as np
import pandas as pd
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from evlab.feeds import _frames
from evlab.feeds._pacing import Clock, ManualClock, MonotonicClock, Schedule, wake
from evlab.feeds.adapters import ExchangeAdapter, adapter_class
from evlab.feeds.http import is_upgrade, json_response
from evlab.feeds.loop import BackgroundLoop
from evlab.feeds.session import ClientSession

__all__ = ["FeedServer", "ClientStats", "Clock", "ManualClock", "MonotonicClock"]

log = logging.getLogger("evlab.feeds.server")

_MODES = ("replay", "live")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClientStats:
    """One connected client: its address, the symbols it subscribed to and the bars it got."""

    id: int
    address: str
    symbols: tuple[str, ...]
    bars_sent: int


class FeedServer:
    """Serve a dataset's bars over WebSocket in one exchange's format (see the module doc).

    ``dataset``: a shipped dataset name, a CSV/Parquet path or a bars DataFrame (``symbol``
    filters it, or names the symbol of a frame without a symbol column; ``limit`` keeps the
    first bars). ``rate`` (bars/s) and ``speed`` are exclusive. ``symbol_map`` maps dataset
    symbols to the exchange's (default: the adapter's ``wire_symbol``). ``interval_s``
    overrides the bar length (a shipped dataset's documented one, else the largest step all
    gaps are multiples of). ``clock`` (tests) paces streams and the live timeline: pass a
    :class:`ManualClock` to step time by hand. ``client_queue``: the most frames waiting
    for one client (live mode); a client that falls further behind (it does not read) is cut
    off and counted in :attr:`clients_dropped`. ``max_clients``: connections past it are
    closed at once with 1013 (try again later), counted in :attr:`connections_refused`.
    """

    def __init__(self, dataset: str | os.PathLike[str] | pd.DataFrame = "btcusd_1m", *,
                 exchange: str = "coinbase", host: str = "127.0.0.1", port: int = 0,
                 rate: float | None = None, speed: float | None = None, loop: bool = False,
                 mode: str = "replay", symbol_map: Mapping[str, str] | None = None,
                 limit: int | None = None, symbol: str | None = None,
                 interval_s: int | None = None, clock: Clock | None = None,
                 client_queue: int = 10_000, max_clients: int = 100) -> None:
        exchange = exchange.lower()
        venue = adapter_class(exchange)  # ValueError for an unknown exchange
        if mode not in _MODES:
            raise ValueError(f"mode must be 'replay' or 'live', got {mode!r}")
        if rate is not None and speed is not None:
            raise ValueError("pass rate (bars per second) or speed (time factor), not both")
        for name, value in (("rate", rate), ("speed", speed)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if mode == "live" and rate is None and speed is None:
            speed = 1.0
        self.exchange, self.host, self.mode = exchange, host, mode
        self.rate, self.speed, self.loop = rate, speed, loop
        self.dataset = dataset if isinstance(dataset, str) else (
            "<DataFrame>" if isinstance(dataset, pd.DataFrame) else os.fspath(dataset))
        bars, documented = _frames.load_bars(dataset, symbol)
        #: The bars served, as arrays (what sessions stream).
        self.table = table = _frames.BarTable(bars, symbol=symbol, limit=limit,
                                              interval_s=interval_s or documented)
        mapping = dict(symbol_map or {})
        self._wire = [mapping.get(s) or venue.wire_symbol(s) for s in table.symbols]
        if len(set(self._wire)) != len(self._wire):
            raise ValueError(f"symbol_map maps two dataset symbols to one: {self._wire}")
        self._codes = {s: i for i, s in enumerate(self._wire)}
        #: Constructor options of the adapter that decodes this server's messages.
        self.adapter_options: dict[str, Any] = venue.server_options(table.interval_s)
        #: The adapter that answers clients' requests (encoding uses one per frame cache).
        self.adapter = venue(**self.adapter_options)
        self._caches: dict[frozenset[tuple[str, Any]], _frames.FrameCache] = {}
        self.frames()  # encode now: a format that cannot carry these bars fails here
        #: The clock that paces streams and the live timeline.
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        for name, limit in (("client_queue", client_queue), ("max_clients", max_clients)):
            if not (isinstance(limit, int) and limit >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {limit!r}")
        self.client_queue, self.max_clients = client_queue, max_clients
        self._dropped_slow = 0
        self._refused = 0
        self._requests_refused = 0
        #: Plain HTTP requests answered with the exchange's REST, and those it does not serve.
        self.rest_served = 0
        self.rest_missed = 0
        self._queue_peak = 0
        self._port = port
        self._server: Server | None = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[int, ClientSession] = {}
        self._ids = itertools.count(1)
        self._bars_sent = 0
        self._finished = 0
        self._finish_waiters: list[asyncio.Future[None]] = []
        self._finish_cond = threading.Condition()
        # live timeline
        self._live = Schedule.build(table.times, table.span_ns, rate, speed, loop)
        self._t0: float | None = None
        self._live_next = 0
        self._live_done = False
        self._publisher: asyncio.Task[None] | None = None
        self._background: BackgroundLoop | None = None  # the loop start_in_thread made

    # --- what is served ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``ws://host:port`` of the listening server (the port is known once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self._port}"

    @property
    def port(self) -> int:
        """The listening port (the requested one before the first start; 0 = any free port)."""
        return self._port

    @property
    def symbols(self) -> list[str]:
        """The exchange symbols served, in the dataset's order."""
        return list(self._wire)

    @property
    def dataset_symbols(self) -> list[str]:
        """The dataset's own symbols, in the order of :attr:`symbols`."""
        return list(self.table.symbols)

    @property
    def interval_s(self) -> int:
        """The bar length in seconds (documented, given, or inferred from the bars' times)."""
        return self.table.interval_s

    @property
    def bars(self) -> pd.DataFrame:
        """The bars served (after ``symbol``/``limit``), with the exchange symbol in ``symbol``."""
        t = self.table
        frame = pd.DataFrame(t.values, columns=["open", "high", "low", "close", "volume"],
                             index=pd.DatetimeIndex(pd.to_datetime(t.times, utc=True),
                                                    name="time"))
        frame["symbol"] = [self._wire[c] for c in t.codes.tolist()]
        return frame

    def client_adapter(self) -> ExchangeAdapter:
        """A fresh adapter that decodes this server's messages (coinbase: the candle length)."""
        return adapter_class(self.exchange)(**self.adapter_options)

    def subscribe_messages(self, symbols: list[str] | None = None) -> list[str]:
        """The frames a client sends to get the bars of ``symbols`` (default: all served).

        They name the served bar length, or the adapter's default where its subscribe message
        cannot (alpaca's ``bars`` are minute bars; this server serves its own bars regardless).
        """
        adapter, wanted = self.client_adapter(), symbols or self.symbols
        try:
            return adapter.subscribe_messages(wanted, ("bars",), interval_s=self.interval_s)
        except ValueError:
            return adapter.subscribe_messages(wanted, ("bars",))

    # --- what sessions share -------------------------------------------------------------------
    def code(self, symbol: str) -> int | None:
        """The table code of exchange symbol ``symbol``, None if it is not served."""
        return self._codes.get(symbol)

    def connection_adapter(self, options: Mapping[str, Any]) -> ExchangeAdapter:
        """The adapter that speaks to one connection: the server's own, or (URL path or
        headers asked for ``options``) one built with them on top of the server's."""
        if not options:
            return self.adapter
        return adapter_class(self.exchange)(**self.adapter_options, **options)

    def frames(self, options: Mapping[str, Any] | None = None) -> _frames.FrameCache:
        """Every bar pre-encoded by an adapter with ``options`` on top of the server's (binance
        combined streams wrap theirs), encoded once per set of options."""
        key = frozenset((options or {}).items())
        cache = self._caches.get(key)
        if cache is None:
            venue, base = adapter_class(self.exchange), self.adapter_options
            cache = self._caches[key] = _frames.FrameCache(
                self.table, self._wire, lambda: venue(**base, **(options or {})))
        return cache

    def schedule(self, times: np.ndarray) -> Schedule:
        """When each of a replay stream's bars (``times``) is due under this server's pacing."""
        return Schedule.build(times, self.table.span_ns, self.rate, self.speed, self.loop)

    @property
    def live_done(self) -> bool:
        """Live mode: the timeline has published its last bar."""
        return self._live_done

    def sent(self, n: int) -> None:
        """Count ``n`` bar frames handed to a client socket."""
        self._bars_sent += n

    def stream_finished(self) -> None:
        """A stream reached its end: count it and wake whoever waits for it."""
        self._finished += 1
        waiters, self._finish_waiters = self._finish_waiters, []
        for fut in waiters:
            wake(fut)
        with self._finish_cond:
            self._finish_cond.notify_all()

    # --- counters --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while listening."""
        return self._server is not None

    @property
    def bars_sent(self) -> int:
        """Bar messages handed to client sockets so far, all clients together."""
        return self._bars_sent

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return len(self._clients)

    @property
    def clients_dropped(self) -> int:
        """Clients cut off for falling more than ``client_queue`` frames behind."""
        return self._dropped_slow

    @property
    def connections_refused(self) -> int:
        """Connections closed at once because ``max_clients`` were connected."""
        return self._refused

    @property
    def requests_refused(self) -> int:
        """Subscribe requests answered with the exchange's error frame (malformed, naming an
        unknown symbol or a channel other than bars): each subscribed nothing."""
        return self._requests_refused

    def refused(self) -> None:
        """Count one refused subscribe request (its session calls this)."""
        self._requests_refused += 1

    @property
    def queue_peak(self) -> int:
        """The most frames that ever waited for one client at once (at most ``client_queue``)."""
        return max([self._queue_peak, *(c.queue_peak for c in self._clients.values())])

    def dropped_slow(self, session: ClientSession) -> None:
        """Count ``session`` as cut off for not reading (its session calls this)."""
        self._dropped_slow += 1
        self._queue_peak = max(self._queue_peak, session.queue_peak)

    @property
    def streams_finished(self) -> int:
        """Streams that reached the end: one per client (replay) or the timeline (live)."""
        return self._finished

    def client_stats(self) -> list[ClientStats]:
        """One :class:`ClientStats` per connected client."""
        out = []
        for c in list(self._clients.values()):
            addr = c.ws.remote_address
            out.append(ClientStats(c.id, f"{addr[0]}:{addr[1]}" if addr else "",
                                   tuple(self._wire[i] for i in sorted(c.codes)), c.bars_sent))
        return out

    async def wait_finished(self, count: int = 1) -> None:
        """Return once ``count`` streams have finished (see :attr:`streams_finished`).

        Await it on the server's loop; from another thread use :meth:`wait_finished_blocking`.
        """
        while self._finished < count:
            fut = asyncio.get_running_loop().create_future()
            self._finish_waiters.append(fut)
            await fut

    def wait_finished_blocking(self, count: int = 1, timeout: float | None = None) -> bool:
        """Thread-mode :meth:`wait_finished`: block this thread; False if ``timeout`` elapsed."""
        with self._finish_cond:
            return self._finish_cond.wait_for(lambda: self._finished >= count, timeout)

    # --- REST, on the same port ---------------------------------------------------------------
    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer a plain HTTP request with the exchange's REST (the adapter's ``rest_reply``:
        Binance ``exchangeInfo``...), or 404 in the exchange's error style; a WebSocket
        handshake goes on."""
        if is_upgrade(request):
            return None
        body = self.adapter.rest_reply(request.path, list(zip(self._wire, self.table.symbols,
                                                              strict=True)))
        if body is None:
            self.rest_missed += 1
            return json_response(connection, 404, self.adapter.error_frame(
                f"this feed server does not serve {request.path}"))
        self.rest_served += 1
        return json_response(connection, 200, body)

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> Self:
        """Listen (on the same port as before after a stop) and, in live mode, run the timeline."""
        if self._server is not None:
            return self
        self._aloop = asyncio.get_running_loop()
        self._server = await serve(self._connection, self.host, self._port, compression=None,
                                   ping_interval=None, write_limit=2**18,
                                   process_request=self._http)
        self._port = self._server.sockets[0].getsockname()[1]
        if self.mode == "live":
            now = self.clock.now()
            if self._t0 is None:
                self._t0 = now
            if not self._live_done:
                # bars due before now went to nobody: the first start's, and the downtime's
                self._live_next = max(self._live_next, self._live.due(now - self._t0))
                self._publisher = self._aloop.create_task(self._publish())
        log.info("feed server %s: %s as %s", self.url, self.dataset, self.exchange)
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection (code 1001); ``start()`` resumes."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
            self._publisher = None
        server.close()
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 30.0) -> Self:
        """Run the server on a background loop of its own (a daemon thread); return once
        listening. ``stop_in_thread()`` (alias ``close()``) ends both."""
        if self._background is None:
            self._background = BackgroundLoop.started(f"evlab-server-{self.exchange}",
                                                      self.start(), timeout)
        return self

    def stop_in_thread(self, timeout: float = 30.0) -> None:
        """Stop a server started by :meth:`start_in_thread` and end its loop and thread."""
        background, self._background = self._background, None
        if background is not None:
            background.finish(self.stop(), timeout)

    close = stop_in_thread

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """From another thread: run ``coro`` (e.g. ``server.drop_connections()``) on the
        server's loop and return its result."""
        if self._aloop is None:
            coro.close()
            raise RuntimeError("the server has not been started")
        return asyncio.run_coroutine_threadsafe(coro, self._aloop).result(timeout)

    def __enter__(self) -> Self:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_in_thread()

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return (f"FeedServer({self.dataset!r}, exchange={self.exchange!r}, mode={self.mode!r}, "
                f"{len(self.table)} bars, {state})")

    # --- connections and the live timeline -------------------------------------------------------
    async def _connection(self, ws: ServerConnection) -> None:
        if len(self._clients) >= self.max_clients:
            self._refused += 1
            log.warning("feed server: %d clients connected (max_clients): refused %s",
                        len(self._clients), ws.remote_address)
            await ws.close(1013, f"too many clients (max {self.max_clients}): try again later")
            return
        session = ClientSession(self, next(self._ids), ws)
        self._clients[session.id] = session
        try:
            await session.serve()
        finally:
            self._clients.pop(session.id, None)
            self._queue_peak = max(self._queue_peak, session.queue_peak)
            await session.close()

    async def _publish(self) -> None:
        """The live timeline: at each bar's due time, hand it to the clients subscribed to it."""
        t, sched, clock = self.table, self._live, self.clock
        assert self._t0 is not None  # set by start()
        n, t0, g = len(t), self._t0, self._live_next
        while g < sched.total:
            await clock.sleep_until(t0 + sched.offset(g))
            k, i = divmod(g, n)
            end = min(max(g + 1, sched.due(clock.now() - t0)), (k + 1) * n)
            codes = t.codes[i:i + end - g].tolist()
            for session in list(self._clients.values()):
                session.publish(k, i, i + end - g, codes)
            g = self._live_next = end
        self._live_done = True
        self.stream_finished()
        for session in list(self._clients.values()):
            session.end()

    # --- fault injection ----------------------------------------------------------------------
    def inject(self, raw: str | bytes, *, binary: bool = False) -> None:
        """Queue one raw frame (malformed JSON, an oversized message, ...) for every subscribed
        client, sent as is before its next bar; a text frame unless ``binary``. Any thread."""
        frame = _frames.ws_frame(raw, binary=binary)
        loop = self._aloop
        if loop is not None and loop.is_running() and not _on_loop(loop):
            loop.call_soon_threadsafe(self._inject, frame)
        else:
            self._inject(frame)

    def _inject(self, frame: bytes) -> None:
        for session in self._clients.values():
            session.inject(frame)

    async def drop_connections(self) -> int:
        """Cut every client connection abruptly (no close frame: the client sees 1006)."""
        sessions = list(self._clients.values())
        for session in sessions:
            session.abort()
        await asyncio.gather(*(s.ws.wait_closed() for s in sessions), return_exceptions=True)
        return len(sessions)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
