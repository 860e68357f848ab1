"""Portfolio: cash, positions at average cost, realised and unrealised P&L, equity marked to bars.

A component: register it for bars and fills, ahead of strategies::

    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)

Accounting (average cost): buying adds to a long at the quantity-weighted average price;
selling part of it realises ``quantity * (price - average)`` and keeps the average (shorts
mirror this; a fill that crosses zero closes, then opens the rest at the fill price).
Commissions come out of cash and out of ``realized_pnl``, so at every moment
``equity == cash + sum(quantity * mark) == initial_cash + realized_pnl + unrealized_pnl``.

Marks: each bar marks its symbol at its close; a fill marks its symbol at the fill price
only if it is later than the symbol's last bar (a fill at a bar's open does not undo that
bar's close mark). After every fill, and every bar of a held symbol that changes the state,
the portfolio publishes a ``PortfolioEvent`` (the first bar always publishes the starting
state), so a live chart can draw the equity curve and a recording holds it; a bar of a
symbol not held changes nothing and publishes nothing. ``equity_every="1min"`` bounds what
marks alone publish to one event per minute of event time (fills still publish each time;
``publish()`` forces one): a backtest over second bars then builds an event a minute, not
one a bar, and ``equity_curve()`` stays exact (it is kept for every bar either way).

Cost per bar does not grow with the number of symbols or positions: the market value of
the positions is kept up to date by each bar of a held symbol (recomputed in full at each
fill, so rounding cannot pile up), the positions tuple is rebuilt only by fills, and the
equity curve is two growing columns (times, equities).

Bad fills (unknown symbol, a quantity or price that is not a positive number, a short
where shorting is off, cash below zero where margin is off for a fill that adds risk: one
that only reduces a position always goes through) change nothing and are
published as an ``ErrorEvent`` with ``error_type="FillRejected"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evlab.bus import EventBus, current_bus
from evlab.events import BarEvent, FillEvent, PortfolioEvent, create_error_event

__all__ = ["FILL_COLUMNS", "Portfolio", "Position"]

FILL_COLUMNS = ("symbol", "side", "quantity", "price", "commission", "order_id")
_EPS = 1e-9  # quantities this close to zero (relative) are zero: 0.1 + 0.2 - 0.3 is flat


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def utc_index(ns: Iterable[int]) -> pd.DatetimeIndex:
    """A UTC ``DatetimeIndex`` named ``time`` from nanoseconds since the epoch."""
    return pd.DatetimeIndex(pd.to_datetime(list(ns), unit="ns", utc=True), name="time")


@dataclass(frozen=True)
class Position:
    """An open position: ``quantity`` (negative when short) at ``avg_price``."""

    quantity: float
    avg_price: float


class Portfolio:
    """Cash and positions, updated by fills, marked to each bar's close (see the module doc)."""

    def __init__(self, cash: float = 100_000.0, *, allow_short: bool = False,
                 allow_margin: bool = False, symbols: Iterable[str] | None = None,
                 name: str = "portfolio", equity_every: str | pd.Timedelta | None = None
                 ) -> None:
        if not _number(cash) or cash < 0:
            raise ValueError(f"Portfolio.cash: must be a finite number >= 0, got {cash!r}")
        self.initial_cash = self.cash = float(cash)
        self.allow_short = allow_short
        self.allow_margin = allow_margin
        self.name = name
        self.positions: dict[str, Position] = {}
        self.prices: dict[str, float] = {}  # the mark of each symbol
        self.realized_pnl = 0.0
        self.commission = 0.0
        self.event_bus: EventBus | None = None
        self._known = set(symbols or ())
        self._mark_ns: dict[str, int] = {}
        self._fills: list[tuple[Any, ...]] = []
        self._eq_times: list[int] = []  # the equity curve: event time (ns) -> equity after it
        self._eq_values: list[float] = []
        self._value = 0.0  # sum of quantity * mark over the positions
        self._cost = 0.0  # sum of quantity * average price over the positions
        self._held: tuple[tuple[str, float, float], ...] = ()  # the positions, sorted
        self._published: tuple[Any, ...] | None = None
        self._every_ns = 0  # 0: every change of a mark publishes
        if equity_every is not None:
            try:
                every = pd.Timedelta(equity_every)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Portfolio.equity_every: not a duration: {equity_every!r}"
                                 ) from exc
            if pd.isna(every) or every.value <= 0:
                raise ValueError(f"Portfolio.equity_every: must be positive, got "
                                 f"{equity_every!r}")
            self._every_ns = every.value
        self._published_ns = -(2**62)  # event time of the last PortfolioEvent published

    def set_event_bus(self, event_bus: EventBus) -> None:
        """Publish on ``event_bus`` (``EventManager.register_component`` calls this)."""
        self.event_bus = event_bus

    # --- state ---------------------------------------------------------------------------
    @property
    def equity(self) -> float:
        """Cash plus every position marked to its symbol's last price."""
        return self.cash + self._value

    @property
    def unrealized_pnl(self) -> float:
        """What closing every position at its mark would realise (before commissions)."""
        return self._value - self._cost

    def position(self, symbol: str) -> float:
        """The quantity held of ``symbol`` (negative when short, 0.0 when flat)."""
        pos = self.positions.get(symbol)
        return 0.0 if pos is None else pos.quantity

    def snapshot(self) -> PortfolioEvent:
        """The current state as an (unemitted) ``PortfolioEvent``."""
        return PortfolioEvent(self.cash, self.cash + self._value, self.realized_pnl,
                              self._value - self._cost, self._held, source=self.name)

    def track(self, symbol: str) -> None:
        """Know ``symbol`` without a bar of it (the broker calls this for the symbols it
        fills on quotes or books)."""
        self._known.add(symbol)

    # --- handlers ------------------------------------------------------------------------
    def on_bar(self, event: BarEvent) -> None:
        """Mark ``event.symbol`` at the bar's close."""
        symbol, close = event.symbol, event.close
        now = event.time_ns
        assert now is not None  # set when the event was built (None there means "inherit")
        prices = self.prices
        old = prices.get(symbol)
        prices[symbol] = close
        self._mark_ns[symbol] = now
        pos = self.positions.get(symbol)
        if pos is not None:
            if close != old:
                # one position: its value, exactly; several: kept up to date by the change
                self._value = pos.quantity * close if len(self.positions) == 1 else \
                    self._value + pos.quantity * (close - old)  # type: ignore[operator]
        elif old is None:
            self._known.add(symbol)
            if self._published is None:
                self._changed(now)  # the starting state
                return
        # every bar: the equity curve; a held symbol's new mark: a PortfolioEvent, at most
        # one per equity_every (the check is here, not in a call, as most bars stop at it)
        equity = self._mark_equity(now)
        if pos is not None and now - self._published_ns >= self._every_ns:
            self._publish_changed(now, equity)

    def on_fill(self, event: FillEvent) -> None:
        """Apply a fill, or publish an ``ErrorEvent`` (and change nothing) if it is bad."""
        reason = self.check(event.symbol, event.side, event.quantity, event.price,
                            event.commission)
        if reason is not None:
            bus = self.event_bus or current_bus()
            if bus is None:
                raise ValueError(reason)
            bus.emit(create_error_event(
                f"{self.name}: fill #{event.seq} rejected: {reason}", error_type="FillRejected",
                handler=f"{self.name}.on_fill", original=event, source=self.name))
            return
        signed = event.quantity if event.side == FillEvent.BUY else -event.quantity
        self._apply(event.symbol, signed, event.price, event.commission)
        now = event.time_ns
        assert now is not None  # set when the event was built
        if now > self._mark_ns.get(event.symbol, -1):
            self.prices[event.symbol] = event.price
            self._mark_ns[event.symbol] = now
        self._fills.append((now, event.symbol, event.side, float(event.quantity),
                            float(event.price), float(event.commission), event.order_id))
        self._revalue()
        self._changed(now)

    def check(self, symbol: str, side: str, quantity: float, price: float,
              commission: float = 0.0) -> str | None:
        """Why a fill would be rejected, or None if it is acceptable."""
        if symbol not in self._known:
            return f"unknown symbol {symbol!r} (the portfolio has seen no bar for it)"
        if side not in (FillEvent.BUY, FillEvent.SELL):
            return f"side must be BUY or SELL, got {side!r}"
        if not _number(quantity) or quantity <= 0:
            return f"quantity must be a positive number, got {quantity!r}"
        if not _number(price) or price <= 0:
            return f"price must be a positive number, got {price!r}"
        if not _number(commission) or commission < 0:
            return f"commission must be a number >= 0, got {commission!r}"
        signed = quantity if side == FillEvent.BUY else -quantity
        held = self.position(symbol)
        if not self.allow_short and held + signed < -_EPS * max(1.0, abs(held)):
            return (f"{side} {quantity:g} {symbol} would leave {held + signed:g} "
                    "(shorting is off)")
        cash = self.cash - signed * price - commission
        # a fill that only reduces a position is never refused for cash: refusing to cover a
        # short that went against it would leave the risk open
        reducing = held != 0 and (held > 0) != (signed > 0) \
            and abs(signed) <= abs(held) * (1 + _EPS)
        if not self.allow_margin and cash < -_EPS and not reducing:
            return (f"{side} {quantity:g} {symbol} @ {price:.2f} would take cash from "
                    f"{self.cash:,.2f} to {cash:,.2f} (margin is off)")
        return None

    # --- frames --------------------------------------------------------------------------
    def equity_curve(self) -> pd.Series:
        """Equity after each event time (bars and fills), UTC-indexed, named ``equity``."""
        index = pd.DatetimeIndex(pd.to_datetime(np.asarray(self._eq_times, dtype="int64"),
                                                unit="ns", utc=True), name="time")
        curve = pd.Series(np.asarray(self._eq_values, dtype="float64"), index=index,
                          name="equity")
        curve = curve[~index.duplicated(keep="last")]  # the last equity of each time
        return curve.sort_index(kind="stable")

    def fills_frame(self) -> pd.DataFrame:
        """Every applied fill, UTC-indexed by ``time``: symbol, side, quantity, price, ..."""
        frame = pd.DataFrame([f[1:] for f in self._fills], columns=list(FILL_COLUMNS))
        frame.index = utc_index(f[0] for f in self._fills)
        return frame.astype({"quantity": "float64", "price": "float64", "commission": "float64"})

    def __repr__(self) -> str:
        held = ", ".join(f"{s} {p.quantity:g}" for s, p in self.positions.items()) or "flat"
        return (f"<Portfolio {self.name!r}: cash {self.cash:,.2f}, "
                f"equity {self.equity:,.2f}, {held}>")

    # --- internals -----------------------------------------------------------------------
    def _apply(self, symbol: str, signed: float, price: float, commission: float) -> None:
        pos = self.positions.get(symbol)
        old, avg = (0.0, 0.0) if pos is None else (pos.quantity, pos.avg_price)
        new = old + signed
        if abs(new) <= _EPS * max(1.0, abs(old)):
            new = 0.0
        realized = 0.0
        if old == 0 or (old > 0) == (signed > 0):  # opening or adding: new average
            avg = (old * avg + signed * price) / new
        else:  # reducing, closing or reversing
            closed = min(abs(signed), abs(old))
            realized = closed * (price - avg) * (1.0 if old > 0 else -1.0)
            if new != 0 and (new > 0) != (old > 0):
                avg = price  # the rest opens a position the other way
        self.cash -= signed * price + commission
        self.realized_pnl += realized - commission
        self.commission += commission
        if new == 0:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = Position(new, avg)

    def _revalue(self) -> None:
        """After a fill: the positions' value, cost and tuple, in full (fills are few)."""
        prices = self.prices
        items = sorted(self.positions.items())
        self._value = sum(p.quantity * prices[s] for s, p in items)
        self._cost = sum(p.quantity * p.avg_price for s, p in items)
        self._held = tuple((s, p.quantity, p.avg_price) for s, p in items)

    def publish(self) -> None:
        """Publish the current state now (with ``equity_every``, the marks since the last
        event are otherwise published at the next interval or fill)."""
        bus = self.event_bus or current_bus()
        if bus is not None:
            self._published = (self.cash, self.cash + self._value, self.realized_pnl,
                               self._held)
            self._published_ns = max(self._mark_ns.values(), default=self._published_ns)
            bus.emit(self.snapshot())

    def _changed(self, time_ns: int) -> None:
        """Record the equity at ``time_ns`` (after a fill, or the first bar); publish it if it
        changed."""
        self._publish_changed(time_ns, self._mark_equity(time_ns))

    def _mark_equity(self, time_ns: int) -> float:
        """Put the equity now on the curve at ``time_ns`` (replacing that time's last point:
        one point per event time) and return it."""
        equity = self.cash + self._value
        times = self._eq_times
        if times and times[-1] == time_ns:
            self._eq_values[-1] = equity
        else:
            times.append(time_ns)
            self._eq_values.append(equity)
        return equity

    def _publish_changed(self, time_ns: int, equity: float) -> None:
        """Publish the state at ``time_ns`` unless it is the one last published."""
        key = (self.cash, equity, self.realized_pnl, self._held)
        if key == self._published:
            return
        bus = self.event_bus or current_bus()
        if bus is not None:
            self._published = key
            self._published_ns = time_ns
            bus.emit(self.snapshot())
