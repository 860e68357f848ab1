"""Lab: one object per notebook session, and the single place to stop everything.

A Lab owns a bus and its manager, a recorder (on by default), the strategies registered from
cells, the feeds, servers, replays and charts started from it. Feeds and servers run on
their own asyncio loops on daemon threads: a cell that starts one returns at once, and bars
keep arriving while other cells run, even while a cell blocks (the kernel's own loop freezes
then; a loop on another thread does not). Handlers of a live feed therefore run on the
feed's thread; the bus, the recorder and the charts are thread-safe.

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
from typing import Any

from evlab.bus import EventBus
from evlab.events import ErrorEvent, EventType, SystemEvent
from evlab.manager import EventManager
from evlab.strategies import Strategies

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
        self.recorder: Any = None
        if record:
            from evlab.recording import EventRecorder

            self.recorder = EventRecorder(self.bus, max_events=max_events)
        self.servers: list[Any] = []
        self.feeds: list[Any] = []  # (emitter, handler) pairs
        self.replays: list[Any] = []
        self.charts: list[Any] = []
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
              ) -> Any:
        """Start a local feed server for ``dataset`` on a background thread; returns it.

        ``options`` go to ``FeedServer`` (``rate``, ``speed``, ``loop``, ``mode``, ``limit``).
        """
        from evlab.feeds.server import FeedServer

        server = FeedServer(dataset, exchange=exchange, **options).start_in_thread()
        self.servers.append(server)
        return server

    def connect(self, source: Any, *, symbols: Iterable[str] | None = None, name: str = "feed",
                adapter: Any = None, **options: Any) -> Any:
        """Connect a WebSocketEmitter (on its own thread) and a WebSocketHandler to the bus.

        ``source`` is a FeedServer (its URL, adapter and symbols are used) or a ``ws://`` URL
        with ``adapter=`` and ``symbols=``. Returns the emitter, already connected.
        """
        from evlab.feeds.emitter import WebSocketEmitter
        from evlab.feeds.handler import WebSocketHandler

        subscriptions = None
        if hasattr(source, "client_adapter"):  # a FeedServer
            adapter = adapter or source.client_adapter()
            wanted = list(symbols) if symbols is not None else None
            subscriptions = source.subscribe_messages(wanted)
            url = source.url
            # A finite replay closes normally after its last bar: that ends the feed.
            options.setdefault("end_on_normal_close", not source.loop)
        else:
            url = source
        handler = WebSocketHandler(f"{name}.decoder", adapter=adapter)
        self.bus.register_async(EventType.WEBSOCKET, handler.handle, name=f"{name}.decoder")
        emitter = WebSocketEmitter(name, url, event_bus=self.bus, adapter=adapter,
                                   symbols=tuple(symbols or ()) if subscriptions is None else (),
                                   subscriptions=subscriptions, **options)
        try:
            emitter.start_in_thread()
        except BaseException:
            self.bus.unregister(EventType.WEBSOCKET, handler.handle)
            raise
        self.feeds.append((emitter, handler))
        return emitter

    def live(self, dataset: Any = "btcusd_1m", *, exchange: str = "coinbase", rate: float = 20,
             symbols: Iterable[str] | None = None, **server_options: Any) -> Any:
        """Serve ``dataset`` locally at ``rate`` bars/s and connect to it: a live feed, offline."""
        server = self.serve(dataset, exchange=exchange, rate=rate, **server_options)
        return self.connect(server, symbols=symbols, name=f"{exchange}-feed")

    def replay(self, source: Any, *, speed: float | None = None, background: bool = True,
               **options: Any) -> Any:
        """Replay a recording, a bars DataFrame, a Parquet path or a dataset name into this
        lab's bus; in the background by default (``pause()``/``resume()`` from other cells)."""
        from evlab.replay import Replayer

        replayer = Replayer(source, self.bus, **options)
        if background:
            replayer.start(speed=speed)
        else:
            replayer.run(speed=speed)
        self.replays.append(replayer)
        return replayer

    # --- views ---------------------------------------------------------------------------
    def chart(self, symbol: str, **options: Any) -> Any:
        """A live plotly chart of ``symbol`` (candles, signals, volume, equity)."""
        from evlab.plot import LiveChart

        chart = LiveChart(self.bus, symbol, **options)
        self.charts.append(chart)
        return chart

    def monitor(self, **options: Any) -> Any:
        """The bus observability panel (events/s, handler latency, drops, gaps)."""
        from evlab.widgets import BusMonitor

        monitor = BusMonitor(self.bus, emitters=[e for e, _ in self.feeds],
                             handlers=[h for _, h in self.feeds], **options)
        self.charts.append(monitor)
        return monitor

    def frame(self) -> Any:
        """Everything recorded so far, one row per event (see ``EventRecorder.to_frame``)."""
        if self.recorder is None:
            raise RuntimeError("this Lab was made with record=False")
        return self.recorder.to_frame()

    # --- lifetime ------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop feeds, servers, replays and charts (in that order); the recording stays."""
        for emitter, handler in self.feeds:
            emitter.stop_in_thread()
            self.bus.unregister(EventType.WEBSOCKET, handler.handle)
        for server in self.servers:
            server.stop_in_thread()
        for replayer in self.replays:
            replayer.stop()
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
    def _on_error(self, error: ErrorEvent) -> None:
        key = (error.handler or error.source or "bus", error.error_type)
        self.errors[key] += 1
        owner = (error.handler or "").split(".", 1)[0]
        if owner not in self.strategies:  # strategies report their own errors
            self._report_once(key, f"{key[0]}: {error.message}")

    def _on_system(self, event: SystemEvent) -> None:
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
