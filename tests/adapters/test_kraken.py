"""Kraken v2: documented ohlc/trade/status examples, candle finality, errors, round trips."""

from __future__ import annotations

import orjson
import pytest

from evlab.events import (
    BarEvent,
    BarUpdateEvent,
    BookEvent,
    ErrorEvent,
    QuoteEvent,
    SystemEvent,
    TickEvent,
)
from evlab.feeds.adapters import AdapterError, BookDataError, Subscribe, get_adapter

from ._data import btc_bars, fixture, fixture_obj, ns, same_bar

EX = "kraken"


@pytest.fixture
def kraken():
    return get_adapter(EX)


def ohlc_update(begin: str, stamp: str, close: float) -> bytes:
    """The documented MATIC/USD update moved to another interval/time, with a new close."""
    msg = fixture_obj(EX, "ohlc_update.json")
    msg["timestamp"] = stamp
    msg["data"][0].update(interval_begin=begin, close=close)
    return orjson.dumps(msg)


def test_documented_snapshot_candles_are_final(kraken):
    # Both candles ended (15:30, 15:35) before the message time (16:26:01): final bars.
    first, second = kraken.parse(fixture(EX, "ohlc_snapshot.json"))
    assert type(first) is BarEvent and type(second) is BarEvent
    assert (first.symbol, first.time_ns) == ("ALGO/USD", ns(2023, 10, 4, 15, 25))
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        0.09875, 0.09875, 0.09875, 0.09875, 201.86015)
    assert second.time_ns == ns(2023, 10, 4, 15, 30)
    assert (second.high, second.volume) == (0.0988, 16255.46368)


def test_documented_update_is_in_progress(kraken):
    [ev] = kraken.parse(fixture(EX, "ohlc_update.json"))
    assert type(ev) is BarUpdateEvent
    assert (ev.symbol, ev.time_ns) == ("MATIC/USD", ns(2023, 10, 4, 16, 25))
    assert (ev.open, ev.high, ev.low, ev.close, ev.volume) == (0.5624, 0.5628, 0.5622, 0.5627,
                                                               30927.68066226)


def test_candle_becomes_final_when_a_later_interval_arrives(kraken):
    [u1] = kraken.parse(fixture(EX, "ohlc_update.json"))
    [u2] = kraken.parse(ohlc_update("2023-10-04T16:25:00Z", "2023-10-04T16:29:59.9Z", 0.5625))
    assert type(u1) is type(u2) is BarUpdateEvent and u2.close == 0.5625
    final, nxt = kraken.parse(ohlc_update("2023-10-04T16:30:00Z", "2023-10-04T16:31:02Z",
                                          0.5626))
    assert type(final) is BarEvent  # the last update of 16:25, now closed
    assert (final.time_ns, final.close) == (ns(2023, 10, 4, 16, 25), 0.5625)
    assert type(nxt) is BarUpdateEvent and nxt.time_ns == ns(2023, 10, 4, 16, 30)


def test_final_candles_are_not_emitted_twice(kraken):
    assert len(kraken.parse(fixture(EX, "ohlc_snapshot.json"))) == 2
    assert kraken.parse(fixture(EX, "ohlc_snapshot.json")) == []  # re-sent snapshot
    kraken.reset()
    assert len(kraken.parse(fixture(EX, "ohlc_snapshot.json"))) == 2


def test_symbols_and_intervals_are_tracked_separately(kraken):
    kraken.parse(fixture(EX, "ohlc_update.json"))  # MATIC/USD 16:25, open
    other = fixture_obj(EX, "ohlc_update.json")
    other["data"][0].update(symbol="ALGO/USD", interval_begin="2023-10-04T16:30:00Z")
    [ev] = kraken.parse(orjson.dumps(other))  # a later ALGO candle does not close MATIC's
    assert type(ev) is BarUpdateEvent and ev.symbol == "ALGO/USD"


def test_documented_trades(kraken):
    a, b = kraken.parse(fixture(EX, "trade_snapshot.json"))
    assert (a.symbol, a.price, a.size, a.side, a.trade_id) == ("MATIC/USD", 0.5147, 6423.46326,
                                                               "BUY", "4665846")
    assert a.time_ns == ns(2023, 9, 25, 7, 48, 36, 925533)
    assert (b.size, b.trade_id) == (1136.19677815, "4665847")
    [ev] = kraken.parse(fixture(EX, "trade_update.json"))
    assert isinstance(ev, TickEvent)
    assert (ev.price, ev.size, ev.side, ev.trade_id) == (0.5117, 40.0, "SELL", "4665906")
    assert ev.time_ns == ns(2023, 9, 25, 7, 49, 37, 708706)


@pytest.mark.parametrize("name", ["status.json", "heartbeat.json", "ohlc_subscribe_ack_1.json",
                                  "ohlc_subscribe_ack_2.json", "trade_subscribe_ack.json"])
def test_control_messages_give_nothing(kraken, name):
    assert kraken.parse(fixture(EX, name)) == []


def test_status_other_than_online_is_a_system_event(kraken):
    msg = fixture_obj(EX, "status.json")
    msg["data"][0]["system"] = "maintenance"
    [ev] = kraken.parse(orjson.dumps(msg))
    assert isinstance(ev, SystemEvent)
    assert ev.kind == "exchange_status" and "maintenance" in ev.message


def test_failed_request_is_an_error_event(kraken):
    msg = fixture_obj(EX, "trade_subscribe_ack.json")
    msg.update(success=False, error="Currency pair not supported")
    payload = orjson.dumps(msg)
    [ev] = kraken.parse(payload)
    assert isinstance(ev, ErrorEvent) and "Currency pair not supported" in ev.message
    assert ev.payload == payload


@pytest.mark.parametrize(("name", "mutate", "pattern"), [
    ("ohlc_update.json", lambda m: m["data"][0].update(open={}),
     r"field 'open' must be a JSON number, got dict"),
    ("ohlc_update.json", lambda m: m["data"][0].update(close="0.5627"),
     r"field 'close' must be a JSON number, got str"),
    ("ohlc_update.json", lambda m: m["data"][0].pop("interval_begin"),
     r"missing field 'interval_begin'"),
    ("ohlc_update.json", lambda m: m["data"][0].update(interval=0), r"'interval' must be positive"),
    ("ohlc_update.json", lambda m: m["data"][0].update(low=0.6), r"invalid bar"),
    ("ohlc_update.json", lambda m: m.pop("timestamp"), r"missing field 'timestamp'"),
    ("trade_update.json", lambda m: m["data"][0].update(price={}),
     r"field 'price' must be a JSON number"),
    ("trade_update.json", lambda m: m["data"][0].update(qty=True),
     r"field 'qty' must be a JSON number, got bool"),
    ("trade_update.json", lambda m: m["data"][0].update(timestamp=1695628177),
     r"field 'timestamp' must be a non-empty string"),
    ("trade_update.json", lambda m: m.update(channel="level3"), r"unknown channel 'level3'"),
])
def test_bad_messages_raise_with_a_clear_message(kraken, name, mutate, pattern):
    msg = fixture_obj(EX, name)
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern):
        kraken.parse(orjson.dumps(msg))


def test_parse_documented_subscribe_requests(kraken):
    req = kraken.parse_subscribe(fixture(EX, "ohlc_subscribe.json"))
    assert req == Subscribe(("ALGO/USD", "MATIC/USD"), ("bars",), None, 300,
                            ("ohlc:ALGO/USD:5", "ohlc:MATIC/USD:5"))
    req = kraken.parse_subscribe(fixture(EX, "trade_subscribe.json"))
    assert req == Subscribe(("MATIC/USD",), ("trades",), None, None, ("trade:MATIC/USD",))
    assert kraken.parse_subscribe(b'{"method": "ping", "req_id": 101}') is None
    off = kraken.parse_subscribe(b'{"method": "unsubscribe", "params": {"channel": "book", '
                                 b'"symbol": ["BTC/USD"]}, "req_id": 9}')
    assert off == Subscribe(("BTC/USD",), ("books",), 9, None, ("book:BTC/USD",), True)
    [ack] = kraken.subscribe_ack(off)
    assert orjson.loads(ack)["method"] == "unsubscribe" and orjson.loads(ack)["result"] == {
        "channel": "book", "symbol": "BTC/USD"}
    with pytest.raises(AdapterError, match="unsupported book depth 7"):
        kraken.parse_subscribe(b'{"method": "subscribe", "params": {"channel": "book", '
                               b'"symbol": ["BTC/USD"], "depth": 7}}')


def test_ack_has_the_documented_shape(kraken):
    acks = kraken.subscribe_ack(kraken.parse_subscribe(fixture(EX, "ohlc_subscribe.json")))
    documented = [fixture_obj(EX, "ohlc_subscribe_ack_1.json"),
                  fixture_obj(EX, "ohlc_subscribe_ack_2.json")]
    assert len(acks) == 2
    for ack, doc in zip(acks, documented, strict=True):
        got = orjson.loads(ack)
        doc["result"].pop("warnings")
        assert got["result"] == doc["result"] and got["success"] is True
        assert kraken.parse(ack) == []


def test_subscribe_round_trip(kraken):
    bars, trades = kraken.subscribe_messages(["BTC/USD", "ETH/USD"], ["bars", "trades"],
                                             interval_s=300)
    assert orjson.loads(bars)["params"] == {"channel": "ohlc", "symbol": ["BTC/USD", "ETH/USD"],
                                            "interval": 5}
    req = kraken.parse_subscribe(bars)
    assert (req.symbols, req.channels, req.interval_s) == (("BTC/USD", "ETH/USD"), ("bars",),
                                                           300)
    assert req.req_id == orjson.loads(bars)["req_id"]
    assert kraken.parse_subscribe(trades).channels == ("trades",)


@pytest.mark.parametrize("interval_s", [60, 300])
def test_bar_round_trip_real_bars(kraken, interval_s):
    for row in btc_bars("1m"):
        [update] = kraken.parse(kraken.encode_bar("BTC/USD", *row, interval_s=interval_s,
                                                  final=False))
        assert type(update) is BarUpdateEvent and same_bar(update, "BTC/USD", row)
        [final] = kraken.parse(kraken.encode_bar("BTC/USD", *row, interval_s=interval_s))
        assert type(final) is BarEvent and same_bar(final, "BTC/USD", row)


def test_final_bars_alone_round_trip(kraken):
    rows = btc_bars("1m")
    events = [ev for row in rows for ev in kraken.parse(kraken.encode_bar("BTC/USD", *row))]
    assert [type(ev) for ev in events] == [BarEvent] * len(rows)
    assert all(same_bar(ev, "BTC/USD", row) for ev, row in zip(events, rows, strict=True))


def test_encode_refuses_intervals_kraken_has_not(kraken):
    with pytest.raises(ValueError, match="no ohlc interval of 1 s"):
        kraken.encode_bar("BTC/USD", 0, 1.0, 1.0, 1.0, 1.0, 1.0, interval_s=1)


def test_documented_book_snapshot_and_update(kraken):
    assert kraken.parse(fixture(EX, "book_subscribe_ack.json")) == []
    [snap] = kraken.parse(fixture(EX, "book_snapshot.json"))
    assert isinstance(snap, BookEvent) and snap.snapshot and snap.symbol == "MATIC/USD"
    assert snap.bids[0] == (0.5666, 4831.75496356) and snap.bids[-1] == (0.5657, 606.70854372)
    assert snap.asks[0] == (0.5668, 4410.79769741) and len(snap.bids) == len(snap.asks) == 10
    assert snap.time_ns == ns(2023, 10, 6, 17, 35, 55, 440295)
    # the decimals whose checksum is the snapshot's (here the wire's longest fractions);
    # the depth is the ack's
    assert (snap.checksum, snap.checksum_rule) == (2439117997, "kraken:4:8:10")
    [upd] = kraken.parse(fixture(EX, "book_update.json"))
    assert not upd.snapshot and upd.bids == ((0.5657, 1098.3947558),) and upd.asks == ()
    assert (upd.checksum, upd.checksum_rule) == (2114181697, "kraken:4:8:10")


def test_checksum_guide_example_reads_decimal_strings(kraken):
    [snap] = kraken.parse(fixture(EX, "book_checksum_example.json"))
    assert snap.bids[0] == (45283.5, 0.1) and snap.asks[0] == (45285.2, 0.001)
    assert snap.time_ns is not None  # no timestamp in the example: the receive time
    # no ack seen: the depth is the smallest subscribable one that holds the snapshot
    assert (snap.checksum, snap.checksum_rule) == (3310070434, "kraken:1:8:10")


def test_book_depth_comes_from_the_subscribe_ack(kraken):
    ack = fixture_obj(EX, "book_subscribe_ack.json")
    ack["result"]["depth"] = 25
    kraken.parse(orjson.dumps(ack))
    [snap] = kraken.parse(fixture(EX, "book_snapshot.json"))
    assert snap.checksum_rule == "kraken:4:8:25"


def test_a_later_ack_changes_the_depth_of_the_updates_rule(kraken):
    # the rule is settled once per snapshot (updates reuse it); a new ack's depth replaces it
    kraken.parse(fixture(EX, "book_subscribe_ack.json"))
    kraken.parse(fixture(EX, "book_snapshot.json"))
    [upd] = kraken.parse(fixture(EX, "book_update.json"))
    assert upd.checksum_rule == "kraken:4:8:10"
    ack = fixture_obj(EX, "book_subscribe_ack.json")
    ack["result"]["depth"] = 25
    kraken.parse(orjson.dumps(ack))
    [upd] = kraken.parse(fixture(EX, "book_update.json"))
    assert upd.checksum_rule == "kraken:4:8:25"


def test_an_update_before_any_snapshot_carries_no_rule(kraken):
    [upd] = kraken.parse(fixture(EX, "book_update.json"))
    assert upd.checksum is None and upd.checksum_rule is None


def test_documented_ticker_is_a_quote(kraken):
    [q] = kraken.parse(fixture(EX, "ticker_snapshot.json"))
    assert isinstance(q, QuoteEvent) and q.symbol == "ALGO/USD"
    assert (q.bid, q.bid_size, q.ask, q.ask_size) == (0.10025, 740.0, 0.10036, 1361.44813783)
    stamped = fixture_obj(EX, "ticker_snapshot.json")
    stamped["data"][0]["timestamp"] = "2023-09-25T09:04:31.742599Z"
    [q] = kraken.parse(orjson.dumps(stamped))
    assert q.time_ns == ns(2023, 9, 25, 9, 4, 31, 742599)


@pytest.mark.parametrize(("mutate", "pattern"), [
    (lambda d: d["bids"][0].update(qty=-1.0), r"must not be negative"),
    (lambda d: d["bids"][0].update(price="0x1"),
     r"field 'bids\[\]\.price' must be a decimal string"),
    (lambda d: d["asks"].append([0.57, 1.0]), r"'asks' must be \{\"price\", \"qty\"\} levels"),
    (lambda d: d["asks"][0].pop("qty"), r"'asks' must be \{\"price\", \"qty\"\} levels"),
    (lambda d: d.update(checksum="2439117997"), r"field 'checksum' must be an integer"),
    (lambda d: d.pop("checksum"), r"missing field 'checksum'"),
    (lambda d: d["bids"][0].update(price=1e300),
     r"field 'bids\[\]\.price' must be finite and below"),
])
def test_bad_book_levels_are_book_data_errors_naming_the_pair(kraken, mutate, pattern):
    msg = fixture_obj(EX, "book_snapshot.json")
    mutate(msg["data"][0])
    with pytest.raises(BookDataError, match=pattern) as caught:
        kraken.parse(orjson.dumps(msg))
    assert caught.value.symbol == "MATIC/USD"


@pytest.mark.parametrize(("name", "mutate", "pattern"), [
    ("book_snapshot.json", lambda m: m.update(type="partial"), r"book 'type' must be"),
    ("book_snapshot.json", lambda m: m["data"][0].pop("symbol"), r"missing field 'symbol'"),
    ("ticker_snapshot.json", lambda m: m["data"][0].update(bid=0.2),
     r"invalid quote \(QuoteEvent.bid"),
    ("ticker_snapshot.json", lambda m: m["data"][0].update(ask_qty="1"),
     r"field 'ask_qty' must be a JSON number"),
])
def test_bad_book_and_ticker_messages_raise(kraken, name, mutate, pattern):
    msg = fixture_obj(EX, name)
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern):
        kraken.parse(orjson.dumps(msg))


def _book_parsed(adapter, payload):
    """What ``parse`` gives for ``payload``: each BookEvent's fields (its time where the
    message has one: else it is the receive time), or the error."""
    stamped = "timestamp" in (payload if isinstance(payload, str) else payload.decode())
    try:
        return [(type(ev).__name__, ev.symbol, ev.time_ns if stamped else None, ev.bids,
                 ev.asks, ev.snapshot, ev.checksum, ev.checksum_rule, ev.source)
                if isinstance(ev, BookEvent)
                else repr(ev) for ev in adapter.parse(payload)]
    except AdapterError as exc:  # (where malformed JSON ends depends on the trailing space)
        return type(exc).__name__, "malformed JSON" in str(exc) or str(exc)


def _update_payloads() -> list[str]:
    """Book updates in Kraken's compact form (the documented one, one per level spelling) and
    variants the one pass must leave to the JSON path: other spellings (whitespace, another
    key order, an exponent, a leading zero, a negative or zero price, an escape, no
    timestamp, a bad time, two pairs) and faults that path names."""
    doc = orjson.dumps(fixture_obj(EX, "book_update.json")).decode()
    assert doc.startswith('{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD"')
    out = [doc]
    for price, qty in (("0.5657", "0"), ("1", "2"), ("10.0", "0.00000001"), ("123456.78", "5"),
                       ("0.5657", "1e-8"), ("05.5", "1"), ("-1", "1"), ("0", "1"),
                       ("0.5657", "-3"), ("1.", "1"), (".5", "1"), ("1.2.3", "1"),
                       ("1" * 25, "1"), ("0.5657", '"1.5"')):
        out.append(doc.replace('"price":0.5657,"qty":1098.3947558',
                               f'"price":{price},"qty":{qty}'))
    out += [doc.replace(',"asks":[]', ',"asks":[{"price":0.5667,"qty":3},'
                        '{"price":0.5668,"qty":0}]'),
            doc.replace('"bids":[{"price":0.5657,"qty":1098.3947558}]', '"bids":[]'),
            doc.replace(":", ": "), doc.replace('"checksum":2114181697,', "")
            .replace('"bids"', '"checksum":2114181697,"bids"'),
            doc.replace('"MATIC/USD"', '"MATIC\\/USD"'), doc.replace('"MATIC/USD"', '""'),
            doc.replace(',"timestamp":"2023-10-06T17:35:55.440295Z"', ""),
            doc.replace("2023-10-06T17:35:55.440295Z", "2023-10-06 17:35:55"),
            doc.replace("2023-10-06T17:35:55.440295Z", "9999-12-31T23:59:59Z"),
            doc.replace('"checksum":2114181697', '"checksum":02114181697'),
            doc.replace('"checksum":2114181697', '"checksum":-1'),
            doc.replace("}]}", '},{"symbol":"MATIC/USD","bids":[],"asks":[],"checksum":1,'
                        '"timestamp":"2023-10-06T17:35:56Z"}]}'),
            doc[:-1]]
    return out


def test_a_book_update_read_in_one_pass_is_what_the_json_decoder_gives():
    """Compiled, a book update in Kraken's compact form is read in one pass over its text
    (``kraken.book_update_levels``): the same BookEvent (levels, checksum, rule, time), or the
    same error, as the JSON path gives the same message with a trailing space (which the one
    pass does not take); str or bytes; before the pair's first snapshot (no rule yet) too."""
    from evlab.feeds.adapters import kraken as module

    compiled = not module.__file__.endswith(".py")
    taken = 0
    for settled in (False, True):
        for payload in _update_payloads():
            adapter, other = get_adapter(EX), get_adapter(EX)
            if settled:
                for a in (adapter, other):
                    a.parse(fixture(EX, "book_subscribe_ack.json"))
                    a.parse(fixture(EX, "book_snapshot.json"))
            got = _book_parsed(adapter, payload)
            assert got == _book_parsed(other, payload + " "), payload
            assert _book_parsed(get_adapter(EX), payload.encode()) == \
                _book_parsed(get_adapter(EX), payload + " ") or not settled, payload
            taken += settled and module.book_update_levels(payload) is not None
    # where compiled, the one pass takes the documented update, its four other level
    # spellings (a zero size, whole numbers, a tiny qty, a long price), two asks, an empty
    # side; every other variant is the JSON path's
    assert taken == (7 if compiled else 0), taken
