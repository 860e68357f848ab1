"""Polygon stocks: documented aggregates/trades/status, arrays, errors, round trips."""

from __future__ import annotations

import orjson
import pytest

from evlab.events import BarEvent, ErrorEvent, QuoteEvent, SystemEvent, TickEvent
from evlab.feeds.adapters import AdapterError, Subscribe, get_adapter

from ._data import btc_bars, fixture, fixture_obj, same_bar

EX = "polygon"


@pytest.fixture
def polygon():
    return get_adapter(EX)


def frame(*names: str) -> bytes:
    """A frame (JSON array) holding the documented events ``names``."""
    return b"[" + b",".join(fixture(EX, n).strip() for n in names) + b"]"


def test_documented_minute_aggregate_is_final(polygon):
    [ev] = polygon.parse(frame("aggregate_minute.json"))
    assert type(ev) is BarEvent
    assert (ev.symbol, ev.time_ns) == ("GTE", 1_610_144_640_000 * 1_000_000)  # "s": start
    assert (ev.open, ev.high, ev.low, ev.close, ev.volume) == (0.4488, 0.4489, 0.4486, 0.4486,
                                                               4110.0)


def test_documented_second_aggregate(polygon):
    [ev] = polygon.parse(frame("aggregate_second.json"))
    assert type(ev) is BarEvent
    assert (ev.symbol, ev.time_ns, ev.close, ev.volume) == (
        "SPCE", 1_610_144_868_000_000_000, 25.39, 200.0)


def test_documented_trade(polygon):
    [ev] = polygon.parse(frame("trade.json"))
    assert isinstance(ev, TickEvent)
    assert (ev.symbol, ev.price, ev.size, ev.side, ev.trade_id) == ("MSFT", 114.125, 100.0, None,
                                                                    "12345")
    assert ev.time_ns == 1_536_036_818_784_000_000


def test_control_statuses_give_nothing(polygon):
    assert polygon.parse(fixture(EX, "auth_success.json")) == []
    assert polygon.parse(b'[{"ev":"status","status":"success","message":"subscribed to: AM.*"}]'
                         ) == []
    assert polygon.parse(b'[{"ev":"status","status":"connected","message":"Connected '
                         b'Successfully"}]') == []


def test_documented_quote(polygon):
    [q] = polygon.parse(frame("quote.json"))
    assert isinstance(q, QuoteEvent) and q.symbol == "MSFT"
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (114.125, 100.0, 114.128, 160.0)
    assert q.time_ns == 1_536_036_818_784_000_000


def test_max_connections_before_the_close_is_an_error_event(polygon):
    payload = fixture(EX, "max_connections.json")
    [ev] = polygon.parse(payload)
    assert isinstance(ev, ErrorEvent) and ev.payload == payload
    assert ev.message.startswith("polygon max_connections: Maximum number of websocket")


def test_an_unknown_status_is_a_system_event_not_nothing(polygon):
    [ev] = polygon.parse(b'[{"ev":"status","status":"maintenance","message":"back soon"}]')
    assert isinstance(ev, SystemEvent) and ev.kind == "exchange_status"
    assert ev.message == "polygon maintenance: back soon"


def test_a_numeric_trade_id_is_read_too(polygon):
    msg = fixture_obj(EX, "trade.json")
    msg["i"] = 12345
    [t] = polygon.parse(orjson.dumps([msg]))
    assert t.trade_id == "12345"


def test_failed_auth_is_an_error_event(polygon):
    payload = b'[{"ev":"status","status":"auth_failed","message":"authentication failed"}]'
    [ev] = polygon.parse(payload)
    assert isinstance(ev, ErrorEvent) and ev.payload == payload
    assert ev.message == "polygon auth_failed: authentication failed"


def test_array_of_mixed_events(polygon):
    events = polygon.parse(frame("aggregate_minute.json", "quote.json", "trade.json",
                                 "aggregate_second.json"))
    assert [(type(ev), ev.symbol) for ev in events] == [
        (BarEvent, "GTE"), (QuoteEvent, "MSFT"), (TickEvent, "MSFT"), (BarEvent, "SPCE")]


@pytest.mark.parametrize(("name", "mutate", "pattern"), [
    ("trade.json", lambda m: m.update(p={}), r"field 'p' must be a JSON number, got dict"),
    ("trade.json", lambda m: m.update(t=1536036818784.5), r"field 't' must be an integer"),
    ("trade.json", lambda m: m.update(i=None), r"field 'i' must be a trade id"),
    ("trade.json", lambda m: m.pop("sym"), r"missing field 'sym'"),
    ("aggregate_minute.json", lambda m: m.update(o="0.4488"), r"field 'o' must be a JSON number"),
    ("aggregate_minute.json", lambda m: m.update(h=0.4), r"invalid bar .*high"),
    ("aggregate_minute.json", lambda m: m.pop("s"), r"missing field 's'"),
    ("aggregate_minute.json", lambda m: m.update(ev="XA"), r"unknown event type 'XA'"),
    ("quote.json", lambda m: m.update(bp=115.0), r"invalid quote \(QuoteEvent.bid"),
    ("quote.json", lambda m: m.update(bs="100"), r"field 'bs' must be a JSON number"),
    ("quote.json", lambda m: m.pop("ap"), r"missing field 'ap'"),
    ("quote.json", lambda m: m.update(t=-1), r"field 't' must be a time from 1970"),
])
def test_bad_messages_raise_with_a_clear_message(polygon, name, mutate, pattern):
    msg = fixture_obj(EX, name)
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern):
        polygon.parse(orjson.dumps([msg]))


def test_frames_must_be_arrays(polygon):
    with pytest.raises(AdapterError, match="expected a JSON array"):
        polygon.parse(fixture(EX, "trade.json"))


def test_parse_documented_subscribe_request(polygon):
    assert polygon.parse_subscribe(fixture(EX, "subscribe_request.json")) == Subscribe(
        ("*",), ("bars",), None, 60, ("AM.*",))
    assert polygon.parse_subscribe(fixture(EX, "auth_request.json")) is None
    assert polygon.parse_subscribe(b'{"action":"subscribe","params":"Q.MSFT"}') == Subscribe(
        ("MSFT",), ("quotes",), None, None, ("Q.MSFT",))
    with pytest.raises(AdapterError, match=r"unsupported topic 'LULD\.MSFT'"):
        polygon.parse_subscribe(b'{"action":"subscribe","params":"LULD.MSFT"}')


def test_subscribe_round_trip(polygon):
    [msg] = polygon.subscribe_messages(["AAPL", "MSFT"], ["bars", "trades"])
    assert orjson.loads(msg) == {"action": "subscribe",
                                 "params": "AM.AAPL,T.AAPL,AM.MSFT,T.MSFT"}
    req = polygon.parse_subscribe(msg)
    assert req == Subscribe(("AAPL", "MSFT"), ("bars", "trades"), None, 60,
                            ("AM.AAPL", "T.AAPL", "AM.MSFT", "T.MSFT"))
    [ack] = polygon.subscribe_ack(req)
    assert [m["message"] for m in orjson.loads(ack)] == [
        "subscribed to: AM.AAPL", "subscribed to: T.AAPL", "subscribed to: AM.MSFT",
        "subscribed to: T.MSFT"]
    assert polygon.parse(ack) == []
    [sec] = polygon.subscribe_messages(["AAPL"], interval_s=1)
    assert polygon.parse_subscribe(sec).interval_s == 1


@pytest.mark.parametrize(("resolution", "interval_s", "ev"), [("1m", 60, "AM"), ("1s", 1, "A")])
def test_bar_round_trip_real_bars(polygon, resolution, interval_s, ev):
    for row in btc_bars(resolution):
        msg = polygon.encode_bar("X:BTCUSD", *row, interval_s=interval_s)
        agg = orjson.loads(msg)[0]
        assert agg["ev"] == ev and agg["e"] - agg["s"] == interval_s * 1000
        [bar] = polygon.parse(msg)
        assert type(bar) is BarEvent and same_bar(bar, "X:BTCUSD", row)


def test_encode_refuses_in_progress_bars(polygon):
    row = btc_bars("1m", 1)[0]
    with pytest.raises(ValueError, match="only finished aggregates"):
        polygon.encode_bar("AAPL", *row, final=False)
    with pytest.raises(ValueError, match="not 300 s"):
        polygon.encode_bar("AAPL", *row, interval_s=300)
