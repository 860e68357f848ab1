"""PaperBroker: turns signals into orders and fills under a documented fill model.

A component: register it for bars and signals, after the portfolio and ahead of strategies::

    manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL], priority=10)

**Signals.** Each signal sets a target position for its symbol; the order trades the
difference from what is held plus what is already ordered (no pyramiding):

* ``BUY``: long ``sizer(signal.price, equity)`` units (kept as it is if already long);
* ``SELL``: short that many if the portfolio allows shorting (kept if already short),
  else close any long (long-only);
* ``EXIT``: flat.

**Fill model** (:class:`FillModel`). Market orders fill at the open of the symbol's next
bar (``fill_at="next_open"``, the default: no look-ahead), or at the close of the signal's
own bar (``fill_at="close"``). Buys pay ``slippage_bps`` above that price, sells receive
that much below it; each fill pays ``commission + commission_rate * quantity * price``.
An order for a symbol that has no later bar never fills (``broker.pending_orders``).

**Causes.** The order is emitted while the signal is handled (its cause is the signal);
the fill is emitted with ``cause=order`` and the event time of the bar it executed at,
so the chain reads bar -> signal -> order -> fill.

**Bad input** (a signal whose price is not a positive number, a size of 0 units, a fill
the portfolio would reject: cash below zero, a short where shorting is off) publishes an
``ErrorEvent`` (``error_type`` ``"SignalRejected"`` or ``"OrderRejected"``) and changes
nothing. The handlers are plain functions, so they work under ``emit`` and ``emit_async``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

from evlab.bus import EventBus, current_bus
from evlab.events import (
    BarEvent,
    Event,
    OrderEvent,
    SignalEvent,
    create_error_event,
    create_fill_event,
    create_order_event,
)
from evlab.execution.portfolio import Portfolio
from evlab.execution.sizing import FixedQuantity, Sizer

__all__ = ["FillModel", "PaperBroker"]

_EPS = 1e-9


def _non_negative(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"FillModel.{name}: must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class FillModel:
    """Where market orders fill and what they cost (see the module doc)."""

    fill_at: Literal["next_open", "close"] = "next_open"
    commission: float = 0.0  # fixed, per fill
    commission_rate: float = 0.0  # a fraction of the fill's notional (0.001 = 10 bps)
    slippage_bps: float = 0.0  # against the trader: buys higher, sells lower

    def __post_init__(self) -> None:
        if self.fill_at not in ("next_open", "close"):
            raise ValueError(f"FillModel.fill_at: must be 'next_open' or 'close', "
                             f"got {self.fill_at!r}")
        for name in ("commission", "commission_rate", "slippage_bps"):
            _non_negative(name, getattr(self, name))

    def price(self, side: str, reference: float) -> float:
        """The fill price of ``side`` for a bar price of ``reference``, slippage included."""
        slip = reference * self.slippage_bps / 10_000
        return reference + slip if side == OrderEvent.BUY else reference - slip

    def fee(self, quantity: float, price: float) -> float:
        """The commission of a fill of ``quantity`` at ``price``."""
        return self.commission + self.commission_rate * quantity * price


@dataclass
class _Pending:
    order: OrderEvent
    after_ns: int  # the signal's bar: fill at the first later bar (or at its close)


class PaperBroker:
    """Simulated execution of signals against bars for one ``Portfolio``."""

    def __init__(self, portfolio: Portfolio, fill_model: FillModel | None = None,
                 sizer: Sizer | None = None, *, name: str = "broker") -> None:
        self.portfolio = portfolio
        self.fill_model = fill_model or FillModel()
        self.sizer: Sizer = sizer or FixedQuantity(1)
        self.name = name
        self.event_bus: EventBus | None = None
        self._pending: list[_Pending] = []
        self._last_bar: dict[str, BarEvent] = {}
        self._ids = itertools.count(1)

    def set_event_bus(self, event_bus: EventBus) -> None:
        """Publish on ``event_bus`` (``EventManager.register_component`` calls this)."""
        self.event_bus = event_bus

    @property
    def pending_orders(self) -> list[OrderEvent]:
        """Orders not filled yet (waiting for their symbol's next bar)."""
        return [p.order for p in self._pending]

    def on_bar(self, event: BarEvent) -> None:
        """Fill the pending orders of ``event.symbol`` that this bar executes."""
        self._last_bar[event.symbol] = event
        close = self.fill_model.fill_at == "close"
        now = event.time_ns
        assert now is not None  # set when the event was built (None there means "inherit")
        due = [p for p in self._pending if p.order.symbol == event.symbol
               and (now > p.after_ns or (close and now == p.after_ns))]
        for p in due:
            self._pending.remove(p)
            self._fill(p.order, event, event.close if close else event.open)

    def on_signal(self, event: SignalEvent) -> None:
        """Turn a signal into an order (and, with ``fill_at="close"``, its fill)."""
        price, symbol = event.price, event.symbol
        if not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
            self._error(event, f"signal #{event.seq} for {symbol}: price {price!r} is not a "
                        "positive number", "SignalRejected")
            return
        held = self.portfolio.position(symbol) + sum(
            p.order.quantity * (1 if p.order.side == OrderEvent.BUY else -1)
            for p in self._pending if p.order.symbol == symbol)
        kind = event.signal_type
        long_only = not self.portfolio.allow_short
        if kind == SignalEvent.EXIT or (kind == SignalEvent.SELL and long_only):
            target = 0.0
        elif (kind == SignalEvent.BUY and held > 0) or (kind == SignalEvent.SELL and held < 0):
            target = held
        else:
            size = self.sizer(price, self.portfolio.equity)
            if not isinstance(size, (int, float)) or not math.isfinite(size) or size <= 0:
                self._error(event, f"signal #{event.seq}: sizing {symbol} at {price:.2f} with "
                            f"equity {self.portfolio.equity:,.2f} gave {size!r} units",
                            "SignalRejected")
                return
            target = size if kind == SignalEvent.BUY else -size
        delta = target - held
        if abs(delta) <= _EPS * max(1.0, abs(held)):
            return
        order = self._bus().emit(create_order_event(
            symbol, OrderEvent.BUY if delta > 0 else OrderEvent.SELL, abs(delta),
            order_id=f"{self.name}-{next(self._ids)}", strategy_id=event.strategy_id,
            source=self.name))
        bar = self._last_bar.get(symbol)
        if self.fill_model.fill_at == "close" and bar is not None \
                and bar.time_ns == event.time_ns:
            self._fill(order, bar, bar.close)
        else:  # the next bar's open; or a close this broker has not seen yet
            assert event.time_ns is not None  # set when the event was built
            self._pending.append(_Pending(order, event.time_ns))

    # --- internals -----------------------------------------------------------------------
    def _bus(self) -> EventBus:
        bus = self.event_bus or current_bus()
        if bus is None:
            raise RuntimeError(f"{self.name}: no event bus (register the broker first)")
        return bus

    def _fill(self, order: OrderEvent, bar: BarEvent, reference: float) -> None:
        model = self.fill_model
        price = model.price(order.side, reference)
        fee = model.fee(order.quantity, price)
        reason = self.portfolio.check(order.symbol, order.side, order.quantity, price, fee)
        if reason is not None:
            self._error(order, f"order {order.order_id} (#{order.seq}) not filled: {reason}",
                        "OrderRejected", cause=order)
            return
        self._bus().emit(create_fill_event(order.symbol, order.side, order.quantity, price, fee,
                                           order_id=order.order_id, timestamp=bar.time_ns,
                                           source=self.name), cause=order)

    def _error(self, about: Event, message: str, kind: str, cause: Event | None = None) -> None:
        self._bus().emit(create_error_event(f"{self.name}: {message}", error_type=kind,
                                            handler=self.name, original=about, source=self.name),
                         cause=cause)

    def __repr__(self) -> str:
        return (f"<PaperBroker {self.name!r}: fill at {self.fill_model.fill_at}, "
                f"{len(self._pending)} pending>")
