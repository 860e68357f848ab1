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
bar's close mark). After every fill, and every bar that changes the state, the portfolio
publishes a ``PortfolioEvent`` (the first bar always publishes the starting state), so a
live chart can draw the equity curve and a recording holds it.

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
                 name: str = "portfolio") -> None:
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
        self._equity: dict[int, float] = {}  # event time (ns) -> equity after it
        self._published: tuple[Any, ...] | None = None

    def set_event_bus(self, event_bus: EventBus) -> None:
        """Publish on ``event_bus`` (``EventManager.register_component`` calls this)."""
        self.event_bus = event_bus

    # --- state ---------------------------------------------------------------------------
    @property
    def equity(self) -> float:
        """Cash plus every position marked to its symbol's last price."""
        return self.cash + sum(p.quantity * self.prices[s] for s, p in self.positions.items())

    @property
    def unrealized_pnl(self) -> float:
        """What closing every position at its mark would realise (before commissions)."""
        return sum(p.quantity * (self.prices[s] - p.avg_price) for s, p in self.positions.items())

    def position(self, symbol: str) -> float:
        """The quantity held of ``symbol`` (negative when short, 0.0 when flat)."""
        pos = self.positions.get(symbol)
        return 0.0 if pos is None else pos.quantity

    def snapshot(self) -> PortfolioEvent:
        """The current state as an (unemitted) ``PortfolioEvent``."""
        positions = tuple((s, p.quantity, p.avg_price) for s, p in sorted(self.positions.items()))
        return PortfolioEvent(self.cash, self.equity, self.realized_pnl, self.unrealized_pnl,
                              positions, source=self.name)

    # --- handlers ------------------------------------------------------------------------
    def on_bar(self, event: BarEvent) -> None:
        """Mark ``event.symbol`` at the bar's close."""
        self._known.add(event.symbol)
        self.prices[event.symbol] = event.close
        now = event.time_ns
        assert now is not None  # set when the event was built (None there means "inherit")
        self._mark_ns[event.symbol] = now
        self._changed(now)

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
        curve = pd.Series(list(self._equity.values()), index=utc_index(self._equity),
                          name="equity", dtype="float64")
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

    def _changed(self, time_ns: int) -> None:
        state = self.snapshot()
        self._equity[time_ns] = state.equity
        key = (state.cash, state.equity, state.realized_pnl, state.positions)
        if key == self._published:
            return
        bus = self.event_bus or current_bus()
        if bus is not None:
            self._published = key
            bus.emit(state)
