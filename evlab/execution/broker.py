"""PaperBroker: turns signals and orders into fills under a documented fill model.

A component: register it for ``PaperBroker.EVENTS`` (bars, quotes, books, trades, signals,
orders, cancels and replaces), after the portfolio and ahead of strategies::

    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)

(``[EventType.BAR, EventType.SIGNAL]`` keeps working for strategies that only signal.)

**Signals.** Each signal sets a target position for its symbol; the order trades the
difference from what is held plus what is already ordered (no pyramiding):

* ``BUY``: long ``sizer(signal.price, equity)`` units (kept as it is if already long);
* ``SELL``: short that many if the portfolio allows shorting (kept if already short),
  else close any long (long-only);
* ``EXIT``: flat.

A sizer with ``at_fill`` (``FractionOfEquity``, ``FixedCash``) sizes again when the order
fills, at the fill price and the equity then, and trims a buy to what the cash pays with its
commission, so a gap or a fee does not turn the entry into a rejection (the order event
keeps the size at the signal's price).

**Orders.** A strategy may emit ``OrderEvent``s of every type (``create_order_event``), and
``CancelEvent`` / ``ReplaceEvent`` by ``order_id``. Each step of an order's life is an
``OrderUpdateEvent`` (``ACCEPTED``, ``REJECTED``, ``TRIGGERED``, ``PARTIALLY_FILLED``,
``FILLED``, ``CANCELED``, ``EXPIRED``, ``REPLACED``) with the order (or the request) as its
cause; ``broker.open_orders``, ``broker.order(id)`` and ``broker.orders_frame()`` show them.
Brackets (``take_profit`` / ``stop_loss``) place two reduce-only children when the entry
fills, one cancelling the other (``oco_group``); children are canceled when the position
is flat. ``DAY`` orders live through the UTC day of the first bar they can fill on, ``GTD``
until ``expire_time`` (a bar starting at or after it expires them), ``IOC`` fill what their
first bar gives and cancel the rest, ``FOK`` fill all on their first bar or cancel.

**Fill model** (:class:`FillModel`, the rules in ``evlab.execution.fills``). A symbol whose
quotes or books reach the broker fills on them (walking the book for the size, with an
optional ``latency``); the rest fill on bars. On bars, market orders
fill at the open of the symbol's next bar (``fill_at="next_open"``, the default: no
look-ahead), or at the close of the signal's own bar (``fill_at="close"``). Market and stop
fills pay ``slippage_bps`` against the trader; each fill pays ``commission +
commission_rate * quantity * price``; ``max_volume_fraction`` caps a fill at that share of
the bar's volume. An order for a symbol that has no later bar never fills
(``broker.pending_orders``).

**Causes.** The order is emitted while the signal is handled (its cause is the signal);
the fill is emitted with ``cause=order`` and the event time of the bar it executed at,
so the chain reads bar -> signal -> order -> fill.

**Bad input** (a signal whose price is not a positive number, a size of 0 units, a fill
the portfolio would reject: cash below zero for a fill that adds risk, a short where
shorting is off; an instrument's minimum; a cancel or replace of an unknown or finished
order) publishes an ``ErrorEvent`` (``error_type`` ``"SignalRejected"``,
``"OrderRejected"``, ``"CancelRejected"`` or ``"ReplaceRejected"``) with the reason, and
a rejected order ends ``REJECTED``. The handlers are plain functions, so they work under
``emit`` and ``emit_async``.
"""

from __future__ import annotations

import datetime
import itertools
import math
import numbers
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from evlab.bus import EventBus, current_bus
from evlab.events import (
    BarEvent,
    BookEvent,
    CancelEvent,
    Event,
    EventType,
    OrderEvent,
    QuoteEvent,
    ReplaceEvent,
    SignalEvent,
    SystemEvent,
    TickEvent,
    create_error_event,
    create_fill_event,
    create_order_event,
    create_order_update_event,
)
from evlab.execution.fills import limit_price_on_bar, stop_price_on_bar, stop_touched, walk
from evlab.execution.instruments import Instrument
from evlab.execution.liquidity import Liquidity
from evlab.execution.orders import ORDER_COLUMNS, Order
from evlab.execution.portfolio import Portfolio, utc_index
from evlab.execution.sizing import FixedQuantity, Sizer

__all__ = ["FillModel", "PaperBroker"]

_EPS = 1e-9
_DAY_NS = 86_400 * 10**9


def _non_negative(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"FillModel.{name}: must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class FillModel:
    """Where orders fill and what they cost (see the module doc and evlab.execution.fills)."""

    fill_at: Literal["next_open", "close"] = "next_open"
    commission: float = 0.0  # fixed, per fill
    commission_rate: float = 0.0  # a fraction of the fill's notional (0.001 = 10 bps)
    slippage_bps: float = 0.0  # against the trader: buys higher, sells lower
    max_volume_fraction: float | None = None  # a fill takes at most this share of a bar
    # quotes/books: event-time delay from sending an order (or cancel) to the venue
    latency: int | datetime.timedelta = 0  # ns, or a timedelta (pandas.Timedelta too)
    latency_ns: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if self.fill_at not in ("next_open", "close"):
            raise ValueError(f"FillModel.fill_at: must be 'next_open' or 'close', "
                             f"got {self.fill_at!r}")
        for name in ("commission", "commission_rate", "slippage_bps"):
            _non_negative(name, getattr(self, name))
        f = self.max_volume_fraction
        if f is not None and (not isinstance(f, (int, float)) or isinstance(f, bool)
                              or not math.isfinite(f) or not 0 < f <= 1):
            raise ValueError(f"FillModel.max_volume_fraction: must be in (0, 1] or None, "
                             f"got {f!r}")
        lat = self.latency
        if isinstance(lat, datetime.timedelta):  # pandas.Timedelta is one, to the ns
            ns = int(getattr(lat, "value", None) or lat // datetime.timedelta(microseconds=1)
                     * 1000)
        elif isinstance(lat, numbers.Integral) and not isinstance(lat, bool):
            ns = int(lat)  # numpy integers too
        else:
            raise ValueError(f"FillModel.latency: must be an int of ns or a timedelta, "
                             f"got {lat!r}")
        if ns < 0:
            raise ValueError(f"FillModel.latency: must be >= 0, got {lat!r}")
        object.__setattr__(self, "latency_ns", ns)

    def price(self, side: str, reference: float) -> float:
        """The fill price of ``side`` for a bar price of ``reference``, slippage included."""
        slip = reference * self.slippage_bps / 10_000
        return reference + slip if side == OrderEvent.BUY else reference - slip

    def fee(self, quantity: float, price: float) -> float:
        """The commission of a fill of ``quantity`` at ``price``."""
        return self.commission + self.commission_rate * quantity * price


def _sort_key(o: Order) -> tuple[int, int, int]:
    """A bar's order of work: market orders (they fill at the open), then protective exits
    (stops before limits: the stop-loss of a bracket touched both ways wins), then the rest
    as placed."""
    kind = o.event.order_type
    if kind == "MARKET":
        return (0, 0, o.placed)
    if o.event.reduce_only:
        return (1, 1 if kind == "LIMIT" else 0, o.placed)
    return (2, 0, o.placed)


class PaperBroker:
    """Simulated execution of signals and orders against bars, quotes and books for one
    ``Portfolio``."""

    EVENTS: tuple[EventType, ...] = (EventType.BAR, EventType.QUOTE, EventType.BOOK,
                                     EventType.TICK, EventType.SYSTEM, EventType.SIGNAL,
                                     EventType.ORDER, EventType.CANCEL, EventType.REPLACE)

    def __init__(self, portfolio: Portfolio, fill_model: FillModel | None = None,
                 sizer: Sizer | None = None, *, name: str = "broker",
                 instruments: Iterable[Instrument] = ()) -> None:
        self.portfolio = portfolio
        self.fill_model = fill_model or FillModel()
        self.sizer: Sizer = sizer or FixedQuantity(1)
        self.name = name
        self.instruments = {i.symbol: i for i in instruments}
        self.event_bus: EventBus | None = None
        self._orders: dict[str, Order] = {}
        self._working: dict[str, list[Order]] = {}
        self._last_bar: dict[str, BarEvent] = {}
        self._warned_late = False  # the once-only warning of _late_order
        self._ids = itertools.count(1)
        self._placed = itertools.count()
        self.market = Liquidity()  # the quotes and books this broker fills on
        self._driven = self.market.times  # the symbols quotes/books drive (a dict: C lookup)
        self._requests: dict[str, list[tuple[int, Event]]] = {}  # cancels/replaces en route

    def set_event_bus(self, event_bus: EventBus) -> None:
        """Publish on ``event_bus`` (``EventManager.register_component`` calls this)."""
        self.event_bus = event_bus

    # --- state ---------------------------------------------------------------------------
    @property
    def pending_orders(self) -> list[OrderEvent]:
        """The events of the orders still working (waiting for a bar that fills them)."""
        return [o.event for o in self.open_orders]

    @property
    def open_orders(self) -> list[Order]:
        """The orders still working, in the order they were placed."""
        return sorted((o for w in self._working.values() for o in w), key=lambda o: o.placed)

    def order(self, order_id: str) -> Order:
        """The order ``order_id`` (working or done); KeyError if the broker never took it."""
        return self._orders[order_id]

    def orders_frame(self) -> pd.DataFrame:
        """Every order the broker took, with its state, indexed by placement time (UTC)."""
        orders = sorted(self._orders.values(), key=lambda o: o.placed)
        frame = pd.DataFrame([o.row() for o in orders], columns=list(ORDER_COLUMNS))
        frame.index = utc_index(o.placed_ns for o in orders)
        return frame

    # --- handlers ------------------------------------------------------------------------
    def on_bar(self, event: BarEvent) -> None:
        """Work the orders of ``event.symbol`` that this bar can fill."""
        self._last_bar[event.symbol] = event
        if not self._working:  # nothing working anywhere (a signal filled at its close)
            return
        working = self._working.get(event.symbol)
        if working and event.symbol not in self._driven:  # quotes/books drive that symbol
            self._work_bar(event, working)

    def on_quote(self, event: QuoteEvent) -> None:
        """Work the orders of ``event.symbol`` on this quote (unless a book drives it)."""
        if event.symbol not in self._driven:
            self.portfolio.track(event.symbol)
        if self.market.on_quote(event):
            self._work_market(event.symbol, event.time_ns)  # type: ignore[arg-type]

    def on_book(self, event: BookEvent) -> None:
        """Apply ``event`` to the broker's book and work the symbol's orders on it."""
        if event.symbol not in self._driven:
            self.portfolio.track(event.symbol)
        if self.market.on_book(event):
            self._work_market(event.symbol, event.time_ns)  # type: ignore[arg-type]

    def on_tick(self, event: TickEvent) -> None:
        """Trigger the stops of ``event.symbol`` that this trade reached (they fill on the
        first market state at or after it)."""
        working = self._working.get(event.symbol)
        if not working or event.symbol not in self._driven:
            return
        now = event.time_ns
        assert now is not None
        for o in working:
            kind = o.event.order_type
            if o.done or o.triggered or now < o.arrive_ns or kind in ("MARKET", "LIMIT"):
                continue
            if kind == "TRAILING_STOP":
                self._trail_to(o, event.price)
            assert o.stop_price is not None
            if stop_touched(o.buy, o.stop_price, event.price):
                o.triggered = True
                o.arrive_ns = now
                self._update(o, "TRIGGERED", event)

    def on_system(self, event: SystemEvent) -> None:
        """A ``book_error`` about a symbol makes the broker's book of it stale (a gap)."""
        if event.kind == "book_error":
            self.market.on_system(event)

    def on_signal(self, event: SignalEvent) -> None:
        """Turn a signal into an order (and, with ``fill_at="close"``, its fill)."""
        price, symbol = event.price, event.symbol
        if not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
            self._error(event, f"signal #{event.seq} for {symbol}: price {price!r} is not a "
                        "positive number", "SignalRejected")
            return
        held = self.portfolio.position(symbol) + sum(
            o.remaining * (1 if o.buy else -1)
            for o in self._working.get(symbol, ()) if o.target is not None)
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
        order_id = f"{self.name}-{next(self._ids)}"
        order = create_order_event(
            symbol, OrderEvent.BUY if delta > 0 else OrderEvent.SELL, abs(delta),
            order_id=order_id, strategy_id=event.strategy_id, source=self.name)
        assert order.time_ns is not None  # set when the event was built
        o = self._take(order, order_id, target=target)
        self._bus().emit(order)
        self._update(o, "ACCEPTED", order)
        if symbol in self._driven:
            self._arrive(o)
            return
        bar = self._last_bar.get(symbol)
        if self.fill_model.fill_at == "close" and bar is not None \
                and bar.time_ns == event.time_ns:
            self._work_bar(bar, self._working[symbol], close=True)

    def on_order(self, event: OrderEvent) -> None:
        """Take a strategy's order: round it to its instrument, accept or reject it."""
        known = self._orders.get(event.order_id)
        if known is not None and known.event is event:
            return  # one of this broker's own, already taken
        order_id = event.order_id or f"{self.name}-{next(self._ids)}"
        if known is not None:
            self._reject_new(event, order_id, f"order_id {order_id!r} is already taken")
            return
        if not self._warned_late:
            self._late_order(event)
        o = self._take(event, order_id)
        inst = self.instruments.get(event.symbol)
        if inst is not None:
            o.quantity = inst.quantity(o.quantity)
            buy = o.buy
            if o.limit_price is not None:  # never a worse price than asked
                o.limit_price = inst.price(o.limit_price, up=not buy)
            if o.stop_price is not None:
                o.stop_price = inst.price(o.stop_price, up=buy)
            ref = o.limit_price or o.stop_price or self._last_price(event.symbol)
            why = inst.check(o.quantity, ref) if ref else None
            if why is not None:
                self._reject(o, why, event)
                return
        if event.order_type == "TRAILING_STOP":
            o.trail_extreme = self._last_price(event.symbol)
        self._update(o, "ACCEPTED", event)
        if o.trail_extreme is not None:  # its first level, from the last price
            self._trailed(o, self._trail_stop(o, o.trail_extreme))
        if event.symbol in self._driven:
            self._arrive(o)

    def on_cancel(self, event: CancelEvent) -> None:
        """Cancel a working order, or publish why it cannot be (unknown, already done); on a
        symbol filled on quotes/books with a latency, when the request reaches the venue."""
        if not self._en_route(event):
            self._cancel_now(event)

    def _cancel_now(self, event: CancelEvent) -> None:
        o = self._orders.get(event.order_id)
        if o is None or o.done:
            why = "unknown order_id" if o is None else f"the order is already {o.status}"
            self._error(event, f"cancel {event.order_id!r}: {why}", "CancelRejected")
            return
        self._cancel(o, f"canceled by request #{event.seq}", event)

    def on_replace(self, event: ReplaceEvent) -> None:
        """Change a working order's quantity or prices, or publish why it cannot be (with a
        latency on quotes/books, when the request reaches the venue)."""
        if not self._en_route(event):
            self._replace_now(event)

    def _replace_now(self, event: ReplaceEvent) -> None:
        o = self._orders.get(event.order_id)
        why = None
        if o is None or o.done:
            why = "order_id: unknown" if o is None else f"order_id: the order is already " \
                f"{o.status}"
        elif event.quantity is not None and event.quantity <= o.filled + _EPS:
            why = f"quantity: {event.quantity:g} is not above the {o.filled:g} already filled"
        elif event.limit_price is not None and o.limit_price is None:
            why = f"limit_price: a {o.event.order_type} order has no limit price"
        elif event.stop_price is not None and o.stop_price is None:
            why = f"stop_price: a {o.event.order_type} order has no stop price"
        if why is not None or o is None:
            self._error(event, f"replace {event.order_id!r}: {why}", "ReplaceRejected")
            return
        if event.quantity is not None:
            o.quantity = float(event.quantity)
        if event.limit_price is not None:
            o.limit_price = float(event.limit_price)
        if event.stop_price is not None:
            o.stop_price = float(event.stop_price)
        self._update(o, "REPLACED", event)

    # --- quotes and books (the rules: evlab.execution.fills) -----------------------------
    def _en_route(self, request: CancelEvent | ReplaceEvent) -> bool:
        """Hold a cancel/replace until it reaches the venue (latency, quote/book symbols)."""
        latency = self.fill_model.latency_ns
        if not latency:
            return False
        o = self._orders.get(request.order_id)
        if o is None or o.event.symbol not in self._driven:
            return False
        assert request.time_ns is not None
        self._requests.setdefault(o.event.symbol, []).append(
            (request.time_ns + latency, request))
        return True

    def _arrive(self, o: Order) -> None:
        """Work a new order on its symbol's current state if it is already there."""
        now = self.market.state_ns(o.event.symbol)
        if now is not None and now >= o.arrive_ns:
            self._work_market(o.event.symbol, now, only=o)

    def _work_market(self, symbol: str, now: int, only: Order | None = None) -> None:
        requests = self._requests.get(symbol)
        if requests and only is None:  # the requests that reached the venue, first
            due = [r for r in requests if r[0] <= now]
            if due:
                requests[:] = [r for r in requests if r[0] > now]
                if not requests:
                    del self._requests[symbol]
                for _, request in due:
                    if isinstance(request, CancelEvent):
                        self._cancel_now(request)
                    else:
                        self._replace_now(request)  # type: ignore[arg-type]
        working = self._working.get(symbol)
        if not working:
            return
        if only is not None:
            queue = [only]
        else:
            market = self.market
            ask, bid = market.best(symbol, True), market.best(symbol, False)
            queue = []
            for o in working:
                if now < o.arrive_ns:
                    continue
                e = o.event
                if e.order_type == "LIMIT" and e.time_in_force == "GTC":
                    limit = o.limit_price
                    assert limit is not None
                    if (ask is None or ask > limit) if e.side == "BUY" else \
                            (bid is None or bid < limit):
                        continue  # a resting limit the top does not reach: nothing to do
                queue.append(o)
            if not queue:
                return
            if len(queue) > 1:
                queue.sort(key=_sort_key)
        for o in queue:
            if not o.done:
                self._work_state(o, now)
        working = self._working.get(symbol)
        if working is not None and any(o.done for o in working):
            working[:] = [o for o in working if not o.done]
            if not working:
                del self._working[symbol]

    def _work_state(self, o: Order, now: int) -> None:
        """Work ``o`` on its symbol's market state at event time ``now``."""
        e = o.event
        tif = e.time_in_force
        if tif == "DAY":
            if o.day is None:
                o.day = o.arrive_ns // _DAY_NS
            if now // _DAY_NS > o.day:
                self._finish(o, "EXPIRED", "the day ended", None)
                return
        elif tif == "GTD" and e.expire_time_ns is not None and now >= e.expire_time_ns:
            self._finish(o, "EXPIRED", "its expire time passed", None)
            return
        kind, buy, symbol = e.order_type, o.buy, e.symbol
        market = self.market
        limit = None
        if kind == "LIMIT":
            limit = o.limit_price
        elif kind != "MARKET":
            if not o.triggered:
                ref = market.best(symbol, buy)
                if ref is not None and kind == "TRAILING_STOP":
                    self._trail_to(o, ref)
                if ref is None or o.stop_price is None \
                        or not stop_touched(buy, o.stop_price, ref):
                    if tif in ("IOC", "FOK"):
                        self._finish(o, "CANCELED", f"{tif}: not marketable on its first "
                                     "market state", None)
                    return
                o.triggered = True
                self._update(o, "TRIGGERED", e)
            if kind == "STOP_LIMIT":
                limit = o.limit_price
        wanted = o.remaining
        if o.target is not None and getattr(self.sizer, "at_fill", False):
            best = market.best(symbol, buy)
            if best is None:
                if tif in ("IOC", "FOK"):
                    self._finish(o, "CANCELED", f"{tif}: nothing quoted on its side", None)
                return
            wanted = self._size_at_fill(o, self.portfolio.position(symbol), best)
            if wanted <= _EPS:
                self._finish(o, "CANCELED", "nothing left to trade at the fill", None)
                return
            o.quantity = o.filled + wanted
        if e.reduce_only:
            held = self.portfolio.position(symbol)
            reducible = held if not buy else -held
            if reducible <= _EPS:
                self._finish(o, "CANCELED", "reduce-only: no position to reduce", None)
                return
            wanted = min(wanted, reducible)
        if limit is not None:  # a resting limit the top does not reach: nothing to walk
            best = market.best(symbol, buy)
            if best is None or (best > limit if buy else best < limit):
                if tif in ("IOC", "FOK"):
                    self._finish(o, "CANCELED", f"{tif}: not marketable on its first "
                                 "market state", None)
                return
        quantity, cost, taken = walk(market.levels(symbol, buy), wanted, buy, limit)
        inst = self.instruments.get(symbol)
        if inst is not None and quantity > _EPS:
            lots = inst.quantity(quantity)
            if lots < quantity - _EPS:
                quantity, cost, taken = walk(market.levels(symbol, buy), lots, buy, limit)
        if o.target is not None and buy and quantity > _EPS and not self.portfolio.allow_margin \
                and getattr(self.sizer, "at_fill", False) \
                and self.fill_model.fee(quantity, cost / quantity) + cost > self.portfolio.cash:
            quantity, cost, taken = self._afford(symbol, quantity, cost, limit)
        if tif == "FOK" and quantity < wanted - _EPS * max(1.0, wanted):
            where = "" if limit is None else f" at or better than {limit:g}"
            self._finish(o, "CANCELED", f"FOK: the book holds only {quantity:g} of "
                         f"{wanted:g}{where}", None)
            return
        if quantity <= _EPS:
            if tif == "IOC":
                self._finish(o, "CANCELED", "IOC: nothing marketable on its first market "
                             "state", None)
            return
        price = cost / quantity
        fee = self.fill_model.fee(quantity, price)
        reason = self.portfolio.check(symbol, e.side, quantity, price, fee)
        if reason is not None:
            self._reject(o, f"order {o.order_id} (#{e.seq}) not filled: {reason}", e)
            return
        market.take(symbol, buy, taken)
        self._emit_fill(o, quantity, price, fee, now)
        if tif == "IOC" and not o.done:
            self._finish(o, "CANCELED", "IOC: the rest of its first market state's fill",
                         None)

    def _afford(self, symbol: str, quantity: float, cost: float,
                limit: float | None) -> tuple[float, float, list[tuple[float, float]]]:
        """A signal's buy, sized at the best ask, trimmed to what the cash pays for the walk
        with its commission: scaled by cash over cost once (the average of a smaller walk is
        no higher, so that is affordable), rounded down for a whole-unit sizer."""
        model = self.fill_model
        cash = self.portfolio.cash - model.commission
        quantity *= max(cash, 0.0) / (cost * (1 + model.commission_rate))
        if getattr(self.sizer, "whole", False):
            quantity = float(math.floor(quantity + _EPS))
        return walk(self.market.levels(symbol, True), quantity, True, limit)

    def _trail_to(self, o: Order, price: float) -> None:
        """Move a trailing stop with a market price (the best price seen so far)."""
        extreme = o.trail_extreme
        if extreme is None:
            extreme = price
        else:
            extreme = min(extreme, price) if o.buy else max(extreme, price)
        o.trail_extreme = extreme
        self._trailed(o, self._trail_stop(o, extreme))

    def _trailed(self, o: Order, stop: float) -> None:
        """Set a trailing stop's level; when it moves, publish it (``TRAILED`` with its
        ``stop_price``) so charts and recordings show the broker's own level."""
        if stop != o.stop_price:
            o.stop_price = stop
            self._update(o, "TRAILED", o.event)

    @staticmethod
    def _trail_stop(o: Order, extreme: float) -> float:
        e = o.event
        if e.trail_amount is not None:
            return extreme + e.trail_amount if o.buy else extreme - e.trail_amount
        assert e.trail_bps is not None
        return extreme * (1 + e.trail_bps / 10_000 if o.buy else 1 - e.trail_bps / 10_000)

    # --- the bar's work ------------------------------------------------------------------
    def _work_bar(self, bar: BarEvent, working: list[Order], *, close: bool = False) -> None:
        now = bar.time_ns
        assert now is not None  # set when the event was built
        at_close = self.fill_model.fill_at == "close"
        if close:  # the signal's market orders at this bar's close, now
            queue = [o for o in working if o.active_ns == now and o.event.order_type == "MARKET"]
        else:  # fill_at="close" also fills market orders that met their bar after the signal
            queue = [o for o in working if now > o.active_ns or (now == o.active_ns and (
                o.same_bar or (at_close and o.event.order_type == "MARKET")))]
        if not queue:
            return
        if len(queue) > 1:
            queue.sort(key=_sort_key)
        used = [0.0]  # the bar's volume taken so far (max_volume_fraction)
        i = 0
        while i < len(queue):
            o = queue[i]
            i += 1
            if not o.done:
                self._work(o, bar, at_close, queue, used)
        working[:] = [o for o in working if not o.done]
        if not working:
            self._working.pop(bar.symbol, None)

    def _work(self, o: Order, bar: BarEvent, close: bool, queue: list[Order],
              used: list[float]) -> None:
        e = o.event
        now = bar.time_ns
        assert now is not None
        tif = e.time_in_force
        if tif == "DAY":
            day = now // _DAY_NS
            if o.day is None:
                o.day = day
            elif day > o.day:
                self._finish(o, "EXPIRED", "the day ended", None)
                return
        elif tif == "GTD" and e.expire_time_ns is not None and now >= e.expire_time_ns:
            self._finish(o, "EXPIRED", "its expire time passed", None)
            return
        kind, buy = e.order_type, o.buy
        market = True  # pays slippage
        price: float | None
        if kind == "MARKET":
            price = bar.close if close else bar.open
        elif kind == "LIMIT" or (kind == "STOP_LIMIT" and o.triggered):
            assert o.limit_price is not None
            price = limit_price_on_bar(buy, o.limit_price, bar)
            market = False
        elif kind == "STOP":
            assert o.stop_price is not None
            price = stop_price_on_bar(buy, o.stop_price, bar)
            if price is not None:
                self._update(o, "TRIGGERED", e)
        elif kind == "STOP_LIMIT":
            assert o.stop_price is not None and o.limit_price is not None
            price = stop_price_on_bar(buy, o.stop_price, bar)
            if price is not None:
                o.triggered = True
                self._update(o, "TRIGGERED", e)
                if (price > o.limit_price) if buy else (price < o.limit_price):
                    price = None  # beyond the limit: rests as a limit from the next bar
        else:  # TRAILING_STOP
            price = self._trail(o, bar)
        if price is None:
            if tif in ("IOC", "FOK"):
                self._finish(o, "CANCELED", f"{tif}: not marketable on its first bar", None)
            return
        self._fill(o, bar, price, market, queue, used,
                   at_open=price == bar.open and not (close and kind == "MARKET"))
        if tif == "IOC" and not o.done:
            self._finish(o, "CANCELED", "IOC: the rest of the first bar's fill", None)

    def _trail(self, o: Order, bar: BarEvent) -> float | None:
        buy = o.buy
        extreme = o.trail_extreme if o.trail_extreme is not None else bar.open
        stop = self._trail_stop(o, extreme)
        self._trailed(o, stop)
        price = stop_price_on_bar(buy, stop, bar)
        o.trail_extreme = min(extreme, bar.low) if buy else max(extreme, bar.high)
        return price

    def _fill(self, o: Order, bar: BarEvent, reference: float, market: bool,
              queue: list[Order], used: list[float], at_open: bool) -> None:
        e = o.event
        symbol, side = e.symbol, e.side
        model = self.fill_model
        price = model.price(side, reference) if market and model.slippage_bps else reference
        if e.order_type == "STOP_LIMIT" and o.limit_price is not None:  # never past its limit
            price = min(price, o.limit_price) if o.buy else max(price, o.limit_price)
        held = self.portfolio.position(symbol)
        quantity = o.remaining
        if o.target is not None and getattr(self.sizer, "at_fill", False):
            quantity = self._size_at_fill(o, held, price)
            if quantity <= _EPS:
                self._finish(o, "CANCELED", "nothing left to trade at the fill", None)
                return
            o.quantity = o.filled + quantity
        if e.reduce_only:
            reducible = held if not o.buy else -held
            if reducible <= _EPS:
                self._finish(o, "CANCELED", "reduce-only: no position to reduce", None)
                return
            quantity = min(quantity, reducible)
        cap = model.max_volume_fraction
        if cap is not None:
            room = cap * bar.volume - used[0]
            inst = self.instruments.get(symbol)
            if inst is not None:
                room = inst.quantity(room)
            if quantity > room + _EPS:
                if e.time_in_force == "FOK":
                    self._finish(o, "CANCELED", f"FOK: only {max(room, 0):g} of "
                                 f"{quantity:g} in the bar's volume cap", None)
                    return
                if room <= _EPS:
                    return  # nothing left of this bar's volume: keeps working
                quantity = room
        fee = model.fee(quantity, price)
        reason = self.portfolio.check(symbol, side, quantity, price, fee)
        if reason is not None:
            self._reject(o, f"order {o.order_id} (#{e.seq}) not filled: {reason}", e)
            return
        used[0] += quantity
        assert bar.time_ns is not None
        self._emit_fill(o, quantity, price, fee, bar.time_ns, at_open=at_open, queue=queue)

    def _emit_fill(self, o: Order, quantity: float, price: float, fee: float, time_ns: int, *,
                   at_open: bool = False, queue: list[Order] | None = None) -> None:
        """Publish a fill of ``o`` checked by the portfolio, and what follows from it: the
        order's update, its OCO group, its bracket, the exits of a now flat position."""
        e = o.event
        symbol = e.symbol
        self._bus().emit(create_fill_event(symbol, e.side, quantity, price, fee,
                                           order_id=o.order_id, timestamp=time_ns,
                                           source=self.name), cause=e)
        o.filled += quantity
        o.cost += quantity * price
        done = o.remaining <= _EPS * max(1.0, o.quantity)
        self._update(o, "FILLED" if done else "PARTIALLY_FILLED", e)
        if e.oco_group is not None:
            for other in self._working.get(symbol, ()):
                if other is not o and not other.done and other.event.oco_group == e.oco_group:
                    self._finish(other, "CANCELED", f"OCO: {o.order_id} filled", None)
        if e.take_profit is not None or e.stop_loss is not None:
            self._bracket(o, quantity, price, time_ns, at_open=at_open, queue=queue)
        if abs(self.portfolio.position(symbol)) <= _EPS:
            for other in self._working.get(symbol, ()):
                if other is not o and not other.done and other.event.reduce_only:
                    self._finish(other, "CANCELED", "the position is flat", None)

    def _size_at_fill(self, o: Order, held: float, price: float) -> float:
        """A signal's order sized again at the fill: ``target`` re-sized at ``price`` and the
        equity marked there; a buy trimmed to what the cash pays with its commission."""
        assert o.target is not None
        symbol = o.event.symbol
        if o.target == 0:
            return abs(held) if (held < 0) == o.buy else 0.0
        mark = self.portfolio.prices.get(symbol, price)
        equity = self.portfolio.equity - held * (mark - price)
        size = self.sizer(price, equity)
        if not isinstance(size, (int, float)) or not math.isfinite(size) or size <= 0:
            return 0.0
        delta = (size if o.target > 0 else -size) - held
        if (delta > 0) != o.buy:
            return 0.0
        quantity = abs(delta)
        if o.buy and not self.portfolio.allow_margin:
            model = self.fill_model
            cash = self.portfolio.cash
            affordable = (cash - model.commission) / (price * (1 + model.commission_rate))
            if quantity > affordable:
                whole = getattr(self.sizer, "whole", False)
                quantity = math.floor(affordable + _EPS) if whole else affordable
                quantity = max(quantity, abs(min(held, 0.0)))  # covering is never refused
        return float(quantity)

    def _bracket(self, o: Order, quantity: float, price: float, time_ns: int, *,
                 at_open: bool, queue: list[Order] | None) -> None:
        """Place (or grow) the bracket's children of ``o`` after a fill of ``quantity``."""
        if o.children:
            for child in o.children:
                if not child.done:
                    child.quantity += quantity
            return
        e = o.event
        exit_side = OrderEvent.SELL if o.buy else OrderEvent.BUY
        group = f"{o.order_id}:bracket"
        for kind, level, tag in (("STOP", e.stop_loss, "sl"), ("LIMIT", e.take_profit, "tp")):
            if level is None:
                continue
            child_event = create_order_event(
                e.symbol, exit_side, quantity, kind,
                limit_price=level if kind == "LIMIT" else None,
                stop_price=level if kind == "STOP" else None, oco_group=group,
                reduce_only=True, order_id=f"{o.order_id}-{tag}", parent_id=o.order_id,
                strategy_id=e.strategy_id, timestamp=time_ns, source=self.name)
            child = self._take(child_event, child_event.order_id, latency=0)
            child.parent = o
            o.children.append(child)
            # beyond the market: a long's stop-loss at or above the fill, or take-profit at
            # or below it, fills by its own rule on the next bar
            beyond = (level >= price if kind == "STOP" else level <= price) if o.buy else \
                (level <= price if kind == "STOP" else level >= price)
            if at_open and not beyond and queue is not None:
                child.same_bar = True
                queue.append(child)
            self._bus().emit(child_event, cause=e)
            self._update(child, "ACCEPTED", child_event)

    # --- internals -----------------------------------------------------------------------
    def _take(self, event: OrderEvent, order_id: str, *, target: float | None = None,
              latency: int | None = None) -> Order:
        assert event.time_ns is not None
        t = event.time_ns
        o = Order(event, order_id, next(self._placed), t, float(event.quantity),
                  event.limit_price, event.stop_price, target=target, placed_ns=t,
                  arrive_ns=t + (self.fill_model.latency_ns if latency is None else latency))
        self._orders[order_id] = o
        self._working.setdefault(event.symbol, []).append(o)
        return o

    def _late_order(self, event: OrderEvent) -> None:
        """Warn (once per broker) of an order stamped over a week after its symbol's last
        bar: made outside a handler it took the wall clock (evlab.events), so against
        historical bars it works only from a bar at or after that time: never."""
        bar = self._last_bar.get(event.symbol)
        t = event.time_ns
        if bar is None or t is None or bar.time_ns is None or t - bar.time_ns <= 7 * _DAY_NS:
            return
        self._warned_late = True
        warnings.warn(
            f"{self.name}: order {event.order_id or '(no id)'} for {event.symbol} is stamped "
            f"{pd.Timestamp(t, tz='UTC')}, {(t - bar.time_ns) // _DAY_NS} days after its last "
            f"bar ({pd.Timestamp(bar.time_ns, tz='UTC')}): it fills only on a bar at or after "
            "its time. An event made outside a handler takes the wall clock; pass "
            "timestamp= (e.g. the bar's time) when driving historical bars by hand",
            UserWarning, stacklevel=2)

    def _last_price(self, symbol: str) -> float | None:
        bar = self._last_bar.get(symbol)
        return None if bar is None else bar.close

    def _finish(self, o: Order, status: str, reason: str, cause: Event | None) -> None:
        o.status = status
        o.reason = reason
        self._update(o, status, cause or o.event, reason)

    def _cancel(self, o: Order, reason: str, cause: Event) -> None:
        self._finish(o, "CANCELED", reason, cause)
        working = self._working.get(o.event.symbol)
        if working is not None and o in working:
            working.remove(o)

    def _reject(self, o: Order, reason: str, cause: Event) -> None:
        self._finish(o, "REJECTED", reason, cause)
        working = self._working.get(o.event.symbol)
        if working is not None and o in working:
            working.remove(o)
            if not working:
                self._working.pop(o.event.symbol, None)
        self._error(o.event, reason, "OrderRejected", cause=o.event)

    def _reject_new(self, event: OrderEvent, order_id: str, reason: str) -> None:
        self._bus().emit(create_order_update_event(
            event.symbol, order_id, "REJECTED", remaining_quantity=event.quantity,
            reason=reason, source=self.name), cause=event)
        self._error(event, f"order {order_id}: {reason}", "OrderRejected", cause=event)

    def _update(self, o: Order, status: str, cause: Event, reason: str = "") -> None:
        stop = None
        if status == "TRAILED":
            stop = o.stop_price
        elif status != "REPLACED":  # a replaced order keeps working as it was
            o.status = status
        self._bus().emit(create_order_update_event(
            o.event.symbol, o.order_id, status, filled_quantity=o.filled,
            remaining_quantity=max(o.remaining, 0.0), avg_price=o.avg_price, reason=reason,
            stop_price=stop, source=self.name), cause=cause)

    def _bus(self) -> EventBus:
        bus = self.event_bus or current_bus()
        if bus is None:
            raise RuntimeError(f"{self.name}: no event bus (register the broker first)")
        return bus

    def _error(self, about: Event, message: str, kind: str, cause: Event | None = None) -> None:
        self._bus().emit(create_error_event(f"{self.name}: {message}", error_type=kind,
                                            handler=self.name, original=about, source=self.name),
                         cause=cause)

    def __repr__(self) -> str:
        n = sum(len(w) for w in self._working.values())
        return f"<PaperBroker {self.name!r}: fill at {self.fill_model.fill_at}, {n} working>"
