"""Coinbase: Exchange matches/ticker, Advanced Trade candles, finality, errors, round trips."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evlab.events import BarEvent, BarUpdateEvent, BookEvent, ErrorEvent, QuoteEvent, TickEvent
from evlab.feeds.adapters import AdapterError, BookDataError, Subscribe, get_adapter
from tests.books import capture

from ._data import btc_bars, fixture, fixture_obj, ns, same_bar

EX = "coinbase"
S = 1_688_998_200  # the documented candle's start, UNIX seconds


@pytest.fixture
def coinbase():
    return get_adapter(EX)


def candles_msg(start: int, stamp_ns: int, close: str = "1866.81", *, high: str = "1867.72"):
    """The documented candles message with its start, timestamp and close changed."""
    msg = fixture_obj(EX, "candles.json")
    k = msg["events"][0]["candles"][0]
    k.update(start=str(start), close=close, high=high)
    secs, frac = divmod(stamp_ns, 1_000_000_000)
    msg["timestamp"] = f"{_iso(secs)}.{frac:09d}Z"
    return orjson.dumps(msg)


def _iso(secs: int) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(secs, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_documented_match(coinbase):
    [ev] = coinbase.parse(fixture(EX, "match.json"))
    assert isinstance(ev, TickEvent)
    assert (ev.symbol, ev.price, ev.size, ev.trade_id) == ("BTC-USD", 400.23, 5.23512, "10")
    assert ev.time_ns == ns(2014, 11, 7, 8, 19, 27, 28459)
    assert ev.side == "BUY"  # "side": "sell" is the maker's side: the taker bought


def test_last_match_is_a_trade_too(coinbase):
    msg = fixture_obj(EX, "match.json")
    msg["type"] = "last_match"
    [ev] = coinbase.parse(orjson.dumps(msg))
    assert ev.price == 400.23 and ev.side == "BUY"


def test_documented_ticker(coinbase):
    ev, quote = coinbase.parse(fixture(EX, "ticker.json"))
    assert isinstance(ev, TickEvent) and isinstance(quote, QuoteEvent)
    assert (ev.symbol, ev.price, ev.size, ev.trade_id) == ("ETH-USD", 1285.22, 11.4396987,
                                                           "370843401")
    assert ev.time_ns == ns(2022, 10, 19, 23, 28, 22, 61769)
    assert ev.side == "BUY"  # the ticker's side is the taker side
    assert (quote.symbol, quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
        "ETH-USD", 1285.04, 0.46688654, 1285.27, 1.5663704)
    assert quote.time_ns == ev.time_ns


@pytest.mark.parametrize("name", ["heartbeat.json", "subscriptions.json",
                                  "heartbeats_advanced.json", "status_advanced.json"])
def test_control_messages_give_nothing(coinbase, name):
    assert coinbase.parse(fixture(EX, name)) == []


def test_documented_error(coinbase):
    payload = fixture(EX, "error.json")
    [ev] = coinbase.parse(payload)
    assert isinstance(ev, ErrorEvent)
    assert ev.message == "coinbase error: error message" and ev.payload == payload


def test_documented_candle_is_still_open(coinbase):
    # Its message timestamp (2023-06-09) is before the candle even starts (2023-07-10).
    [ev] = coinbase.parse(fixture(EX, "candles.json"))
    assert type(ev) is BarUpdateEvent
    assert (ev.symbol, ev.time_ns) == ("ETH-USD", S * 1_000_000_000)
    assert (ev.open, ev.high, ev.low, ev.close, ev.volume) == (1867.38, 1867.72, 1865.63,
                                                               1866.81, 0.20269406)


def test_candle_becomes_final_when_the_next_candle_arrives(coinbase):
    start = S * 1_000_000_000
    [u1] = coinbase.parse(candles_msg(S, start + 10_000_000_000))
    [u2] = coinbase.parse(candles_msg(S, start + 20_000_000_000, close="1867.0"))
    assert type(u1) is type(u2) is BarUpdateEvent and u2.close == 1867.0
    final, nxt = coinbase.parse(candles_msg(S + 300, start + 301_000_000_000, close="1867.5",
                                            high="1868.0"))
    assert type(final) is BarEvent and final.time_ns == start and final.close == 1867.0
    assert type(nxt) is BarUpdateEvent and nxt.time_ns == start + 300_000_000_000
    # a late re-send of the closed candle adds nothing
    assert coinbase.parse(candles_msg(S, start + 302_000_000_000)) == []


def test_candle_is_final_once_the_message_time_reaches_its_end(coinbase):
    start = S * 1_000_000_000
    [ev] = coinbase.parse(candles_msg(S, start + 300_000_000_000))
    assert type(ev) is BarEvent and ev.time_ns == start
    coinbase.reset()
    [ev] = coinbase.parse(candles_msg(S, start + 299_999_999_999))
    assert type(ev) is BarUpdateEvent


def test_bar_round_trip_real_bars():
    coinbase = get_adapter(EX, candle_interval_s=60)
    for row in btc_bars("1m"):
        [update] = coinbase.parse(coinbase.encode_bar("BTC-USD", *row, final=False))
        assert type(update) is BarUpdateEvent and same_bar(update, "BTC-USD", row)
        [final] = coinbase.parse(coinbase.encode_bar("BTC-USD", *row))
        assert type(final) is BarEvent and same_bar(final, "BTC-USD", row)


def test_encoded_candles_are_the_documented_shape():
    coinbase = get_adapter(EX, candle_interval_s=60)
    row = btc_bars("1m", 1)[0]
    msg = orjson.loads(coinbase.encode_bar("BTC-USD", *row))
    candle = msg["events"][0]["candles"][0]
    assert msg["channel"] == "candles" and msg["timestamp"] == "2016-10-07T00:01:00Z"
    assert candle == {"start": "1475798400", "high": "611.91", "low": "611.78",
                      "open": "611.78", "close": "611.9", "volume": "1.13872",
                      "product_id": "BTC-USD"}


def test_candle_interval_must_match_the_adapter(coinbase):
    row = btc_bars("1m", 1)[0]
    with pytest.raises(ValueError, match="candle_interval_s=60"):
        coinbase.encode_bar("BTC-USD", *row, interval_s=60)
    with pytest.raises(ValueError, match="positive"):
        get_adapter(EX, candle_interval_s=0)


def test_subscribe_round_trip(coinbase):
    bars, trades = coinbase.subscribe_messages(["BTC-USD", "ETH-USD"], ["bars", "trades"])
    assert orjson.loads(bars)["channel"] == "candles"
    assert orjson.loads(trades)["channels"] == ["matches"]
    assert coinbase.parse_subscribe(bars) == Subscribe(("BTC-USD", "ETH-USD"), ("bars",), None,
                                                       300, ("advanced:candles:BTC-USD",
                                                            "advanced:candles:ETH-USD"),
                                                       api="advanced")
    req = coinbase.parse_subscribe(trades)
    assert req == Subscribe(("BTC-USD", "ETH-USD"), ("trades",), None, None,
                            ("matches:BTC-USD", "matches:ETH-USD"))
    [ack] = coinbase.subscribe_ack(req)
    assert orjson.loads(ack) == {"type": "subscriptions", "channels": [
        {"name": "matches", "product_ids": ["BTC-USD", "ETH-USD"]}]}
    assert coinbase.parse(ack) == []
    [bar_ack] = coinbase.subscribe_ack(coinbase.parse_subscribe(bars))
    assert orjson.loads(bar_ack)["events"] == [{"subscriptions": {"candles": ["BTC-USD",
                                                                              "ETH-USD"]}}]
    assert coinbase.parse(bar_ack) == []


def test_parse_documented_subscribe_requests(coinbase):
    req = coinbase.parse_subscribe(fixture(EX, "subscribe_request.json"))
    assert req.symbols == ("ETH-USD", "ETH-EUR", "ETH-BTC")  # root ids plus the ticker's
    assert req.channels == ("books", "heartbeat", "trades")  # level2, heartbeat, ticker
    # a channel object's product ids replace the root ones for that channel
    assert req.streams == ("level2:ETH-USD", "level2:ETH-EUR", "heartbeat:ETH-USD",
                           "heartbeat:ETH-EUR", "ticker:ETH-BTC", "ticker:ETH-USD")
    req = coinbase.parse_subscribe(fixture(EX, "candles_subscribe_request.json"))
    assert (req.symbols, req.channels) == (("ETH-USD",), ("bars",))
    req = coinbase.parse_subscribe(b'{"type": "unsubscribe", "channels": ["heartbeat"]}')
    assert req.unsubscribe and req.streams == ("heartbeat",)
    assert coinbase.stream_key("level2_batch:BTC-USD") == "level2:BTC-USD"
    for bad in (b'{"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level9"]}',
                b'{"type": "subscribe", "product_ids": [3], "channels": ["level2"]}',
                b'{"type": "subscribe", "product_ids": ["BTC-USD"]}'):
        with pytest.raises(AdapterError):
            coinbase.parse_subscribe(bad)


@pytest.mark.parametrize(("name", "mutate", "pattern"), [
    ("match.json", lambda m: m.update(price={}), r"field 'price' must be a decimal string"),
    ("match.json", lambda m: m.update(size=5.2), r"field 'size' must be a decimal string"),
    ("match.json", lambda m: m.pop("product_id"), r"missing field 'product_id'"),
    ("match.json", lambda m: m.update(side="up"), r"field 'side' must be \"buy\" or \"sell\""),
    ("match.json", lambda m: m.update(time="yesterday"), r"must be an RFC 3339 timestamp"),
    ("match.json", lambda m: m.update(type="received"), r"unknown message type 'received'"),
    ("ticker.json", lambda m: m.pop("last_size"), r"missing field 'last_size'"),
    ("candles.json", lambda m: m.update(channel="level3"), r"unknown channel 'level3'"),
    ("candles.json", lambda m: m.update(events={}), r"field 'events' must be an array"),
    ("candles.json", lambda m: m["events"][0]["candles"][0].update(start="soon"),
     r"field 'start' must be UNIX seconds"),
    ("candles.json", lambda m: m["events"][0]["candles"][0].update(low="1900"),
     r"invalid bar"),
])
def test_bad_messages_raise_with_a_clear_message(coinbase, name, mutate, pattern):
    msg = fixture_obj(EX, name)
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern):
        coinbase.parse(orjson.dumps(msg))


def test_non_object_and_malformed(coinbase):
    with pytest.raises(AdapterError, match="expected a JSON object"):
        coinbase.parse(b'[{"type": "match"}]')
    with pytest.raises(AdapterError, match="malformed JSON"):
        coinbase.parse(b"{'type': 'match'}")


# --- level2 and the 2021 ticker (issue 12) ----------------------------------------------------

def test_documented_level2_snapshot_and_update(coinbase):
    [snap] = coinbase.parse(fixture(EX, "level2_snapshot.json"))
    assert isinstance(snap, BookEvent) and snap.snapshot
    assert (snap.symbol, snap.bids, snap.asks) == ("BTC-USD", ((10101.10, 0.45054140),),
                                                   ((10102.55, 0.57753524),))
    assert snap.first_update_id is None and snap.last_update_id is None  # level2 has no ids
    [upd] = coinbase.parse(fixture(EX, "l2update.json"))
    assert isinstance(upd, BookEvent) and not upd.snapshot
    assert (upd.symbol, upd.bids, upd.asks) == ("BTC-USD", ((10101.8, 0.162567),), ())
    assert upd.time_ns == ns(2019, 8, 14, 20, 42, 27, 265000)


def test_captured_ticker_of_2021_is_a_quote_without_sizes(coinbase):
    payload = next(e.payload for e in capture("coinbase") if '"type":"ticker"' in e.payload)
    trade, quote = coinbase.parse(payload)
    assert isinstance(trade, TickEvent) and isinstance(quote, QuoteEvent)
    assert (quote.symbol, quote.bid, quote.ask) == ("BAND-GBP", 14.755, 14.806)
    assert quote.bid_size is None and quote.ask_size is None
    assert quote.time_ns == trade.time_ns == ns(2021, 4, 17, 16, 43, 30, 244075)


def test_every_captured_frame_decodes():
    coinbase = get_adapter(EX)
    kinds = Counter(type(ev).__name__ for e in capture("coinbase")
                    for ev in coinbase.parse(e.payload))
    # 10 snapshots + 9,719 l2updates; 107 tickers give a trade and a quote each; 107 matches
    assert kinds == {"BookEvent": 9729, "TickEvent": 214, "QuoteEvent": 107}


@pytest.mark.parametrize(("changes", "pattern"), [
    ([["buy", "10101.8", "-1"]], "bids size: must not be negative"),
    ([["bid", "10101.8", "1"]], "changes"),
    ([["buy", "NaN", "1"]], "changes"),
])
def test_bad_l2updates_raise_with_a_clear_message(coinbase, changes, pattern):
    msg = {**fixture_obj(EX, "l2update.json"), "changes": changes}
    with pytest.raises(AdapterError, match=pattern):
        coinbase.parse(orjson.dumps(msg))


def test_bad_l2updates_are_book_data_errors_naming_the_product(coinbase):
    msg = {**fixture_obj(EX, "l2update.json"), "changes": [["buy", "10101.8", "-1"]]}
    with pytest.raises(BookDataError) as caught:
        coinbase.parse(orjson.dumps(msg))
    assert caught.value.symbol == "BTC-USD"


# --- Advanced Trade level2, market_trades, ticker, status ---------------------------------------

def test_documented_advanced_level2_snapshot(coinbase):
    [snap] = coinbase.parse(fixture(EX, "l2_data.json"))
    assert isinstance(snap, BookEvent) and snap.snapshot and snap.symbol == "BTC-USD"
    assert snap.bids == ((21921.73, 0.06317902), (21921.3, 0.02)) and snap.asks == ()
    assert snap.time_ns == ns(2023, 2, 9, 20, 32, 50, 714964) + 855  # the envelope's
    assert snap.first_update_id is None and snap.last_update_id is None


def test_advanced_level2_update_is_at_the_engines_event_time(coinbase):
    msg = fixture_obj(EX, "l2_data.json")
    event = msg["events"][0]
    event["type"] = "update"
    event["updates"] = [
        {"side": "offer", "event_time": "2023-02-09T20:32:50.7Z", "price_level": "21925.5",
         "new_quantity": "1.5"},
        {"side": "bid", "event_time": "2023-02-09T20:32:50.71Z", "price_level": "21921.3",
         "new_quantity": "0"}]
    [upd] = coinbase.parse(orjson.dumps(msg))
    assert not upd.snapshot and upd.bids == ((21921.3, 0.0),) and upd.asks == ((21925.5, 1.5),)
    assert upd.time_ns == ns(2023, 2, 9, 20, 32, 50, 710000)


def test_documented_market_trade_side_is_the_makers(coinbase):
    [t] = coinbase.parse(fixture(EX, "market_trades.json"))
    assert isinstance(t, TickEvent)
    # "side refers to the makers side": a resting buy was hit, the aggressor sold
    assert (t.symbol, t.price, t.size, t.side, t.trade_id) == ("ETH-USD", 1260.01, 0.3,
                                                               "SELL", "000000000")
    assert t.time_ns == ns(2019, 8, 14, 20, 42, 27, 265000)


def test_documented_advanced_ticker_is_a_quote(coinbase):
    [q] = coinbase.parse(fixture(EX, "ticker_advanced.json"))
    assert isinstance(q, QuoteEvent) and q.symbol == "BTC-USD"
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (21931.98, 8000.21, 21933.98, 8038.07770938)
    assert q.time_ns == ns(2023, 2, 9, 20, 30, 37, 167359) + 596
    batch = {**fixture_obj(EX, "ticker_advanced.json"), "channel": "ticker_batch"}
    assert coinbase.parse(orjson.dumps(batch)) == []  # no best bid/ask in ticker_batch


@pytest.mark.parametrize(("name", "mutate", "pattern"), [
    ("l2_data.json", lambda m: m["events"][0]["updates"][0].update(side="ask"), r"'updates'"),
    ("l2_data.json", lambda m: m["events"][0]["updates"][0].update(new_quantity="-1"),
     r"bids size: must not be negative"),
    ("l2_data.json", lambda m: m["events"][0]["updates"][0].update(price_level=21921.73),
     r"'updates\[\]\.price_level' must be a decimal string"),
    ("l2_data.json", lambda m: m["events"][0].update(type="partial"),
     r"field 'type' must be \"snapshot\" or \"update\""),
    ("l2_data.json", lambda m: m["events"][0].pop("product_id"), r"missing field 'product_id'"),
    ("market_trades.json", lambda m: m["events"][0]["trades"][0].update(side="buy"),
     r"field 'side' must be \"BUY\" or \"SELL\""),
    ("market_trades.json", lambda m: m["events"][0]["trades"][0].update(size="-0.3"),
     r"invalid trade"),
    ("market_trades.json", lambda m: m["events"][0]["trades"][0].update(trade_id=7),
     r"field 'trade_id' must be a non-empty string"),
    ("ticker_advanced.json", lambda m: m["events"][0]["tickers"][0].update(best_bid="21940"),
     r"invalid quote \(QuoteEvent.bid"),
    ("ticker_advanced.json", lambda m: m["events"][0]["tickers"][0].pop("best_ask_quantity"),
     r"missing field 'best_ask_quantity'"),
])
def test_bad_advanced_messages_raise_with_a_clear_message(coinbase, name, mutate, pattern):
    msg = fixture_obj(EX, name)
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern):
        coinbase.parse(orjson.dumps(msg))


def _advanced(channel_fixture: str, seq: int, product: str = "BTC-USD") -> bytes:
    """A documented Advanced Trade message with ``sequence_num`` ``seq`` (l2_data: of
    ``product``)."""
    msg = fixture_obj(EX, channel_fixture)
    msg["sequence_num"] = seq
    if channel_fixture == "l2_data.json":
        msg["events"][0]["product_id"] = product
    return orjson.dumps(msg)


def test_an_advanced_sequence_jump_is_a_book_error_for_every_level2_product(coinbase):
    """"Sequence numbers that are greater than one integer value from the previous number
    indicate that a message has been dropped": the dropped one may have been any product's
    l2_data, so each book this connection carried goes stale, before the message's events."""
    coinbase.parse(_advanced("l2_data.json", 0))
    coinbase.parse(_advanced("l2_data.json", 1, "ETH-USD"))
    assert [type(e) for e in coinbase.parse(_advanced("market_trades.json", 2))] == [TickEvent]
    first, second, trade = coinbase.parse(_advanced("market_trades.json", 5))
    assert isinstance(trade, TickEvent)  # the message itself is decoded as usual
    assert [(e.kind, e.data["symbol"], e.data["reason"]) for e in (first, second)] == [
        ("book_error", "BTC-USD", "missed_messages"), ("book_error", "ETH-USD", "missed_messages")]
    assert first.data["error"] == "sequence_num 5 after 2: 2 message(s) missed"
    assert first.data["snapshot"] is False
    assert [type(e) for e in coinbase.parse(_advanced("market_trades.json", 6))] == [TickEvent]


def test_advanced_sequence_jumps_without_level2_and_restarts_are_not_gaps(coinbase):
    assert [type(e) for e in coinbase.parse(_advanced("market_trades.json", 3))] == [TickEvent]
    assert [type(e) for e in coinbase.parse(_advanced("market_trades.json", 9))] == [TickEvent]
    # the connection's first l2_data after a jump: no book of it can have missed anything
    assert [type(e) for e in coinbase.parse(_advanced("l2_data.json", 12))] == [BookEvent]
    # a lower number starts the count again (a new connection numbers from 0): not a gap
    assert [type(e) for e in coinbase.parse(_advanced("l2_data.json", 0))] == [BookEvent]
    assert [type(e) for e in coinbase.parse(_advanced("market_trades.json", 1))] == [TickEvent]
    # a product's first l2_data after a jump: no book of it missed anything yet
    gap, snapshot = coinbase.parse(_advanced("l2_data.json", 4, "ETH-USD"))
    assert gap.data["symbol"] == "BTC-USD" and snapshot.symbol == "ETH-USD"
    coinbase.reset()  # a reconnect the caller knows of: the count and the products go
    assert [type(e) for e in coinbase.parse(_advanced("market_trades.json", 7))] == [TickEvent]
    assert [type(e) for e in coinbase.parse(_advanced("market_trades.json", 9))] == [TickEvent]


def test_an_advanced_message_that_cannot_be_decoded_counts_as_missed(coinbase):
    coinbase.parse(_advanced("l2_data.json", 0))
    bad = fixture_obj(EX, "market_trades.json")
    bad["sequence_num"] = 1
    bad["events"][0]["trades"][0]["size"] = "-0.3"
    with pytest.raises(AdapterError, match="invalid trade"):
        coinbase.parse(orjson.dumps(bad))
    gap, trade = coinbase.parse(_advanced("market_trades.json", 2))
    assert gap.kind == "book_error" and gap.data["symbol"] == "BTC-USD"
    assert isinstance(trade, TickEvent)
    assert gap.data["error"] == "sequence_num 2 after 0: 1 message(s) missed"
    wrong = {**fixture_obj(EX, "market_trades.json"), "sequence_num": "3"}
    with pytest.raises(AdapterError, match=r"field 'sequence_num' must be an integer"):
        coinbase.parse(orjson.dumps(wrong))


def test_a_bad_advanced_level2_update_names_its_product(coinbase):
    msg = fixture_obj(EX, "l2_data.json")
    msg["events"][0]["updates"][1]["new_quantity"] = "lots"
    with pytest.raises(BookDataError) as caught:
        coinbase.parse(orjson.dumps(msg))
    assert caught.value.symbol == "BTC-USD"


# --- the candles message read in one pass (compiled) ---------------------------------------

def _candles_text(candles: list[dict], *, stamp: str = "2023-06-09T20:19:35.39625135Z",
                  seq: int = 0, kind: str = "update", events: int = 1) -> str:
    """A compact candles message, keys in Coinbase's order, ``candles`` in each of ``events``
    events."""
    return orjson.dumps({"channel": "candles", "client_id": "", "timestamp": stamp,
                         "sequence_num": seq,
                         "events": [{"type": kind, "candles": candles}] * events}).decode()


def _candle(start: int | str = S, product: str = "ETH-USD", **values: str) -> dict:
    out = {"start": str(start), "high": "1867.72", "low": "1865.63", "open": "1867.38",
           "close": "1866.81", "volume": "0.20269406", "product_id": product}
    out.update(values)
    return out


def _candle_messages() -> list[str]:
    """The documented candles message (compact), encoded bars, messages of several candles
    and events, and variants: other JSON spellings (whitespace, an escape, another key order,
    an extra key), values the general path reads another way (a start of 11+ digits, leading
    zeros, a sign) and values the adapter must refuse (a bad time, a low above the high, an
    empty product, a start past int64 ns, a negative sequence number)."""
    documented = orjson.dumps(fixture_obj(EX, "candles.json")).decode()
    enc = get_adapter(EX, candle_interval_s=60)
    encoded = [enc.encode_bar("BTC-USD", (1_700_000_040 + 60 * i) * 1_000_000_000, 100.5,
                              101.0, 99.9, 100.7, 12.5 + i, interval_s=60).decode()
               for i in range(3)]
    swaps = [  # (in documented, replaced by)
        ('"high":"1867.72"', '"high":"1867.720000000000000001"'), ('"low":"1865.63"',
                                                                  '"low":"1900"'),
        ('"volume":"0.20269406"', '"volume":"0"'), ('"volume":"0.20269406"', '"volume":"-1"'),
        ('"volume":"0.20269406"', '"volume":"1e3"'), ('"volume":"0.20269406"', '"volume":".5"'),
        ('"volume":"0.20269406"', '"volume":0.5'), ('"open":"1867.38"', '"open":"1e18"'),
        ('"open":"1867.38"', '"open":"999999999999999999"'), ('"open":"1867.38"', '"open":""'),
        ('"start":"1688998200"', '"start":"01688998200"'), ('"start":"1688998200"',
                                                            '"start":"0001688998200"'),
        ('"start":"1688998200"', '"start":"9223372036"'), ('"start":"1688998200"',
                                                           '"start":"9223372037"'),
        ('"start":"1688998200"', '"start":"168899820x"'), ('"start":"1688998200"', '"start":""'),
        ('"start":"1688998200"', '"start":1688998200'), ('"product_id":"ETH-USD"',
                                                         '"product_id":""'),
        ('"product_id":"ETH-USD"', '"product_id":"ETH\\u002dUSD"'),
        ('"product_id":"ETH-USD"', '"product_id":"ÉTH-USD"'), ('"sequence_num":0',
                                                                '"sequence_num":-1'),
        ('"sequence_num":0', '"sequence_num":"0"'), ('"sequence_num":0', '"sequence_num":01'),
        ('"sequence_num":0', '"sequence_num":1234567890123456789'),
        ('"timestamp":"2023-06-09T20:19:35.39625135Z"', '"timestamp":"2023-06-09T20:19:35Z"'),
        ('"timestamp":"2023-06-09T20:19:35.39625135Z"', '"timestamp":"2023-06-09T20:19:60Z"'),
        ('"timestamp":"2023-06-09T20:19:35.39625135Z"',
         '"timestamp":"2023-06-09T22:19:35+02:00"'),
        ('"timestamp":"2023-06-09T20:19:35.39625135Z"', '"timestamp":""'),
        ('"client_id":""', '"client_id":"me"'), ('"client_id":""', '"client_id":"a\\"b"'),
        ('"type":"snapshot"', '"type":""'), ('"events":[', '"events": ['),
        ('"high":"1867.72","low":"1865.63"', '"low":"1865.63","high":"1867.72"'),
        ('"product_id":"ETH-USD"}', '"product_id":"ETH-USD","x":1}'),
        ('"candles":[{', '"candles":[[{'), ('"channel":"candles",', '"channel":"candles","x":1,'),
    ]
    variants = [documented.replace(old, new) for old, new in swaps]
    several = [_candles_text([_candle(S), _candle(S + 300, close="1870.5")]),
               _candles_text([_candle(S), _candle(S, product="BTC-USD")], events=2),
               _candles_text([_candle(S)], kind="snapshot", events=3, seq=5),
               _candles_text([_candle(S), _candle(S, low="1900")]), _candles_text([]),
               '{"channel":"candles","client_id":"","timestamp":"2023-06-09T20:19:35Z",'
               '"sequence_num":0,"events":[]}']
    return [documented, *encoded, *variants, *several, documented + " ", documented[:-1],
            documented[:-1] + "]}", documented + "x", documented[:40], '{"channel":"candles"}']


def _bars(adapter, payload):
    try:
        return [(type(ev).__name__, ev.symbol, ev.time_ns, ev.open, ev.high, ev.low, ev.close,
                 ev.volume, ev.source) if isinstance(ev, BarEvent) else repr(ev)
                for ev in adapter.parse(payload, source="feed")]
    except AdapterError as exc:
        return type(exc).__name__, "malformed JSON" in str(exc) or str(exc)


def test_a_candles_message_read_in_one_pass_is_what_the_json_decoder_gives():
    """Compiled, a candles message in Coinbase's form is read in one pass over its text
    (``_common.candles_levels``): the same bars, errors, repeats and sequence tracking as the
    JSON path gives the same message with a leading space (which the one pass does not take),
    message after message on one adapter each; str or bytes. The scan run interpreted from its
    source reads the same, and what it reads is what the JSON objects hold."""
    from evlab.feeds.adapters import _common

    from .test_common import _interpreted_common

    source = _interpreted_common()
    compiled = not _common.__file__.endswith(".py")
    fast, slow, raw = get_adapter(EX), get_adapter(EX), get_adapter(EX)
    taken = 0
    for payload in _candle_messages():
        got = _bars(fast, payload)
        assert got == _bars(slow, " " + payload), payload
        assert _bars(raw, payload.encode()) == got, payload
        assert (fast._at_seq, fast.repeated_bars()) == (slow._at_seq, slow.repeated_bars())
        scanned = _common.candles_levels(payload)
        assert scanned == (source._candles_scan(payload) if compiled else None), payload
        assert _common.candles_levels(payload.encode()) == scanned
        mine = source._candles_scan(payload)
        if mine is not None:
            taken += 1
            obj = orjson.loads(payload)
            assert mine == (_common.get_time("x", obj, "timestamp"), obj["sequence_num"], tuple(
                (k["product_id"], _common.get_time_s_str("x", k, "start"),
                 tuple(_common.get_dec("x", k, f) for f in ("open", "high", "low", "close",
                                                            "volume")),
                 _common.excerpt(k, 10_000))
                for event in obj["events"] for k in event["candles"]))
    # the documented message, the encoded ones, 8 variants still in Coinbase's form (a value
    # of 16+ digits, a low above the high, a volume 0, a start at the int64 limit, a timestamp
    # without a fraction or with an offset, a client id, an empty type: their faults are the
    # bar's to judge) and the 4 of several candles or events are read in one pass
    assert taken == 1 + 3 + 8 + 4, taken


candle_values = st.from_regex(r"(0|[1-9][0-9]{0,6})(\.[0-9]{1,10})?", fullmatch=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(candle_values, min_size=5, max_size=5),
                          st.text(st.characters(min_codepoint=32, max_codepoint=126),
                                  max_size=8)),
                min_size=1, max_size=4),
       st.integers(0, 10**6), st.integers(0, 10**9 - 1), st.integers(0, 3))
def test_generated_candles_messages_give_the_same_events_on_both_paths(candles, seq, frac,
                                                                        digits):
    """Generated candles messages (starts in and out of order, any OHLCV of plain decimals,
    products of printable ASCII, the empty one too; timestamps with 0 to 9 fraction digits):
    the one pass (compiled) and the JSON path give the same events or error, and the scan's
    source run interpreted reads what the compiled one does."""
    from evlab.feeds.adapters import _common

    from .test_common import _interpreted_common

    stamp = "2023-06-09T20:19:35" + (f".{frac:09d}"[:digits + 1] if digits else "") + "Z"
    fast, slow = get_adapter(EX), get_adapter(EX)
    items = [_candle(S + 300 * k, product or "", high=h, low=lo, open=o, close=c, volume=v)
             for k, (h, lo, o, c, v), product in candles]
    payload = _candles_text(items, stamp=stamp, seq=seq)
    assert _bars(fast, payload) == _bars(slow, " " + payload)
    compiled = not _common.__file__.endswith(".py")
    assert _common.candles_levels(payload) == (
        _interpreted_common()._candles_scan(payload) if compiled else None)
