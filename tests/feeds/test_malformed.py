# ruff: noqa: RUF001 - look-alike digits are part of the corpus
"""A property-based corpus of malformed messages through every adapter and a WebSocketHandler
(issue 10): each bad message gives exactly one ErrorEvent carrying it, and the valid messages
interleaved with them all arrive as bars. Bounded and deterministic (derandomize)."""

from __future__ import annotations

import asyncio
import re

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    BookEvent,
    ErrorEvent,
    EventType,
    QuoteEvent,
    SystemEvent,
    TickEvent,
    create_websocket_event,
)
from evlab.feeds.adapters import ADAPTERS, get_adapter
from evlab.feeds.handler import WebSocketHandler
from tests.feeds.support import Recorder

T0 = 1_700_000_040 * 10**9
MIN = 60 * 10**9
_ASCII_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")


def adapter(name: str):
    return get_adapter(name, candle_interval_s=60) if name == "coinbase" else get_adapter(name)


def replace_open(obj, junk):
    """``obj`` with its bar's open price ("o" or "open") replaced by ``junk``."""
    if isinstance(obj, dict):
        return {k: junk if k in ("o", "open") else replace_open(v, junk) for k, v in obj.items()}
    if isinstance(obj, list):
        return [replace_open(v, junk) for v in obj]
    return obj


# prices no exchange documents: non-ASCII-decimal text, other JSON types, absurd numbers
junk_price = st.one_of(
    st.text(max_size=12).filter(lambda s: not _ASCII_DECIMAL.match(s)),
    st.sampled_from(["١٧٧.٦", "１７７", "1_0", " 10 ", "1e308", "NaN", "Infinity", "-0x1"]),
    st.none(), st.booleans(), st.lists(st.integers(-10**6, 10**6), max_size=2),
    st.floats(min_value=1e18, max_value=1e300), st.just(-5.0))
not_json = st.one_of(
    st.binary(max_size=40).map(lambda b: b"\xff" + b),  # never valid UTF-8 JSON
    st.text(max_size=40).map(lambda s: "{" + s))  # an unclosed object
bad = st.one_of(st.tuples(st.just("junk"), junk_price), st.tuples(st.just("raw"), not_json))


@pytest.mark.parametrize("name", ADAPTERS)
@settings(derandomize=True, max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.booleans(), bad), min_size=1, max_size=12))
def test_each_bad_message_is_one_error_event_and_every_valid_bar_arrives(name, plan):
    asyncio.run(_run(name, plan))


async def _run(name: str, plan) -> None:
    codec = adapter(name)
    bus = EventBus()
    rec = Recorder(bus)
    handler = WebSocketHandler("h", adapter(name), event_bus=bus)
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    sent_good, sent_bad, minute = [], [], 0
    for valid_first, (kind, junk) in plan:
        good = codec.encode_bar("X", T0 + minute * MIN, 1.0, 2.0, 0.5, 1.5, 10.0)
        payload = orjson.dumps(replace_open(orjson.loads(good), junk)) if kind == "junk" else junk
        order = [good, payload] if valid_first else [payload, good]
        for p in order:
            ev = await bus.emit_async(create_websocket_event(name, p))
            (sent_good if p is good else sent_bad).append((p, ev.seq))
        minute += 1
    errors = rec.of(ErrorEvent)
    assert sorted(e.cause for e in errors) == sorted(seq for _, seq in sent_bad)
    assert [e.payload for e in sorted(errors, key=lambda e: e.cause)] == [
        p for p, _ in sent_bad]
    times = [b.time_ns for b in rec.events if type(b) is BarEvent]
    assert times == [T0 + m * MIN for m in range(minute)]  # encode_bar's bars are final
    assert handler.get_stats()["decode_errors"] == len(sent_bad)


# --- the depth, quote and trade messages (issue 12) -------------------------------------------

def _set(*path):
    """A mutation that puts the junk at ``path`` (keys and indexes) of a decoded message."""
    def put(msg, junk):
        node = msg
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = junk
        return msg
    return put


def _array(put):
    """The same mutation for a data point that frames carry inside a JSON array."""
    return lambda msg, junk: put(msg[0], junk)


# (fixture, where a price sits): every book, quote and trade message type the adapters decode
MESSAGES = {
    "binance": [("depth_update.json", _set("b", 0, 0)), ("book_ticker.json", _set("b")),
                ("agg_trade.json", _set("p")), ("trade.json", _set("p")),
                ("partial_depth.json", _set("data", "asks", 0, 0))],
    "coinbase": [("l2update.json", _set("changes", 0, 1)),
                 ("level2_snapshot.json", _set("bids", 0, 0)), ("match.json", _set("price")),
                 ("ticker.json", _set("best_bid")),
                 ("l2_data.json", _set("events", 0, "updates", 0, "price_level")),
                 ("market_trades.json", _set("events", 0, "trades", 0, "price")),
                 ("ticker_advanced.json", _set("events", 0, "tickers", 0, "best_ask"))],
    "kraken": [("book_snapshot.json", _set("data", 0, "bids", 0, "price")),
               ("book_update.json", _set("data", 0, "bids", 0, "qty")),
               ("ticker_snapshot.json", _set("data", 0, "bid")),
               ("trade_update.json", _set("data", 0, "price"))],
    "alpaca": [(name, _array(_set(key))) for name, key in (
        ("quote.json", "bp"), ("trade.json", "p"), ("crypto_trade.json", "p"),
        ("correction.json", "cp"), ("cancel_error.json", "p"))],
    "polygon": [("quote.json", _array(_set("ap"))), ("trade.json", _array(_set("p")))],
}
_ARRAYS = {"alpaca", "polygon"}  # their frames are arrays of data points


def documented(name: str, fixture_name: str) -> bytes:
    from tests.adapters._data import fixture

    raw = fixture(name, fixture_name)
    if name in _ARRAYS and not raw.lstrip().startswith(b"["):
        raw = b"[" + raw.strip() + b"]"
    return raw


def _partial_depth_on_a_combined_stream(name: str, fixture_name: str) -> bytes:
    """Binance's partial depth names no symbol: it is read on a combined stream."""
    raw = documented(name, fixture_name)
    if fixture_name == "partial_depth.json":
        raw = orjson.dumps({"stream": "bnbbtc@depth5", "data": orjson.loads(raw)})
    return raw


@pytest.mark.parametrize("name", ADAPTERS)
@settings(derandomize=True, max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.integers(0, 6), st.booleans(), bad), min_size=1, max_size=10))
def test_each_bad_book_quote_or_trade_is_one_error_and_every_valid_one_arrives(name, plan):
    asyncio.run(_run_messages(name, plan))


async def _run_messages(name: str, plan) -> None:
    bus = EventBus()
    rec = Recorder(bus)
    handler = WebSocketHandler("h", adapter(name), event_bus=bus)
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    kinds = MESSAGES[name]
    sent_bad, expected = [], 0
    for pick, valid_first, (kind, junk) in plan:
        fixture_name, put = kinds[pick % len(kinds)]
        good = _partial_depth_on_a_combined_stream(name, fixture_name)
        expected += len(adapter(name).parse(good))
        payload = (orjson.dumps(put(orjson.loads(good), junk)) if kind == "junk" else junk)
        for p in ([good, payload] if valid_first else [payload, good]):
            ev = await bus.emit_async(create_websocket_event(name, p))
            if p is payload:
                sent_bad.append((p, ev.seq))
    errors = rec.of(ErrorEvent)
    assert sorted(e.cause for e in errors) == sorted(seq for _, seq in sent_bad)
    assert [e.payload for e in sorted(errors, key=lambda e: e.cause)] == [p for p, _ in sent_bad]
    data = [e for e in rec.events if type(e) in (BookEvent, QuoteEvent, TickEvent, SystemEvent)
            and not (type(e) is SystemEvent and e.kind == "book_error")]
    assert len(data) == expected
    assert handler.get_stats()["decode_errors"] == len(sent_bad)
