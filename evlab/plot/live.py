"""``LiveChart``: a plotly ``FigureWidget`` of one symbol that follows the bus.

Event handlers only append to a bounded window (``window.BarWindow``); a ``Coalescer``
redraws at most ``max_fps`` times a second, copying the whole window into new numpy arrays
inside one ``batch_update()``. Coalescing merges redraws, never data: every bar that is in
the window when a redraw runs is drawn. The same chart follows a live feed or a replay.

Over the candles it draws the working orders' levels (limit, stop, a bracket's take-profit
and stop-loss: ``evlab.plot.orders``, the one path the static chart uses too), and the fills
of a bracket's exits apart from the others; indicators go on the candles or in panels below
them (``evlab.plot.indicators``); the equity runs to the last bar (``evlab.plot.equity``).

Over the candles it can also draw the best bid/ask as a band (``QuoteEvent``s: a venue's quote or
the top of an ``OrderBooks`` book, chosen by ``quote_source``) and trades as markers
(``TickEvent``s, coloured by taker side), the last ``tick_window`` of each.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    EventType,
    FillEvent,
    OrderEvent,
    OrderUpdateEvent,
    PortfolioEvent,
    QuoteEvent,
    ReplaceEvent,
    SignalEvent,
    SystemEvent,
    TickEvent,
)
from evlab.plot import _figure as F
from evlab.plot._follow import Follower, FullWidth, mimebundle
from evlab.plot.coalesce import Schedule
from evlab.plot.equity import from_start, held_quantity, run_to_end, starting_cash
from evlab.plot.indicators import INDICATOR, PRICE, indicator_panel, indicator_values
from evlab.plot.orders import segment_arrays
from evlab.plot.window import BarWindow, Snapshot

__all__ = ["LiveChart"]


class LiveChart:
    """Candles, signal markers (BUY ▲, SELL/EXIT ▼), fills (a bracket's take-profit ★ and
    stop-loss ✕ apart), working orders, volume, indicators and equity for ``symbol``, redrawn
    from the bus at most ``max_fps`` times a second; the figure takes its output's width.

    ``orders``: draw each working order's level from the order events (True by default).
    Indicators go on the candles or in a panel below them: ``panels`` (a line name -> panel
    name, declared up front; ``"price"``: the candles), else the ``panel`` of their
    ``indicator_event``, else by value range, decided when the line first comes
    (``indicator_panel``); a panel is added to the figure when its first line comes (a
    declared one: from the start).
    ``clear()`` empties the chart and keeps following the bus with the same panels.

    ``equity="auto"`` shows the equity panel when the first ``PortfolioEvent`` arrives;
    ``quotes="auto"`` / ``trades="auto"`` show the bid/ask band and the trade markers once
    the bus carries a ``QuoteEvent`` / ``TickEvent`` for ``symbol`` (True: from the start,
    False: never, and no handler). ``quote_source``: only quotes whose ``source`` is this
    (``"orderbooks"``: the books' tops; the feed's name: the venue's own quotes); None takes
    every quote of ``symbol``. ``tick_window`` bounds the quotes and trades kept (each).
    A quote side that is None or NaN (an empty side) is a gap in the band.
    ``clock``/``schedule`` drive the throttle (default: the running loop, else timers).
    The chart holds its handlers strongly: it follows the bus until ``close()``.
    Symbols are matched exactly: when another symbol's second bar arrives before any bar of
    ``symbol`` (``"BTC-USD"`` asked, ``"BTCUSDT"`` published), a warning, once, and a note on
    the chart (``hint``) name the symbols the bus has bars for.
    """

    def __init__(self, bus: EventBus, symbol: str, *, window: int = 500, max_fps: float = 10.0,
                 volume: bool = True, equity: bool | Literal["auto"] = "auto",
                 overlays: bool = True, signals: bool = True, fills: bool = True,
                 orders: bool = True, panels: dict[str, str] | None = None,
                 quotes: bool | Literal["auto"] = "auto",
                 trades: bool | Literal["auto"] = "auto", tick_window: int = 2000,
                 quote_source: str | None = None,
                 title: str | None = None, height: int = 600,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Schedule | None = None) -> None:
        if equity not in (True, False, "auto"):
            raise ValueError(f"LiveChart.equity: must be True, False or 'auto', got {equity!r}")
        for name, value in (("quotes", quotes), ("trades", trades)):
            if value not in (True, False, "auto"):
                raise ValueError(f"LiveChart.{name}: must be True, False or 'auto', got "
                                 f"{value!r}")
        self.bus = bus
        self.symbol = symbol
        self.window = int(window)
        self.volume = volume
        self.equity = equity
        self.quotes = quotes
        self.trades = trades
        self.quote_source = quote_source
        self.data = BarWindow(self.window, int(tick_window))
        self.figure: go.FigureWidget = F.new_figure(
            symbol, volume=volume, equity=equity is True, widget=True, title=title,
            height=height, quotes=quotes is True, trades=trades is True)
        self._width = FullWidth(self.figure)
        self.redraws = 0
        self.points = 0  # candles in the figure after the last redraw
        self.redraw_seconds = 0.0  # wall time spent redrawing
        self.redraw_cpu_seconds = 0.0  # CPU time of the redrawing thread spent redrawing
        #: called with the chart after each redraw, on the redrawing thread
        self.on_redraw: list[Callable[[LiveChart], Any]] = []
        self._equity_shown = equity is True
        self._quotes_shown = quotes is True
        self._trades_shown = trades is True
        self.hint: str | None = None  # why the chart is empty, when it is shown on it
        self._others: dict[str, int] = {}  # bars of other symbols, while none of ours came
        self._own = False  # a bar (or bar update) of ``symbol`` has come
        self._overlay_index: dict[str, int] = {}
        self._declared = dict(panels or {})
        # the indicator panels shown, top to bottom: the declared ones from the start
        self._panels: list[str] = list(dict.fromkeys(
            p for p in self._declared.values() if p != PRICE))
        self._filled: set[int] = set()  # marker/equity traces that hold points
        self._shown: dict[int, tuple[Any, Any]] = {}  # trace -> the x and y it was given
        self._drawn = 0
        self._draw_lock = threading.Lock()
        cls = type(self)
        handlers: list[tuple[EventType, Callable[[Any, Any], None]]] = [
            (EventType.BAR, cls._on_bar), (EventType.BAR_UPDATE, cls._on_bar_update)]
        if signals:
            handlers.append((EventType.SIGNAL, cls._on_signal))
        if fills:
            handlers.append((EventType.FILL, cls._on_fill))
        if orders:
            handlers += [(EventType.ORDER, cls._on_order), (EventType.REPLACE, cls._on_replace),
                         (EventType.ORDER_UPDATE, cls._on_order_update)]
        if equity is not False:
            handlers.append((EventType.PORTFOLIO, cls._on_portfolio))
        if overlays:
            handlers.append((EventType.SYSTEM, cls._on_system))
        if quotes is not False:
            handlers.append((EventType.QUOTE, cls._on_quote))
        if trades is not False:
            handlers.append((EventType.TICK, cls._on_tick))
        if self._panels:
            F.show_panels(self.figure, volume=volume, equity=equity is True,
                          panels=self._panels)
        # attached after the portfolio published: what the equity was before the first
        # PortfolioEvent this chart sees is not known (trades may have come before it), so
        # the curve starts at that event, not at the starting cash (evlab.plot.equity)
        self._late = self._portfolios_published()
        self._follow = Follower(bus, self, f"LiveChart[{symbol}]", handlers, self._redraw,
                                max_fps=max_fps, clock=clock, schedule=schedule)
        self._coalescer = self._follow.coalescer
        self._subs = self._follow.subs

    # --- handlers: append and ask for a redraw, nothing else ---------------------------
    # Every event has its time once built; ``Event.time_ns`` is typed ``int | None`` only
    # because None is the constructor's "take the time of the event being handled".
    def _on_bar(self, e: BarEvent) -> None:
        if e.symbol == self.symbol:
            assert e.time_ns is not None
            self.data.add_bar((e.time_ns, e.open, e.high, e.low, e.close, e.volume))
            if not self._own:
                self._first_own()
            self._coalescer.request()
        elif not self._own:
            self._other_symbol(e.symbol)

    def _first_own(self) -> None:
        self._own = True
        self._others.clear()
        if self.hint is not None:
            self._show_hint(None)

    def _other_symbol(self, symbol: str) -> None:
        """A bar of another symbol while ours has none: its second bar means a whole bar
        interval passed without one of ours (a multi-symbol feed sends each once per bar)."""
        n = self._others[symbol] = self._others.get(symbol, 0) + 1
        if n == 2 and self.hint is None:
            seen = ", ".join(sorted(self._others))
            hint = (f"no bars for {self.symbol!r}; the bus has bars for: {seen} "
                    "(symbols match exactly, as the feed publishes them)")
            warnings.warn(f"LiveChart: {hint}", UserWarning, stacklevel=2)
            self._show_hint(hint)

    def _show_hint(self, hint: str | None) -> None:
        with self._draw_lock:
            self.hint = hint
            self.figure.layout.annotations = [] if hint is None else [go.layout.Annotation(
                text=hint, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)]

    def _on_bar_update(self, e: BarEvent) -> None:
        if e.symbol == self.symbol:
            assert e.time_ns is not None
            self.data.update_bar((e.time_ns, e.open, e.high, e.low, e.close, e.volume))
            if not self._own:
                self._first_own()
            self._coalescer.request()

    def _on_signal(self, e: SignalEvent) -> None:
        if e.symbol == self.symbol:
            assert e.time_ns is not None
            text = f"{e.signal_type} @ {e.price:.6g}<br>{e.strategy_id}"
            self.data.add_mark(e.signal_type, (e.time_ns, e.price, text))
            self._coalescer.request()

    def _on_fill(self, e: FillEvent) -> None:
        if e.symbol == self.symbol:
            assert e.time_ns is not None
            self.data.add_fill(e.order_id, (e.time_ns, e.price,
                                            f"{e.side} {e.quantity:g} @ {e.price:.6g}"))
            self._coalescer.request()

    def _on_order(self, e: OrderEvent) -> None:
        if e.symbol == self.symbol:
            self.data.add_order(e.seq, e.order_id, e.order_type, e.side, e.quantity,
                                e.limit_price, e.stop_price, e.parent_id)

    def _on_replace(self, e: ReplaceEvent) -> None:
        self.data.add_replace(e.seq, e.limit_price, e.stop_price)

    def _on_order_update(self, e: OrderUpdateEvent) -> None:
        # a REPLACED of any symbol: it answers a request that names no symbol
        if e.symbol == self.symbol or e.status == "REPLACED":
            assert e.time_ns is not None
            self.data.add_order_update(e.time_ns, e.order_id, e.status, e.cause, e.stop_price)
            self._coalescer.request()

    def _on_portfolio(self, e: PortfolioEvent) -> None:
        assert e.time_ns is not None
        self.data.add_equity((e.time_ns, e.equity), e.cash, e.positions,
                             None if self._late
                             else starting_cash(e.equity, e.realized_pnl, e.unrealized_pnl))
        self._coalescer.request()

    def _on_system(self, e: SystemEvent) -> None:
        if e.kind == INDICATOR:
            symbol, values, panel = indicator_values(e.data)
            if values and symbol in (self.symbol, None):
                assert e.time_ns is not None
                self.data.add_overlay(values, e.time_ns, panel)
                self._coalescer.request()

    def _on_quote(self, e: QuoteEvent) -> None:
        if e.symbol == self.symbol and (self.quote_source is None
                                        or e.source == self.quote_source):
            assert e.time_ns is not None
            self.data.add_quote(e.time_ns, e.bid, e.ask, e.bid_size, e.ask_size)
            if not self._own:
                self._first_own()
            self._coalescer.request()

    def _on_tick(self, e: TickEvent) -> None:
        if e.symbol == self.symbol:
            assert e.time_ns is not None
            self.data.add_trade((e.time_ns, e.price, e.size, e.side))
            if not self._own:
                self._first_own()
            self._coalescer.request()

    # --- drawing ------------------------------------------------------------------------
    def flush(self) -> None:
        """Redraw now with everything received (tests, the end of a replay)."""
        self._coalescer.flush()

    def _redraw(self) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        with self._draw_lock:
            snap = self.data.snapshot()
            if snap.version == self._drawn:
                return
            self._draw(snap)
            self._drawn = snap.version
            self.redraws += 1
            self._width.fit()
        self.redraw_seconds += time.perf_counter() - wall
        self.redraw_cpu_seconds += time.thread_time() - cpu
        for hook in self.on_redraw:
            hook(self)

    def _draw(self, snap: Snapshot) -> None:
        bars = snap.bars
        t = np.fromiter((b[0] for b in bars), np.int64, len(bars))
        v = np.array(bars, np.float64).reshape(-1, 6)
        start = int(t[0]) if len(t) else None
        fig = self.figure
        new = [n for n in snap.overlays if n not in self._overlay_index]
        if new and len(t):  # the candles' range decides a line's panel (indicator_panel)
            low, high = float(np.nanmin(v[:, 3])), float(np.nanmax(v[:, 2]))
        elif new:  # no candle yet: only lines of a declared panel can be placed
            low = high = float("nan")
            new = [n for n in new if self._declared.get(n, snap.panels.get(n)) is not None]
        show_equity = self.equity == "auto" and bool(snap.equity) and not self._equity_shown
        show_quotes = bool(snap.quotes) and not self._quotes_shown
        show_trades = bool(snap.trades) and not self._trades_shown
        with fig.batch_update():
            x = F.to_widget_times(t)
            fig.data[F.CANDLES].update(x=x, open=v[:, 1], high=v[:, 2], low=v[:, 3],
                                       close=v[:, 4])
            if self.volume:
                fig.data[F.VOLUME].update(x=x, y=v[:, 5],
                                          marker_color=(v[:, 4] >= v[:, 1]).astype(np.float64))
            for kind, marks in snap.marks.items():
                index = (F.FILL if kind == "fill" else F.FILL_STYLE[kind][0]
                         if kind in F.FILL_STYLE else F.SIGNAL_STYLE[kind][0])
                tx, ty, text = _points([(m[0], m[1]) for m in marks], start, marks, kind)
                self._set(index, x=tx, y=ty, hovertext=text)
            if snap.orders or any(F.ORDER_STYLE[k][0] in self._filled for k in F.ORDER_STYLE):
                end = int(t[-1]) if len(t) else None
                for kind, (st, sy, text) in segment_arrays(snap.orders, end, start).items():
                    self._set(F.ORDER_STYLE[kind][0], x=F.to_widget_times(st), y=sy,
                              hovertext=text)
            if self.equity is not False:
                eq_t = np.fromiter((p[0] for p in snap.equity), np.int64, len(snap.equity))
                eq_y = np.fromiter((p[1] for p in snap.equity), np.float64, len(snap.equity))
                quantity = (held_quantity(snap.holding[1], self.symbol)
                            if snap.holding is not None else None)
                eq_t, eq_y = run_to_end(eq_t, eq_y, quantity, t, v[:, 4])
                eq_t, eq_y = from_start(eq_t, eq_y, start, snap.initial)
                self._set(F.EQUITY, x=F.to_widget_times(eq_t), y=eq_y)
            panels = len(self._panels)
            for name in new:
                points = np.fromiter((p[1] for p in snap.overlays[name]), np.float64)
                panel = indicator_panel(name, self._declared.get(name, snap.panels.get(name)),
                                        points, low, high)
                if panel is not None and panel not in self._panels:
                    self._panels.append(panel)
                axis = "y" if panel is None else F.panel_axis(self._panels.index(panel))
                self._overlay_index[name] = F.add_overlay(fig, name, axis)
            for name, line in snap.overlays.items():
                if name in self._overlay_index:
                    tx, ty, _ = _points(line, start)
                    fig.data[self._overlay_index[name]].update(x=tx, y=ty)
            if snap.quotes:
                self._draw_quotes(snap.quotes, start)
            if snap.trades:
                self._draw_trades(snap.trades, start)
            if show_equity or len(self._panels) > panels:
                F.show_panels(fig, volume=self.volume, equity=self._equity_shown or show_equity,
                              panels=self._panels)
                self._equity_shown |= show_equity
            if show_quotes or show_trades:
                F.show_ticks(fig, quotes=True if show_quotes else None,
                             trades=True if show_trades else None)
                self._quotes_shown |= show_quotes
                self._trades_shown |= show_trades
        self.points = len(bars)

    def _draw_quotes(self, quotes: list[Any], start: int | None) -> None:
        """The band: bid and ask steps (NaN, an empty side, is a gap), sizes on hover."""
        t = np.fromiter((q[0] for q in quotes), np.int64, len(quotes))
        v = np.array([q[1:] for q in quotes], np.float64).reshape(-1, 4)
        if start is not None and len(t) and t[0] < start:
            keep = t >= start
            t, v = t[keep], v[keep]
        x = F.to_widget_times(t)
        data = self.figure.data
        data[F.BID].update(x=x, y=v[:, 0], customdata=v[:, 2])
        data[F.ASK].update(x=x, y=v[:, 1], customdata=v[:, 3])

    def _draw_trades(self, trades: list[Any], start: int | None) -> None:
        """Trade markers at their price, coloured by taker side, size and side on hover."""
        if start is not None and trades[0][0] < start:
            trades = [tr for tr in trades if tr[0] >= start]
        t = np.fromiter((tr[0] for tr in trades), np.int64, len(trades))
        y = np.fromiter((tr[1] for tr in trades), np.float64, len(trades))
        sides = [tr[3] for tr in trades]
        # a numpy array of texts: plotly checks a list element by element
        text = np.array([f"{s or 'trade'} {tr[2]:g} @ {tr[1]:.6g}"
                         for s, tr in zip(sides, trades, strict=True)], dtype=str)
        self.figure.data[F.TRADES].update(x=F.to_widget_times(t), y=y, hovertext=text,
                                          marker_color=F.side_colours(sides))

    def _set(self, index: int, **values: Any) -> None:
        """Update a trace, skipping the common no-ops: an empty trace staying empty, a trace
        given the same points as last time (marks and orders change on few redraws; plotly
        checks every array it is given)."""
        x, y = values["x"], values["y"]
        shown = self._shown.get(index)
        if shown is not None and np.array_equal(shown[0], x) \
                and np.array_equal(shown[1], y, equal_nan=True):
            return
        if len(x) or index in self._filled:
            self.figure.data[index].update(**values)
            self._filled.add(index)
            if not len(x):
                self._filled.discard(index)
        self._shown[index] = (x, y)

    # --- the rest -----------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, Any]:
        """Events taken in by kind, redraws, candles drawn and time spent redrawing."""
        return {**self.data.stats(), "redraws": self.redraws, "points": self.points,
                # order events no broker answered within the window's keep (forgotten)
                "orders_unanswered": self.data.orders.dropped,
                "redraw_seconds": self.redraw_seconds,
                "redraw_cpu_seconds": self.redraw_cpu_seconds}

    def to_frame(self) -> pd.DataFrame:
        """The bars in the window (the forming one last), indexed by UTC time."""
        bars = self.data.snapshot().bars
        index = pd.DatetimeIndex(F.to_datetime64([b[0] for b in bars]), name="time")
        return pd.DataFrame([b[1:] for b in bars], index=index.tz_localize("UTC"),
                            columns=["open", "high", "low", "close", "volume"])

    def clear(self) -> None:
        """Empty the chart (bars, marks, orders, equity, lines, quotes, trades); it goes on
        following the bus, with the same panels and layout."""
        with self._draw_lock:
            self.data.clear()
            self._late = self._portfolios_published()
            with self.figure.batch_update():
                for trace in self.figure.data:
                    if trace.type == "candlestick":
                        trace.update(x=[], open=[], high=[], low=[], close=[])
                    else:
                        trace.update(x=[], y=[])
            self._filled.clear()
            self._shown.clear()
            self._drawn = self.data.version
            self.points = 0

    def _portfolios_published(self) -> bool:
        """Whether the bus has carried a PortfolioEvent yet."""
        return bool(self.bus.get_stats()["events_emitted"].get(str(EventType.PORTFOLIO)))

    def close(self) -> None:
        """Stop following the bus (the figure keeps what it shows)."""
        self._follow.close()

    def __enter__(self) -> LiveChart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._width.arm()
        return mimebundle(self.figure, **kwargs)

    def __repr__(self) -> str:
        return (f"<LiveChart {self.symbol!r}: {self.points} bars drawn, {self.redraws} redraws"
                f"{'' if self._follow.following else ', closed'}>")


def _points(points: list[tuple[int, float]], start: int | None,
            marks: list[tuple[int, float, str]] | None = None, kind: str = ""
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Times (widget strings) and values of the points at or after ``start``, with texts
    (a fill's prefixed with what it is: ``fill``, ``take-profit``, ``stop-loss``), as a
    numpy array: plotly checks a list of texts one by one."""
    if start is not None:
        keep = [i for i, p in enumerate(points) if p[0] >= start]
        if len(keep) < len(points):
            points = [points[i] for i in keep]
            marks = None if marks is None else [marks[i] for i in keep]
    t = np.fromiter((p[0] for p in points), np.int64, len(points))
    y = np.fromiter((p[1] for p in points), np.float64, len(points))
    if marks is None:
        return F.to_widget_times(t), y, None
    prefix = "" if kind in F.SIGNAL_STYLE else kind.replace("_", "-") + " "
    return F.to_widget_times(t), y, np.array([prefix + m[2] for m in marks], dtype=str)
