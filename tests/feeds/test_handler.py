"""WebSocketHandler: decoding through real adapters, errors, duplicates, gaps, bus choice.

End-to-end tests run a real websockets server on 127.0.0.1 (port 0) and a WebSocketEmitter;
handler-only tests publish WebSocketEvents on a bus directly (no socket involved).
"""

from __future__ import annotations

import contextlib
import datetime as dt

import orjson
import pytest
from websockets.asyncio.server import serve

from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    BarUpdateEvent,
    ErrorEvent,
    Event,
    EventType,
    SystemEvent,
    TickEvent,
    WebSocketEvent,
    create_bar_event,
    create_websocket_event,
)
from evlab.feeds.adapters import get_adapter
from evlab.feeds.backoff import Backoff
from evlab.feeds.continuity import BarContinuity
from evlab.feeds.emitter import WebSocketEmitter, adapter_for_source
from evlab.feeds.handler import WebSocketHandler
from tests.adapters._data import fixture
from tests.feeds.support import Recorder

T0 = 1_700_000_040 * 10**9  # a whole minute
MIN = 60 * 10**9


@contextlib.asynccontextmanager
async def server(handler):
    async with serve(handler, "127.0.0.1", 0) as srv:
        yield f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"


def kline(t_ns: int, symbol: str = "BTCUSDT", final: bool = True, close: float = 1.5) -> bytes:
    return get_adapter("binance").encode_bar(symbol, t_ns, 1.0, 2.0, 0.5, close, 10.0,
                                             final=final)


def wired(adapter="binance", **options) -> tuple[EventBus, Recorder, WebSocketHandler]:
    bus = EventBus()
    rec = Recorder(bus)
    handler = WebSocketHandler("market_data_handler", adapter, **options)
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    return bus, rec, handler


async def feed(bus: EventBus, *payloads: str | bytes, source: str = "feed") -> list[Event]:
    return [await bus.emit_async(create_websocket_event(source, p)) for p in payloads]


# --- end to end, as the usage guide wires it ----------------------------------------------

async def test_the_guide_wiring_decodes_with_the_emitters_adapter_and_keeps_the_cause():
    async def server_side(ws):
        await ws.recv()  # the subscription
        await ws.send(kline(T0))
        await ws.wait_closed()

    bus, rec, ws_handler = wired(adapter=None)  # WebSocketHandler("market_data_handler")
    async with server(server_side) as url:
        ws_emitter = WebSocketEmitter("exchange_feed", url, event_bus=bus, adapter="binance",
                                      symbols=["BTCUSDT"])
        await ws_emitter.start()
        await rec.until(lambda r: r.of(BarEvent))
        await ws_emitter.stop()
    assert adapter_for_source("exchange_feed") is ws_emitter.adapter
    [raw], [bar] = rec.of(WebSocketEvent), rec.of(BarEvent)
    assert bar.cause == raw.seq and bar.source == "exchange_feed"
    assert (bar.symbol, bar.time_ns, bar.close) == ("BTCUSDT", T0, 1.5)
    assert ws_handler.get_stats()["messages"] == 1 and ws_handler.get_stats()["events"] == 1


BAD = {
    "binance": {
        "malformed JSON": '{"e": "kline", "k": ',
        "wrong type": orjson.dumps({**orjson.loads(kline(T0)), "k": {
            **orjson.loads(kline(T0))["k"], "o": 1.0}}).decode(),
        "missing field": '{"e": "kline", "E": 1, "s": "BTCUSDT"}',
        "unknown type": '{"e": "24hrTicker", "E": 1, "s": "BTCUSDT"}',
    },
    "coinbase": {
        "malformed JSON": "not json at all",
        "wrong type": '{"type": "match", "trade_id": 10, "time": "2014-11-07T08:19:27Z", '
                      '"product_id": "BTC-USD", "size": "1", "price": 400.23, "side": "sell"}',
        "missing field": '{"type": "match", "trade_id": 10, "product_id": "BTC-USD"}',
        "unknown type": '{"type": "level2", "product_id": "BTC-USD"}',
    },
}


def good_message(exchange: str) -> bytes:
    if exchange == "binance":
        return kline(T0)
    return get_adapter("coinbase", candle_interval_s=60).encode_bar(
        "BTC-USD", T0, 1.0, 2.0, 0.5, 1.5, 10.0, interval_s=60, final=True)


@pytest.mark.parametrize("exchange", ["binance", "coinbase"])
async def test_bad_messages_become_error_events_with_their_payload_and_the_feed_goes_on(
        exchange):
    bad = BAD[exchange]

    async def server_side(ws):
        for payload in bad.values():
            await ws.send(payload)
        await ws.send(good_message(exchange))
        await ws.wait_closed()

    adapter = get_adapter(exchange, **({"candle_interval_s": 60} if exchange == "coinbase"
                                       else {}))
    bus, rec, handler = wired(adapter)
    async with server(server_side) as url:
        em = WebSocketEmitter("feed", url, event_bus=bus, subscriptions=[])  # the server sends
        await em.start()
        await rec.until(lambda r: r.of(BarEvent))
        await em.stop()
    raws, errors = rec.of(WebSocketEvent), rec.of(ErrorEvent)
    assert [e.payload for e in errors] == list(bad.values())
    for raw, error, why in zip(raws, errors, bad, strict=False):
        assert error.original_seq == raw.seq and error.cause == raw.seq, why
        assert error.original_type == "websocket" and error.handler == "market_data_handler"
        assert error.error_type == "AdapterError" and error.message, why
    assert "malformed JSON" in errors[0].message
    assert "unknown" in errors[3].message
    [bar] = rec.of(BarEvent)
    assert bar.cause == raws[-1].seq and bar.time_ns == T0
    stats = handler.get_stats()
    assert (stats["messages"], stats["errors"], stats["decode_errors"], stats["events"]) == \
        (5, 4, 4, 1)
    assert em.get_stats()["delivered"] == 5 and em.get_stats()["errors"] == 0


async def test_without_any_adapter_each_message_is_a_no_adapter_error():
    async def server_side(ws):
        await ws.send('{"hello": 1}')
        await ws.wait_closed()

    bus, rec, handler = wired(adapter=None)
    async with server(server_side) as url:
        with pytest.warns(UserWarning, match="subscribes to nothing and cannot decode"):
            em = WebSocketEmitter("raw_feed_without_adapter", url, event_bus=bus)
        await em.start()
        await rec.until(lambda r: r.of(ErrorEvent))
        await em.stop()
    [error] = rec.of(ErrorEvent)
    assert error.error_type == "NoAdapter" and "raw_feed_without_adapter" in error.message
    assert error.payload == '{"hello": 1}'
    assert handler.get_stats()["no_adapter"] == 1 and handler.get_stats()["errors"] == 1


async def test_duplicate_bars_after_a_reconnect_are_dropped_and_counted():
    connections = 0

    async def server_side(ws):
        nonlocal connections
        connections += 1
        await ws.recv()
        if connections == 1:
            await ws.send(kline(T0))
            await ws.send(kline(T0 + MIN))
            ws.transport.abort()
            return
        await ws.send(kline(T0 + MIN))  # re-sent after the reconnect
        await ws.send(kline(T0 + 2 * MIN))
        await ws.wait_closed()

    bus, rec, handler = wired(adapter=None)
    async with server(server_side) as url:
        em = WebSocketEmitter("dup_feed", url, event_bus=bus, adapter="binance",
                              symbols=["BTCUSDT"], backoff=Backoff(initial=0.001))
        await em.start()
        await rec.until(lambda r: len(r.of(WebSocketEvent)) == 4)
        await em.stop()
    assert [b.time_ns for b in rec.of(BarEvent)] == [T0, T0 + MIN, T0 + 2 * MIN]
    assert handler.get_stats()["duplicates"] == 1 and handler.get_stats()["gaps"] == 0
    assert [e.kind for e in rec.of(SystemEvent)][:3] == ["connected", "disconnected",
                                                         "reconnecting"]


# --- duplicates and gaps, handler only ---------------------------------------------------

async def test_a_jump_in_bar_times_is_a_gap_event_with_the_missing_range():
    bus, rec, handler = wired()
    await feed(bus, kline(T0), kline(T0 + MIN), kline(T0, "ETHUSDT"))
    [raw] = await feed(bus, kline(T0 + 4 * MIN))
    [gap] = [e for e in rec.of(SystemEvent) if e.kind == "gap"]
    assert gap.data["symbol"] == "BTCUSDT"
    assert (gap.data["start_ns"], gap.data["end_ns"]) == (T0 + 2 * MIN, T0 + 4 * MIN)
    assert gap.data["missing_bars"] == 2 and gap.data["interval_s"] == 60
    assert gap.data["start"] == dt.datetime.fromtimestamp((T0 + 2 * MIN) / 1e9, dt.UTC)
    assert gap.cause == raw.seq and gap.time_ns == T0 + 4 * MIN
    # the gap is published before the bar that revealed it
    tail = [e for e in rec.events if isinstance(e, (BarEvent, SystemEvent))][-2:]
    assert tail[0] is gap and tail[1].time_ns == T0 + 4 * MIN
    assert handler.get_stats()["gaps"] == 1
    await feed(bus, kline(T0 + 2 * MIN, "ETHUSDT"))  # ETH's interval is unknown yet: no gap
    assert handler.get_stats()["gaps"] == 1


async def test_a_given_bar_interval_finds_a_gap_between_the_first_two_bars():
    bus, rec, _ = wired(bar_interval=dt.timedelta(minutes=1))
    await feed(bus, kline(T0), kline(T0 + 3 * MIN))
    [gap] = [e for e in rec.of(SystemEvent) if e.kind == "gap"]
    assert gap.data["missing_bars"] == 2 and gap.data["end_ns"] == T0 + 3 * MIN


async def test_older_bars_are_dropped_as_stale_and_bar_updates_pass_untracked():
    bus, rec, handler = wired()
    await feed(bus, kline(T0 + MIN), kline(T0), kline(T0 + MIN, final=False),
               kline(T0 + MIN, close=1.6))
    assert [b.time_ns for b in rec.of(BarEvent)] == [T0 + MIN]
    assert len(rec.of(BarUpdateEvent)) == 1
    stats = handler.get_stats()
    assert (stats["stale"], stats["duplicates"], stats["events"]) == (1, 1, 2)
    handler.reset()
    await feed(bus, kline(T0))
    assert len(rec.of(BarEvent)) == 2


async def test_exchange_errors_pass_through_and_control_frames_are_counted():
    bus, rec, handler = wired()
    await feed(bus, '{"code": 1, "msg": "Invalid value type: expected Boolean"}',
               '{"result": null, "id": 1}',
               fixture("binance", "trade.json"))  # Binance's documented trade
    [error] = rec.of(ErrorEvent)
    assert error.error_type == "ExchangeError" and "Invalid value" in error.message
    [tick] = rec.of(TickEvent)
    assert tick.side == "SELL" and tick.price == 0.001  # m: the buyer made: the seller took
    stats = handler.get_stats()
    assert (stats["exchange_errors"], stats["control"], stats["errors"]) == (1, 1, 0)


# --- which bus ---------------------------------------------------------------------------

async def test_without_a_bus_it_publishes_on_the_bus_that_delivered_the_event():
    handler = WebSocketHandler("shared", "binance")
    buses = [EventBus(name="a"), EventBus(name="b")]
    bars: dict[str, list] = {}
    for bus in buses:
        bus.register_async(EventType.WEBSOCKET, handler.handle)
        bus.register(EventType.BAR, lambda e, n=bus.name: bars.setdefault(n, []).append(e))
    await feed(buses[0], kline(T0))
    buses[1].emit(create_websocket_event("feed", kline(T0 + MIN)))  # scheduled, sync emit
    await buses[1].drain()
    assert [b.time_ns for b in bars["a"]] == [T0]
    assert [b.time_ns for b in bars["b"]] == [T0 + MIN]


async def test_an_explicit_bus_is_used_and_no_bus_at_all_is_a_clear_error():
    target = EventBus()
    rec = Recorder(target)
    handler = WebSocketHandler("h", "binance", event_bus=target)
    await handler.handle(create_websocket_event("feed", kline(T0)))
    assert len(rec.of(BarEvent)) == 1
    lonely = WebSocketHandler("lonely", "binance")
    with pytest.raises(RuntimeError, match="no bus"):
        await lonely.handle(create_websocket_event("feed", kline(T0)))


async def test_other_events_are_ignored():
    bus = EventBus()
    handler = WebSocketHandler("h", "binance")
    bus.register_async(EventType.BAR, handler.handle)
    await bus.emit_async(create_bar_event("X", T0, 1, 2, 0.5, 1.5, 1))
    assert handler.get_stats()["ignored"] == 1 and handler.get_stats()["messages"] == 0


# --- the continuity tracker as a pure object ---------------------------------------------

def test_continuity_infers_the_interval_per_symbol():
    track = BarContinuity()
    assert track.check("A", 0) == ("new", [])
    assert track.check("A", 3 * MIN) == ("new", [])  # first step: taken as the interval
    verdict, [gap] = track.check("A", 4 * MIN)  # smaller step: 0 -> 3 had a hole after all
    assert verdict == "new" and (gap.start_ns, gap.end_ns, gap.missing) == (MIN, 3 * MIN, 2)
    verdict, [gap] = track.check("A", 7 * MIN)
    assert verdict == "new" and (gap.start_ns, gap.end_ns, gap.missing) == (5 * MIN, 7 * MIN, 2)
    assert track.check("A", 7 * MIN) == ("duplicate", [])
    assert track.check("A", 6 * MIN) == ("stale", [])
    assert track.last_time_ns("A") == 7 * MIN and track.last_time_ns("B") is None


async def test_inferred_interval_reports_exactly_the_holes_of_a_stream_that_starts_with_one():
    bus, rec, handler = wired()
    await feed(bus, *(kline(T0 + m * MIN) for m in (0, 3, 8, 9)))
    gaps = [e.data for e in rec.of(SystemEvent) if e.kind == "gap"]
    ranges = [(g["start_ns"], g["end_ns"], g["missing_bars"], g["interval_s"]) for g in gaps]
    assert ranges == [(T0 + MIN, T0 + 3 * MIN, 2, 60), (T0 + 4 * MIN, T0 + 8 * MIN, 4, 60)]
    assert handler.get_stats()["gaps"] == 2


def test_a_revised_gap_says_how_many_bars_were_already_reported():
    track = BarContinuity()
    track.check("A", 0)
    track.check("A", 2 * MIN)  # interval 2 min, so far
    _, [coarse] = track.check("A", 8 * MIN)  # [4, 8): 2 missing at 2 min
    assert (coarse.start_ns, coarse.missing) == (4 * MIN, 2)
    _, gaps = track.check("A", 9 * MIN)  # a 1-minute step: the interval was 1 min
    assert [(g.start_ns, g.end_ns, g.missing, g.revised) for g in gaps] == [
        (MIN, 2 * MIN, 1, 0), (3 * MIN, 8 * MIN, 5, 2)]


@pytest.mark.parametrize("interval", [None, 60])  # seconds
@pytest.mark.parametrize("seed", range(6))
def test_advance_is_check_for_the_usual_next_bar_and_learns_nothing_else(seed, interval):
    """The handler's hot path (``advance``, then ``check`` when it says no) gives exactly the
    verdicts, gaps and later state of ``check`` alone, whatever the stream: regular steps past
    HISTORY, holes, repeats, late bars, and a finer interval revealed late."""
    import random

    from evlab.feeds.continuity import HISTORY

    rng = random.Random(seed)
    plain, fast = BarContinuity(interval), BarContinuity(interval)
    times = {"A": 0, "B": 0}
    hits = 0
    for i in range(8 * HISTORY):
        symbol = rng.choice("AB")
        unit = 2 if i < 4 * HISTORY else 1  # then the finer interval shows, past HISTORY
        step = rng.choice([unit] * 12 + [2 * unit, 3, 0, -unit, 1 if rng.random() < 0.02 else 2])
        t = times[symbol] = max(0, times[symbol] + step * MIN)
        want = plain.check(symbol, t)
        if fast.advance(symbol, t):
            hits += 1
            assert want == ("new", [])
        else:
            assert fast.check(symbol, t) == want
        assert fast.last_time_ns(symbol) == plain.last_time_ns(symbol)
    assert hits > HISTORY // 2  # the fast path was taken, and often


@pytest.mark.parametrize("bad", [0, -1, "60s", dt.timedelta(0)])
def test_bad_bar_intervals_are_rejected(bad):
    with pytest.raises((ValueError, TypeError), match="bar_interval"):
        WebSocketHandler("h", "binance", bar_interval=bad)


# --- issue 10: bogus bar times, re-sent bars ----------------------------------------------

async def test_a_bar_from_the_future_is_an_error_and_does_not_silence_the_symbol():
    bus, rec, handler = wired()
    await feed(bus, kline(T0), kline(T0 + MIN), kline(T0 + 2 * MIN))
    bogus = kline(T0).replace(str(T0 // 10**6).encode(), b"4611686018427", 1)
    [raw] = await feed(bus, bogus)  # year 2116
    await feed(bus, *(kline(T0 + (3 + i) * MIN) for i in range(50)))
    [err] = rec.of(ErrorEvent)
    assert err.error_type == "BarTimeAhead" and err.cause == raw.seq and err.payload == bogus
    assert [b.time_ns for b in rec.of(BarEvent)] == [T0 + i * MIN for i in range(53)]
    assert not [e for e in rec.of(SystemEvent) if e.kind == "gap"]
    stats = handler.get_stats()
    assert (stats["time_ahead"], stats["stale"], stats["errors"]) == (1, 0, 1)


async def test_max_bar_ahead_is_configurable():
    bus, rec, handler = wired(max_bar_ahead=dt.timedelta(days=400 * 365))
    far = kline(T0).replace(str(T0 // 10**6).encode(), b"4611686018427", 1)
    await feed(bus, far)
    assert len(rec.of(BarEvent)) == 1 and handler.get_stats()["time_ahead"] == 0


async def test_a_time_too_large_for_int64_ns_is_an_error_event_not_an_overflow():
    bus, rec, handler = wired()
    huge = kline(T0).replace(str(T0 // 10**6).encode(), b"9223372036854776", 1)
    await feed(bus, huge, kline(T0))
    [err] = rec.of(ErrorEvent)
    assert err.payload == huge and handler.get_stats()["decode_errors"] == 1
    assert [b.time_ns for b in rec.of(BarEvent)] == [T0]


async def test_kraken_bars_resent_after_a_reconnect_count_as_duplicates_not_control():
    adapter = get_adapter("kraken")
    bus, rec, handler = wired(adapter)
    frames = [adapter.encode_bar("BTC/USD", T0 + i * MIN, 1.0, 2.0, 0.5, 1.5, 10.0)
              for i in range(3)]
    await feed(bus, *frames)
    await feed(bus, *frames)  # the snapshot a reconnect re-sends
    stats = handler.get_stats()
    assert len(rec.of(BarEvent)) == 3
    assert (stats["duplicates"], stats["control"]) == (3, 0)


async def test_a_bogus_kraken_bar_does_not_poison_the_adapters_own_tracker():
    adapter = get_adapter("kraken")
    bus, rec, handler = wired(adapter)
    ok = [adapter.encode_bar("BTC/USD", T0 + i * MIN, 1.0, 2.0, 0.5, 1.5, 10.0)
          for i in range(4)]
    future = adapter.encode_bar("BTC/USD", 4611686018427 * 10**6, 1.0, 2.0, 0.5, 1.5, 10.0)
    await feed(bus, ok[0], future, *ok[1:])
    assert [b.time_ns for b in rec.of(BarEvent)] == [T0 + i * MIN for i in range(4)]
    assert len(rec.of(ErrorEvent)) == 1 and handler.get_stats()["decode_errors"] == 1
