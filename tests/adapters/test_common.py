"""Behaviour shared by every adapter, the registry, and the helpers they use."""

from __future__ import annotations

import datetime as _dt
import functools
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evlab.events import BarEvent, ErrorEvent
from evlab.feeds.adapters import (
    ADAPTERS,
    AdapterError,
    AlpacaAdapter,
    BinanceAdapter,
    CoinbaseAdapter,
    ExchangeAdapter,
    KrakenAdapter,
    PolygonAdapter,
    get_adapter,
)
from evlab.feeds.adapters._common import BarCloser, dec, get_time_s_str, rfc3339, rfc3339_ns

from ._data import btc_bars, ns, same_bar

SYMBOL = {"binance": "BTCUSDT", "coinbase": "BTC-USD", "kraken": "BTC/USD",
          "alpaca": "AAPL", "polygon": "AAPL"}


def make(name: str) -> ExchangeAdapter:
    return get_adapter(name, candle_interval_s=60) if name == "coinbase" else get_adapter(name)


def test_registry():
    assert ADAPTERS == ("binance", "coinbase", "kraken", "alpaca", "polygon")
    classes = [BinanceAdapter, CoinbaseAdapter, KrakenAdapter, AlpacaAdapter, PolygonAdapter]
    for name, cls in zip(ADAPTERS, classes, strict=True):
        adapter = get_adapter(name)
        assert type(adapter) is cls and adapter.name == name
        assert get_adapter(name) is not adapter  # one per connection: they keep state
    assert type(get_adapter("Kraken")) is KrakenAdapter
    with pytest.raises(ValueError, match="unknown exchange 'ftx'"):
        get_adapter("ftx")


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize(("payload", "pattern"), [
    (b'{"a": ', "malformed JSON"),
    (b"", "malformed JSON"),
    (b"\xff\xfe", "malformed JSON"),
    ("not json", "malformed JSON"),
    (b"42", "expected a JSON"),
])
def test_bad_payloads_raise_adapter_error(name, payload, pattern):
    with pytest.raises(AdapterError, match=f"^{name}: {pattern}"):
        make(name).parse(payload)


@pytest.mark.parametrize(("name", "payload", "pattern"), [
    ("binance", b'{"e": {}, "s": "BNBBTC"}', "unknown event type"),
    ("coinbase", b'{"type": ["match"]}', "unknown message type"),
    ("coinbase", b'{"channel": {}}', "unknown channel"),
    ("kraken", b'{"channel": {}}', "unknown channel"),
    ("alpaca", b'[{"T": {}}]', "field 'T' must be a non-empty string"),
    ("polygon", b'[{"ev": ["AM"]}]', "field 'ev' must be a non-empty string"),
])
def test_message_type_of_the_wrong_json_type(name, payload, pattern):
    with pytest.raises(AdapterError, match=pattern):
        make(name).parse(payload)


def test_kraken_subscribe_interval_must_be_a_documented_integer():
    kraken = get_adapter("kraken")
    for bad in (5.0, True, 7):
        frame = ('{"method":"subscribe","params":{"channel":"ohlc","symbol":["BTC/USD"],'
                 f'"interval":{str(bad).lower()}}}}}')
        with pytest.raises(AdapterError, match="unsupported ohlc interval"):
            kraken.parse_subscribe(frame)


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapter_error_is_a_value_error(name):
    with pytest.raises(ValueError):
        make(name).parse(b"{")


@pytest.mark.parametrize("name", ADAPTERS)
def test_several_real_bars_round_trip(name):
    adapter = make(name)
    for row in btc_bars("1m"):
        msg = adapter.encode_bar(SYMBOL[name], *row)
        assert isinstance(msg, (bytes, str))
        [ev] = adapter.parse(msg)
        assert type(ev) is BarEvent and same_bar(ev, SYMBOL[name], row)


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("channels", [("bars",), ("trades",), ("bars", "trades")])
def test_subscribe_messages_parse_back(name, channels):
    adapter = make(name)
    symbols = (SYMBOL[name], "ETH" + SYMBOL[name][3:])
    seen_symbols: set[str] = set()
    seen_channels: set[str] = set()
    for frame in adapter.subscribe_messages(symbols, channels):
        req = adapter.parse_subscribe(frame)
        assert req is not None
        seen_symbols.update(req.symbols)
        seen_channels.update(req.channels)
        for ack in adapter.subscribe_ack(req):
            assert adapter.parse(ack) == []  # the ack of our own request is a control frame
    assert seen_symbols == set(symbols) and seen_channels == set(channels)


@pytest.mark.parametrize("name", ADAPTERS)
def test_subscribe_messages_validate_arguments(name):
    adapter = make(name)
    with pytest.raises(ValueError, match="unknown channel 'quotes'"):
        adapter.subscribe_messages([SYMBOL[name]], ["quotes"])
    with pytest.raises(ValueError, match="symbols must be non-empty"):
        adapter.subscribe_messages([], ["bars"])


@pytest.mark.parametrize("name", ADAPTERS)
def test_the_server_side_speaks_what_the_client_side_reads(name):
    """Greetings and replies to auth/ping parse as control frames; errors as ErrorEvents."""
    adapter = make(name)
    for frame in adapter.welcome():
        assert adapter.parse(frame) == []
    for request in ('{"action": "auth", "key": "k", "secret": "s"}',
                    '{"method": "ping", "req_id": 7}'):
        for frame in adapter.control_reply(request):
            assert adapter.parse(frame) == []
    assert adapter.control_reply("not json") == adapter.control_reply("[1]") == []
    [error] = adapter.parse(adapter.error_frame("unknown symbol 'X'", 3))
    assert isinstance(error, ErrorEvent) and "unknown symbol 'X'" in error.message
    assert error.error_type == "ExchangeError"


@pytest.mark.parametrize(("name", "pair", "ticker"), [
    ("binance", "BTCUSDT", "AAPL"), ("coinbase", "BTC-USD", "AAPL"),
    ("kraken", "BTC/USD", "AAPL"), ("alpaca", "BTC/USD", "AAPL"), ("polygon", "BTC-USD", "AAPL"),
])
def test_wire_symbols(name, pair, ticker):
    cls = type(make(name))
    assert cls.wire_symbol("BTC-USD") == cls.wire_symbol("btc/usd") == pair
    assert cls.wire_symbol("AAPL") == ticker


def test_rfc3339_parsing():
    assert rfc3339_ns("2014-11-07T08:19:27.028459Z") == ns(2014, 11, 7, 8, 19, 27, 28459)
    assert rfc3339_ns("2023-10-04T16:26:01.806315597Z") == ns(2023, 10, 4, 16, 26, 1) + 806315597
    assert rfc3339_ns("2021-02-22T19:15:00Z") == ns(2021, 2, 22, 19, 15)
    assert rfc3339_ns("2021-02-22T14:15:00-05:00") == ns(2021, 2, 22, 19, 15)
    assert rfc3339_ns("2021-02-22T20:15:00.5+01:00") == ns(2021, 2, 22, 19, 15, 0, 500000)
    for bad in ("2021-02-30T00:00:00Z", "2021-02-22", "2021-02-22T19:15:00", "1614021300",
                "2021-02-22T19:15:00.1234567891Z"):
        with pytest.raises(ValueError):
            rfc3339_ns(bad)


def test_rfc3339_formatting():
    t = ns(2021, 2, 22, 15, 51, 45) + 335_600_000
    assert rfc3339(t, None) == "2021-02-22T15:51:45.3356Z"  # Go RFC3339Nano: zeros trimmed
    assert rfc3339(ns(2021, 2, 22), None) == "2021-02-22T00:00:00Z"
    assert rfc3339(t, 6) == "2021-02-22T15:51:45.335600Z"
    assert rfc3339(t + 7, 6) == "2021-02-22T15:51:45.335600007Z"  # widened, never truncated
    assert rfc3339(t, 9) == "2021-02-22T15:51:45.335600000Z"
    rng = random.Random(7)
    for _ in range(200):
        x = rng.randrange(0, 4_000_000_000 * 10**9)
        assert rfc3339_ns(rfc3339(x, None)) == rfc3339_ns(rfc3339(x, 6)) == x


def test_dec_round_trips_floats_without_exponents():
    rng = random.Random(11)
    values = [0.1, 611.78, 1e-07, 5e-05, 123456789.123, 1e16, 2.5e-10]
    values += [rng.uniform(0, 10) ** rng.randint(-8, 8) for _ in range(500)]
    for x in values:
        text = dec(x)
        assert "e" not in text.lower() and float(text) == x
    with pytest.raises(ValueError):
        dec(float("nan"))


def test_bar_closer_keeps_state_unchanged_when_a_bar_is_invalid():
    closer = BarCloser()
    minute = 60 * 10**9
    [u] = closer.push("x", minute, 10, "A", 0, (1.0, 2.0, 0.5, 1.5, 3.0), "s", {})
    assert type(u) is not BarEvent and u.volume == 3.0  # still open
    with pytest.raises(AdapterError, match="invalid bar"):
        closer.push("x", minute, minute + 5, "A", minute, (1.0, 0.5, 2.0, 1.5, 3.0), "s", {})
    final, nxt = closer.push("x", minute, minute + 6, "A", minute, (1.0, 2.0, 0.5, 1.5, 1.0),
                             "s", {})
    assert type(final) is BarEvent and final == BarEvent("A", 1.0, 2.0, 0.5, 1.5, 3.0,
                                                          time_ns=0, source="s")
    assert nxt.time_ns == minute and type(nxt) is not BarEvent


def test_bar_closer_a_finished_bar_is_final_once_and_its_repeat_is_counted():
    """The usual message of a stream of finished bars (stamped at the bar's end): one final
    BarEvent; an invalid one raises and changes nothing; a repeat is dropped and counted."""
    closer = BarCloser()
    minute = 60 * 10**9
    ohlcv = (1.0, 2.0, 0.5, 1.5, 3.0)
    with pytest.raises(AdapterError, match="invalid bar"):
        closer.push("x", minute, minute, "A", 0, (1.0, 0.5, 2.0, 1.5, 3.0), "s", {})
    [final] = closer.push("x", minute, minute, "A", 0, ohlcv, "s", {})
    assert final == BarEvent("A", *ohlcv, time_ns=0, source="s") and type(final) is BarEvent
    assert closer.push("x", minute, minute + 1, "A", 0, ohlcv, "s", {}) == []
    assert closer.repeated == 1
    [nxt] = closer.push("x", minute, minute + 2, "A", minute, ohlcv, "s", {})
    assert type(nxt) is not BarEvent and nxt.time_ns == minute  # the next bar, still open


# --- book levels: one range check for every venue ---------------------------------------------

BIG = "1" + "0" * 19  # 1e19 as an exchange writes a decimal: above any sane price or size


def _set(obj, path, value):
    *head, last = path
    for key in head:
        obj = obj[key]
    obj[last] = value
    return obj


@pytest.mark.parametrize(("exchange", "name", "path", "value", "field"), [
    ("binance", "depth_update.json", ("b", 0, 1), BIG, "b[].size"),
    ("binance", "depth_update.json", ("a", 0, 0), BIG, "a[].price"),
    ("coinbase", "l2update.json", ("changes", 0, 1), BIG + ".5", "changes[].price"),
    ("coinbase", "level2_snapshot.json", ("asks", 0, 1), BIG, "asks[].size"),
    ("coinbase", "l2_data.json", ("events", 0, "updates", 1, "new_quantity"), BIG,
     "updates[].new_quantity"),
    ("kraken", "book_snapshot.json", ("data", 0, "bids", 3, "qty"), 1e19, "bids[].qty"),
    ("kraken", "book_update.json", ("data", 0, "bids", 0, "price"), -1e300, "bids[].price"),
])
async def test_an_out_of_range_level_is_an_error_naming_the_field_and_a_gap(
        exchange, name, path, value, field):
    """The same cap (MAX_VALUE) on every venue's levels, through the shared ``level``: the
    message is an ErrorEvent naming the field, and the book it concerned goes stale."""
    import orjson

    from evlab.feeds.adapters import BookDataError
    from evlab.feeds.adapters._common import MAX_VALUE
    from tests.books.test_orderbooks import Session

    from ._data import fixture, fixture_obj

    msg = fixture_obj(exchange, name)
    _set(msg, path, value)
    with pytest.raises(BookDataError, match=re.escape(
            f"field '{field}' must be finite and below {MAX_VALUE:g}")):
        get_adapter(exchange).parse(orjson.dumps(msg))
    # through the guide's wiring, after a good snapshot: one ErrorEvent, the book stale
    s = Session(exchange)
    snapshot = {"binance": None, "coinbase": "level2_snapshot.json",
                "kraken": "book_snapshot.json"}[exchange]
    if exchange == "binance":
        await s.rest(0, "https://api.binance.com/api/v3/depth?symbol=BNBBTC&limit=5",
                     '{"lastUpdateId":156,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}')
    elif name != snapshot and name != "l2_data.json":
        await s.frame(0, fixture(exchange, snapshot))
    await s.frame(1, orjson.dumps(msg))
    [err] = s.errors
    assert field in err.message and err.payload == orjson.dumps(msg)
    [symbol] = s.books.symbols
    assert s.books[symbol].stale


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e18])
def test_level_refuses_non_finite_and_huge_numbers(bad):
    from evlab.feeds.adapters._common import level

    assert level("x", {}, "bids", 1.5, 2.0, numbers=True) == (1.5, 2.0)
    assert level("x", {}, "bids", 3, "0.5", numbers=True) == (3.0, 0.5)
    with pytest.raises(AdapterError, match=r"field 'bids\[\]\.size' must be finite"):
        level("x", {}, "bids", 1.5, bad, numbers=True)
    with pytest.raises(AdapterError, match=r"field 'bids\[\]\.price' must be a decimal string"):
        level("x", {}, "bids", 1.5, "2")  # numbers only where the venue sends them


def test_the_book_adapters_are_compiled_where_the_core_is_and_interpreted_under_pure_python():
    import importlib
    import os

    from evlab._accel import COMPILED
    from evlab.feeds.adapters import BinanceAdapter, CoinbaseAdapter, KrakenAdapter

    for name, cls in (("_common", BarCloser), ("binance", BinanceAdapter),
                      ("coinbase", CoinbaseAdapter), ("kraken", KrakenAdapter)):
        module = importlib.import_module(f"evlab.feeds.adapters.{name}")
        assert cls.__module__ == module.__name__ and getattr(module, cls.__name__) is cls
        interpreted = module.__file__.endswith(".py")
        if os.environ.get("EVLAB_PURE_PYTHON"):
            assert interpreted and not COMPILED
        else:  # setup.py builds every extension, or none
            assert interpreted is not COMPILED


def _interpreted_common():
    """A second ``_common`` run from its source (the compiled one, if built, stays in use)."""
    import importlib.util
    from pathlib import Path

    from evlab.feeds.adapters import _common

    path = Path(_common.__file__).with_name("_common.py")
    spec = importlib.util.spec_from_file_location("evlab.feeds.adapters._common_src", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _decimal_texts(count: int, seed: int = 5) -> list[str]:
    """Plain decimals of every length up to 32 (the fast path's limit is 30) and their
    near misses: what a venue sends and what level must refuse."""
    rng = random.Random(seed)
    texts = ["0", "0.0", "1", "12.77", "14.8024", "123.10", "0.00000001", "100000000000000000",
             "999999999999999999", "1e5", "1E5", "1_0", " 1", "1 ", "+1", ".5", "5.", "-1.5",
             "-0", "1.2.3", "\u0661\u0662", "\uff11", "inf", "nan", "", ".", "0" * 30,
             "1" * 31, "1234567890123456.5", "0.1234567890123456789", "9007199254740993",
             "0.30000000000000004", "2.675", "1.7976931348623157", "12345678901234.5678"]
    for _ in range(count):
        n = rng.randint(1, 32)
        digits = "".join(rng.choice("0123456789") for _ in range(n))
        if n > 1 and rng.random() < 0.7:
            cut = rng.randint(0, n)
            digits = digits[:cut] + "." + digits[cut:]
        texts.append(digits)
    return texts


def test_level_compiled_and_interpreted_agree_on_every_decimal():
    """The compiled ``level`` scans each decimal in C and divides the digits by a power of
    ten where that is exact; its source uses float() and string checks. Same floats (to the
    bit), same errors."""
    from evlab.feeds.adapters import _common

    source = _interpreted_common()

    def outcome(module, price, size):
        try:
            return repr(module.level("x", {}, "bids", price, size))
        except AdapterError as exc:
            return f"AdapterError: {exc}"

    for text in _decimal_texts(3000):
        for price, size in ((text, "1"), ("1", text), (text, text)):
            assert outcome(_common, price, size) == outcome(source, price, size), (price, size)
        plain = _common._plain_decimal(text)
        assert repr(plain) == repr(source._plain_decimal(text)), text
        if plain != -1.0:
            assert plain == float(text), text


_SOURCE = functools.cache(lambda: _interpreted_common())  # one source module for many examples

#: plain decimals as venues send them (Binance: eight decimals, "6195.00000000") and near
#: misses: digits either side of an optional point, up to 34 characters (the fast path takes
#: 30 at most, eight digits at a time where eight follow the point), a second point, a
#: character that ends the digits early
_PLAIN = st.builds(lambda head, point, tail, extra: head + (point + tail if point else "") + extra,
                   st.text("0123456789", min_size=0, max_size=20), st.sampled_from(["", ".", "."]),
                   st.text("0123456789", min_size=0, max_size=20),
                   st.sampled_from(["", "", "", ".", ".5", "x", "e5", "\u00e9", "9" * 8]))


@settings(max_examples=3000, deadline=None)
@given(_PLAIN)
def test_plain_decimal_is_float_wherever_it_takes_the_text(text):
    """``_plain_decimal`` (compiled: digits summed eight at a time, one division where both
    operands are exact) gives float(text) to the bit for every plain decimal of at most 30
    characters and -1.0 for anything else, as its interpreted source does; and the depth
    scans' reader, ``_decimal_at``, reads the same decimal inside a body, up to the quote."""
    from evlab.feeds.adapters import _common

    plain = re.fullmatch(r"[0-9]+(\.[0-9]+)?", text) is not None and len(text) <= 30
    got = _common._plain_decimal(text)
    assert repr(got) == repr(float(text) if plain else -1.0), text
    assert repr(_SOURCE()._plain_decimal(text)) == repr(got), text
    body = f'{{"lastUpdateId":7,"bids":[["{text}","{text}"]],"asks":[]}}'
    scanned = _common.depth_body_levels(body)
    if _common.__file__.endswith(".py"):  # interpreted: always the JSON path
        assert scanned is None
    else:
        taken = plain and 0.0 < got < _common.MAX_VALUE  # a level's price: positive, sane
        assert scanned == ((7, ((got, got),), ()) if taken else None), text


def test_dec_fields_and_get_dec_compiled_and_interpreted_agree_on_every_decimal():
    """``dec_fields`` (a bar's OHLCV) and ``get_dec`` take each plain decimal through
    ``_plain_decimal`` (in C where compiled) and the rest through the regex: the same floats
    (to the bit) and the same errors as the interpreted source, and as float() wherever the
    value is accepted."""
    from evlab.feeds.adapters import _common

    source = _interpreted_common()

    def outcome(module, obj):
        try:
            return repr((module.dec_fields("o", "h")("x", obj), module.get_dec("x", obj, "o")))
        except AdapterError as exc:
            return f"AdapterError: {exc}"

    for text in [*_decimal_texts(3000), "-1.5", "-0.0", "-" + "1" * 18]:
        for obj in ({"o": text, "h": "1"}, {"o": "1", "h": text}, {"o": text, "h": text}):
            got = outcome(_common, obj)
            assert got == outcome(source, obj), obj
            if not got.startswith("AdapterError"):
                assert _common.dec_fields("o", "h")("x", obj) == (float(obj["o"]),
                                                                   float(obj["h"])), obj


def test_rfc3339_compiled_and_interpreted_agree():
    """The compiled ``rfc3339_ns`` reads the fraction in C; both remember the last second:
    same times and errors, whatever the order of the timestamps."""
    from evlab.feeds.adapters import _common

    source = _interpreted_common()
    texts = ["2021-04-17T16:43:30.244075Z", "2021-04-17T16:43:30.5Z",
             "2021-04-17T16:43:31.000000001Z",
             "2021-04-17T16:43:30.1234567890Z", "2021-04-17T16:43:30.24x075Z",
             "2021-04-17T16:43:30.\u0661\u0662Z", "2021-04-17T16:43:30.Z", "2021-04-17T16:43:30Z",
             "2021-04-17T16:43:60.5Z", "2021-02-30T16:43:30.5Z", "2021-04-17T24:00:00.5Z",
             "2021-04-17T16:43:30.25+01:00", "2021-04-17t16:43:30.25z", "2021-04-17T16:43:3.25Z",
             "2021-04-17T16:43:30.244075Z"]

    def outcome(module, text):
        try:
            return module.rfc3339_ns(text)
        except ValueError as exc:
            return f"ValueError: {exc}"

    for text in texts + texts[::-1]:
        assert outcome(_common, text) == outcome(source, text), text


@pytest.mark.parametrize(("make", "pattern"), [
    (lambda c: c.book("x", "BTC-USD", 1, [(100.0, 1.0)], (), False, None, None, "s", {}),
     "invalid book levels .*bids: must be a tuple"),
    (lambda c: c.book("x", "BTC-USD", 1, (), (), "yes", None, None, "s", {}),
     "invalid book levels .*snapshot: must be True or False"),
    (lambda c: c.tick("x", 5, 1, 100.0, 1.0, None, None, "s", {}), "invalid trade .*symbol"),
    (lambda c: c.tick("x", "BTC-USD", 1, "100", 1.0, None, None, "s", {}),
     "invalid trade .*price"),
    (lambda c: c.quote("x", "BTC-USD", 1, "a", 2.0, None, None, "s", {}),
     "invalid quote .*bid"),
    (lambda c: c.quote("x", "BTC-USD", 1, 1.0, 2.0, "1", None, "s", {}),
     "invalid quote .*bid_size"),
])
def test_book_tick_and_quote_raise_adapter_error_for_values_of_the_wrong_type(make, pattern):
    """What an adapter passes on to the event builders is judged by the events' checks, as an
    AdapterError (the caller makes it an ErrorEvent), compiled or not: the compiled helpers'
    annotations are no C argument types (which would raise TypeError first)."""
    from evlab.feeds.adapters import _common

    for module in (_common, _interpreted_common()):
        with pytest.raises(AdapterError, match=pattern):
            make(module)


def test_rfc3339_times_without_a_fraction_agree_and_are_right():
    """Times without a fraction (Coinbase's candle stamps, a new second each) take the
    remembered second or hour where they can: the same times as ``datetime`` and the same
    errors compiled and interpreted, across minutes, hours and days, and a bad minute or
    second in the remembered hour is still refused."""
    from evlab.feeds.adapters import _common

    source = _interpreted_common()
    start = _dt.datetime(2016, 10, 7, 22, 58, tzinfo=_dt.UTC)
    good = [start + _dt.timedelta(seconds=s) for s in range(0, 4 * 3600, 59)]
    texts = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in good]
    bad = ["2016-10-07T23:60:00Z", "2016-10-07T23:05:60Z", "2016-10-07T23:0a:00Z",
           "2016-10-07T23:05:0\u0661Z", "2016-10-07T23-05:00Z", "2016-10-07T23:05:00z"]

    def outcome(module, text):
        try:
            return module.rfc3339_ns(text)
        except ValueError as exc:
            return f"ValueError: {exc}"

    for module in (_common, source):
        for text, when in zip(texts, good, strict=True):
            assert module.rfc3339_ns(text) == int(when.timestamp()) * 10**9, text
        module.rfc3339_ns("2016-10-07T23:00:00Z")  # the bad ones follow a time of their hour
        for text in bad:
            got = outcome(module, text)
            if text.endswith("z"):  # lower-case z is RFC 3339 too
                assert got == int(_dt.datetime(2016, 10, 7, 23, 5, tzinfo=_dt.UTC)
                                  .timestamp()) * 10**9
            else:
                assert got == outcome(source, text) and str(got).startswith("ValueError"), text


@pytest.mark.parametrize(("text", "expected"), [
    ("1475798400", 1_475_798_400 * 10**9), ("0000000000", 0), ("0", 0),
    ("9223372036", 9_223_372_036 * 10**9),  # the last second that fits int64 ns
    ("00000000000000000001", 10**9),  # more digits than the fast path reads: still accepted
])
def test_a_candle_start_in_unix_seconds_is_read_exactly(text, expected):
    assert get_time_s_str("x", {"start": text}, "start") == expected


@pytest.mark.parametrize(("text", "pattern"), [
    ("9223372037", "fits int64"), ("12345678901", "fits int64"), ("", "non-empty"),
    ("12a4", "ASCII digits"), ("-1", "ASCII digits"), ("\u0661\u0662", "ASCII digits"),
    (" 12", "ASCII digits"),
])
def test_a_bad_candle_start_names_the_field(text, pattern):
    with pytest.raises(AdapterError, match=f"'start'.*{pattern}"):
        get_time_s_str("x", {"start": text}, "start")
