"""Events: immutability, getters, validation errors that name field and value, event time."""

import dataclasses
import datetime as dt
import math

import pandas as pd
import pytest

from evlab import (
    BarEvent,
    ErrorEvent,
    EventBus,
    EventType,
    FillEvent,
    OrderEvent,
    PortfolioEvent,
    SignalEvent,
    TickEvent,
    create_bar_event,
    create_error_event,
    create_fill_event,
    create_order_event,
    create_order_update_event,
    create_quote_event,
    create_replace_event,
    create_signal_event,
    create_system_event,
    create_tick_event,
    create_websocket_event,
    current_event,
    to_ns,
)

T0 = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)


def bar(**kw):
    values = dict(symbol="AAPL", timestamp=T0, open=150.0, high=152.0, low=149.0, close=151.0,
                  volume=10_000)
    values.update(kw)
    return create_bar_event(values["symbol"], values["timestamp"], values["open"],
                            values["high"], values["low"], values["close"], values["volume"])


def test_event_types_cover_the_guide():
    for name in ("BAR", "TICK", "SIGNAL", "ORDER", "FILL", "WEBSOCKET", "ERROR", "SYSTEM"):
        assert EventType[name] == name.lower()
    assert BarEvent.type is EventType.BAR and SignalEvent.type is EventType.SIGNAL


def test_events_are_immutable_values_with_attributes_and_getters():
    b = bar()
    assert (b.symbol, b.open, b.high, b.low, b.close, b.volume) == ("AAPL", 150, 152, 149, 151,
                                                                   10_000)
    assert (b.get_symbol(), b.get_close(), b.get_volume()) == ("AAPL", 151.0, 10_000)
    assert b.timestamp == T0 and b.get_timestamp() == T0 and b.get_type() == EventType.BAR
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.close = 1.0
    assert b == bar() and hash(b) == hash(bar())
    assert b != bar(close=150.5)


def test_signal_constants_and_factory_signature():
    s = create_signal_event(SignalEvent.BUY, 151.0, "AAPL", "simple_strategy")
    assert (SignalEvent.BUY, SignalEvent.SELL, SignalEvent.EXIT) == ("BUY", "SELL", "EXIT")
    assert (s.get_signal_type(), s.get_price(), s.get_symbol(), s.get_strategy_id()) == (
        "BUY", 151.0, "AAPL", "simple_strategy")
    assert s.source == "simple_strategy"


@pytest.mark.parametrize(("kw", "field", "shown"), [
    ({"high": 148.0}, "high", "148.0"),
    ({"open": 153.0}, "open", "153.0"),
    ({"close": 148.5}, "close", "148.5"),
    ({"volume": -1}, "volume", "-1"),
    ({"close": math.nan}, "close", "nan"),
    ({"high": math.inf}, "high", "inf"),
    ({"symbol": ""}, "symbol", "''"),
    ({"open": "150"}, "open", "'150'"),
])
def test_bad_bar_values_name_the_field_and_the_value(kw, field, shown):
    with pytest.raises(ValueError) as err:
        bar(**kw)
    assert f"BarEvent.{field}" in str(err.value) and shown in str(err.value)


def test_bad_signal_order_fill_tick_values():
    with pytest.raises(ValueError, match=r"signal_type.*'HOLD'"):
        create_signal_event("HOLD", 1.0, "AAPL", "s")
    with pytest.raises(ValueError, match=r"SignalEvent.price.*nan"):
        create_signal_event("BUY", math.nan, "AAPL", "s")
    with pytest.raises(ValueError, match=r"SignalEvent.symbol"):
        create_signal_event("BUY", 1.0, "", "s")
    with pytest.raises(ValueError, match=r"OrderEvent.quantity.*-5"):
        create_order_event("AAPL", OrderEvent.BUY, -5)
    with pytest.raises(ValueError, match=r"OrderEvent.limit_price.*None"):
        create_order_event("AAPL", OrderEvent.BUY, 5, OrderEvent.LIMIT)
    with pytest.raises(ValueError, match=r"FillEvent.side.*'HOLD'"):
        create_fill_event("AAPL", "HOLD", 5, 10.0)
    with pytest.raises(ValueError, match=r"TickEvent.size.*-1"):
        create_tick_event("BTC-USD", T0, 10.0, -1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0, "1.0", None, True])
@pytest.mark.parametrize(("make", "field"), [
    (lambda v: create_signal_event("BUY", v, "AAPL", "s"), "SignalEvent.price"),
    (lambda v: create_signal_event("BUY", 1.0, "AAPL", "s", strength=v),
     "SignalEvent.strength"),
    (lambda v: create_order_event("AAPL", "BUY", v), "OrderEvent.quantity"),
    (lambda v: create_fill_event("AAPL", "BUY", v, 10.0), "FillEvent.quantity"),
    (lambda v: create_fill_event("AAPL", "BUY", 1.0, v), "FillEvent.price"),
    (lambda v: create_fill_event("AAPL", "BUY", 1.0, 10.0, v), "FillEvent.commission"),
    (lambda v: create_order_update_event("AAPL", "o1", "FILLED", filled_quantity=v),
     "OrderUpdateEvent.filled_quantity"),
    (lambda v: create_order_update_event("AAPL", "o1", "FILLED", remaining_quantity=v),
     "OrderUpdateEvent.remaining_quantity"),
    (lambda v: PortfolioEvent(v, 1.0), "PortfolioEvent.cash"),
    (lambda v: PortfolioEvent(1.0, 1.0, 0.0, v), "PortfolioEvent.unrealized_pnl"),
])
def test_every_bad_number_names_its_field_and_good_ints_pass(make, field, bad):
    """The usual floats take a fast path; anything else the checks that explain (-1 is bad
    where the field must not be negative: PortfolioEvent's may be)."""
    if bad == -1.0 and field.startswith("PortfolioEvent"):
        assert make(bad) is not None
        return
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        make(bad)
    assert make(1) is not None  # an int is a number too


def test_other_factories():
    t = create_tick_event("BTC-USD", T0, 610.5, 0.25, side=TickEvent.SELL, trade_id="7")
    assert (t.price, t.size, t.side, t.trade_id, t.timestamp) == (610.5, 0.25, "SELL", "7", T0)
    o = create_order_event("AAPL", OrderEvent.SELL, 10, OrderEvent.LIMIT, 155.0, order_id="o1")
    assert (o.side, o.quantity, o.order_type, o.limit_price, o.order_id) == (
        "SELL", 10, "LIMIT", 155.0, "o1")
    f = create_fill_event("AAPL", FillEvent.BUY, 10, 150.0, 1.0, order_id="o1")
    assert (f.quantity, f.price, f.commission, f.order_id) == (10, 150.0, 1.0, "o1")
    w = create_websocket_event("feed", '{"x":1}', received_ns=123)
    assert (w.payload, w.received_ns, w.time_ns, w.source) == ('{"x":1}', 123, 123, "feed")
    e = create_error_event("bad", error_type="ValueError", payload=b"\x00")
    assert isinstance(e, ErrorEvent) and e.payload == b"\x00" and e.original_seq is None
    s = create_system_event("connected", "up", {"url": "ws://127.0.0.1"})
    assert (s.kind, s.message, s.data) == ("connected", "up", {"url": "ws://127.0.0.1"})
    with pytest.raises(ValueError, match="payload"):
        create_websocket_event("feed", 42)


def test_timestamps_in_every_form_agree():
    ns = to_ns(T0)
    assert ns == 1704205800 * 10**9
    assert to_ns(pd.Timestamp("2024-01-02 14:30", tz="UTC")) == ns
    assert to_ns("2024-01-02T14:30:00Z") == ns
    assert to_ns(pd.Timestamp("2024-01-02 14:30")) == ns  # naive pandas time: UTC
    naive = dt.datetime(2024, 1, 2, 14, 30)  # naive datetime: local time, as Python has it
    assert to_ns(naive) == round(naive.timestamp() * 1e6) * 1000
    assert to_ns(ns) == ns
    with pytest.raises(TypeError, match="timestamp"):
        to_ns(3.5)
    with pytest.raises(ValueError, match="cannot parse"):
        to_ns("not a time")


def test_unemitted_events_have_no_stamp_and_a_copy_is_equal():
    b = bar()
    assert (b.seq, b.cause, b.emit_time) == (None, None, None)
    c = b.copy(close=151.5)
    assert c.close == 151.5 and c.time_ns == b.time_ns
    assert "BarEvent(" in repr(b) and "AAPL" in repr(b)


def test_event_time_is_inherited_from_the_event_being_handled():
    bus = EventBus()
    made = []

    def strategy(event):
        assert current_event() is event
        made.append(create_signal_event(SignalEvent.BUY, event.close, event.symbol, "s"))

    bus.register(EventType.BAR, strategy)
    long_ago = bar(timestamp=dt.datetime(2001, 5, 4, tzinfo=dt.UTC))
    bus.emit(long_ago)
    assert made[0].time_ns == long_ago.time_ns
    assert current_event() is None
    before = dt.datetime.now(dt.UTC)
    outside = create_signal_event(SignalEvent.BUY, 1.0, "AAPL", "s")
    assert outside.timestamp >= before - dt.timedelta(seconds=1)  # wall clock outside handlers


def test_portfolio_event_validates_numbers():
    from evlab import PortfolioEvent

    p = PortfolioEvent(100.0, 150.0, 5.0, 45.0, (("AAPL", 10.0, 10.5),))
    assert p.type == EventType.PORTFOLIO and p.get_positions() == (("AAPL", 10.0, 10.5),)
    with pytest.raises(ValueError, match=r"PortfolioEvent.cash.*nan"):
        PortfolioEvent(math.nan, 1.0)
    with pytest.raises(ValueError, match=r"PortfolioEvent.positions"):
        PortfolioEvent(1.0, 1.0, positions=[("AAPL", 1.0, 1.0)])


def test_a_quote_with_an_empty_side_has_none_there_and_no_mid(tmp_path):
    """A side None (empty venue side): mid and spread None, the crossed check skipped, a size
    without its price refused; it round-trips through a Parquet recording."""
    from evlab import EventBus, create_quote_event
    from evlab.recording import load_recording, record

    q = create_quote_event("AMD", 0, None, 87.68, None, 4)
    assert (q.bid, q.ask, q.mid, q.spread) == (None, 87.68, None, None)
    assert create_quote_event("AMD", 0, 87.0, 88.0).mid == 87.5
    with pytest.raises(ValueError, match=r"QuoteEvent\.bid_size: must be None when bid is"):
        create_quote_event("AMD", 0, None, 87.68, 1, 4)
    with pytest.raises(ValueError, match=r"QuoteEvent\.bid: and ask are both None"):
        create_quote_event("AMD", 0, None, None)
    with pytest.raises(ValueError, match=r"QuoteEvent\.ask: must be"):
        create_quote_event("AMD", 0, 87.0, -1.0)
    bus = EventBus()
    rec = record(bus)
    bus.emit(q)
    bus.emit(create_quote_event("AMD", 1, 87.6, None, 2, None))
    back = load_recording(rec.save(tmp_path / "q.parquet")).to_events()
    assert [(e.bid, e.ask, e.bid_size, e.ask_size) for e in back] == [
        (None, 87.68, None, 4.0), (87.6, None, 2.0, None)]


def test_numpy_scalars_are_stored_as_python_floats():
    """Bars and ticks built from numpy arrays hold Python floats (numpy scalars would make
    every handler's arithmetic numpy's); numpy ints are numbers too, and bad values still fail."""
    import numpy as np

    bar = create_bar_event("X", 0, np.float64(1.0), np.float64(2.0), np.float64(0.5),
                           np.float64(1.5), np.int64(10))
    assert all(type(getattr(bar, n)) is float for n in ("open", "high", "low", "close", "volume"))
    assert (bar.open, bar.volume) == (1.0, 10.0)
    tick = create_tick_event("X", 0, np.float32(1.5), np.int64(3))
    assert type(tick.price) is float and type(tick.size) is float and tick.size == 3.0
    assert type(create_bar_event("X", 0, 1, 2, 1, 2, 10).open) is int  # Python ints: as given
    with pytest.raises(ValueError, match="open: must be finite"):
        create_bar_event("X", 0, np.float64("nan"), 2.0, 1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="high"):
        create_bar_event("X", 0, np.float64(1.0), np.float64(0.5), np.float64(1.0),
                         np.float64(1.0), 1.0)



def test_numpy_scalars_are_python_floats_in_every_event_with_numbers():
    """Quotes, signals, orders, replaces, order updates, fills and portfolios built from a
    DataFrame row (numpy ints and float32s, which are not Python numbers) are accepted and
    hold Python floats, as bars and ticks do; bad values still fail, naming the field."""
    import numpy as np

    f32, i64 = np.float32, np.int64
    events = {
        "quote": (create_quote_event("X", 0, f32(1.5), f32(2.0), i64(3), i64(4)),
                  ("bid", "ask", "bid_size", "ask_size")),
        "signal": (create_signal_event("BUY", f32(1.5), "X", "s", strength=i64(1)),
                   ("price", "strength")),
        "order": (create_order_event("X", "BUY", i64(3), "STOP_LIMIT", f32(2.5),
                                     stop_price=i64(2), take_profit=i64(4),
                                     stop_loss=f32(1.5)),
                  ("quantity", "limit_price", "stop_price", "take_profit", "stop_loss")),
        "market": (create_order_event("X", "SELL", i64(2)), ("quantity",)),
        "trailing": (create_order_event("X", "SELL", 1.0, "TRAILING_STOP", trail_amount=i64(2)),
                     ("trail_amount",)),
        "replace": (create_replace_event("o1", quantity=i64(5), limit_price=f32(1.5)),
                    ("quantity", "limit_price")),
        "update": (create_order_update_event("X", "o1", "PARTIALLY_FILLED",
                                             filled_quantity=i64(1), remaining_quantity=i64(2),
                                             avg_price=f32(1.5)),
                   ("filled_quantity", "remaining_quantity", "avg_price")),
        "fill": (create_fill_event("X", "BUY", i64(3), f32(1.5), i64(1)),
                 ("quantity", "price", "commission")),
        "portfolio": (PortfolioEvent(i64(900), f32(1000.5), i64(1), i64(0)),
                      ("cash", "equity", "realized_pnl", "unrealized_pnl")),
    }
    for what, (event, names) in events.items():
        kinds = {n: type(getattr(event, n)) for n in names}
        assert set(kinds.values()) == {float}, (what, kinds)
    assert events["fill"][0].quantity == 3.0 and events["order"][0].stop_price == 2.0
    with pytest.raises(ValueError, match=r"FillEvent\.price: must be finite"):
        create_fill_event("X", "BUY", i64(3), f32("nan"))
    with pytest.raises(ValueError, match=r"OrderEvent\.quantity: must be positive"):
        create_order_event("X", "BUY", i64(0))
    with pytest.raises(ValueError, match=r"QuoteEvent\.bid: must not exceed ask"):
        create_quote_event("X", 0, f32(2.5), i64(2))
