"""The live chart's data: bounded, thread-safe windows that event handlers append to.

Handlers run on whatever thread emits (a feed may run its own loop on a daemon thread), so
every change happens under one lock, and costs a tuple and a deque append. ``snapshot()``
copies the lot under the lock; the redraw turns the copy into numpy arrays outside it.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from evlab.plot.orders import FILL_ROLES, OrderLevels, Segment

__all__ = ["BarWindow", "Snapshot"]

_NAN = float("nan")

Bar = tuple[int, float, float, float, float, float]  # time_ns, open, high, low, close, volume
Point = tuple[int, float]
Mark = tuple[int, float, str]  # time_ns, price, hover text
Quote = tuple[int, float, float, float, float]  # time_ns, bid, ask, bid_size, ask_size (NaN: none)
Trade = tuple[int, float, float, str | None]  # time_ns, price, size, taker side


@dataclass
class Snapshot:
    """A copy of the window: final bars (plus the forming one), marks, equity, overlays."""

    bars: list[Bar]
    marks: dict[str, list[Mark]]
    equity: list[Point]
    overlays: dict[str, list[Point]]
    version: int
    quotes: list[Quote] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    orders: list[Segment] = field(default_factory=list)
    holding: tuple[float, tuple[tuple[str, float, float], ...]] | None = None
    panels: dict[str, str | None] = field(default_factory=dict)
    initial: float | None = None  # the portfolio's starting cash (evlab.plot.equity)


@dataclass
class BarWindow:
    """The last ``size`` bars of one symbol and what is drawn over them; the last
    ``tick_size`` quotes and trades."""

    size: int
    tick_size: int = 2000
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    version: int = 0  # bumped by every change: the redraw skips when nothing changed
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("bars", "updates", "signals", "fills", "portfolios", "indicators", "stale", "quotes",
         "trades", "orders", "order_updates"), 0))

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"window: must be at least 1 bar, got {self.size!r}")
        if self.tick_size < 1:
            raise ValueError(f"tick_window: must be at least 1, got {self.tick_size!r}")
        self.quotes: deque[Quote] = deque(maxlen=self.tick_size)
        self.trades: deque[Trade] = deque(maxlen=self.tick_size)
        self.bars: deque[Bar] = deque(maxlen=self.size)
        self.forming: Bar | None = None
        keep = 4 * self.size  # marks older than the window are never drawn
        self.marks: dict[str, deque[Mark]] = {k: deque(maxlen=keep) for k in (
            "BUY", "SELL", "EXIT", "fill", *FILL_ROLES)}
        self.equity: deque[Point] = deque(maxlen=keep)
        #: the last portfolio's cash and positions, to revalue the equity at later bars
        self.holding: tuple[float, tuple[tuple[str, float, float], ...]] | None = None
        #: the starting cash, from the first portfolio seen (None after ``clear()``)
        self.initial: float | None = None
        self.overlays: dict[str, deque[Point]] = {}
        self.panels: dict[str, str | None] = {}  # overlay name -> its declared panel
        self.orders = OrderLevels(keep)

    def clear(self) -> None:
        """Empty every window (the counters stay: they count what came in)."""
        with self.lock:
            self.quotes.clear()
            self.trades.clear()
            self.bars.clear()
            self.equity.clear()
            for marks in self.marks.values():
                marks.clear()
            self.forming = None
            self.holding = self.initial = None
            self.overlays.clear()
            self.orders.clear()
            self.version += 1

    def add_bar(self, bar: Bar) -> None:
        """A final bar: appended, or put in its place if it is not the newest."""
        with self.lock:
            bars = self.bars
            if not bars or bar[0] > bars[-1][0]:
                bars.append(bar)
            elif bar[0] == bars[-1][0]:
                bars[-1] = bar  # a correction of the newest bar
            else:
                self._insert(bar)
            if self.forming is not None and self.forming[0] <= bar[0]:
                self.forming = None
            self.counts["bars"] += 1
            self.version += 1

    def _insert(self, bar: Bar) -> None:
        rows = list(self.bars)
        i = bisect.bisect_left(rows, bar[0], key=lambda r: r[0])
        if rows[i][0] == bar[0]:
            rows[i] = bar
        elif i == 0 and len(rows) == self.size:
            self.counts["stale"] += 1  # older than the whole window: never drawn
            return
        else:
            rows.insert(i, bar)
        self.bars = deque(rows[-self.size:], maxlen=self.size)

    def update_bar(self, bar: Bar) -> None:
        """The bar still forming (drawn after the final bars until its final bar arrives)."""
        with self.lock:
            if self.bars and bar[0] <= self.bars[-1][0]:
                return  # that bar is final already
            self.forming = bar
            self.counts["updates"] += 1
            self.version += 1

    def add_mark(self, kind: str, mark: Mark) -> None:
        """A signal (``kind`` BUY, SELL or EXIT) at its price."""
        with self.lock:
            self.marks[kind].append(mark)
            self.counts["signals"] += 1
            self.version += 1

    def add_fill(self, order_id: str, mark: Mark) -> None:
        """A fill at its price, marked apart if it is a bracket's take-profit or stop-loss."""
        with self.lock:
            self.marks[self.orders.fill_role(order_id) or "fill"].append(mark)
            self.counts["fills"] += 1
            self.version += 1

    def add_order(self, seq: int | None, order_id: str, order_type: str, side: str,
                  quantity: float, limit: float | None, stop: float | None,
                  parent_id: str) -> None:
        """An order of this symbol (``OrderLevels.order``)."""
        with self.lock:
            self.orders.order(seq, order_id, order_type, side, quantity, limit, stop,
                              parent_id)
            self.counts["orders"] += 1

    def add_replace(self, seq: int | None, limit: float | None, stop: float | None) -> None:
        """A replace request (of any symbol: the request does not say)."""
        with self.lock:
            self.orders.replace(seq, limit, stop)

    def add_order_update(self, time_ns: int, order_id: str, status: str,
                         cause: int | None, stop: float | None = None) -> None:
        """A step of an order's life (``OrderLevels.update``)."""
        with self.lock:
            self.orders.update(time_ns, order_id, status, cause, stop)
            self.counts["order_updates"] += 1
            self.version += 1

    def add_equity(self, point: Point, cash: float = _NAN,
                   positions: tuple[tuple[str, float, float], ...] = (),
                   initial: float | None = None) -> None:
        """The portfolio's equity at an event time (the last one per time is kept), with its
        cash and positions (what revalues the equity at the bars after it) and its starting
        cash (kept from the first portfolio: what the curve shows before it)."""
        with self.lock:
            if not self.counts["portfolios"]:
                self.initial = initial
            _put(self.equity, point)
            self.holding = (cash, positions)
            self.counts["portfolios"] += 1
            self.version += 1

    def add_overlay(self, values: dict[str, float], time_ns: int,
                    panel: str | None = None) -> None:
        """Indicator values at ``time_ns``, one line per name; ``panel`` as declared."""
        with self.lock:
            for name, value in values.items():
                line = self.overlays.get(name)
                if line is None:
                    line = self.overlays[name] = deque(maxlen=4 * self.size)
                    self.panels[name] = panel
                _put(line, (time_ns, value))
            self.counts["indicators"] += 1
            self.version += 1

    def add_quote(self, time_ns: int, bid: float | None, ask: float | None,
                  bid_size: float | None, ask_size: float | None) -> None:
        """A best bid/ask; a side that is None (empty) is kept as NaN: a gap in the band."""
        with self.lock:
            self.quotes.append((time_ns, _NAN if bid is None else bid,
                                _NAN if ask is None else ask,
                                _NAN if bid_size is None else bid_size,
                                _NAN if ask_size is None else ask_size))
            self.counts["quotes"] += 1
            self.version += 1

    def add_trade(self, trade: Trade) -> None:
        """A trade print at its price, with the taker's side where the venue gives it."""
        with self.lock:
            self.trades.append(trade)
            self.counts["trades"] += 1
            self.version += 1

    def snapshot(self) -> Snapshot:
        """A copy of everything (cheap: list copies of bounded deques)."""
        with self.lock:
            bars = list(self.bars)
            if self.forming is not None:
                bars.append(self.forming)
                del bars[:-self.size]
            return Snapshot(bars, {k: list(v) for k, v in self.marks.items()},
                            list(self.equity), {k: list(v) for k, v in self.overlays.items()},
                            self.version, list(self.quotes), list(self.trades),
                            self.orders.segments(), self.holding, dict(self.panels),
                            self.initial)

    def stats(self) -> dict[str, Any]:
        """Events taken in, by kind."""
        with self.lock:
            return dict(self.counts)


def _put(line: deque[Point], point: Point) -> None:
    if line and line[-1][0] == point[0]:
        line[-1] = point
    else:
        line.append(point)
