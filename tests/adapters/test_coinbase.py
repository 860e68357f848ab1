"""Coinbase: Exchange matches/ticker, Advanced Trade candles, finality, errors, round trips."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

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
