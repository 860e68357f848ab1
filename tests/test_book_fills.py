"""Fills on quotes and books (issue 13 item 4; the rules: evlab/execution/fills.py), each
case computed by hand, driven through a real EventBus with real events and an OrderBooks on
the bus; then a shipped Binance capture replayed raw through the adapter, the books and the
broker, its fills checked against the book at that moment."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

import evlab
from evlab.books import OrderBooks
from evlab.bus import EventBus
from evlab.events import (
    BookEvent,
    ErrorEvent,
    EventType,
    FillEvent,
    OrderUpdateEvent,
    QuoteEvent,
    SignalEvent,
    create_bar_event,
    create_book_event,
    create_cancel_event,
    create_order_event,
    create_quote_event,
    create_replace_event,
    create_signal_event,
    create_tick_event,
)
from evlab.execution import FillModel, FractionOfEquity, PaperBroker, Portfolio
from evlab.feeds.handler import WebSocketHandler
from evlab.manager import EventManager

MS = 1_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
SYM = "BTCUSDT"


class Session:
    """A bus with a portfolio, a broker, an OrderBooks, and lists of what they publish."""

    def __init__(self, cash: float = 1_000_000.0, **model: object) -> None:
        self.bus = EventBus()
        manager = EventManager(self.bus)
        self.portfolio = Portfolio(cash, allow_short=True)
        self.broker = PaperBroker(self.portfolio, FillModel(**model))  # type: ignore[arg-type]
        manager.register_component("portfolio", self.portfolio,
                                   [EventType.BAR, EventType.FILL], priority=20)
        manager.register_component("broker", self.broker, PaperBroker.EVENTS, priority=10)
        self.books = OrderBooks(self.bus)
        self.fills: list[FillEvent] = []
        self.updates: list[OrderUpdateEvent] = []
        self.errors: list[ErrorEvent] = []
        self.bus.register(EventType.FILL, self.fills.append)
        self.bus.register(EventType.ORDER_UPDATE, self.updates.append)
        self.bus.register(EventType.ERROR, self.errors.append)

    def book(self, t: int, bids=(), asks=(), *, snapshot: bool = False) -> None:
        self.bus.emit(create_book_event(SYM, t, bids, asks, snapshot=snapshot))

    def order(self, t: int, side: str, quantity: float, kind: str = "MARKET",
              limit: float | None = None, **kw: object) -> str:
        order_id = str(kw.pop("order_id", f"o{len(self.broker.orders_frame()) + 1}"))
        self.bus.emit(create_order_event(SYM, side, quantity, kind, limit, order_id=order_id,
                                         timestamp=t, **kw))  # type: ignore[arg-type]
        return order_id

    def statuses(self, order_id: str) -> list[str]:
        return [u.status for u in self.updates if u.order_id == order_id]

    def last(self, order_id: str) -> OrderUpdateEvent:
        return [u for u in self.updates if u.order_id == order_id][-1]


BIDS = [(99.0, 3.0), (98.0, 4.0)]
ASKS = [(100.0, 1.0), (101.0, 2.0), (102.0, 5.0)]


def booked(**model: object) -> Session:
    s = Session(**model)
    s.book(T0, BIDS, ASKS, snapshot=True)
    return s


# --- book walking, partial fills, our own liquidity ---------------------------------------

def test_a_market_order_walks_the_book_in_one_fill_at_the_average_price():
    s = booked()
    oid = s.order(T0, "BUY", 2.5)
    # 1 at 100 and 1.5 at 101: 251.5 / 2.5
    [fill] = s.fills
    assert (fill.quantity, fill.price, fill.time_ns) == (2.5, pytest.approx(100.6), T0)
    assert s.statuses(oid) == ["ACCEPTED", "FILLED"]
    assert s.last(oid).avg_price == pytest.approx(100.6)
    assert s.portfolio.position(SYM) == 2.5
    sell = s.order(T0, "SELL", 5)  # 3 at 99, 2 at 98: 493 / 5
    assert s.fills[-1].price == pytest.approx(98.6) and s.statuses(sell)[-1] == "FILLED"


def test_what_the_book_cannot_fill_keeps_working_and_fills_on_later_states():
    s = booked()
    oid = s.order(T0, "BUY", 10)  # the book holds 8: 100 + 202 + 510 = 812
    assert (s.fills[0].quantity, s.fills[0].price) == (8.0, pytest.approx(101.5))
    assert s.last(oid).status == "PARTIALLY_FILLED" and s.last(oid).remaining_quantity == 2
    assert [o.order_id for o in s.broker.open_orders] == [oid]
    # a change below the top: the levels it took are still taken (shown unchanged), 103 is new
    s.book(T0 + MS, asks=[(103.0, 4.0)])
    assert (s.fills[1].quantity, s.fills[1].price, s.fills[1].time_ns) == (2.0, 103.0, T0 + MS)
    assert s.last(oid).status == "FILLED"
    assert s.last(oid).avg_price == pytest.approx((812 + 206) / 10)
    assert s.broker.open_orders == []


def test_a_second_order_in_the_same_book_state_cannot_take_the_same_level_again():
    s = booked()
    s.order(T0, "BUY", 1)
    s.order(T0, "BUY", 1)
    assert [f.price for f in s.fills] == [100.0, 101.0]
    s.order(T0, "BUY", 2)  # 1 left at 101, then 102
    assert s.fills[-1].price == pytest.approx(101.5)
    # the venue restates 100 (it never saw our paper orders): that size is there again
    s.book(T0 + MS, asks=[(100.0, 1.0)])
    s.order(T0 + MS, "BUY", 1)
    assert s.fills[-1].price == 100.0


# --- limits, stops ------------------------------------------------------------------------

def test_a_limit_fills_for_the_size_at_or_better_than_its_price_and_rests():
    s = booked()
    oid = s.order(T0, "BUY", 3, "LIMIT", 101.0)  # 1 at 100, 2 at 101
    assert s.fills[-1].price == pytest.approx(302 / 3) and s.last(oid).status == "FILLED"
    oid = s.order(T0, "BUY", 4, "LIMIT", 102.0)  # 5 at 102 are left for it
    assert s.fills[-1].quantity == 4
    low = s.order(T0, "BUY", 2, "LIMIT", 99.5)  # nothing at or below 99.5: rests
    assert s.last(low).status == "ACCEPTED"
    s.book(T0 + MS, asks=[(99.4, 0.5)])  # the ask crosses it: 0.5 fills, at 99.4
    assert (s.fills[-1].quantity, s.fills[-1].price) == (0.5, 99.4)
    assert s.last(low).status == "PARTIALLY_FILLED"
    s.bus.emit(create_tick_event(SYM, T0 + 2 * MS, 99.5, 10.0))  # a trade at its price
    assert s.last(low).status == "PARTIALLY_FILLED"  # its queue place is unknown: waits


def test_stops_trigger_on_the_quote_stream_and_on_trades():
    s = booked()
    s.order(T0, "BUY", 5)  # long 5 (1 @ 100, 2 @ 101, 2 @ 102)
    stop = s.order(T0, "SELL", 4, "STOP", stop_price=98.5)
    assert s.statuses(stop) == ["ACCEPTED"]  # best bid 99 > 98.5
    s.bus.emit(create_tick_event(SYM, T0 + MS, 98.4, 0.1))  # a trade through it
    assert s.statuses(stop) == ["ACCEPTED", "TRIGGERED"]
    assert len(s.fills) == 1  # it fills on the first market state at or after the trade
    s.book(T0 + 2 * MS, bids=[(99.0, 0.0)])  # the 99 bid is gone: 4 of 98
    assert (s.fills[-1].quantity, s.fills[-1].price) == (4.0, 98.0)
    assert s.last(stop).status == "FILLED"
    s = booked()
    buy_stop = s.order(T0, "BUY", 1, "STOP", stop_price=100.5)  # the best ask is 100
    assert s.statuses(buy_stop) == ["ACCEPTED"]
    s.book(T0 + MS, asks=[(100.0, 0.0)])  # the best ask (101) reaches the stop: 1 at 101
    assert s.statuses(buy_stop) == ["ACCEPTED", "TRIGGERED", "FILLED"]
    assert (s.fills[-1].price, s.fills[-1].time_ns) == (101.0, T0 + MS)


def test_a_stop_limit_triggered_on_the_book_fills_down_to_its_limit_and_rests():
    s = booked()
    s.order(T0, "BUY", 5)
    oid = s.order(T0, "SELL", 5, "STOP_LIMIT", 98.5, stop_price=99.5)  # bid 99 <= 99.5
    assert s.statuses(oid) == ["ACCEPTED", "TRIGGERED", "PARTIALLY_FILLED"]
    assert (s.fills[-1].quantity, s.fills[-1].price) == (3.0, 99.0)  # 98 is under 98.5
    s.book(T0 + MS, bids=[(98.6, 1.0)])  # a bid at or above the limit: 1 more
    assert (s.fills[-1].quantity, s.fills[-1].price) == (1.0, 98.6)
    assert s.last(oid).status == "PARTIALLY_FILLED" and s.last(oid).remaining_quantity == 1


def test_a_trailing_stop_trails_the_best_bid():
    s = booked()
    s.order(T0, "BUY", 1)
    trail = s.order(T0, "SELL", 1, "TRAILING_STOP", trail_amount=0.5)
    assert s.broker.order(trail).stop_price == 98.5  # from the best bid when it arrived
    s.book(T0 + MS, bids=[(99.8, 1.0)])  # highest bid 99.8: stop 99.3
    assert s.broker.order(trail).stop_price == pytest.approx(99.3)
    # each move of the level is published with it (what the charts draw)
    assert [(u.status, u.stop_price) for u in s.updates if u.order_id == trail] == [
        ("ACCEPTED", None), ("TRAILED", 98.5), ("TRAILED", pytest.approx(99.3))]
    s.book(T0 + 2 * MS, bids=[(99.8, 0.0)])  # best bid back to 99 <= 99.3: triggered
    assert s.statuses(trail) == ["ACCEPTED", "TRAILED", "TRAILED", "TRIGGERED", "FILLED"]
    assert s.fills[-1].price == 99.0


# --- quotes only -------------------------------------------------------------------------

def test_with_quotes_only_the_quote_size_is_the_depth_and_none_is_unlimited():
    s = Session()
    s.bus.emit(create_quote_event(SYM, T0, 99.0, 100.0, 3.0, 2.0))
    oid = s.order(T0, "BUY", 3)
    assert (s.fills[-1].quantity, s.fills[-1].price) == (2.0, 100.0)
    assert s.last(oid).status == "PARTIALLY_FILLED"
    s.bus.emit(create_quote_event(SYM, T0 + MS, 99.0, 100.0, 3.0, 2.0))  # the same top
    assert len(s.fills) == 1  # what we took is still taken
    s.bus.emit(create_quote_event(SYM, T0 + 2 * MS, 99.5, 100.5, None, None))  # no sizes
    assert (s.fills[-1].quantity, s.fills[-1].price) == (1.0, 100.5)
    s.order(T0 + 2 * MS, "SELL", 1_000)  # unlimited at the bid
    assert (s.fills[-1].quantity, s.fills[-1].price) == (1_000.0, 99.5)
    s.bus.emit(create_quote_event(SYM, T0 + 3 * MS, None, 101.0, None, 1.0))  # no bids
    s.order(T0 + 3 * MS, "SELL", 1)
    assert len(s.fills) == 3  # an empty side fills nothing: it waits
    s.bus.emit(create_quote_event(SYM, T0 + 4 * MS, 98.0, 101.0, 1.0, 1.0))
    assert (s.fills[-1].quantity, s.fills[-1].price) == (1.0, 98.0)


def test_a_symbol_with_a_book_ignores_its_quotes_and_bars_for_fills():
    s = booked()
    resting = s.order(T0, "BUY", 1, "LIMIT", 95.0)
    # a venue ticker of the same symbol crossing the limit: the book drives, not this
    s.bus.emit(create_quote_event(SYM, T0 + MS, 90.0, 94.0, 1.0, 1.0))
    # a bar that traded through the limit: bars fill nothing once quotes/books drive
    s.bus.emit(create_bar_event(SYM, T0 + 2 * MS, 96.0, 97.0, 90.0, 96.0, 100.0))
    assert s.statuses(resting) == ["ACCEPTED"] and s.fills == []


def test_orders_on_a_symbol_with_only_bars_still_fill_on_bars():
    s = booked()
    bar = "2024-01-01 00:01"
    s.bus.emit(create_bar_event("ETHUSDT", bar, 10.0, 11.0, 9.0, 10.5, 100.0))
    s.bus.emit(create_order_event("ETHUSDT", "BUY", 2, timestamp=bar))
    s.bus.emit(create_bar_event("ETHUSDT", "2024-01-01 00:02", 10.6, 11.0, 9.0, 10.5, 100.0))
    assert [(f.symbol, f.price) for f in s.fills] == [("ETHUSDT", 10.6)]


def test_a_stale_book_fills_nothing_until_its_next_snapshot():
    s = Session()
    s.book(T0, BIDS, ASKS, snapshot=True)
    s.bus.emit(create_book_event(SYM, T0 + MS, asks=[(100.0, 0.0)], first_update_id=10,
                                 last_update_id=11))  # ids on a book that had none: applies
    s.bus.emit(create_book_event(SYM, T0 + 2 * MS, asks=[(101.0, 0.0)], first_update_id=15,
                                 last_update_id=16))  # 12..14 missing: a gap, stale
    assert s.books[SYM].stale
    oid = s.order(T0 + 2 * MS, "BUY", 1)
    assert s.statuses(oid) == ["ACCEPTED"] and s.fills == []
    s.bus.emit(create_book_event(SYM, T0 + 3 * MS, BIDS, [(100.5, 1.0)], snapshot=True,
                                 last_update_id=20))
    assert (s.fills[-1].price, s.fills[-1].time_ns) == (100.5, T0 + 3 * MS)


# --- latency ------------------------------------------------------------------------------

def test_latency_fills_at_the_first_state_at_or_after_arrival():
    s = booked(latency=datetime.timedelta(milliseconds=5))
    assert s.broker.fill_model.latency_ns == 5 * MS
    oid = s.order(T0, "BUY", 1)
    assert s.statuses(oid) == ["ACCEPTED"] and s.fills == []  # on its way
    s.book(T0 + 2 * MS, asks=[(100.0, 0.0)])  # before arrival: the best ask goes to 101
    assert s.fills == []
    s.book(T0 + 5 * MS, asks=[(101.0, 0.0)])  # arrival: the best ask is 102
    assert (s.fills[0].price, s.fills[0].time_ns) == (102.0, T0 + 5 * MS)
    # without latency the same order takes the book it was placed on
    s0 = booked()
    s0.order(T0, "BUY", 1)
    assert s0.fills[0].price == 100.0


def test_latency_as_ns_or_pandas_timedelta_and_bad_values():
    assert FillModel(latency=7).latency_ns == 7
    assert FillModel(latency=np.int64(9)).latency_ns == 9
    assert FillModel(latency=pd.Timedelta(microseconds=3)).latency_ns == 3_000
    for bad in (-1, 1.5, "5ms", datetime.timedelta(seconds=-1)):
        with pytest.raises(ValueError, match=r"FillModel\.latency"):
            FillModel(latency=bad)  # type: ignore[arg-type]


# --- cancel / replace races ---------------------------------------------------------------

def test_a_cancel_that_arrives_after_the_fill_is_rejected_and_the_fill_stands():
    s = booked(latency=5 * MS)
    oid = s.order(T0, "BUY", 1, "LIMIT", 99.5)  # arrives at +5 ms
    s.bus.emit(create_cancel_event(oid, timestamp=T0 + 3 * MS))  # arrives at +8 ms
    s.book(T0 + 6 * MS, asks=[(99.4, 1.0)])  # crosses the limit: fills
    assert s.last(oid).status == "FILLED"
    s.book(T0 + 8 * MS, bids=[(99.1, 1.0)])  # the cancel reaches the venue now
    [error] = [e for e in s.errors if e.error_type == "CancelRejected"]
    assert "already FILLED" in error.message and oid in error.message
    assert s.portfolio.position(SYM) == 1.0 and s.last(oid).status == "FILLED"


def test_a_cancel_that_arrives_first_cancels_before_the_state_can_fill_it():
    s = booked(latency=5 * MS)
    oid = s.order(T0, "BUY", 1, "LIMIT", 99.5)
    s.bus.emit(create_cancel_event(oid, timestamp=T0 + MS))  # arrives at +6 ms
    s.book(T0 + 6 * MS, asks=[(99.4, 1.0)])  # the cancel is handled first
    assert s.statuses(oid) == ["ACCEPTED", "CANCELED"] and s.fills == []
    assert not [e for e in s.errors if e.error_type == "CancelRejected"]


def test_a_cancel_after_the_fill_without_latency_is_rejected_with_the_reason():
    s = booked()
    oid = s.order(T0, "BUY", 1)
    s.bus.emit(create_cancel_event(oid, timestamp=T0))
    [error] = [e for e in s.errors if e.error_type == "CancelRejected"]
    assert "already FILLED" in error.message
    assert s.portfolio.position(SYM) == 1.0


def test_a_replace_that_arrives_after_the_fill_is_rejected_and_the_fill_stands():
    s = booked(latency=5 * MS)
    oid = s.order(T0, "BUY", 2, "LIMIT", 99.5)  # arrives at +5 ms
    s.bus.emit(create_replace_event(oid, limit_price=99.0, timestamp=T0 + 4 * MS))
    s.book(T0 + 6 * MS, asks=[(99.4, 5.0)])  # crosses 99.5: 2 at 99.4 fill
    s.book(T0 + 9 * MS, bids=[(99.1, 1.0)])  # the replace arrives (+9 ms): too late
    [error] = [e for e in s.errors if e.error_type == "ReplaceRejected"]
    assert "already FILLED" in error.message
    assert (s.fills[0].quantity, s.fills[0].price) == (2.0, 99.4)
    assert s.broker.order(oid).limit_price == 99.5


def test_a_replace_after_a_partial_fill():
    s = booked()
    oid = s.order(T0, "BUY", 3, "LIMIT", 100.0)  # 1 at 100 fills, 2 rest
    assert s.last(oid).status == "PARTIALLY_FILLED"
    s.bus.emit(create_replace_event(oid, quantity=1.0, timestamp=T0))  # not above the 1 filled
    [error] = [e for e in s.errors if e.error_type == "ReplaceRejected"]
    assert "quantity: 1 is not above the 1 already filled" in error.message
    s.bus.emit(create_replace_event(oid, quantity=2.0, limit_price=101.0, timestamp=T0))
    assert s.statuses(oid)[-1] == "REPLACED"  # works at the new limit from the next state
    s.book(T0 + MS, bids=[(99.2, 1.0)])  # any new state: 101 holds 2, it takes 1
    assert (s.fills[-1].quantity, s.fills[-1].price) == (1.0, 101.0)
    assert s.last(oid).status == "FILLED" and s.last(oid).filled_quantity == 2.0
    assert s.last(oid).avg_price == pytest.approx(100.5)


# --- time in force ------------------------------------------------------------------------

def test_ioc_and_fok_on_a_book():
    s = booked()
    ioc = s.order(T0, "BUY", 10, time_in_force="IOC")  # 8 fill, 2 canceled
    assert s.fills[-1].quantity == 8.0 and s.statuses(ioc) == ["ACCEPTED", "PARTIALLY_FILLED",
                                                               "CANCELED"]
    assert "IOC" in s.last(ioc).reason
    s = booked()
    fok = s.order(T0, "BUY", 10, time_in_force="FOK")
    assert s.fills == [] and s.statuses(fok) == ["ACCEPTED", "CANCELED"]
    assert s.last(fok).reason == "FOK: the book holds only 8 of 10"
    fok_limit = s.order(T0, "BUY", 3, "LIMIT", 100.5, time_in_force="FOK")
    assert s.last(fok_limit).reason == "FOK: the book holds only 1 of 3 at or better than 100.5"
    whole = s.order(T0, "BUY", 3, "LIMIT", 101.0, time_in_force="FOK")
    assert s.statuses(whole)[-1] == "FILLED" and s.fills[-1].price == pytest.approx(302 / 3)
    late = s.order(T0, "BUY", 1, "LIMIT", 90.0, time_in_force="IOC")  # not marketable
    assert s.statuses(late) == ["ACCEPTED", "CANCELED"]


def test_day_and_gtd_orders_expire_on_the_book():
    s = Session()
    late = T0 - 60 * 10**9  # 2023-12-31 23:59
    s.book(late, BIDS, ASKS, snapshot=True)
    day = s.order(late, "BUY", 1, "LIMIT", 95.0, time_in_force="DAY")
    gtd = s.order(late, "BUY", 1, "LIMIT", 95.0, time_in_force="GTD",
                  expire_time="2024-01-01 00:00:30")
    s.book(T0 + MS, bids=[(99.5, 1.0)])  # the next UTC day: the DAY order is done
    assert s.last(day).status == "EXPIRED" and s.last(gtd).status == "ACCEPTED"
    # a state at the expire time expires it first, even one that crosses it
    s.book(T0 + 30 * 10**9, bids=[(99.5, 0.0), (99.0, 0.0), (98.0, 0.0), (93.0, 1.0)],
           asks=[(94.0, 5.0)])
    assert s.last(gtd).status == "EXPIRED" and s.fills == []


# --- brackets -----------------------------------------------------------------------------

def test_a_bracket_entry_on_the_book_places_children_that_work_from_the_next_state():
    s = booked()
    entry = s.order(T0, "BUY", 1, take_profit=104.0, stop_loss=97.0)
    assert s.fills[-1].price == 100.0
    children = [o.order_id for o in s.broker.open_orders]
    assert children == [f"{entry}-sl", f"{entry}-tp"]
    # the market moves up: the take-profit's bids, 0.4 at 104.5 and 0.6 of 104
    s.book(T0 + MS, bids=[(104.5, 0.4), (104.0, 1.0)],
           asks=[(100.0, 0.0), (101.0, 0.0), (102.0, 0.0), (105.0, 1.0)])
    assert s.fills[-1].price == pytest.approx(0.4 * 104.5 + 0.6 * 104.0)
    assert s.last(f"{entry}-tp").status == "FILLED"
    assert s.last(f"{entry}-sl").status == "CANCELED" and s.portfolio.position(SYM) == 0


# --- a shipped capture, end to end --------------------------------------------------------

class Trader:
    """Places, at its ``at``-th quote of the books, a market buy of three times the best
    ask's size, then a buy limit at the second ask for more than the book holds there;
    notes the book at each fill."""

    symbol: str | None = None  # None: the books' quotes of any symbol count

    def __init__(self, books: OrderBooks, at: int) -> None:
        self.books, self.at, self.seen = books, at, 0
        self.bus: EventBus | None = None
        self.placed: dict[str, tuple[list[tuple[float, float]], float]] = {}
        self.time_ns: int | None = None
        self.new: list[FillEvent] = []
        self.checked: list[tuple[FillEvent, list[tuple[float, float]],
                                 list[tuple[float, float]]]] = []

    def set_event_bus(self, bus: EventBus) -> None:
        self.bus = bus

    def on_quote(self, quote: QuoteEvent) -> None:
        if quote.source != "orderbooks" or self.symbol not in (None, quote.symbol):
            return
        self.seen += 1
        if self.seen != self.at:
            return
        assert self.bus is not None and quote.ask_size is not None
        self.time_ns = quote.time_ns
        size = quote.ask_size * 3
        self.placed["mkt"] = (self.books[quote.symbol].asks(50), size)
        self.bus.emit(create_order_event(quote.symbol, "BUY", size, order_id="mkt"))
        self.then(quote)

    def then(self, quote: QuoteEvent) -> None:
        """The second order, placed after the market buy on the same book state."""
        assert self.bus is not None
        asks = self.books[quote.symbol].asks(50)
        limit = asks[1][0]
        self.placed["lmt"] = (asks, limit)
        self.bus.emit(create_order_event(quote.symbol, "BUY", asks[1][1] * 10, "LIMIT", limit,
                                         order_id="lmt"))

    def on_fill(self, fill: FillEvent) -> None:
        self.new.append(fill)

    def after_book(self, event: BookEvent) -> None:
        """Runs after the OrderBooks applied ``event``: the state the broker filled on."""
        for fill in self.new:
            book = self.books[fill.symbol]
            self.checked.append((fill, book.asks(50), book.bids(50)))
        self.new.clear()


def by_hand(levels: list[tuple[float, float]], quantity: float,
            limit: float | None = None) -> tuple[float, float]:
    """The quantity and average price of walking ``levels`` for ``quantity``."""
    left, cost = quantity, 0.0
    for price, size in levels:
        if left == 0 or (limit is not None and price > limit):
            break
        take = min(size, left)
        cost += take * price
        left -= take
    return quantity - left, cost / (quantity - left)


async def test_a_binance_capture_replayed_raw_fills_against_the_book_of_that_moment():
    captures = evlab.datasets.datasets_dir() / "cryptofeed_captures"
    recording = evlab.load_capture(captures / "BINANCE.ws.1.0",
                                   http=captures / "BINANCE.http.0.0")
    bus = EventBus()
    manager = EventManager(bus)
    handler = WebSocketHandler("market_data_handler")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    portfolio = Portfolio(10_000_000.0)
    broker = PaperBroker(portfolio, FillModel(commission_rate=0.001))
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
    books = OrderBooks(bus)
    trader = Trader(books, at=20)
    manager.register_component("trader", trader, [EventType.QUOTE, EventType.FILL])
    bus.register(EventType.BOOK, trader.after_book, priority=-10)
    updates: list[OrderUpdateEvent] = []
    bus.register(EventType.ORDER_UPDATE, updates.append)
    await evlab.Replayer(recording, bus, what="raw").run_async()

    assert trader.seen > 20, "the capture's books published too few quotes"
    fills: dict[str, list[FillEvent]] = {"mkt": [], "lmt": []}
    for fill, _, _ in trader.checked:
        fills[fill.order_id].append(fill)
    # the market order: at once, on the book the strategy saw, walked for 3x the top's size
    asks, size = trader.placed["mkt"]
    assert asks[0][1] * 3 > asks[0][1] and size > asks[0][1]
    market = fills["mkt"][0]
    quantity, average = by_hand(asks, size)
    assert (market.quantity, market.time_ns) == (pytest.approx(quantity), trader.time_ns)
    assert market.price == pytest.approx(average, rel=1e-12)
    assert market.price > asks[0][0]  # it walked past the best ask
    assert market.commission == pytest.approx(0.001 * quantity * average)
    assert [u.status for u in updates if u.order_id == "mkt"] == ["ACCEPTED", "FILLED"]
    # the limit, in the same book state: what the market order left at or under its price
    # (the best ask is used up, the second level less what the market order took there)
    _, limit = trader.placed["lmt"]
    left = []
    rest = size
    for price, shown in asks:
        took = min(rest, shown)
        rest -= took
        if shown - took > 0:
            left.append((price, shown - took))
    first = fills["lmt"][0]
    quantity, average = by_hand(left, asks[1][1] * 10, limit)
    assert (first.quantity, first.time_ns) == (pytest.approx(quantity), trader.time_ns)
    assert first.price == pytest.approx(average, rel=1e-12) and first.price == limit
    for fill, ask_levels, _ in trader.checked[2:]:  # any later fill: at or under its limit
        assert fill.order_id == "lmt" and fill.price <= limit
        assert fill.quantity <= sum(q for p, q in ask_levels if p <= limit) + 1e-9
    lmt = [u for u in updates if u.order_id == "lmt"]
    assert [u.status for u in lmt[:2]] == ["ACCEPTED", "PARTIALLY_FILLED"]
    assert lmt[-1].filled_quantity == pytest.approx(sum(f.quantity for f in fills["lmt"]))
    symbol = market.symbol
    assert portfolio.position(symbol) == pytest.approx(
        sum(f.quantity for f in fills["mkt"] + fills["lmt"]))


# --- recorded and replayed ----------------------------------------------------------------

def test_a_book_session_recorded_to_parquet_replays_to_the_same_fills(tmp_path):
    s = Session(latency=2 * MS)
    with evlab.record(s.bus) as recording:
        s.book(T0, BIDS, ASKS, snapshot=True)
        s.order(T0, "BUY", 2.5, order_id="walk")
        s.order(T0, "BUY", 3, "LIMIT", 99.5, order_id="rest")
        s.bus.emit(create_cancel_event("walk", timestamp=T0 + MS))  # too late: filled at +2
        s.book(T0 + 2 * MS, bids=[(99.2, 1.0)])
        s.book(T0 + 3 * MS, asks=[(99.4, 1.0)])
    path = recording.save(tmp_path / "book_fills.parquet")
    again = Session(latency=2 * MS)
    evlab.Replayer(evlab.load_recording(path), again.bus).run()  # the roots: books, orders

    def seen(session: Session) -> list[tuple[object, ...]]:
        return [(f.order_id, f.quantity, f.price, f.time_ns) for f in session.fills]

    assert seen(s) == [("walk", 2.5, pytest.approx(100.6), T0 + 2 * MS),
                       ("rest", 1.0, 99.4, T0 + 3 * MS)]
    assert seen(again) == seen(s)
    assert [(u.order_id, u.status) for u in again.updates] == \
        [(u.order_id, u.status) for u in s.updates]
    assert [e.error_type for e in again.errors] == ["CancelRejected"]


class StopTrader(Trader):
    """At its ``at``-th book quote of ``symbol``: a market buy of three times the best ask's
    size, and a protective sell stop for it two ticks under the best bid."""

    def __init__(self, books: OrderBooks, at: int, symbol: str, tick: float) -> None:
        super().__init__(books, at)
        self.symbol, self.tick = symbol, tick
        self.stop = 0.0

    def then(self, quote: QuoteEvent) -> None:
        assert self.bus is not None and quote.bid is not None
        size = self.placed["mkt"][1]
        self.stop = round(quote.bid - 2 * self.tick, 10)
        self.bus.emit(create_order_event(quote.symbol, "SELL", size, "STOP",
                                         stop_price=self.stop, order_id="stp"))


async def test_a_coinbase_capture_replayed_raw_fills_a_stop_on_the_bids_of_that_moment():
    captures = evlab.datasets.datasets_dir() / "cryptofeed_captures"
    bus = EventBus()
    manager = EventManager(bus)
    handler = WebSocketHandler("market_data_handler")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    portfolio = Portfolio(10_000_000.0)
    broker = PaperBroker(portfolio)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
    books = OrderBooks(bus)
    trader = StopTrader(books, at=50, symbol="SKL-USD", tick=0.0001)
    manager.register_component("trader", trader, [EventType.QUOTE, EventType.FILL])
    bus.register(EventType.BOOK, trader.after_book, priority=-10)
    updates: list[OrderUpdateEvent] = []
    bus.register(EventType.ORDER_UPDATE, updates.append)
    await evlab.Replayer(evlab.load_capture(captures / "COINBASE.ws.28.0"), bus,
                         what="raw").run_async()

    [(market, _, _), (stop, _, bids)] = trader.checked
    quantity, average = by_hand(*trader.placed["mkt"])
    assert (market.order_id, market.time_ns) == ("mkt", trader.time_ns)
    assert (market.quantity, market.price) == (pytest.approx(quantity), pytest.approx(average))
    # the stop: triggered when the best bid came down to it, then sold into the bids of that
    # book state, walking them for the whole position
    assert [u.status for u in updates if u.order_id == "stp"] == ["ACCEPTED", "TRIGGERED",
                                                                  "FILLED"]
    assert stop.order_id == "stp" and stop.time_ns > trader.time_ns
    assert bids[0][0] <= trader.stop
    quantity, average = by_hand(bids, market.quantity)
    assert (stop.quantity, stop.price) == (pytest.approx(quantity), pytest.approx(average))
    assert stop.price < bids[0][0]  # more than the best bid held: it walked
    assert portfolio.position("SKL-USD") == pytest.approx(0.0, abs=1e-9)


def test_a_signal_sized_at_the_fill_is_trimmed_to_what_the_cash_pays_for_the_walk():
    s = Session(cash=1_000.0, commission_rate=0.001)
    s.broker.sizer = FractionOfEquity(1.0, whole=False)
    s.book(T0, [(99.0, 5.0)], [(100.0, 5.0), (110.0, 10.0)], snapshot=True)
    s.bus.emit(create_signal_event(SignalEvent.BUY, 100.0, SYM, "t", timestamp=T0))
    # sized at the ask with its fee: 1000 / 100.1 units; their walk, 5 @ 100 and the rest
    # @ 110, costs more than the cash: scaled by 1000 / (that cost * 1.001) once
    [fill] = s.fills
    sized = 1_000 / 100.1
    quantity = sized * 1_000 / ((500 + (sized - 5) * 110) * 1.001)
    assert fill.quantity == pytest.approx(quantity)
    assert fill.price == pytest.approx((500 + (quantity - 5) * 110) / quantity)
    assert 0 <= s.portfolio.cash < 5 and not s.errors
    s = Session(cash=1_000.0)  # whole units: 9 (5 @ 100 + 4 @ 110 = 940)
    s.book(T0, [(99.0, 5.0)], [(100.0, 5.0), (110.0, 10.0)], snapshot=True)
    s.broker.sizer = FractionOfEquity(1.0)
    s.bus.emit(create_signal_event(SignalEvent.BUY, 100.0, SYM, "t", timestamp=T0))
    assert (s.fills[0].quantity, s.fills[0].price) == (9.0, pytest.approx(940 / 9))
