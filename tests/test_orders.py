"""Orders beyond market orders: the events (validation naming the field), then the paper
broker's bar fill rules (evlab/execution/fills.py), each case computed by hand."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest

import evlab
from evlab.bus import EventBus
from evlab.core import events as guide
from evlab.events import (
    CancelEvent,
    ErrorEvent,
    EventType,
    FillEvent,
    OrderEvent,
    OrderUpdateEvent,
    ReplaceEvent,
    create_bar_event,
    create_cancel_event,
    create_order_event,
    create_order_update_event,
    create_replace_event,
    create_signal_event,
)
from evlab.execution import (
    ORDER_COLUMNS,
    FillModel,
    FixedQuantity,
    Instrument,
    PaperBroker,
    Portfolio,
)
from evlab.manager import EventManager

# --- events ------------------------------------------------------------------------------


def test_the_new_names_are_exported_from_both_import_paths():
    for name in ("CancelEvent", "ReplaceEvent", "OrderUpdateEvent", "create_cancel_event",
                 "create_replace_event", "create_order_update_event"):
        assert getattr(evlab, name) is getattr(guide, name)
    assert (EventType.CANCEL, EventType.REPLACE, EventType.ORDER_UPDATE) == \
        ("cancel", "replace", "order_update")
    assert CancelEvent.type == EventType.CANCEL and ReplaceEvent.type == EventType.REPLACE
    assert OrderUpdateEvent.type == EventType.ORDER_UPDATE


def test_order_types_and_their_fields():
    o = create_order_event("AAPL", "BUY", 10, "STOP_LIMIT", 101.0, stop_price=100.0,
                           time_in_force="GTD", expire_time="2024-01-05", take_profit=110.0,
                           stop_loss=95.0, oco_group="g", order_id="a", timestamp=0)
    assert (o.order_type, o.limit_price, o.stop_price, o.take_profit, o.stop_loss) == \
        ("STOP_LIMIT", 101.0, 100.0, 110.0, 95.0)
    assert o.expire_time_ns == 1_704_412_800_000_000_000 and o.oco_group == "g"
    assert not o.is_plain_market
    t = create_order_event("AAPL", "SELL", 1, "TRAILING_STOP", trail_bps=50, timestamp=0)
    assert t.trail_bps == 50 and t.trail_amount is None
    m = create_order_event("AAPL", "BUY", 1, timestamp=0)
    assert m.is_plain_market and m.time_in_force == "GTC" and m.parent_id == ""
    # the positional constructor of before still builds the same order
    assert OrderEvent("AAPL", "BUY", 1.0, "LIMIT", 99.0, "x", time_ns=0).limit_price == 99.0


@pytest.mark.parametrize(("kwargs", "field", "why"), [
    ({"order_type": "LIMIT"}, "limit_price", "needs a limit price"),
    ({"order_type": "STOP"}, "stop_price", "needs a stop price"),
    ({"order_type": "STOP_LIMIT", "limit_price": 10.0}, "stop_price", "needs a stop price"),
    ({"order_type": "MARKET", "limit_price": 10.0}, "limit_price", "has no limit price"),
    ({"order_type": "LIMIT", "limit_price": -1.0}, "limit_price", "must be positive"),
    ({"order_type": "LIMIT", "limit_price": math.nan}, "limit_price", "must be finite"),
    ({"order_type": "STOP", "stop_price": math.nan}, "stop_price", "must be finite"),
    ({"order_type": "TRAILING_STOP"}, "trail_amount", "exactly one of"),
    ({"order_type": "TRAILING_STOP", "trail_amount": 1.0, "trail_bps": 5.0}, "trail_amount",
     "exactly one of"),
    ({"order_type": "LIMIT", "limit_price": 10.0, "trail_bps": 5.0}, "trail_bps",
     "only a TRAILING_STOP"),
    ({"order_type": "ICEBERG"}, "order_type", "must be one of"),
    ({"time_in_force": "GTX"}, "time_in_force", "must be one of"),
    ({"time_in_force": "GTD"}, "expire_time_ns", "needs an expire time"),
    ({"expire_time": 5}, "expire_time_ns", "only a GTD order"),
    ({"order_type": "LIMIT", "limit_price": 100.0, "stop_loss": 101.0}, "stop_loss",
     "below the entry price 100.0"),
    ({"order_type": "LIMIT", "limit_price": 100.0, "take_profit": 99.0}, "take_profit",
     "above the entry price"),
    ({"stop_loss": 110.0, "take_profit": 105.0}, "stop_loss", "below take_profit"),
    ({"stop_loss": -5.0}, "stop_loss", "must be positive"),
    ({"take_profit": math.inf}, "take_profit", "must be finite"),
    ({"oco_group": ""}, "oco_group", "non-empty"),
    ({"reduce_only": 1}, "reduce_only", "True or False"),
    ({"reduce_only": True, "take_profit": 120.0}, "take_profit", "reduce-only"),
])
def test_bad_orders_name_the_field(kwargs, field, why):
    kind = kwargs.pop("order_type", "MARKET")
    limit = kwargs.pop("limit_price", None)
    with pytest.raises(ValueError, match=rf"OrderEvent\.{field}: .*{why}"):
        create_order_event("AAPL", "BUY", 1, kind, limit, timestamp=0, **kwargs)


def test_a_sell_bracket_is_mirrored():
    o = create_order_event("AAPL", "SELL", 1, "LIMIT", 100.0, stop_loss=105.0,
                           take_profit=90.0, timestamp=0)
    assert o.stop_loss == 105.0
    with pytest.raises(ValueError, match=r"OrderEvent\.stop_loss: must be above the entry"):
        create_order_event("AAPL", "SELL", 1, "LIMIT", 100.0, stop_loss=95.0, timestamp=0)


def test_cancel_replace_and_update_events():
    c = create_cancel_event("a", timestamp=0)
    assert c.order_id == "a"
    r = create_replace_event("a", quantity=5, limit_price=99.5, timestamp=0)
    assert (r.quantity, r.limit_price, r.stop_price) == (5, 99.5, None)
    u = create_order_update_event("AAPL", "a", "PARTIALLY_FILLED", filled_quantity=3,
                                  remaining_quantity=7, avg_price=100.0, timestamp=0)
    assert u.status == "PARTIALLY_FILLED" and u.remaining_quantity == 7
    with pytest.raises(ValueError, match=r"CancelEvent\.order_id"):
        create_cancel_event("")
    with pytest.raises(ValueError, match=r"ReplaceEvent\.quantity: a replace changes"):
        create_replace_event("a")
    with pytest.raises(ValueError, match=r"ReplaceEvent\.limit_price: must be finite"):
        create_replace_event("a", limit_price=math.nan)
    with pytest.raises(ValueError, match=r"OrderUpdateEvent\.status"):
        create_order_update_event("AAPL", "a", "DONE")


# --- the broker on bars ------------------------------------------------------------------
# Each case: bars as (open, high, low, close[, volume]) one day apart; orders emitted by a
# script while the given bar is handled (so they can fill from the next bar on).

T0 = pd.Timestamp("2024-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


class Script:
    """A strategy stand-in: on bar ``n`` emits what ``script[n]`` builds (events or a list)."""

    def __init__(self, script):
        self.script, self.n = script, -1

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, bar):
        self.n += 1
        made = self.script.get(self.n)
        for e in (made(bar) if callable(made) else made or ()):
            self.bus.emit(e)


def run(bars, script, *, model=None, sizer=None, cash=100_000.0, allow_short=False,
        step=DAY, instruments=()):
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(cash, allow_short=allow_short)
    broker = PaperBroker(portfolio, model, sizer or FixedQuantity(10), instruments=instruments)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
    manager.register_component("strategy", Script(script), [EventType.BAR])
    log: list = []
    bus.register_all(log.append)
    for i, b in enumerate(bars):
        o, h, lo, c, *v = b
        bus.emit(create_bar_event("AAPL", T0 + i * step, o, h, lo, c, v[0] if v else 1e6))
    return log, portfolio, broker


def of(log, cls):
    return [e for e in log if isinstance(e, cls)]


def fills(log):
    return [(f.side, f.quantity, f.price, f.timestamp) for f in of(log, FillEvent)]


def statuses(log, order_id):
    return [u.status for u in of(log, OrderUpdateEvent) if u.order_id == order_id]


def day(i):
    return T0 + pd.Timedelta(days=i)


def order(side, kind="MARKET", limit=None, quantity=10, **kw):
    kw.setdefault("order_id", "o1")
    return lambda bar: [create_order_event("AAPL", side, quantity, kind, limit, **kw)]


FLAT = (100.0, 101.0, 99.0, 100.0)


@pytest.mark.parametrize(("bar1", "price"), [
    ((99.0, 100.0, 97.5, 99.0), 98.0),  # touched inside the bar: at the limit
    ((97.0, 99.0, 96.0, 98.0), 97.0),  # gapped through: at the better open
])
def test_buy_limit(bar1, price):
    log, _, _ = run([FLAT, bar1], {0: order("BUY", "LIMIT", 98.0)},
                    model=FillModel(slippage_bps=100))  # no slippage on a limit
    assert fills(log) == [("BUY", 10, price, day(1))]
    assert statuses(log, "o1") == ["ACCEPTED", "FILLED"]


def test_buy_limit_not_reached_keeps_working_and_is_not_filled_on_its_own_bar():
    log, _, broker = run([(100, 101, 97, 100), (99.0, 100.0, 98.5, 99.0)],
                         {0: order("BUY", "LIMIT", 98.0)})
    assert fills(log) == [] and [o.order_id for o in broker.open_orders] == ["o1"]


@pytest.mark.parametrize(("bar1", "price"), [
    ((102.0, 103.5, 101.0, 103.0), 103.0),
    ((104.0, 105.0, 103.5, 104.5), 104.0),  # gap up through a sell limit: the better open
])
def test_sell_limit(bar1, price):
    log, _, _ = run([FLAT, bar1], {0: order("SELL", "LIMIT", 103.0)}, allow_short=True)
    assert fills(log) == [("SELL", 10, price, day(1))]


@pytest.mark.parametrize(("bar1", "price"), [
    ((101.0, 103.0, 100.0, 102.5), 102.0 * 1.01),  # touched: at the stop, plus slippage
    ((104.0, 105.0, 103.0, 104.0), 104.0 * 1.01),  # gapped through: at the worse open
])
def test_buy_stop_pays_slippage(bar1, price):
    log, _, _ = run([FLAT, bar1], {0: order("BUY", "STOP", stop_price=102.0)},
                    model=FillModel(slippage_bps=100))
    ((side, q, p, t),) = fills(log)
    assert (side, q, t) == ("BUY", 10, day(1)) and p == pytest.approx(price, abs=1e-12)
    assert statuses(log, "o1") == ["ACCEPTED", "TRIGGERED", "FILLED"]


def test_sell_stop_gap_down_fills_at_the_open():
    log, _, _ = run([FLAT, (95.0, 96.0, 94.0, 95.0)],
                    {0: order("SELL", "STOP", stop_price=98.0)}, allow_short=True)
    assert fills(log) == [("SELL", 10, 95.0, day(1))]


def test_stop_limit_fills_at_the_stop_or_rests_as_a_limit_after_a_gap():
    log, _, _ = run([FLAT, (101.0, 103.0, 100.0, 102.0)],
                    {0: order("BUY", "STOP_LIMIT", 102.5, stop_price=102.0)})
    assert fills(log) == [("BUY", 10, 102.0, day(1))]
    # gap over the limit: triggered, not filled that bar, then a limit at 102.5
    log, _, _ = run([FLAT, (104.0, 105.0, 102.0, 104.0), (103.0, 104.0, 102.0, 103.5)],
                         {0: order("BUY", "STOP_LIMIT", 102.5, stop_price=102.0)})
    assert fills(log) == [("BUY", 10, 102.5, day(2))]
    assert statuses(log, "o1") == ["ACCEPTED", "TRIGGERED", "FILLED"]


def test_trailing_stop_follows_the_highest_high():
    script = {0: lambda bar: [
        create_order_event("AAPL", "BUY", 10, order_id="in"),
        create_order_event("AAPL", "SELL", 10, "TRAILING_STOP", trail_amount=2.0,
                           reduce_only=True, order_id="trail")]}
    bars = [FLAT, (100.0, 105.0, 99.0, 104.0), (104.0, 104.0, 102.5, 103.0)]
    log, p, broker = run(bars, script)
    # bar 1: stop 100 - 2 = 98 (from bar 0's close), low 99 misses it; the high moves it to
    # 103; bar 2: low 102.5 <= 103, fills at min(open 104, 103)
    assert fills(log) == [("BUY", 10, 100.0, day(1)), ("SELL", 10, 103.0, day(2))]
    assert p.positions == {} and broker.order("trail").status == "FILLED"


def test_bracket_of_a_market_entry_is_active_in_the_entry_bar():
    log, p, broker = run([FLAT, (100.0, 111.0, 99.0, 108.0)],
                         {0: order("BUY", take_profit=110.0, stop_loss=95.0, order_id="e")})
    assert fills(log) == [("BUY", 10, 100.0, day(1)), ("SELL", 10, 110.0, day(1))]
    assert broker.order("e-tp").status == "FILLED"
    assert broker.order("e-sl").status == "CANCELED"  # one cancels the other
    assert p.positions == {} and broker.open_orders == []
    sl, tp = broker.order("e-sl").event, broker.order("e-tp").event
    assert (sl.order_type, sl.stop_price, sl.reduce_only, sl.parent_id) == \
        ("STOP", 95.0, True, "e")
    assert (tp.order_type, tp.limit_price, tp.oco_group) == ("LIMIT", 110.0, "e:bracket")


def test_bracket_of_an_entry_filled_inside_the_bar_starts_next_bar():
    log, _, _ = run([FLAT, (100.0, 106.0, 98.5, 104.0), (104.0, 106.0, 103.0, 105.0)],
                    {0: order("BUY", "LIMIT", 99.0, take_profit=105.0, stop_loss=95.0)})
    # bar 1 reaches 106 after the limit filled at 99, but the bar does not say in what order
    assert fills(log) == [("BUY", 10, 99.0, day(1)), ("SELL", 10, 105.0, day(2))]


def test_stop_loss_wins_when_both_children_are_touched_in_one_bar():
    log, _, broker = run([FLAT, FLAT, (100.0, 106.0, 94.0, 100.0)],
                         {0: order("BUY", take_profit=105.0, stop_loss=95.0, order_id="e")})
    assert fills(log) == [("BUY", 10, 100.0, day(1)), ("SELL", 10, 95.0, day(2))]
    assert broker.order("e-tp").status == "CANCELED"


def test_a_child_beyond_the_market_fills_by_its_own_rule_next_bar():
    # the entry fills at 100, below its stop-loss of 101: not the same bar, then a stop
    log, _, _ = run([FLAT, (100.0, 102.0, 99.0, 100.0), (100.5, 101.0, 100.0, 100.5)],
                    {0: order("BUY", take_profit=110.0, stop_loss=101.0)})
    assert fills(log) == [("BUY", 10, 100.0, day(1)), ("SELL", 10, 100.5, day(2))]


def test_children_are_canceled_when_the_position_is_flat():
    script = {0: order("BUY", take_profit=120.0, stop_loss=80.0, order_id="e"),
              1: lambda bar: [create_order_event("AAPL", "SELL", 10, order_id="out")]}
    _, _, broker = run([FLAT, FLAT, FLAT], script)
    assert [o.status for o in (broker.order("e-sl"), broker.order("e-tp"))] == \
        ["CANCELED", "CANCELED"]
    assert broker.order("e-tp").reason == "the position is flat"


def test_oco_group_links_any_orders():
    script = {0: lambda bar: [
        create_order_event("AAPL", "BUY", 10, "LIMIT", 98.0, oco_group="g", order_id="a"),
        create_order_event("AAPL", "BUY", 10, "STOP", stop_price=103.0, oco_group="g",
                           order_id="b")]}
    log, _, broker = run([FLAT, (99.0, 100.0, 97.0, 99.0), (103.0, 104.0, 102.0, 103.0)],
                         script)
    assert fills(log) == [("BUY", 10, 98.0, day(1))]
    assert broker.order("b").status == "CANCELED" and "OCO" in broker.order("b").reason


def test_ioc_and_fok_with_the_volume_cap():
    model = FillModel(max_volume_fraction=0.1)
    bars = [FLAT, (100.0, 101.0, 99.0, 100.0, 100.0), FLAT]  # 10 units of room in bar 1
    log, _, broker = run(bars, {0: order("BUY", quantity=20, time_in_force="IOC")},
                         model=model)
    assert fills(log) == [("BUY", 10, 100.0, day(1))]
    assert statuses(log, "o1") == ["ACCEPTED", "PARTIALLY_FILLED", "CANCELED"]
    log, _, broker = run(bars, {0: order("BUY", quantity=20, time_in_force="FOK")},
                         model=model)
    assert fills(log) == [] and broker.order("o1").status == "CANCELED"
    assert "FOK" in broker.order("o1").reason
    log, _, broker = run([FLAT, (100.0, 101.0, 99.5, 100.0)],
                         {0: order("BUY", "LIMIT", 99.0, time_in_force="IOC")})
    assert fills(log) == [] and broker.order("o1").status == "CANCELED"


def test_partial_fills_with_max_volume_fraction():
    bars = [FLAT] + [(100.0 + i, 101.0 + i, 99.0 + i, 100.0 + i, 100.0) for i in range(3)]
    log, p, broker = run(bars, {0: order("BUY", quantity=25)},
                         model=FillModel(max_volume_fraction=0.1))
    assert fills(log) == [("BUY", 10, 100.0, day(1)), ("BUY", 10, 101.0, day(2)),
                          ("BUY", 5, 102.0, day(3))]
    assert statuses(log, "o1") == ["ACCEPTED", "PARTIALLY_FILLED", "PARTIALLY_FILLED",
                                   "FILLED"]
    o = broker.order("o1")
    assert o.filled == 25 and o.avg_price == pytest.approx((1000 + 1010 + 510) / 25)
    assert p.position("AAPL") == 25


def test_day_and_gtd_expiry():
    minute = pd.Timedelta(hours=8)  # bars 0..2 on day 0, bar 3 on day 1
    bars = [FLAT, FLAT, FLAT, (97.0, 98.0, 96.0, 97.0)]
    log, _, broker = run(bars, {0: order("BUY", "LIMIT", 98.0, time_in_force="DAY")},
                         step=minute)
    assert fills(log) == [] and broker.order("o1").status == "EXPIRED"
    log, _, broker = run([FLAT, FLAT, (97.0, 98.0, 96.0, 97.0)],
                         {0: order("BUY", "LIMIT", 98.0, time_in_force="GTD",
                                   expire_time=day(2))})
    assert fills(log) == [] and statuses(log, "o1") == ["ACCEPTED", "EXPIRED"]
    # the same order with a later expiry fills on bar 2
    log, _, _ = run([FLAT, FLAT, (97.0, 98.0, 96.0, 97.0)],
                    {0: order("BUY", "LIMIT", 98.0, time_in_force="GTD",
                              expire_time=day(3))})
    assert fills(log) == [("BUY", 10, 97.0, day(2))]


def test_cancel_replace_and_the_races():
    script = {0: order("BUY", "LIMIT", 95.0),
              1: lambda bar: [create_replace_event("o1", limit_price=99.5)],
              3: lambda bar: [create_cancel_event("o1"), create_cancel_event("nope"),
                              create_replace_event("o1", quantity=5)]}
    log, _, broker = run([FLAT, FLAT, FLAT, FLAT], script)
    assert fills(log) == [("BUY", 10, 99.5, day(2))]  # at the replaced price
    assert statuses(log, "o1") == ["ACCEPTED", "REPLACED", "FILLED"]
    errors = [(e.error_type, e.message) for e in of(log, ErrorEvent)]
    assert errors == [("CancelRejected", "broker: cancel 'o1': the order is already FILLED"),
                      ("CancelRejected", "broker: cancel 'nope': unknown order_id"),
                      ("ReplaceRejected",
                       "broker: replace 'o1': order_id: the order is already FILLED")]
    script = {0: order("BUY", "LIMIT", 95.0),
              1: lambda bar: [create_cancel_event("o1"),
                              create_replace_event("o1", stop_price=99.0)]}
    log, _, broker = run([FLAT, FLAT, (94.0, 95.0, 93.0, 94.0)], script)
    assert fills(log) == [] and broker.order("o1").status == "CANCELED"
    (cancel,) = of(log, CancelEvent)
    (update,) = [u for u in of(log, OrderUpdateEvent) if u.status == "CANCELED"]
    assert update.cause == cancel.seq
    log, _, _ = run([FLAT, FLAT], {0: order("BUY", "LIMIT", 95.0),
                                    1: lambda bar: [create_replace_event("o1", stop_price=9.)]})
    (error,) = of(log, ErrorEvent)
    assert "stop_price: a LIMIT order has no stop price" in error.message


def test_an_order_cash_cannot_cover_is_rejected_with_an_event():
    log, p, broker = run([FLAT, (99.0, 100.0, 97.0, 99.0)],
                         {0: order("BUY", "LIMIT", 98.0, quantity=2000)})
    (error,) = of(log, ErrorEvent)
    (orig,) = [e for e in of(log, OrderEvent) if e.order_id == "o1"]
    assert error.error_type == "OrderRejected" and "margin is off" in error.message
    assert error.cause == orig.seq
    (rejected,) = [u for u in of(log, OrderUpdateEvent) if u.status == "REJECTED"]
    assert rejected.cause == orig.seq and "margin is off" in rejected.reason
    assert broker.order("o1").status == "REJECTED" and broker.open_orders == []
    assert p.cash == 100_000
    frame = broker.orders_frame()
    assert list(frame.columns) == list(ORDER_COLUMNS)
    assert frame.loc[:, ["order_id", "status", "limit_price"]].values.tolist() == \
        [["o1", "REJECTED", 98.0]]


def test_a_covering_exit_is_never_refused_for_cash():
    """Short 100 at 100, the price goes to 1,200: the EXIT covers, taking cash below zero."""
    prices = [(100.0, 100.0, 100.0, 100.0), (100.0, 100.0, 100.0, 100.0),
              (1200.0, 1200.0, 1200.0, 1200.0), (1200.0, 1200.0, 1200.0, 1200.0)]
    script = {0: lambda bar: [create_signal_event("SELL", bar.close, "AAPL", "s")],
              2: lambda bar: [create_signal_event("EXIT", bar.close, "AAPL", "s")]}
    log, p, _ = run(prices, script, sizer=FixedQuantity(100), allow_short=True)
    assert of(log, ErrorEvent) == []
    assert fills(log) == [("SELL", 100, 100.0, day(1)), ("BUY", 100, 1200.0, day(3))]
    assert p.positions == {} and p.cash == pytest.approx(-10_000.0)


def test_instruments_round_and_reject():
    inst = Instrument("AAPL", tick_size=0.05, lot_size=1, min_notional=500.0)
    log, _, broker = run([FLAT, (99.0, 100.0, 97.0, 99.0)],
                         {0: order("BUY", "LIMIT", 98.07, quantity=10.7)}, instruments=[inst])
    assert fills(log) == [("BUY", 10, 98.05, day(1))]  # a buy limit rounds down
    log, _, broker = run([FLAT, FLAT], {0: order("BUY", "LIMIT", 98.0, quantity=3)},
                         instruments=[inst])
    assert broker.order("o1").status == "REJECTED"
    assert "notional 294.00 of AAPL is below the minimum 500.00" in broker.order("o1").reason


def test_duplicate_order_id_is_rejected_and_the_lifecycle_chain():
    script = {0: lambda bar: [create_order_event("AAPL", "BUY", 1, order_id="x"),
                              create_order_event("AAPL", "BUY", 2, order_id="x")]}
    log, p, _ = run([FLAT, FLAT], script)
    assert [e.error_type for e in of(log, ErrorEvent)] == ["OrderRejected"]
    assert p.position("AAPL") == 1
    by_seq = {e.seq: e for e in log}
    for u in of(log, OrderUpdateEvent):
        assert isinstance(by_seq[u.cause], OrderEvent)


def test_the_lifecycle_is_recorded_saved_and_loaded(tmp_path):
    """A bracket session recorded to Parquet: the orders with their new fields and each
    order's lifecycle, with causes, come back from the file; the events rebuild equal."""
    from evlab.recording import EventRecorder, load_recording

    bus = EventBus()
    recorder = EventRecorder(bus)
    manager = EventManager(bus)
    portfolio = Portfolio(100_000)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", PaperBroker(portfolio), PaperBroker.EVENTS,
                               priority=10)
    manager.register_component("strategy", Script(
        {0: order("BUY", take_profit=110.0, stop_loss=95.0, order_id="e")}), [EventType.BAR])
    for i, b in enumerate([FLAT, (100.0, 111.0, 99.0, 108.0)]):
        bus.emit(create_bar_event("AAPL", T0 + i * DAY, *b, 1e6))
    recorder.close()
    rec = load_recording(recorder.save(tmp_path / "orders.parquet"))
    updates = rec.order_updates()
    assert list(zip(updates["order_id"], updates["status"], strict=True)) == [
        ("e", "ACCEPTED"), ("e", "FILLED"), ("e-sl", "ACCEPTED"), ("e-tp", "ACCEPTED"),
        ("e-tp", "FILLED"), ("e-sl", "CANCELED")]
    orders = rec.orders().set_index("order_id")
    assert orders.loc["e-sl", "stop_price"] == 95.0 and orders.loc["e-tp", "limit_price"] == 110.0
    assert orders.loc["e", "take_profit"] == 110.0 and orders.loc["e-sl", "parent_id"] == "e"
    seq_of = dict(zip(rec.orders()["order_id"], rec.orders()["seq"], strict=True))
    assert (updates["cause"][updates["order_id"] == "e"] == seq_of["e"]).all()
    originals = [e for e in recorder.to_events() if isinstance(e, OrderUpdateEvent)]
    assert [e for e in rec.to_events() if isinstance(e, OrderUpdateEvent)] == originals


def test_an_order_stamped_long_after_the_last_bar_warns_once():
    """Made outside a handler, an order takes the wall clock: against historical bars it
    would never fill. The broker says so, once, and how to fix it."""
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(100_000)
    broker = PaperBroker(portfolio)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
    bus.emit(create_bar_event("AAPL", "2020-01-02", 100.0, 101.0, 99.0, 100.0, 1e6))
    with pytest.warns(UserWarning, match="pass timestamp="):
        bus.emit(create_order_event("AAPL", "BUY", 1, order_id="late"))  # wall clock
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bus.emit(create_order_event("AAPL", "BUY", 1, order_id="again"))  # once only
        bus.emit(create_order_event("AAPL", "BUY", 1, order_id="ok", timestamp="2020-01-02"))
    assert broker.order("late").status == "ACCEPTED"  # still taken: a warning, not a refusal
