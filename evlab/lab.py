"""Lab: one object per notebook session, and the single place to stop everything.

A Lab owns a bus and its manager, a recorder (on by default), the strategies registered from
cells, the feeds, servers, replays and charts started from it. Its feeds, servers and
background replays all run on one asyncio loop on one daemon thread (a
:class:`~evlab.feeds.loop.BackgroundLoop`, started on first use, ended by ``stop()``): a cell
that starts one returns at once, and bars keep arriving while other cells run, even while a
cell blocks (the kernel's own loop freezes then; a loop on another thread does not). Handlers
of live feeds and replays therefore run on that thread; the bus, the recorder and the charts
are thread-safe.

Errors are never swallowed: every ErrorEvent (a failing strategy, a malformed message, a
dropped connection that gave up) is counted in ``lab.errors`` and reported once per
(source, kind) on stderr, which Jupyter shows under the cell.
"""

from __future__ import annotations

import contextlib
import html
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from evlab.bus import EventBus
from evlab.events import ErrorEvent, Event, EventType, SystemEvent
from evlab.feeds.loop import BackgroundLoop
from evlab.manager import EventManager
from evlab.strategies import Strategies

if TYPE_CHECKING:  # imported where used: a Lab without charts needs no plotly
    import os

    from evlab.books import OrderBooks
    from evlab.feeds.adapters import ExchangeAdapter
    from evlab.feeds.capture_server import CaptureServer
    from evlab.feeds.emitter import WebSocketEmitter
    from evlab.feeds.handler import WebSocketHandler
    from evlab.feeds.server import FeedServer
    from evlab.plot import BookView, LiveChart
    from evlab.recording import EventRecorder, Recording
    from evlab.replay import Replayer
    from evlab.widgets import BusMonitor

__all__ = ["Lab"]


def _ipython() -> Any:
    """The running IPython shell, if any (its cell hooks time the error reports)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


class Lab:
    """A notebook session: bus, manager, recorder, strategies, feeds, charts; ``stop()`` ends all.

    ``record=False`` turns the recorder off; ``max_events`` bounds it for long sessions.
    """

    def __init__(self, *, record: bool = True, max_events: int | None = 2_000_000,
                 name: str = "lab") -> None:
        self.name = name
        self.bus = EventBus(name=name)
        self.manager = EventManager(self.bus)
        self.strategies = Strategies(self.manager, report=self._report_strategy)
        self.recorder: EventRecorder | None = None
        if record:
            from evlab.recording import EventRecorder

            self.recorder = EventRecorder(self.bus, max_events=max_events)
        #: The one loop (and thread) of this lab's feeds, servers and background replays.
        self.loop = BackgroundLoop(f"evlab-lab-{name}")
        self.servers: list[FeedServer | CaptureServer] = []
        self.feeds: list[tuple[WebSocketEmitter, WebSocketHandler]] = []
        self.replays: list[Replayer] = []
        self.charts: list[LiveChart | BookView | BusMonitor] = []
        self._books: OrderBooks | None = None
        self.errors: Counter[tuple[str, str]] = Counter()
        self._reported: set[tuple[str, str]] = set()
        self._pending: list[str] = []  # reports made while no cell ran: shown by the next one
        self._in_cell = True
        self._ipython = _ipython()
        if self._ipython is not None:
            self._ipython.events.register("pre_run_cell", self._cell_starts)
            self._ipython.events.register("post_run_cell", self._cell_ends)
        self.bus.subscribe(EventType.ERROR, self._on_error, weak=False, name="lab.errors")
        self.bus.subscribe(EventType.SYSTEM, self._on_system, weak=False, name="lab.system")

    # --- strategies ----------------------------------------------------------------------
    def strategy(self, name: str, on: EventType | str | Iterable[EventType | str] = EventType.BAR,
                 *, priority: int = 0) -> Callable[[Any], Any]:
        """Decorator: register a function or class as strategy ``name``; re-running the cell
        replaces it atomically (see ``evlab.strategies``)."""
        return self.strategies(name, on, priority=priority)

    def add(self, name: str, component: Any,
            on: EventType | str | Iterable[EventType | str] = EventType.BAR, *,
            priority: int = 0) -> Any:
        """Register a strategy, broker or any component under ``name`` (replacing that name);
        a higher ``priority`` runs earlier (portfolio 20, broker 10, strategies 0)."""
        return self.strategies.add(name, component, on, priority=priority)

    # --- market data ---------------------------------------------------------------------
    def serve(self, dataset: Any = "btcusd_1m", *, exchange: str = "coinbase", **options: Any
              ) -> FeedServer:
        """Start a local feed server for ``dataset`` on the lab's loop; returns it, listening.

        ``options`` go to ``FeedServer`` (``rate``, ``speed``, ``loop``, ``mode``, ``limit``).
        """
        from evlab.feeds.server import FeedServer

        server = FeedServer(dataset, exchange=exchange, **options)
        self.loop.run(server.start())
        self.servers.append(server)
        return server

    def serve_capture(self, capture: Recording | str | os.PathLike[str], *,
                      http: str | os.PathLike[str] | None = None, speed: float | None = None,
                      **options: Any) -> CaptureServer:
        """Serve a captured session (a cryptofeed capture file with its ``http`` REST file, or
        an evlab recording) as its exchange served it, on the lab's loop; returns the
        ``CaptureServer``, listening (``.url``; ``connect()`` it). ``speed``: the recorded
        pace times this (None: as fast as the client reads); ``options`` go to the server."""
        from evlab.feeds.capture_server import CaptureServer

        server = CaptureServer(capture, http=http, speed=speed, **options)
        self.loop.run(server.start())
        self.servers.append(server)
        return server

    def connect(self, source: FeedServer | CaptureServer | str, *,
                symbols: Iterable[str] | None = None, name: str = "feed",
                adapter: str | ExchangeAdapter | None = None,
                subscriptions: Iterable[str | bytes] | None = None,
                streams: Iterable[str] | None = None,
                timeout: float | None = 30.0, **options: Any) -> WebSocketEmitter:
        """Connect a WebSocketEmitter (on the lab's loop) and a WebSocketHandler to the bus.

        ``source`` is a FeedServer (its URL, adapter and symbols are used), a CaptureServer
        (its exchange's client URL; ``streams``: the captured streams to subscribe to,
        default all) or a ``ws://`` URL with ``adapter=`` and ``symbols=``. ``subscriptions``:
        raw frames to send on connecting instead (an exchange's own subscribe messages, e.g.
        Binance depth, bookTicker or aggTrade streams). Returns the emitter, already connected
        (TimeoutError if not within ``timeout`` seconds); ``options`` go to the emitter.
        Make ``lab.books`` before connecting a book feed: the snapshots come first.
        """
        from evlab.feeds.capture_server import CaptureServer
        from evlab.feeds.emitter import WebSocketEmitter
        from evlab.feeds.handler import WebSocketHandler
        from evlab.feeds.server import FeedServer

        frames = None if subscriptions is None else list(subscriptions)
        subscriptions = None
        if isinstance(source, CaptureServer):
            if symbols is not None:
                raise ValueError("connect: a CaptureServer serves streams: pass streams= "
                                 f"(some of {', '.join(source.streams)}), not symbols=")
            adapter = adapter or source.exchange
            url, subscriptions = source.client(None if streams is None else list(streams))
        elif streams is not None:
            raise ValueError("connect: streams= is for a CaptureServer source")
        elif isinstance(source, FeedServer):
            adapter = adapter or source.client_adapter()
            wanted = list(symbols) if symbols is not None else None
            subscriptions = source.subscribe_messages(wanted)
            url = source.url
            # A looping replay never ends: a normal close there is worth a reconnect.
            options.setdefault("end_on_normal_close", not source.loop)
        else:
            url = source
        if frames is not None:
            subscriptions = frames
        if any(emitter.name == name for emitter, _ in self.feeds):
            raise ValueError(f"connect: a feed named {name!r} is connected already; "
                             "give this one another name=")
        handler = WebSocketHandler(f"{name}.decoder", adapter=adapter, source=name)
        self.bus.register_async(EventType.WEBSOCKET, handler.handle, name=f"{name}.decoder")
        emitter = WebSocketEmitter(name, url, event_bus=self.bus, adapter=adapter,
                                   symbols=tuple(symbols or ()) if subscriptions is None else (),
                                   subscriptions=subscriptions, **options)
        try:
            self.loop.run(emitter.start(timeout=timeout), timeout=None)  # start() times out
        except BaseException:
            self.bus.unregister(EventType.WEBSOCKET, handler.handle)
            raise
        self.feeds.append((emitter, handler))
        return emitter

    def live(self, dataset: Any = "btcusd_1m", *, exchange: str = "coinbase", rate: float = 20,
             symbols: Iterable[str] | None = None, **server_options: Any) -> WebSocketEmitter:
        """Serve ``dataset`` locally at ``rate`` bars/s and connect to it: a live feed, offline."""
        server = self.serve(dataset, exchange=exchange, rate=rate, **server_options)
        return self.connect(server, symbols=symbols, name=f"{exchange}-feed")

    def replay(self, source: Any, *, speed: float | None = None, background: bool = True,
               **options: Any) -> Replayer:
        """Replay a recording, a bars DataFrame, a Parquet path or a dataset name into this
        lab's bus: in the background on the lab's loop by default (``pause()``/``resume()``
        from other cells), or here and now with ``background=False``."""
        from evlab.replay import Replayer

        replayer = Replayer(source, self.bus, **options)
        if background:
            replayer.start(speed=speed, loop=self.loop)
        else:
            replayer.run(speed=speed)
        self.replays.append(replayer)
        return replayer

    def wait_finished(self, feed: WebSocketEmitter | None = None, timeout: float | None = 60.0
                      ) -> dict[str, Any]:
        """Block until ``feed`` (default: each of this lab's feeds) has ended by itself (a
        served capture or dataset that ran out) and delivered everything it received; returns
        its stats (of the last feed waited for). TimeoutError after ``timeout`` seconds."""
        feeds = [feed] if feed is not None else [e for e, _ in self.feeds]
        if not feeds:
            raise RuntimeError("this lab has no feed to wait for: connect() one first")
        stats: dict[str, Any] = {}
        for emitter in feeds:
            stats = self.loop.run(emitter.wait_finished(timeout), timeout=None)
        return stats

    # --- order books ---------------------------------------------------------------------
    @property
    def books(self) -> OrderBooks:
        """The order books of this lab's bus (an ``evlab.OrderBooks``, made on first use:
        make it before connecting a book feed, whose snapshots come first)."""
        if self._books is None:
            from evlab.books import OrderBooks

            self._books = OrderBooks(self.bus)
        return self._books

    def book_view(self, symbol: str, depth: int = 20, **options: Any) -> BookView:
        """A live depth view of ``lab.books[symbol]`` (plotly, redrawn coalesced like the
        chart); ``options`` go to ``evlab.plot.BookView``."""
        from evlab.plot import BookView

        view = BookView(self.books, symbol, depth=depth, **options)
        self.charts.append(view)
        return view

    # --- views ---------------------------------------------------------------------------
    def chart(self, symbol: str, **options: Any) -> LiveChart:
        """A live plotly chart of ``symbol`` (candles, signals, volume, equity, the bid/ask
        band and trades; ``options`` go to ``evlab.plot.LiveChart``)."""
        from evlab.plot import LiveChart

        chart = LiveChart(self.bus, symbol, **options)
        self.charts.append(chart)
        return chart

    def monitor(self, **options: Any) -> BusMonitor:
        """The bus observability panel (events/s, handler latency, drops, gaps)."""
        from evlab.widgets import BusMonitor

        monitor = BusMonitor(self.bus, emitters=[e for e, _ in self.feeds],
                             handlers=[h for _, h in self.feeds], **options)
        self.charts.append(monitor)
        return monitor

    def frame(self) -> pd.DataFrame:
        """Everything recorded so far, one row per event (see ``EventRecorder.to_frame``)."""
        if self.recorder is None:
            raise RuntimeError("this Lab was made with record=False")
        return self.recorder.to_frame()

    # --- lifetime ------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop feeds, servers, replays and charts (in that order), then the lab's loop and its
        thread; the recording stays."""
        for emitter, handler in self.feeds:
            if self.loop.running:
                self.loop.run(emitter.stop())
            self.bus.unregister(EventType.WEBSOCKET, handler.handle)
        for server in self.servers:
            if self.loop.running:
                self.loop.run(server.stop())
        for replayer in self.replays:
            replayer.stop()
        self.loop.stop()
        for view in self.charts:
            view.close()
        self.feeds, self.servers, self.replays, self.charts = [], [], [], []
        if self._ipython is not None:
            for name, hook in (("pre_run_cell", self._cell_starts),
                               ("post_run_cell", self._cell_ends)):
                with contextlib.suppress(ValueError):
                    self._ipython.events.unregister(name, hook)
            self._ipython = None
        self._flush_reports()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- errors --------------------------------------------------------------------------
    def _on_error(self, error: Event) -> None:
        assert isinstance(error, ErrorEvent)  # registered for EventType.ERROR only
        key = (error.handler or error.source or "bus", error.error_type)
        self.errors[key] += 1
        owner = (error.handler or "").split(".", 1)[0]
        if owner not in self.strategies:  # strategies report their own errors
            self._report_once(key, f"{key[0]}: {error.message}")

    def _on_system(self, event: Event) -> None:
        assert isinstance(event, SystemEvent)  # registered for EventType.SYSTEM only
        if event.kind == "gave_up":
            key = (event.source or "feed", "gave_up")
            self.errors[key] += 1
            self._report_once(key, f"{key[0]} gave up reconnecting: {event.message}")

    def _report_strategy(self, name: str, error: ErrorEvent) -> None:
        self._report_once((name, error.error_type),
                          f"strategy {name!r} raised {error.message} while handling "
                          f"{error.original_type} #{error.original_seq}; the feed goes on")

    def _report_once(self, key: tuple[str, str], text: str) -> None:
        if key in self._reported:
            return
        self._reported.add(key)
        self._pending.append(f"evlab: {text} (shown once; see lab.errors)")
        if self._in_cell:
            self._flush_reports()
        # else: a feed thread found it while the kernel was idle; printed now, the text would
        # go to a finished cell and be lost, so the next cell to run shows it

    def _flush_reports(self) -> None:
        while self._pending:
            print(self._pending.pop(0), file=sys.stderr)

    def _cell_starts(self, *_: Any) -> None:
        self._in_cell = True
        self._flush_reports()

    def _cell_ends(self, *_: Any) -> None:
        self._in_cell = False

    # --- display -------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What is registered, connected and counted, as plain data."""
        stats = self.bus.get_stats()
        return {
            "strategies": self.strategies.list(),
            "feeds": [{"name": e.name, "url": e.url, "connected": e.connected,
                       **{k: v for k, v in e.get_stats().items() if isinstance(v, int | float)}}
                      for e, _ in self.feeds],
            "servers": [repr(s) for s in self.servers],
            "events": stats["events_emitted"],
            "handlers": stats["active_handlers"],
            "errors": {f"{a} ({b})": n for (a, b), n in self.errors.items()},
        }

    def _repr_html_(self) -> str:
        info = self.summary()

        def rows(items: Iterable[tuple[Any, Any]]) -> str:
            return "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td>"
                           "</tr>" for k, v in items)

        strategies = [(s["name"], f"{', '.join(s['event_types'])}"
                       f"{'' if s['enabled'] else ' (disabled)'}, {s['errors']} errors")
                      for s in info["strategies"]]
        feeds = [(f["name"], f"{f['url']} {'connected' if f['connected'] else 'disconnected'}")
                 for f in info["feeds"]]
        return (f"<div><b>evlab Lab {html.escape(self.name)}</b> — {info['handlers']} handlers"
                f"<table><tr><th colspan=2>strategies</th></tr>{rows(strategies) or ''}"
                f"<tr><th colspan=2>feeds</th></tr>{rows(feeds)}"
                f"<tr><th colspan=2>events</th></tr>{rows(info['events'].items())}"
                f"<tr><th colspan=2>errors</th></tr>{rows(info['errors'].items())}"
                "</table></div>")

    def __repr__(self) -> str:
        stats = self.bus.get_stats()
        return (f"<Lab {self.name!r}: {len(self.strategies)} strategies, {len(self.feeds)} feeds,"
                f" {stats['total_events']} events>")
