"""Alpaca v2 stream: documented examples, arrays of messages, errors, round trips."""

from __future__ import annotations

import msgpack
import orjson
import pytest

from evlab.events import BarEvent, BarUpdateEvent, ErrorEvent, SystemEvent, TickEvent
from evlab.feeds.adapters import AdapterError, Subscribe, get_adapter

from ._data import btc_bars, fixture, fixture_obj, ns, same_bar, stock_days

EX = "alpaca"


@pytest.fixture
def alpaca():
    return get_adapter(EX)


def frame(*names: str) -> bytes:
    """A frame (JSON array) holding the documented data points ``names``."""
    return b"[" + b",".join(fixture(EX, n).strip() for n in names) + b"]"


def test_documented_minute_bar_is_final(alpaca):
    [ev] = alpaca.parse(frame("bar.json"))
    assert type(ev) is BarEvent
    assert (ev.symbol, ev.time_ns) == ("SPY", ns(2021, 2, 22, 19, 15))
    assert (ev.open, ev.high, ev.low, ev.close, ev.volume) == (388.985, 389.13, 388.975, 389.12,
                                                               49378.0)


def test_documented_daily_bar_is_partial(alpaca):
    [ev] = alpaca.parse(frame("daily_bar.json"))
    assert type(ev) is BarUpdateEvent
    assert (ev.symbol, ev.time_ns, ev.volume) == ("SPY", ns(2021, 2, 16, 4), 749378.0)


def test_updated_bar_is_not_a_second_final_bar(alpaca):
    msg = fixture_obj(EX, "bar.json")
    msg["T"] = "u"
    [ev] = alpaca.parse(orjson.dumps([msg]))
    assert type(ev) is BarUpdateEvent and ev.close == 389.12


def test_documented_trade(alpaca):
    [ev] = alpaca.parse(fixture(EX, "stream_trade.json"))
    assert isinstance(ev, TickEvent)
    assert (ev.symbol, ev.price, ev.size, ev.side, ev.trade_id) == ("AAPL", 126.55, 1.0, None,
                                                                    "96921")
    assert ev.time_ns == ns(2021, 2, 22, 15, 51, 44, 208000)
    assert alpaca.parse(frame("trade.json")) == [ev]


@pytest.mark.parametrize("name", ["connected.json", "authenticated.json", "subscription.json",
                                  "stream_quotes.json"])
def test_control_messages_and_quotes_give_nothing(alpaca, name):
    assert alpaca.parse(fixture(EX, name)) == []


def test_documented_error(alpaca):
    payload = fixture(EX, "error_auth_failed.json")
    [ev] = alpaca.parse(payload)
    assert isinstance(ev, ErrorEvent)
    assert ev.message == "alpaca error 402: auth failed" and ev.payload == payload


def test_documented_trading_halt_is_a_system_event(alpaca):
    [ev] = alpaca.parse(frame("status.json"))
    assert isinstance(ev, SystemEvent) and ev.kind == "trading_status"
    assert ev.message.startswith("AAPL: Trading Halt")


def test_mixed_array_keeps_order(alpaca):
    mixed = b'[{"T":"success","msg":"authenticated"},' + fixture(EX, "bar.json").strip() + b"," \
        + fixture(EX, "quote.json").strip() + b"," + fixture(EX, "trade.json").strip() + b"]"
    bar, trade = alpaca.parse(mixed)
    assert (type(bar), bar.symbol) == (BarEvent, "SPY")
    assert (type(trade), trade.symbol) == (TickEvent, "AAPL")


@pytest.mark.parametrize(("mutate", "pattern"), [
    (lambda m: m.update(p={}), r"field 'p' must be a JSON number, got dict"),
    (lambda m: m.update(p="126.55"), r"field 'p' must be a JSON number, got str"),
    (lambda m: m.update(i="96921"), r"field 'i' must be an integer"),
    (lambda m: m.pop("S"), r"missing field 'S'"),
    (lambda m: m.update(t="2021-02-22 15:51"), r"field 't' must be an RFC 3339 timestamp"),
    (lambda m: m.update(T="n"), r"unknown message type 'n'"),
    (lambda m: m.pop("T"), r"missing field 'T'"),
])
def test_bad_messages_raise_with_a_clear_message(alpaca, mutate, pattern):
    msg = fixture_obj(EX, "trade.json")
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern):
        alpaca.parse(orjson.dumps([msg]))


def test_frames_must_be_arrays(alpaca):
    with pytest.raises(AdapterError, match="expected a JSON array"):
        alpaca.parse(fixture(EX, "bar.json"))  # a bare data point, not a frame
    with pytest.raises(AdapterError, match="expected a JSON object"):
        alpaca.parse(b'["b"]')


def test_parse_documented_subscribe_request(alpaca):
    req = alpaca.parse_subscribe(fixture(EX, "subscribe_request.json"))
    assert req == Subscribe(("AAPL", "VOO"), ("bars", "trades"), None, 60)  # quotes not served
    assert alpaca.parse_subscribe(fixture(EX, "auth_request.json")) is None


def test_subscribe_round_trip(alpaca):
    [msg] = alpaca.subscribe_messages(["AAPL", "MSFT"], ["bars", "trades"])
    assert orjson.loads(msg) == {"action": "subscribe", "trades": ["AAPL", "MSFT"],
                                 "bars": ["AAPL", "MSFT"]}
    req = alpaca.parse_subscribe(msg)
    assert (req.symbols, set(req.channels)) == (("AAPL", "MSFT"), {"bars", "trades"})
    [ack] = alpaca.subscribe_ack(req)
    assert orjson.loads(ack) == [{"T": "subscription", "trades": ["AAPL", "MSFT"], "quotes": [],
                                  "bars": ["AAPL", "MSFT"]}]
    assert alpaca.parse(ack) == []
    with pytest.raises(ValueError, match="minute bars only"):
        alpaca.subscribe_messages(["AAPL"], interval_s=1)


def test_bar_round_trip_real_bars(alpaca):
    for row in btc_bars("1m"):
        msg = alpaca.encode_bar("BTC/USD", *row)
        [ev] = alpaca.parse(msg)
        assert type(ev) is BarEvent and same_bar(ev, "BTC/USD", row)
        # every field of Alpaca's bar schema, as alpaca-py's Bar model requires them
        assert set(orjson.loads(msg)[0]) == {"T", "S", "o", "h", "l", "c", "v", "t", "n", "vw"}


def test_daily_partial_bar_round_trip(alpaca):
    for row in stock_days("AAPL"):
        msg = alpaca.encode_bar("AAPL", *row, interval_s=86400, final=False)
        assert orjson.loads(msg)[0]["v"] == int(row[5])  # integer volume, as documented
        [ev] = alpaca.parse(msg)
        assert type(ev) is BarUpdateEvent and same_bar(ev, "AAPL", row)


def test_encode_refuses_bars_alpaca_does_not_stream(alpaca):
    row = btc_bars("1m", 1)[0]
    with pytest.raises(ValueError, match="final minute bars"):
        alpaca.encode_bar("AAPL", *row, final=False)
    with pytest.raises(ValueError, match="interval_s=1 "):
        alpaca.encode_bar("AAPL", *row, interval_s=1)


# --- MessagePack, as alpaca-py asks for it --------------------------------------------------

def test_the_msgpack_content_type_chooses_messagepack(alpaca):
    assert alpaca.header_options({"Content-Type": "application/msgpack"}) == {"msgpack": True}
    assert alpaca.header_options({"Content-Type": "application/json"}) == {}
    assert alpaca.header_options({}) == {}


def test_msgpack_bars_round_trip_with_timestamps():
    packed = get_adapter(EX, msgpack=True)
    assert packed.binary and not get_adapter(EX).binary
    for row in btc_bars("1m"):
        msg = packed.encode_bar("BTC/USD", *row)
        [raw] = msgpack.unpackb(msg)
        assert raw["t"] == msgpack.Timestamp.from_unix_nano(row[0])  # extension -1, not text
        assert set(raw) == {"T", "S", "o", "h", "l", "c", "v", "t", "n", "vw"}
        [ev] = packed.parse(msg)
        assert type(ev) is BarEvent and same_bar(ev, "BTC/USD", row)


def test_msgpack_control_frames_both_ways():
    packed = get_adapter(EX, msgpack=True)
    assert msgpack.unpackb(packed.welcome()[0]) == [{"T": "success", "msg": "connected"}]
    auth = msgpack.packb({"action": "auth", "key": "k", "secret": "s"})
    assert msgpack.unpackb(packed.control_reply(auth)[0]) == [
        {"T": "success", "msg": "authenticated"}]
    req = packed.parse_subscribe(msgpack.packb({"action": "subscribe", "bars": ["BTC/USD"]}))
    assert req == Subscribe(("BTC/USD",), ("bars",), None, 60)
    [ack] = packed.subscribe_ack(req)
    assert msgpack.unpackb(ack)[0]["bars"] == ["BTC/USD"] and packed.parse(ack) == []
    [err] = packed.parse(packed.error_frame("bad"))
    assert type(err) is ErrorEvent and "bad" in err.message


@pytest.mark.parametrize("payload, pattern", [
    (b"\xc1", "malformed MessagePack"),  # a byte MessagePack never uses
    (msgpack.packb([{"T": "b"}]) + b"\x00", "malformed MessagePack"),  # extra data
    ('[{"T": "b"}]', "must be bytes"),  # JSON text on a MessagePack connection
    (msgpack.packb([{"T": "b", "S": "X", "t": msgpack.Timestamp(-1, 0), "o": 1.0, "h": 1.0,
                     "l": 1.0, "c": 1.0, "v": 1.0}]), "from 1970"),
])
def test_bad_msgpack_frames_raise_a_clear_error(payload, pattern):
    packed = get_adapter(EX, msgpack=True)
    with pytest.raises(AdapterError, match=pattern):
        packed.parse(payload)
    assert packed.control_reply(payload) == []  # a server answers nothing, and goes on
