"""Alpaca v2 stream: documented examples, arrays of messages, errors, round trips."""

from __future__ import annotations

import msgpack
import orjson
import pytest

from evlab.events import (
    BarEvent,
    BarUpdateEvent,
    ErrorEvent,
    QuoteEvent,
    SystemEvent,
    TickEvent,
)
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


@pytest.mark.parametrize("name", ["connected.json", "authenticated.json", "subscription.json"])
def test_control_messages_give_nothing(alpaca, name):
    assert alpaca.parse(fixture(EX, name)) == []


def test_documented_quotes(alpaca):
    [q] = alpaca.parse(frame("quote.json"))
    assert isinstance(q, QuoteEvent) and q.symbol == "AMD"
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (87.66, 1.0, 87.68, 4.0)
    assert q.time_ns == ns(2021, 2, 22, 15, 51, 45, 335689) + 322
    first, second, third = alpaca.parse(fixture(EX, "stream_quotes.json"))
    assert [e.ask for e in (first, second, third)] == [87.67, 87.68, 87.67]
    assert first.time_ns == ns(2021, 2, 22, 15, 51, 45, 335567) + 700


def test_a_quote_side_sent_as_price_0_is_an_empty_side(alpaca):
    """Alpaca sends 0 for a side with nothing quoted: that side is None (with its size), and
    mid/spread are None; a quote with both sides empty is an error naming the field."""
    msg = fixture_obj(EX, "quote.json")
    [q] = alpaca.parse(orjson.dumps([{**msg, "bp": 0, "bs": 0}]))
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (None, None, 87.68, 4.0)
    assert q.mid is None and q.spread is None
    [q] = alpaca.parse(orjson.dumps([{**msg, "ap": 0.0, "as": 0}]))
    assert (q.bid, q.ask, q.ask_size, q.get_ask()) == (87.66, None, None, None)
    with pytest.raises(AdapterError, match=r"QuoteEvent\.bid: and ask are both None"):
        alpaca.parse(orjson.dumps([{**msg, "bp": 0, "ap": 0}]))


def test_documented_crypto_trade_carries_the_taker_side(alpaca):
    [t] = alpaca.parse(frame("crypto_trade.json"))
    assert (t.symbol, t.price, t.size, t.side, t.trade_id) == (
        "AVAX/USD", 47.299, 29.205707815, "SELL", "3447222699101865076")
    buy = fixture_obj(EX, "crypto_trade.json")
    buy["tks"] = "B"
    [t] = alpaca.parse(orjson.dumps([buy]))
    assert t.side == "BUY"


def test_a_correction_carries_the_original_and_the_corrected_trade(alpaca):
    [ev] = alpaca.parse(frame("correction.json"))
    assert isinstance(ev, SystemEvent) and ev.kind == "trade_correction"
    original, corrected = ev.data["original"], ev.data["corrected"]
    assert isinstance(original, TickEvent) and isinstance(corrected, TickEvent)
    assert (original.symbol, original.trade_id, original.price, original.size) == (
        "EEM", "52983525033527", 39.1582, 440000.0)
    assert (corrected.trade_id, corrected.price, corrected.size) == (
        "52983525034326", 39.1809, 440000.0)
    assert original.time_ns == corrected.time_ns == ev.time_ns == ns(2021, 2, 22, 20, 0, 0, 78)
    assert ev.data["original_conditions"] == [" ", "7", "V"] and ev.data["tape"] == "B"
    assert "corrected to trade 52983525034326" in ev.message


def test_a_cancel_error_carries_the_trade_and_its_action(alpaca):
    [ev] = alpaca.parse(frame("cancel_error.json"))
    assert isinstance(ev, SystemEvent) and ev.kind == "trade_cancel"
    trade = ev.data["trade"]
    assert (trade.symbol, trade.trade_id, trade.price, trade.size) == ("IBM", "52983525033527",
                                                                       122.75, 200.0)
    assert ev.data["action"] == "C" and "cancelled" in ev.message


def test_corrections_and_cancels_record_and_load(alpaca, tmp_path):
    import evlab

    bus = evlab.EventBus()
    with evlab.record(bus) as rec:
        for ev in alpaca.parse(frame("correction.json", "cancel_error.json")):
            bus.emit(ev)
    rec.save(tmp_path / "a.parquet")
    correction, cancel = evlab.load_recording(tmp_path / "a.parquet").to_events()
    assert correction.kind == "trade_correction" and cancel.kind == "trade_cancel"
    assert correction.data["corrected"]["price"] == 39.1809  # as JSON: the trade's fields
    assert cancel.data["trade"]["trade_id"] == "52983525033527"


@pytest.mark.parametrize(("name", "mutate", "pattern"), [
    ("quote.json", lambda m: m.update(bp=88.0), r"invalid quote \(QuoteEvent.bid"),
    ("quote.json", lambda m: m.update(bs=-1), r"invalid quote \(QuoteEvent.bid_size"),
    ("quote.json", lambda m: m.pop("ap"), r"missing field 'ap'"),
    ("crypto_trade.json", lambda m: m.update(tks="X"), r"field 'tks' must be \"B\" or \"S\""),
    ("correction.json", lambda m: m.update(cp="39.18"), r"field 'cp' must be a JSON number"),
    ("correction.json", lambda m: m.pop("oi"), r"missing field 'oi'"),
    ("cancel_error.json", lambda m: m.update(a="D"), r"field 'a' must be \"C\" \(cancel\)"),
    ("cancel_error.json", lambda m: m.update(s=-200), r"invalid trade"),
])
def test_bad_quotes_corrections_and_cancels_raise(alpaca, name, mutate, pattern):
    msg = fixture_obj(EX, name)
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern):
        alpaca.parse(orjson.dumps([msg]))


def test_quotes_corrections_and_cancels_in_messagepack(alpaca):
    packed = get_adapter(EX, msgpack=True)
    items = [fixture_obj(EX, n) for n in ("quote.json", "crypto_trade.json", "correction.json",
                                          "cancel_error.json")]
    as_json = alpaca.parse(orjson.dumps(items))
    for item, ev in zip(items, as_json, strict=True):  # t as a MessagePack Timestamp
        item["t"] = msgpack.Timestamp.from_unix_nano(ev.time_ns)
    assert packed.parse(msgpack.packb(items)) == as_json


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
    bar, quote, trade = alpaca.parse(mixed)
    assert (type(bar), bar.symbol) == (BarEvent, "SPY")
    assert (type(quote), quote.symbol) == (QuoteEvent, "AMD")
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
    assert req == Subscribe(("AAPL", "AMD", "CLDR", "VOO"), ("trades", "quotes", "bars"), None,
                            60, ("trades:AAPL", "quotes:AMD", "quotes:CLDR", "bars:AAPL",
                                 "bars:VOO"))
    assert alpaca.parse_subscribe(fixture(EX, "auth_request.json")) is None
    # the documented confirmation lists each key's symbols (Alpaca adds the other keys)
    [ack] = alpaca.subscribe_ack(req)
    documented = orjson.loads(fixture(EX, "subscription.json"))[0]
    got = orjson.loads(ack)[0]
    assert {k: got[k] for k in documented} == {**documented, "bars": ["AAPL", "VOO"]}
    assert got["corrections"] == got["cancelErrors"] == ["AAPL"]  # they follow the trades
    off = alpaca.parse_subscribe(b'{"action":"unsubscribe","quotes":["AMD"]}')
    assert off.unsubscribe and off.streams == ("quotes:AMD",)


def test_subscribe_round_trip(alpaca):
    [msg] = alpaca.subscribe_messages(["AAPL", "MSFT"], ["bars", "trades"])
    assert orjson.loads(msg) == {"action": "subscribe", "trades": ["AAPL", "MSFT"],
                                 "bars": ["AAPL", "MSFT"]}
    req = alpaca.parse_subscribe(msg)
    assert (req.symbols, set(req.channels)) == (("AAPL", "MSFT"), {"bars", "trades"})
    [ack] = alpaca.subscribe_ack(req)
    assert orjson.loads(ack) == [{
        "T": "subscription", "trades": ["AAPL", "MSFT"], "quotes": [], "bars": ["AAPL", "MSFT"],
        "updatedBars": [], "dailyBars": [], "statuses": [], "lulds": [],
        "corrections": ["AAPL", "MSFT"], "cancelErrors": ["AAPL", "MSFT"]}]
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
    assert req == Subscribe(("BTC/USD",), ("bars",), None, 60, ("bars:BTC/USD",))
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
