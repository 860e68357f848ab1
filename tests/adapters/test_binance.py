"""Binance spot streams: documented examples, raw vs combined, errors, round trips."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    BarUpdateEvent,
    BookEvent,
    ErrorEvent,
    EventType,
    QuoteEvent,
    RestResponseEvent,
    SystemEvent,
    TickEvent,
    create_websocket_event,
)
from evlab.feeds.adapters import AdapterError, Subscribe, get_adapter
from tests.books import capture

from ._data import btc_bars, fixture, fixture_obj, same_bar

EX = "binance"


@pytest.fixture
def binance():
    return get_adapter(EX)


def consistent_kline(closed: bool) -> dict:
    """The documented kline with its open moved inside [low, high] (the doc's is not)."""
    msg = fixture_obj(EX, "kline.json")
    msg["k"]["o"] = "0.0015"
    msg["k"]["x"] = closed
    return msg


def test_documented_kline_is_rejected_because_open_is_below_low(binance):
    # The docs' example has o="0.0010" < l="0.0015": not a valid bar.
    with pytest.raises(AdapterError, match=r"binance: invalid bar .*open.*\[low, high\]"):
        binance.parse(fixture(EX, "kline.json"))


def test_open_kline_is_a_bar_update(binance):
    [ev] = binance.parse(orjson.dumps(consistent_kline(closed=False)))
    assert type(ev) is BarUpdateEvent and ev.type == EventType.BAR_UPDATE
    assert (ev.symbol, ev.time_ns) == ("BNBBTC", 1_672_515_780_000 * 1_000_000)
    assert (ev.open, ev.high, ev.low, ev.close, ev.volume) == (0.0015, 0.0025, 0.0015, 0.002,
                                                               1000.0)
    assert ev.source == "binance"


def test_closed_kline_is_a_final_bar(binance):
    [ev] = binance.parse(orjson.dumps(consistent_kline(closed=True)), source="live")
    assert type(ev) is BarEvent and ev.type == EventType.BAR
    assert ev.time_ns == 1_672_515_780_000_000_000  # kline start time, not the event time E
    assert ev.source == "live"


def test_documented_trade(binance):
    [ev] = binance.parse(fixture(EX, "trade.json"))
    assert isinstance(ev, TickEvent)
    assert (ev.symbol, ev.price, ev.size) == ("BNBBTC", 0.001, 100.0)
    assert ev.time_ns == 1_672_515_782_136_000_000
    assert ev.side == "SELL"  # m=true: the buyer was the maker, so the aggressor sold
    assert ev.trade_id == "12345"


def test_documented_agg_trade_uses_aggregate_id(binance):
    [ev] = binance.parse(fixture(EX, "agg_trade.json"))
    assert (ev.symbol, ev.price, ev.size, ev.side, ev.trade_id) == (
        "BNBBTC", 0.001, 100.0, "SELL", "12345")


@pytest.mark.parametrize("name", ["trade.json", "agg_trade.json"])
def test_combined_stream_gives_the_same_events_as_raw(binance, name):
    raw = fixture(EX, name)
    combined = b'{"stream":"bnbbtc@trade","data":' + raw + b"}"
    assert binance.parse(combined) == binance.parse(raw) != []


def test_array_of_events(binance):
    frame = b"[" + fixture(EX, "trade.json") + b"," + fixture(EX, "agg_trade.json") + b"]"
    trade, agg = binance.parse(frame)
    assert (trade.trade_id, agg.trade_id, trade.time_ns) == ("12345", "12345",
                                                             1_672_515_782_136_000_000)


def test_combined_kline(binance):
    raw = orjson.dumps(consistent_kline(closed=True))
    combined = b'{"stream":"bnbbtc@kline_1m","data":' + raw + b"}"
    [ev] = binance.parse(combined)
    assert type(ev) is BarEvent and ev.symbol == "BNBBTC"


def test_subscribe_response_gives_nothing(binance):
    assert binance.parse(fixture(EX, "subscribe_response.json")) == []


def test_error_message_gives_error_event(binance):
    payload = fixture(EX, "error_invalid_value.json")
    [ev] = binance.parse(payload)
    assert isinstance(ev, ErrorEvent)
    assert "Invalid value type: expected Boolean" in ev.message
    assert ev.error_type == "ExchangeError" and ev.payload == payload


@pytest.mark.parametrize(("mutate", "pattern"), [
    (lambda m: m.update(p={}), r"field 'p' must be a decimal string, got dict"),
    (lambda m: m.update(p=0.001), r"field 'p' must be a decimal string, got float"),
    (lambda m: m.update(p="abc"), r"field 'p' must be a decimal string"),
    (lambda m: m.update(T="1672515782136"), r"field 'T' must be an integer"),
    (lambda m: m.update(m="true"), r"field 'm' must be true/false"),
    (lambda m: m.pop("s"), r"missing field 's'"),
    (lambda m: m.update(e="24hrTicker"), r"unknown event type '24hrTicker'"),
])
def test_bad_trades_raise_with_a_clear_message(binance, mutate, pattern):
    msg = fixture_obj(EX, "trade.json")
    mutate(msg)
    with pytest.raises(AdapterError, match=pattern) as info:
        binance.parse(orjson.dumps(msg))
    assert '"e":' in str(info.value)  # quotes an excerpt of the message


def test_bad_kline_fields(binance):
    msg = consistent_kline(closed=True)
    del msg["k"]
    with pytest.raises(AdapterError, match="missing field 'k'"):
        binance.parse(orjson.dumps(msg))
    msg = consistent_kline(closed=True)
    msg["k"]["x"] = "true"
    with pytest.raises(AdapterError, match="field 'x' must be true/false"):
        binance.parse(orjson.dumps(msg))


def test_unknown_and_malformed_messages(binance):
    with pytest.raises(AdapterError, match="unknown message type"):
        binance.parse(b'{"hello": 1}')
    with pytest.raises(AdapterError, match="malformed JSON"):
        binance.parse(b'{"e": "trade", ')
    with pytest.raises(AdapterError, match="expected a JSON object"):
        binance.parse(b"[1, 2]")


def test_subscribe_round_trip(binance):
    [frame] = binance.subscribe_messages(["BTCUSDT", "ETHUSDT"], ["bars", "trades"])
    assert orjson.loads(frame)["params"] == ["btcusdt@kline_1m", "btcusdt@trade",
                                             "ethusdt@kline_1m", "ethusdt@trade"]
    req = binance.parse_subscribe(frame)
    assert req == Subscribe(("BTCUSDT", "ETHUSDT"), ("bars", "trades"), orjson.loads(frame)["id"],
                            60, tuple(orjson.loads(frame)["params"]))
    [ack] = binance.subscribe_ack(req)
    assert orjson.loads(ack) == {"result": None, "id": req.req_id}
    assert binance.parse(ack) == []


def test_parse_subscribe_other_requests(binance):
    assert binance.parse_subscribe(b'{"method": "LIST_SUBSCRIPTIONS", "id": 3}') is None
    # the documented request: an aggTrade and a diff depth stream (web-socket-streams.md)
    req = binance.parse_subscribe(fixture(EX, "subscribe_request.json"))
    assert req == Subscribe(("BTCUSDT",), ("trades", "books"), 1, None,
                            ("btcusdt@aggTrade", "btcusdt@depth"))
    assert binance.stream_key("BTCUSDT@depth@100ms") == "btcusdt@depth"
    one_second = binance.subscribe_messages(["BTCUSDT"], interval_s=1)[0]
    assert binance.parse_subscribe(one_second).interval_s == 1
    # the documented unsubscribe, and every stream kind Binance documents
    req = binance.parse_subscribe(b'{"method": "UNSUBSCRIBE", "params": ["btcusdt@depth"], '
                                  b'"id": 312}')
    assert req.unsubscribe and req.streams == ("btcusdt@depth",) and req.req_id == 312
    kinds = ["bnbbtc@trade", "bnbbtc@kline_1s", "bnbbtc@kline_1d@+08:00", "bnbbtc@miniTicker",
             "!miniTicker@arr", "bnbbtc@ticker", "!ticker@arr", "bnbbtc@ticker_4h",
             "!ticker_1d@arr", "bnbbtc@bookTicker", "bnbbtc@avgPrice", "bnbbtc@depth20@100ms",
             "bnbbtc@depth5", "bnbbtc@depth@1000ms"]
    req = binance.parse_subscribe(orjson.dumps({"method": "SUBSCRIBE", "params": kinds, "id": 4}))
    assert req.streams == tuple(kinds) and req.symbols == ("BNBBTC",)
    assert req.channels == ("trades", "bars", "tickers", "quotes", "books")


@pytest.mark.parametrize("params", [["btcusdt@depth15"], ["btcusdt"], ["btcusdt@kline_2m"],
                                    [7], ["btcusdt@trade", "btc usdt@trade"]])
def test_a_stream_binance_does_not_have_refuses_the_whole_subscribe(binance, params):
    with pytest.raises(AdapterError, match="Invalid request: unknown stream name"):
        binance.parse_subscribe(orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": 1}))


@pytest.mark.parametrize("combined", [False, True])
def test_bar_round_trip_real_bars(combined):
    binance = get_adapter(EX, combined=combined)
    for row in btc_bars("1m"):
        msg = binance.encode_bar("BTCUSDT", *row)
        if combined:
            assert orjson.loads(msg)["stream"] == "btcusdt@kline_1m"
        [final] = binance.parse(msg)
        assert type(final) is BarEvent and same_bar(final, "BTCUSDT", row)
        [update] = binance.parse(binance.encode_bar("BTCUSDT", *row, final=False))
        assert type(update) is BarUpdateEvent and same_bar(update, "BTCUSDT", row)


def test_one_second_bars_round_trip(binance):
    for row in btc_bars("1s"):
        msg = binance.encode_bar("BTCUSDT", *row, interval_s=1)
        assert orjson.loads(msg)["k"]["i"] == "1s"
        [ev] = binance.parse(msg)
        assert same_bar(ev, "BTCUSDT", row)


def test_encoded_prices_are_decimal_strings(binance):
    msg = orjson.loads(binance.encode_bar("BTCUSDT", 0, 0.1, 0.3, 0.00005, 0.2, 1e-07))
    assert msg["k"]["l"] == "0.00005" and msg["k"]["v"] == "0.0000001"  # no exponent form
    [ev] = binance.parse(orjson.dumps(msg))
    assert (ev.low, ev.volume) == (0.00005, 1e-07)


def test_encode_refuses_what_the_format_cannot_carry(binance):
    with pytest.raises(ValueError, match="no kline interval of 7 s"):
        binance.encode_bar("BTCUSDT", 0, 1.0, 1.0, 1.0, 1.0, 1.0, interval_s=7)
    with pytest.raises(ValueError, match="not a whole multiple of 1000000 ns"):
        binance.encode_bar("BTCUSDT", 1_500, 1.0, 1.0, 1.0, 1.0, 1.0)


# --- depth, quotes, server notices (issue 12) -------------------------------------------------

def test_documented_depth_update_is_a_book_update_with_its_ids(binance):
    [ev] = binance.parse(fixture(EX, "depth_update.json"))
    assert isinstance(ev, BookEvent) and not ev.snapshot
    assert (ev.symbol, ev.bids, ev.asks) == ("BNBBTC", ((0.0024, 10.0),), ((0.0026, 100.0),))
    assert (ev.first_update_id, ev.last_update_id) == (157, 160)
    assert ev.time_ns == 1672515782136 * 1_000_000


def test_documented_partial_depth_needs_the_combined_stream_for_its_symbol(binance):
    payload = fixture(EX, "partial_depth.json")
    with pytest.raises(AdapterError, match="names no symbol"):
        binance.parse(payload)
    wrapped = b'{"stream":"bnbbtc@depth5@100ms","data":' + payload + b"}"
    [ev] = binance.parse(wrapped)
    assert isinstance(ev, BookEvent) and ev.snapshot
    assert (ev.symbol, ev.bids, ev.asks, ev.last_update_id) == (
        "BNBBTC", ((0.0024, 10.0),), ((0.0026, 100.0),), 160)


def test_documented_book_ticker_is_a_quote_at_the_receive_time(binance):
    bus = EventBus()
    quotes = []
    bus.register(EventType.QUOTE, quotes.append)

    def decode(raw):
        for ev in binance.parse(raw.payload):
            bus.emit(ev)

    bus.register(EventType.WEBSOCKET, decode)
    bus.emit(create_websocket_event("feed", fixture(EX, "book_ticker.json"), 1_700_000_000_123))
    [q] = quotes
    assert (q.symbol, q.bid, q.bid_size, q.ask, q.ask_size) == (
        "BNBUSDT", 25.3519, 31.21, 25.3652, 40.66)
    assert q.time_ns == 1_700_000_000_123  # the payload has no time: its receive time


def test_documented_server_shutdown_is_a_system_notice(binance):
    for payload in (fixture(EX, "server_shutdown.json"),
                    orjson.dumps(fixture_obj(EX, "server_shutdown.json")["data"])):
        [ev] = binance.parse(payload)
        assert isinstance(ev, SystemEvent) and ev.kind == "server_shutdown"
        assert ev.time_ns == 1770123456789 * 1_000_000


def test_time_unit_microsecond_reads_microseconds():
    micro = get_adapter(EX, time_unit="MICROSECOND")
    msg = fixture_obj(EX, "trade.json")
    msg["T"] = 1672515782136123
    [ev] = micro.parse(orjson.dumps(msg))
    assert ev.time_ns == 1672515782136123 * 1000
    depth = fixture_obj(EX, "depth_update.json")
    depth["E"] = 1672515782136001
    [book] = get_adapter(EX, time_unit="microsecond").parse(orjson.dumps(depth))
    assert book.time_ns == 1672515782136001 * 1000
    with pytest.raises(ValueError, match="time_unit must be one of MILLISECOND, MICROSECOND"):
        get_adapter(EX, time_unit="NANOSECOND")


def test_rest_depth_snapshot_takes_its_symbol_from_the_url(binance):
    rest = next(e for e in capture("binance") if isinstance(e, RestResponseEvent))
    url, body = rest.url, rest.payload
    [ev] = binance.parse_rest(url, body)
    assert ev.snapshot and ev.symbol == "NKNUSDT" and ev.last_update_id == 499869752
    assert ev.bids[:2] == ((0.3521, 672.0), (0.352, 1144.0)) and ev.asks[0] == (0.3525, 3959.0)
    assert (len(ev.bids), len(ev.asks)) == (609, 1000)
    with pytest.raises(AdapterError, match="not a depth snapshot request"):
        binance.parse_rest("https://api.binance.com/api/v3/ticker", body)


def test_every_captured_frame_decodes():
    binance = get_adapter(EX)
    kinds = Counter(type(ev).__name__ for e in capture("binance")
                    if not isinstance(e, RestResponseEvent) for ev in binance.parse(e.payload))
    assert kinds == {"BookEvent": 177, "QuoteEvent": 84, "TickEvent": 2, "BarUpdateEvent": 2}


@pytest.mark.parametrize(("change", "pattern"), [
    ({"b": [["0.0024", "-10"]]}, "bids size: must not be negative"),
    ({"b": [["0.0024"]]}, r"\[price, size\] pairs"),
    ({"a": [["1e3", "10"]]}, r"field 'a\[\]\.price' must be a decimal string"),
    ({"U": 161}, "first_update_id: must not exceed last_update_id"),
    ({"b": [["0.0030", "1"]], "a": [["0.0020", "1"]]}, None),  # an update may cross: books judge
])
def test_bad_depth_updates_raise_with_a_clear_message(binance, change, pattern):
    msg = {**fixture_obj(EX, "depth_update.json"), **change}
    if pattern is None:
        assert binance.parse(orjson.dumps(msg))
        return
    with pytest.raises(AdapterError, match=pattern):
        binance.parse(orjson.dumps(msg))


def test_a_crossed_book_ticker_is_an_error(binance):
    msg = {**fixture_obj(EX, "book_ticker.json"), "b": "25.40000000"}
    with pytest.raises(AdapterError, match="crossed quote"):
        binance.parse(orjson.dumps(msg))


def _snapshot_bodies() -> list[str]:
    """The captured depth snapshot bodies and variants of one: what Binance sends, other JSON
    spellings of it (whitespace, escapes, another key order, a duplicate key) and bodies the
    adapter must refuse (a sign, an exponent, a crossed book, a leading zero, a short level)."""
    bodies = [e.payload for e in capture("binance") if isinstance(e, RestResponseEvent)]
    small = '{"lastUpdateId":7,"bids":[["0.35","10.5"],["0.34","0"]],"asks":[["0.36","2"]]}'
    swaps = [  # (in small, replaced by)
        (":7,", ":0,"), (":7,", ":07,"), (":7,", ":123456789012345678,"),
        (":7,", ":1234567890123456789,"), (":7,", ":-7,"), (":7,", ":7.0,"), (":7,", ':"7",'),
        (",", ", "), ('"0.35"', '"\\u0030.35"'), ('"10.5"', '"-10.5"'), ('"10.5"', '"1e1"'),
        ('"0.35"', '"0.37"'), ('"0.35"', '"0.36"'), ('["0.34","0"]', '["0.40","0"]'),
        ('"2"]]', '"2"],["0.30","0"]]'), ('"2"]]', '"2"],["0.30","1"]]'), ('"0.35"', '"0"'),
        ('"0.35"', '".35"'), ('"0.35"', '"35."'),
        ('"0.35"', '"0.1234567890123456789"'), ('"0.35"', '"' + "1" * 31 + '"'),
        ('"0.35"', '"' + "1" * 30 + '"'), ('"0.35"', '"1' + "0" * 18 + '"'),
        ('"0.35"', '"0..35"'), ('"0.35"', '"0.3\u00e95"'), ('"0.35"', "0.35"),
        ('["0.34","0"]', '["0.34"]'), ('["0.34","0"]', '["0.34","0","1"]'),
        ('["0.34","0"]', '"x"'), ('],"asks"', '],,"asks"'), ('"2"]]', '"2"],]'),
    ]
    variants = [small, *(small.replace(old, new) for old, new in swaps),
                '{"lastUpdateId":7,"bids":[],"asks":[]}', '{"lastUpdateId":7,"bids":[],"asks":[]} ',
                " " + small, '{"bids":[["0.35","1"]],"lastUpdateId":7,"asks":[]}',
                small[:-1] + ',"bids":[]}', small[:-1], small[:-2], small + "x", "[]", "{}", "",
                '{"lastUpdateId":7,"bids":[["0.35","1"]]', '{"lastUpdateId":',
                '{"code":-1121,"msg":"x"}']
    return bodies + variants


def _outcome(binance, url, body):
    try:
        return [(ev.symbol, ev.snapshot, ev.last_update_id, ev.bids, ev.asks)
                if isinstance(ev, BookEvent) else (type(ev).__name__, ev.message)
                for ev in binance.parse_rest(url, body)]
    except AdapterError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("body", _snapshot_bodies())
def test_a_depth_snapshot_read_in_one_pass_is_what_the_json_decoder_gives(binance, body,
                                                                          monkeypatch):
    """Compiled, a depth snapshot body in Binance's form is read in one pass over its text
    (``_common.depth_body_levels``), not through orjson and a tuple per level: the same
    levels, ids and errors as the JSON path (taken here by turning the one pass off); str or
    bytes. The same scan run interpreted from its source gives the same, so the one source is
    what both builds check."""
    from evlab.feeds.adapters import _common

    url = "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000"
    scanned = _common.depth_body_levels(body)
    fast = _outcome(binance, url, body), _outcome(binance, url, body.encode())
    with monkeypatch.context() as patch:
        patch.setattr(_common, "depth_body_levels", lambda body: None)
        assert fast == (_outcome(binance, url, body), _outcome(binance, url, body.encode()))
    source = _interpreted_common()._depth_scan(body)
    if _common.__file__.endswith(".py"):  # interpreted: always the JSON path
        assert scanned is None
    else:
        assert scanned == source
    if source is not None:
        obj = orjson.loads(body)
        assert source == (obj["lastUpdateId"], _common.levels("x", obj, "bids"),
                          _common.levels("x", obj, "asks"))


_PRICES = st.sampled_from(["0.30", "0.34", "0.35", "0.36", "0.40", "1", "12.5"])
_SIZES = st.sampled_from(["0", "0.0", "1", "2.5"])
_SIDE = st.lists(st.tuples(_PRICES, _SIZES), max_size=5)


@settings(max_examples=300, deadline=None)
@given(_SIDE, _SIDE)
def test_a_snapshot_the_one_pass_takes_is_one_it_found_not_crossed(bids, asks):
    """The one pass over a snapshot body finds each side's best price holding a size as it
    reads the levels and takes only a book not crossed (so the builder need not walk the
    levels again, ``book(..., uncrossed=True)``); a crossed one (or a locked one: the best bid
    equal to the best ask) goes to the JSON path, which names the fault. Levels of size 0 do
    not count. The same outcome as the JSON path, compiled; interpreted, the scan's source
    takes exactly the bodies not crossed."""
    from evlab.feeds.adapters import _common

    def side(levels):
        return "[" + ",".join(f'["{p}","{q}"]' for p, q in levels) + "]"

    body = f'{{"lastUpdateId":7,"bids":{side(bids)},"asks":{side(asks)}}}'
    top = max((float(p) for p, q in bids if float(q) > 0), default=0.0)
    low = min((float(p) for p, q in asks if float(q) > 0), default=float("inf"))
    source = _interpreted_common()._depth_scan(body)
    assert (source is not None) == (top < low), body
    binance = get_adapter(EX)
    url = "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000"
    fast = _outcome(binance, url, body)
    original = _common.depth_body_levels
    _common.depth_body_levels = lambda body: None
    try:
        assert fast == _outcome(binance, url, body), body
    finally:
        _common.depth_body_levels = original
    if top < low:
        assert fast[0][3:] == (tuple((float(p), float(q)) for p, q in bids),
                               tuple((float(p), float(q)) for p, q in asks))
    else:
        assert isinstance(fast, str) and "BookDataError" in fast and "crossed" in fast, fast


def test_the_captured_depth_snapshots_are_read_in_one_pass_where_compiled():
    """The shipped capture's four snapshots are all of the form the one pass takes (else the
    replay would silently be on the slow path)."""
    from evlab.feeds.adapters import _common

    bodies = [e.payload for e in capture("binance") if isinstance(e, RestResponseEvent)]
    assert len(bodies) == 4
    for body in bodies:
        assert _interpreted_common()._depth_scan(body) is not None
        assert (_common.depth_body_levels(body) is None) == _common.__file__.endswith(".py")
    # compiled, each level (two floats) is made out of the cyclic collector's lists, as
    # CPython would take it out at its first collection: the collections a snapshot's
    # levels set off do not walk them
    import gc

    if not _common.__file__.endswith(".py"):
        _, bids, asks = _common.depth_body_levels(bodies[0])
        assert bids and asks and not any(gc.is_tracked(lv) for lv in bids + asks)
        assert gc.is_tracked([bids])  # (is_tracked tells)


def _interpreted_common():
    from tests.adapters.test_common import _interpreted_common as source

    return source()


def _depth_update_payloads() -> list[str]:
    """Captured depthUpdate messages (combined-stream envelopes), their bare payloads, and
    variants: other JSON spellings of one (whitespace, an escape, another key order, an extra
    key) and messages the adapter must refuse or mark (ids out of order, a time past int64
    ns, a negative size, an empty symbol or stream)."""
    frames = [e.payload for e in capture("binance")
              if not isinstance(e, RestResponseEvent) and '"depthUpdate"' in e.payload]
    one = frames[1]
    data = one[one.index(',"data":') + 8:-1]
    swaps = [  # (in one, replaced by)
        ('"U":499869753', '"U":499869755'), ('"U":499869753', '"U":0499869753'),
        ('"U":499869753', '"U":-1'), ('"E":1633998512568', '"E":123456789012345678'),
        ('"E":1633998512568', '"E":9223372036854'), ('"E":1633998512568', '"E":9223372036855'),
        ('"E":1633998512568', '"E":1234567890123456789'), ('"E":1633998512568', '"E":1.5'),
        ('"4265.00000000"', '"-4265"'), ('"4265.00000000"', '"0"'), ('"b":[[', '"b": [['),
        ('"s":"NKNUSDT"', '"s":"\\u004eKNUSDT"'), ('"s":"NKNUSDT"', '"s":""'),
        ('"s":"NKNUSDT"', '"s":"NKN USDT"'), ('"stream":"nknusdt@depth@100ms"', '"stream":""'),
        ('"stream":"nknusdt@depth@100ms"', '"stream":"a\\"b"'),
        ('"a":[["0.35290000","10968.00000000"]]', '"a":[]'),
        ('"e":"depthUpdate",', '"e":"depthUpdate","T":1,'), ('"U":499869753,"u":499869754',
                                                           '"u":499869754,"U":499869753'),
        ('"0.35170000"', '"0.37170000"'), ('"data":{', '"data":[{'),
    ]
    variants = [one.replace(old, new) for old, new in swaps]
    return frames + [f[f.index(',"data":') + 8:-1] for f in frames[:20]] + [
        data, data + " ", " " + data, data[:-1], one[:-1], one + "x", data.replace('"b":', '"B":'),
        *variants]


def _parsed(adapter, payload):
    try:
        return [(type(ev).__name__, ev.symbol, ev.time_ns, ev.first_update_id,
                 ev.last_update_id, ev.bids, ev.asks, ev.snapshot, ev.source)
                if isinstance(ev, BookEvent) else repr(ev) for ev in adapter.parse(payload)]
    except AdapterError as exc:
        return type(exc).__name__, "malformed JSON" in str(exc) or str(exc)


@pytest.mark.parametrize("unit", ["MILLISECOND", "MICROSECOND"])
def test_a_depth_update_read_in_one_pass_is_what_the_json_decoder_gives(unit):
    """Compiled, a depthUpdate message in Binance's form is read in one pass over its text
    (``_common.depth_update_levels``): the same BookEvent, or the same error, as the JSON
    path gives the same message with a leading space (which the one pass does not take); str
    or bytes. The scan run interpreted from its source reads the same."""
    from evlab.feeds.adapters import _common

    adapter = get_adapter(EX, time_unit=unit)
    source = _interpreted_common()
    taken = 0
    for payload in _depth_update_payloads():
        got = _parsed(adapter, payload)
        assert got == _parsed(adapter, " " + payload), payload
        assert _parsed(adapter, payload.encode()) == got, payload
        scanned = _common.depth_update_levels(payload)
        assert scanned == (source._update_scan(payload) if not _common.__file__.endswith(".py")
                           else None), payload
        taken += scanned is not None
    # where compiled, the one pass takes every captured frame and bare payload, and the 8
    # variants still in Binance's form (ids out of order, times out of range, a size 0, an
    # empty side, a symbol with a space, a crossing bid: their faults are the book's to judge)
    assert taken == (0 if _common.__file__.endswith(".py") else 177 + 20 + 1 + 8), taken


def _book_ticker_payloads() -> list[str]:
    """Captured bookTicker messages (combined-stream envelopes), their bare payloads, and
    variants: other JSON spellings (whitespace, an escape, another key order, an extra key)
    and messages the adapter must refuse (a crossed quote, a sign, an exponent, a blank or
    empty symbol, a size 0 is fine)."""
    frames = [e.payload for e in capture("binance")
              if not isinstance(e, RestResponseEvent) and "@bookTicker" in e.payload]
    one = frames[0]
    swaps = [  # (in one, replaced by)
        ('"b":"0.35210000"', '"b":"0.39210000"'), ('"b":"0.35210000"', '"b":"-0.3521"'),
        ('"b":"0.35210000"', '"b":"0"'), ('"b":"0.35210000"', '"b":"3.5e-1"'),
        ('"B":"672.00000000"', '"B":"0"'), ('"B":"672.00000000"', '"B":"-1"'),
        ('"s":"NKNUSDT"', '"s":" "'), ('"s":"NKNUSDT"', '"s":""'),
        ('"s":"NKNUSDT"', '"s":"\\u004eKNUSDT"'), ('"u":499869768', '"u":0499869768'),
        ('"u":499869768,', '"u":499869768, '), ('"data":{', '"data":{"e":null,'),
        ('"b":"0.35210000","B"', '"B":"672.00000000","b":"0.35210000","X"'),
        ('"A":"3199.00000000"', '"A":"3199.00000000","T":1'), ('"data":{', '"data":[{'),
    ]
    variants = [one.replace(old, new) for old, new in swaps]
    return frames + [f[f.index(',"data":') + 8:-1] for f in frames[:10]] + [
        one + " ", " " + one, one[:-1], one[:-2] + "}", *variants]


def _quoted(adapter, payload):
    try:
        return [(type(ev).__name__, ev.symbol, ev.bid, ev.ask, ev.bid_size, ev.ask_size,
                 ev.source) if isinstance(ev, QuoteEvent) else repr(ev)
                for ev in adapter.parse(payload)]
    except AdapterError as exc:
        return type(exc).__name__, "malformed JSON" in str(exc) or str(exc)


def test_a_book_ticker_read_in_one_pass_is_what_the_json_decoder_gives():
    """Compiled, a bookTicker message in Binance's form is read in one pass over its text
    (``_common.book_ticker_fields``): the same QuoteEvent, or the same error, as the JSON
    path gives the same message with a leading space (which the one pass does not take); str
    or bytes. The scan run interpreted from its source reads the same."""
    from evlab.feeds.adapters import _common

    adapter = get_adapter(EX)
    source = _interpreted_common()
    taken = 0
    payloads = _book_ticker_payloads()
    for payload in payloads:
        got = _quoted(adapter, payload)
        assert got == _quoted(adapter, " " + payload), payload
        assert _quoted(adapter, payload.encode()) == got, payload
        scanned = _common.book_ticker_fields(payload)
        assert scanned == (source._ticker_scan(payload) if not _common.__file__.endswith(".py")
                           else None), payload
        if scanned is not None:
            obj = orjson.loads(payload)
            obj = obj.get("data", obj)
            assert scanned == (obj["s"], float(obj["b"]), float(obj["B"]), float(obj["a"]),
                               float(obj["A"])), payload
        taken += scanned is not None
    # where compiled, the one pass takes every captured frame (84) and bare payload, and the
    # variants still in Binance's form (a crossed quote, a size 0, a blank symbol: their
    # faults are the quote's to judge)
    assert taken == (0 if _common.__file__.endswith(".py") else 84 + 10 + 3), taken
