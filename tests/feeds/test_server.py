"""The local feed server, through real sockets on 127.0.0.1 and each exchange's own messages.

Nothing here sleeps or measures time: clients synchronise on the server's frames (acks, bars,
closes), and paced or live streams run on a ManualClock moved by hand.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import socket
import urllib.error
import urllib.request

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.sync.client import connect as sync_connect

from benchmarks import bench_feed_server
from evlab import datasets
from evlab.events import BarEvent, BarUpdateEvent, ErrorEvent, create_bar_event, create_error_event
from evlab.feeds import adapters
from evlab.feeds.adapters import ExchangeAdapter, Subscribe
from evlab.feeds.server import FeedServer, ManualClock

EXCHANGES = ("binance", "coinbase", "kraken", "alpaca", "polygon")
WIRE_BTC = {"binance": "BTCUSDT", "coinbase": "BTC-USD", "kraken": "BTC/USD",
            "alpaca": "BTC/USD", "polygon": "BTC-USD"}
TIMEOUT = 60  # a safety net against a hang, never a timing assertion


def rows(name: str = "btcusd_1m", n: int | None = None, symbol: str | None = None,
         wire: dict[str, str] | None = None) -> list[tuple]:
    """(symbol, time_ns, o, h, l, c, v) of a shipped dataset's first ``n`` rows."""
    frame = datasets.load(name)
    frame = frame if n is None else frame.iloc[:n]
    if symbol is not None:
        frame = frame[frame["symbol"] == symbol]
    out = []
    for t, o, h, lo, c, v, s in zip(frame.index.asi8.tolist(), frame["open"], frame["high"],
                                   frame["low"], frame["close"], frame["volume"],
                                   frame["symbol"].astype(str), strict=True):
        out.append(((wire or {}).get(s, s), t, o, h, lo, c, v))
    return out


def as_row(bar: BarEvent) -> tuple:
    return (bar.symbol, bar.time_ns, bar.open, bar.high, bar.low, bar.close, bar.volume)


async def subscribe(ws, server: FeedServer, symbols: list[str] | None = None) -> None:
    for text in server.subscribe_messages(symbols):
        await ws.send(text)


async def read_to_close(ws, adapter) -> tuple[list[BarEvent], list, list[bytes | str]]:
    """Every frame until the server closes: (bars, other events, frames that gave bars)."""
    bars, others, bar_frames = [], [], []
    async with asyncio.timeout(TIMEOUT):
        async for message in ws:
            events = adapter.parse(message)
            if any(isinstance(e, BarEvent) for e in events):
                assert len(events) == 1, "one bar per message"
                bar_frames.append(message)
                bars.append(events[0])
            else:
                others.extend(events)
    return bars, others, bar_frames


async def next_bar(ws, adapter) -> BarEvent:
    """The next frame that carries a bar (skipping control frames, which parse to [])."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            events = adapter.parse(await ws.recv())
            if events:
                assert len(events) == 1 and isinstance(events[0], BarEvent), events
                return events[0]


async def until_ack(ws, adapter, acks: int = 1) -> None:
    """Read the welcome/ack frames (they parse to []) up to the ``acks``-th acknowledgement."""
    async with asyncio.timeout(TIMEOUT):
        while acks:
            message = await ws.recv()
            assert adapter.parse(message) == []
            if "connected" not in str(message) and "online" not in str(message):
                acks -= 1


# --- every exchange: exactly the dataset, in order ------------------------------------------------

@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_client_gets_exactly_the_dataset_in_order(feed_server, exchange):
    server = await feed_server("btcusd_1m", exchange=exchange, limit=50)
    assert server.symbols == [WIRE_BTC[exchange]]
    assert server.url == f"ws://127.0.0.1:{server.port}" and server.port > 0
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        bars, others, _ = await read_to_close(ws, adapter)
    assert [as_row(b) for b in bars] == rows(n=50, wire={"BTC-USD": WIRE_BTC[exchange]})
    assert all(type(b) is BarEvent and b.source == exchange for b in bars)
    assert others == []  # the acknowledgement (and any greeting) decode to no event
    assert ws.close_code == 1000
    await server.wait_finished()
    assert server.bars_sent == 50 and server.streams_finished == 1


async def test_stocks_subset_unknown_symbol_and_daily_bars(feed_server):
    server = await feed_server("stocks_daily", exchange="binance", limit=100)
    assert server.interval_s == 86400
    assert server.symbols == ["AAPL", "IBM", "MSFT"]  # FB and GOOG were not listed yet
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        # refused whole (one unknown symbol subscribes nothing), then granted without it
        await ws.send(adapter.subscribe_messages(["IBM", "AAPL", "NOPE"], interval_s=86400)[0])
        await ws.send(adapter.subscribe_messages(["IBM", "AAPL"], interval_s=86400)[0])
        bars, others, _ = await read_to_close(ws, adapter)
    expected = [r for r in rows("stocks_daily", 100) if r[0] in ("AAPL", "IBM")]
    assert [as_row(b) for b in bars] == expected and len(expected) > 10
    assert [type(e) for e in others] == [ErrorEvent] and "'NOPE'" in others[0].message
    assert server.requests_refused == 1


@pytest.mark.parametrize("mode", ["replay", "live"])
async def test_unsubscribe_stops_those_symbols_for_that_client(feed_server, mode):
    """Binance's documented UNSUBSCRIBE: after its ack no IBM bar comes, AAPL's go on."""
    clock = ManualClock()
    server = await feed_server("stocks_daily", exchange="binance", limit=60, rate=1,
                               mode=mode, clock=clock)
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        await ws.send(adapter.subscribe_messages(["IBM", "AAPL"], interval_s=86400)[0])
        assert '"result":null' in await ws.recv()
        await ws.send('{"method": "UNSUBSCRIBE", "params": ["ibm@kline_1d"], "id": 312}')
        async with asyncio.timeout(TIMEOUT):
            while await ws.recv() != '{"result":null,"id":312}':
                pass  # bars sent before the unsubscribe was read
        clock.advance(120)  # every bar due
        bars, others, _ = await read_to_close(ws, adapter)
    assert bars and {b.symbol for b in bars} == {"AAPL"} and others == []
    last = [r for r in rows("stocks_daily", 60) if r[0] == "AAPL"][-1]
    assert as_row(bars[-1]) == last


async def test_alpaca_serves_daily_bars_as_partial_bars(feed_server):
    server = await feed_server("stocks_daily", exchange="alpaca", limit=10, symbol="MSFT")
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        async with asyncio.timeout(TIMEOUT):
            events = [e async for m in ws for e in adapter.parse(m)]
    assert [type(e) for e in events] == [BarUpdateEvent] * len(events) and events
    assert [as_row(e) for e in events] == rows("stocks_daily", symbol="MSFT")[:len(events)]


def test_formats_that_cannot_carry_the_bars_are_refused():
    with pytest.raises(ValueError, match="polygon cannot stream 86400 s bars"):
        FeedServer("stocks_daily", exchange="polygon")
    with pytest.raises(ValueError, match="kraken cannot stream 1 s bars"):
        FeedServer("btcusd_1s", exchange="kraken", limit=5)


@pytest.mark.parametrize("kwargs, match", [
    ({"rate": 10, "speed": 2}, "not both"),
    ({"rate": 0}, "rate must be positive"),
    ({"exchange": "nasdaq"}, "unknown exchange"),
    ({"mode": "recorded"}, "mode must be"),
    ({"limit": 0}, "limit must be positive"),
    ({"symbol_map": {"BTC-USD": ""}, "dataset": "nope.csv"}, "no such file"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        FeedServer(**kwargs)


# --- several clients, looping, the end ---------------------------------------------------------

async def test_two_clients_at_once(feed_server):
    server = await feed_server("btcusd_1m", exchange="kraken", limit=40)

    async def client() -> list[tuple]:
        adapter = server.client_adapter()
        async with connect(server.url) as ws:
            await subscribe(ws, server)
            bars, _, _ = await read_to_close(ws, adapter)
        return [as_row(b) for b in bars]

    first, second = await asyncio.gather(client(), client())
    assert first == second == rows(n=40, wire={"BTC-USD": "BTC/USD"})
    await server.wait_finished(2)
    assert server.bars_sent == 80


async def test_loop_continues_past_the_end_with_increasing_times(feed_server):
    server = await feed_server("btcusd_1m", exchange="coinbase", limit=5, loop=True)
    adapter = server.client_adapter()
    data = rows(n=5)
    span = data[-1][1] - data[0][1] + 60 * 10**9
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        got = [await next_bar(ws, adapter) for _ in range(13)]
    times = [b.time_ns for b in got]
    assert all(a < b for a, b in itertools.pairwise(times))
    for i, bar in enumerate(got):
        sym, t, *values = data[i % 5]
        assert as_row(bar) == (sym, t + (i // 5) * span, *values)
    assert server.streams_finished == 0


async def test_end_of_stream_is_a_normal_close_and_is_recorded(feed_server):
    server = await feed_server("btcusd_1m", exchange="polygon", limit=3)
    adapter = server.client_adapter()
    async with connect(server.url) as idle, connect(server.url) as ws:
        await subscribe(ws, server)
        await server.wait_finished()
        bars, _, _ = await read_to_close(ws, adapter)
        assert len(bars) == 3
        assert isinstance(ws.close_exc, ConnectionClosedOK) and ws.close_code == 1000
        assert ws.close_reason == "end of data"
        # a client that had not subscribed is left alone, and gets its own stream from the start
        await subscribe(idle, server)
        again, _, _ = await read_to_close(idle, adapter)
    assert [as_row(b) for b in again] == [as_row(b) for b in bars]
    await server.wait_finished(2)


async def test_replay_server_restarts_on_the_same_port(feed_server):
    server = await feed_server("btcusd_1m", exchange="binance", limit=3)
    port = server.port
    await server.stop()
    assert not server.running
    await server.start()
    assert server.port == port
    async with connect(f"ws://127.0.0.1:{port}") as ws:
        await subscribe(ws, server)
        bars, _, _ = await read_to_close(ws, server.client_adapter())
    assert len(bars) == 3


# --- pacing, on a hand-moved clock --------------------------------------------------------------

async def test_speed_paces_by_the_bars_own_times(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="binance", limit=6, speed=60,
                               clock=clock)
    adapter = server.client_adapter()
    data = rows(n=6, wire={"BTC-USD": "BTCUSDT"})
    due = [(t - data[0][1]) / 60e9 for _, t, *_ in data]  # seconds after the subscription
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        assert as_row(await next_bar(ws, adapter)) == data[0]  # due at once
        server.inject("marker")  # goes out before the next bar: proves it was held back
        clock.advance(due[1])
        assert await ws.recv() == "marker"
        assert as_row(await next_bar(ws, adapter)) == data[1]
        clock.advance(due[-1])  # everything due: sent in one go, then the close
        bars, _, _ = await read_to_close(ws, adapter)
    assert [as_row(b) for b in bars] == data[2:]


async def test_rate_paces_bars_per_second(feed_server):
    clock = ManualClock(1000.0)
    server = await feed_server("btcusd_1m", exchange="alpaca", limit=4, rate=2, clock=clock)
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        first = await next_bar(ws, adapter)
        server.inject(b"[{not json")
        clock.advance(0.5)
        assert await ws.recv() == "[{not json"
        second = await next_bar(ws, adapter)
    assert [first.time_ns, second.time_ns] == [r[1] for r in rows(n=2)]


# --- live mode: one shared timeline -----------------------------------------------------------

async def test_live_clients_share_one_timeline(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="coinbase", mode="live", rate=1, limit=20,
                               clock=clock)
    times = [r[1] for r in rows(n=20)]
    adapter_a, adapter_b = server.client_adapter(), server.client_adapter()
    async with connect(server.url) as a, connect(server.url) as b:
        await subscribe(a, server)
        await until_ack(a, adapter_a)
        clock.advance(1)
        assert (await next_bar(a, adapter_a)).time_ns == times[1]  # bar 0 went out at start
        await subscribe(b, server)
        await until_ack(b, adapter_b)
        clock.advance(2)  # two bars due at once: both sent
        for ws, adapter in ((a, adapter_a), (b, adapter_b)):
            got = [(await next_bar(ws, adapter)).time_ns for _ in range(2)]
            assert got == times[2:4]


async def test_live_stop_start_keeps_the_port_and_skips_the_downtime(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="kraken", mode="live", rate=1, limit=30,
                               clock=clock)
    port = server.port
    times = [r[1] for r in rows(n=30)]
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        await until_ack(ws, adapter)
        clock.advance(1)
        first = [(await next_bar(ws, adapter)).time_ns]
        clock.advance(1)
        first.append((await next_bar(ws, adapter)).time_ns)
        await server.stop()
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert first == times[1:3]
    clock.advance(10)  # down for 10 s: bars 3..12 fall due meanwhile and are never sent
    await server.start()
    assert server.port == port
    adapter = server.client_adapter()
    async with connect(f"ws://127.0.0.1:{port}") as ws:
        await subscribe(ws, server)
        await until_ack(ws, adapter)
        clock.advance(1)
        after = (await next_bar(ws, adapter)).time_ns
    assert after == times[13]
    assert after - first[-1] > 60 * 10**9  # the gap a reconnecting client sees


async def test_live_end_closes_everyone_normally(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="polygon", mode="live", rate=1, limit=3,
                               clock=clock)
    adapter = server.client_adapter()
    async with connect(server.url) as ws, connect(server.url) as idle:
        await subscribe(ws, server)
        await until_ack(ws, adapter)
        clock.advance(100)
        bars, _, _ = await read_to_close(ws, adapter)
        await server.wait_finished()
        with pytest.raises(ConnectionClosedOK):
            async with asyncio.timeout(TIMEOUT):
                await idle.recv()  # its greeting
                await idle.recv()
    assert [b.time_ns for b in bars] == [r[1] for r in rows(n=3)][1:]
    assert ws.close_code == 1000 and server.streams_finished == 1


# --- fault injection --------------------------------------------------------------------------

async def test_drop_connections_cuts_without_a_close_frame(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="binance", limit=10, rate=1, clock=clock)
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        await next_bar(ws, adapter)
        assert await server.drop_connections() == 1
        with pytest.raises(ConnectionClosedError):
            async with asyncio.timeout(TIMEOUT):
                while True:
                    await ws.recv()
    assert ws.close_code == 1006 and ws.protocol.close_rcvd is None
    assert server.clients == 0 and server.streams_finished == 0


async def test_oversized_injected_frame_breaks_a_strict_client(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="coinbase", limit=5, rate=1, clock=clock)
    adapter = server.client_adapter()
    async with connect(server.url, max_size=4096) as ws:
        await subscribe(ws, server)
        await next_bar(ws, adapter)
        server.inject("x" * 10_000)
        clock.advance(1)
        with pytest.raises(ConnectionClosedError) as failure:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    await ws.recv()
    assert failure.value.sent.code == 1009  # the client gave up: message too big


# --- protocol details ----------------------------------------------------------------------------

async def test_binance_stream_urls_subscribe_by_path(feed_server):
    server = await feed_server("btcusd_1m", exchange="binance", limit=4)
    adapter = server.client_adapter()
    async with connect(f"{server.url}/ws/btcusdt@kline_1m") as ws:
        raw = await read_to_close(ws, adapter)
    async with connect(f"{server.url}/stream?streams=btcusdt@kline_1m") as ws:
        combined = await read_to_close(ws, adapter)
    expected = rows(n=4, wire={"BTC-USD": "BTCUSDT"})
    assert [as_row(b) for b in raw[0]] == [as_row(b) for b in combined[0]] == expected
    assert raw[1] == combined[1] == []  # no acknowledgement for a stream URL
    assert orjson.loads(combined[2][0])["stream"] == "btcusdt@kline_1m"
    assert "stream" not in orjson.loads(raw[2][0])


async def test_binance_combined_endpoint_wraps_streams_subscribed_by_message(feed_server):
    """Binance's SDKs (binance-sdk-spot, binance-connector) connect to /stream, then send
    SUBSCRIBE: the pushes are wrapped as combined-stream events, the ack is not."""
    server = await feed_server("btcusd_1m", exchange="binance", limit=3)
    adapter = server.client_adapter()
    async with connect(f"{server.url}/stream") as ws:
        await ws.send('{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 5}')
        assert orjson.loads(await ws.recv()) == {"result": None, "id": 5}
        bars, others, frames = await read_to_close(ws, adapter)
    assert [as_row(b) for b in bars] == rows(n=3, wire={"BTC-USD": "BTCUSDT"}) and others == []
    assert [orjson.loads(f)["stream"] for f in frames] == ["btcusdt@kline_1m"] * 3


@pytest.mark.parametrize("exchange, hello, auth", [
    ("alpaca", [{"T": "success", "msg": "connected"}],
     [{"T": "success", "msg": "authenticated"}]),
    ("polygon", [{"ev": "status", "status": "connected", "message": "Connected Successfully"}],
     [{"ev": "status", "status": "auth_success", "message": "authenticated"}]),
])
async def test_stock_feeds_greet_and_accept_any_credentials(feed_server, exchange, hello, auth):
    server = await feed_server("btcusd_1m", exchange=exchange, limit=2)
    async with connect(server.url) as ws:
        assert orjson.loads(await ws.recv()) == hello
        await ws.send(orjson.dumps({"action": "auth", "key": "k", "secret": "s",
                                    "params": "k"}).decode())
        assert orjson.loads(await ws.recv()) == auth


async def test_kraken_greets_and_answers_ping(feed_server):
    server = await feed_server("btcusd_1m", exchange="kraken", limit=2)
    async with connect(server.url) as ws:
        status = orjson.loads(await ws.recv())
        assert status["channel"] == "status" and status["data"][0]["system"] == "online"
        await ws.send('{"method": "ping", "req_id": 7}')
        pong = orjson.loads(await ws.recv())
    assert pong["method"] == "pong" and pong["req_id"] == 7


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_bad_requests_get_an_error_in_the_exchange_style(feed_server, exchange):
    server = await feed_server("btcusd_1m", exchange=exchange, limit=2)
    adapter = server.client_adapter()
    trades_only = adapter.subscribe_messages(server.symbols, ("trades",))[0]
    unknown = adapter.subscribe_messages(["DOGE-EUR"], interval_s=60)[0]
    errors = []
    async with connect(server.url) as ws:
        for request in ("{not json", trades_only, unknown):
            await ws.send(request)
            async with asyncio.timeout(TIMEOUT):
                while True:
                    events = adapter.parse(await ws.recv())
                    if events:
                        break
            errors.extend(events)
    assert [type(e) for e in errors] == [ErrorEvent] * 3
    assert "bars only" in errors[1].message or "bars only" in str(errors[1].payload)
    assert "doge-eur" in str(errors[2].payload).lower()  # binance: not even a stream name
    assert server.bars_sent == 0 and server.requests_refused == 3


async def test_csv_path_and_symbol_map(feed_server, tmp_path):
    path = tmp_path / "eth.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    "2024-01-01T00:00:00Z,10,12,9,11,5\n"
                    "2024-01-01T00:05:00Z,11,13,10,12,6.5\n")
    server = await feed_server(path, exchange="kraken", symbol="ETH-USD",
                               symbol_map={"ETH-USD": "XETH/ZUSD"})
    assert server.symbols == ["XETH/ZUSD"] and server.dataset_symbols == ["ETH-USD"]
    assert server.interval_s == 300
    adapter = server.client_adapter()
    async with connect(server.url) as ws:
        await subscribe(ws, server)
        bars, _, _ = await read_to_close(ws, adapter)
    assert [as_row(b) for b in bars] == [
        ("XETH/ZUSD", 1704067200 * 10**9, 10, 12, 9, 11, 5),
        ("XETH/ZUSD", 1704067500 * 10**9, 11, 13, 10, 12, 6.5)]


@pytest.mark.parametrize("exchange, first, second, listed", [
    # Alpaca's and Coinbase's acks list every subscription of the connection ...
    ("alpaca", {"action": "subscribe", "bars": ["BTC/USD"]},
     {"action": "subscribe", "bars": ["ETH/USD"]},
     lambda ack: orjson.loads(ack)[0]["bars"]),
    ("coinbase", {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "candles"},
     {"type": "subscribe", "product_ids": ["ETH-USD"], "channel": "candles"},
     lambda ack: orjson.loads(ack)["events"][0]["subscriptions"]["candles"]),
])
async def test_acks_list_what_the_exchange_lists(feed_server, tmp_path, exchange, first, second,
                                                 listed):
    path = tmp_path / "two.csv"
    path.write_text("timestamp,symbol,open,high,low,close,volume\n"
                    "2024-01-01T00:00:00Z,BTC-USD,10,12,9,11,5\n"
                    "2024-01-01T00:00:00Z,ETH-USD,1,2,1,2,3\n")
    server = await feed_server(path, exchange=exchange, speed=1e-6, loop=True)  # open
    async with connect(server.url) as ws:
        frames = []
        for request in (first, second):
            await ws.send(orjson.dumps(request).decode())
            while True:
                frame = await ws.recv()
                if '"subscription' in frame:
                    frames.append(frame)
                    break
    assert [listed(f) for f in frames] == [first.get("bars") or first["product_ids"],
                                           [*(first.get("bars") or first["product_ids"]),
                                            *(second.get("bars") or second["product_ids"])]]


async def test_polygon_acks_list_the_requests_topics(feed_server):
    """... Polygon's (and Kraken's, Binance's) the request's own."""
    server = await feed_server("btcusd_1m", exchange="polygon", speed=1e-6)
    async with connect(server.url) as ws:
        await ws.recv()  # the greeting
        await ws.send('{"action":"subscribe","params":"AM.BTC-USD"}')
        assert [m["message"] for m in orjson.loads(await ws.recv())] == [
            "subscribed to: AM.BTC-USD"]


# --- a sixth exchange: one adapter class and a registry line ------------------------------------

class ToyAdapter(ExchangeAdapter):
    """A made-up exchange: the feed server learns all it says from this one class."""

    name = "toy"

    def parse(self, payload, *, source=""):
        obj = orjson.loads(payload)
        if "bar" in obj:
            s, t, o, h, lo, c, v = obj["bar"]
            return [create_bar_event(s, t, o, h, lo, c, v, source=source or self.name)]
        if "error" in obj:
            return [create_error_event(obj["error"], error_type="ExchangeError",
                                       payload=payload, source=source or self.name)]
        return []  # hello, ack

    def subscribe_messages(self, symbols, channels=("bars",), *, interval_s=60):
        return [orjson.dumps({"op": "sub", "symbols": list(symbols)}).decode()]

    def parse_subscribe(self, payload):
        obj = orjson.loads(payload)
        if obj.get("op") != "sub":
            return None
        return Subscribe(tuple(obj["symbols"]), ("bars",))

    def subscribe_ack(self, request):
        return [orjson.dumps({"ok": list(request.symbols)}).decode()]

    def encode_bar(self, symbol, time_ns, open, high, low, close, volume, *, interval_s=60,
                   final=True):
        return orjson.dumps({"bar": [symbol, time_ns, open, high, low, close, volume]})

    def error_frame(self, message, req_id=None):
        return orjson.dumps({"error": message}).decode()

    def welcome(self):
        return ['{"hello": "toy"}']

    @classmethod
    def wire_symbol(cls, symbol):
        return symbol.replace("-", "~")


async def test_a_sixth_exchange_needs_only_its_adapter_and_a_registry_line(monkeypatch):
    monkeypatch.setitem(adapters._REGISTRY, "toy", ToyAdapter)
    async with FeedServer("btcusd_1m", exchange="toy", limit=5) as server:
        assert server.symbols == ["BTC~USD"]
        adapter = server.client_adapter()
        async with connect(server.url) as ws:
            assert orjson.loads(await ws.recv()) == {"hello": "toy"}
            await ws.send('{"op": "sub", "symbols": ["BTC~USD", "DOGE~USD"]}')  # refused whole
            [error] = adapter.parse(await ws.recv())
            assert isinstance(error, ErrorEvent) and "unknown symbol 'DOGE~USD'" in error.message
            await ws.send('{"op": "sub", "symbols": ["BTC~USD"]}')
            assert orjson.loads(await ws.recv()) == {"ok": ["BTC~USD"]}
            bars, others, _ = await read_to_close(ws, adapter)
        assert ws.close_code == 1000 and others == []
    assert [as_row(b) for b in bars] == rows(n=5, wire={"BTC-USD": "BTC~USD"})


# --- background thread, benchmark -----------------------------------------------

def test_background_thread_mode_from_plain_sync_code():
    server = FeedServer("btcusd_1m", exchange="binance", limit=20)
    with server:
        assert server.running
        adapter = server.client_adapter()
        with sync_connect(server.url) as ws:
            ws.send(server.subscribe_messages()[0])
            bars = [e for message in ws for e in adapter.parse(message)]
        assert [as_row(b) for b in bars] == rows(n=20, wire={"BTC-USD": "BTCUSDT"})
        assert server.wait_finished_blocking(1, timeout=TIMEOUT)
        port = server.port
        with sync_connect(server.url) as other:
            assert server.call(server.drop_connections(), timeout=TIMEOUT) == 1
            with pytest.raises(ConnectionClosedError):
                other.recv(timeout=TIMEOUT)
    assert not server.running
    server.start_in_thread()  # again: same port
    try:
        assert server.port == port and server.running
    finally:
        server.close()


def test_benchmark_runs_every_contender():
    table = bench_feed_server.run(n=50, repeat=1, show=False)
    assert set(table) == {"coinbase", "binance"}
    for rates in table.values():
        assert set(rates) == set(bench_feed_server.CONTENDERS)
        assert all(rate > 0 for rate in rates.values())


def test_ingest_benchmark_runs_both_contenders():
    from benchmarks import bench_ingest

    table = bench_ingest.run(n=100, repeat=1, exchanges=("binance", "coinbase"), show=False)
    assert set(table) == {"binance", "coinbase"}
    for rates in table.values():
        assert set(rates) == {"bare websockets + orjson.loads",
                              "evlab emitter -> handler -> on_bar"}
        assert all(rate > 0 for rate in rates.values())


# --- bounds: a client that never reads, too many clients, a huge subscribe ----------------------

async def raw_subscribe(port: int, subscribe_text: str) -> socket.socket:
    """A raw TCP client: WebSocket handshake, one subscribe frame, then the acknowledgement
    read; it reads nothing more (a client that never reads its bars)."""
    loop = asyncio.get_running_loop()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setblocking(False)
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode())
    payload, mask = subscribe_text.encode(), os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    await loop.sock_sendall(sock, bytes((0x81, 0x80 | len(payload))) + mask + masked)
    got = b""
    async with asyncio.timeout(TIMEOUT):
        while b'"result"' not in got:  # binance's ack: {"result": null, "id": 1}
            got += await loop.sock_recv(sock, 4096)
    return sock


async def read_until_cut(sock: socket.socket) -> None:
    """Read (at last) until the server has cut the connection."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(TIMEOUT):
        try:
            while await loop.sock_recv(sock, 1 << 16):
                pass
        except ConnectionResetError:
            pass


async def test_a_live_client_that_never_reads_is_cut_off_at_its_queue_bound(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="binance", mode="live", rate=1, limit=500,
                               loop=True, clock=clock, client_queue=1000)
    sock = await raw_subscribe(server.port, server.subscribe_messages()[0])
    try:
        assert server.clients == 1
        clock.advance(20_000)  # 20,000 bars due at once: far more than the queue holds
        await read_until_cut(sock)
    finally:
        sock.close()
    assert server.clients_dropped == 1
    assert 0 < server.queue_peak <= 1000  # frames waiting for it, never more than the bound
    assert server.bars_sent < 20_000


async def test_connections_past_max_clients_are_refused_with_1013(feed_server):
    server = await feed_server("btcusd_1m", exchange="binance", limit=5, max_clients=2)
    async with connect(server.url) as a, connect(server.url) as b, connect(server.url) as c:
        with pytest.raises(ConnectionClosedError) as refused:
            async with asyncio.timeout(TIMEOUT):
                await c.recv()
        assert refused.value.rcvd.code == 1013 and "max 2" in refused.value.rcvd.reason
        await subscribe(a, server)  # the first two are served as usual
        assert as_row(await next_bar(a, server.client_adapter())) == rows(
            n=1, wire={"BTC-USD": "BTCUSDT"})[0]
        del b
    assert server.connections_refused == 1


async def test_one_huge_subscribe_gets_a_bounded_number_of_replies(feed_server):
    server = await feed_server("btcusd_1m", exchange="binance", limit=5)
    adapter = server.client_adapter()
    names = [f"X{i:05d}" for i in range(50_000)]  # 0.8 MB
    huge = orjson.dumps({"method": "SUBSCRIBE", "id": 1,
                         "params": [f"{n.lower()}@kline_1m" for n in names]}).decode()
    assert len(huge) > 750_000
    async with connect(server.url, max_size=None) as ws:
        await ws.send(huge)
        await subscribe(ws, server)  # then a good one: its ack ends the error replies
        replies = []
        async with asyncio.timeout(TIMEOUT):
            while '"result"' not in (message := await ws.recv()):
                replies.append(message)
    [error] = [e for r in replies for e in adapter.parse(r)]  # one frame refuses it whole
    assert isinstance(error, ErrorEvent) and "unknown symbols 'X00000', 'X00001'" in error.message
    assert "and 49,990 more unknown symbols" in error.message
    assert sum(map(len, replies)) < 10_000 and server.requests_refused == 1


# --- REST on the same port ------------------------------------------------------------------

def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


async def test_binance_rest_lists_the_served_pairs_and_refuses_the_rest_by_name(feed_server):
    server = await feed_server("btcusd_1m", exchange="binance")
    http = server.url.replace("ws://", "http://")
    status, info = await asyncio.to_thread(_get, http + "/api/v3/exchangeInfo")
    assert status == 200 and [s["symbol"] for s in info["symbols"]] == ["BTCUSDT"]
    [market] = info["symbols"]
    assert (market["baseAsset"], market["quoteAsset"], market["status"]) == (
        "BTC", "USDT", "TRADING")
    assert {f["filterType"] for f in market["filters"]} >= {"PRICE_FILTER", "LOT_SIZE"}
    status, body = await asyncio.to_thread(_get, http + "/api/v3/klines?symbol=BTCUSDT")
    assert status == 404 and "/api/v3/klines" in body["msg"]
    assert (server.rest_served, server.rest_missed) == (1, 1)
    async with connect(server.url) as ws:  # the socket on the same port is unaffected
        await ws.send(server.subscribe_messages()[0])
        assert orjson.loads(await ws.recv())["result"] is None


async def test_kraken_rest_lists_the_served_pair_as_kraken_names_it(feed_server):
    server = await feed_server("btcusd_1m", exchange="kraken")
    http = server.url.replace("ws://", "http://")
    status, pairs = await asyncio.to_thread(_get, http + "/0/public/AssetPairs")
    assert status == 200 and pairs["error"] == []
    assert {k: (v["base"], v["quote"], v["wsname"]) for k, v in pairs["result"].items()} == {
        "XBTUSD": ("XBT", "USD", "BTC/USD")}  # REST says XBT, the v2 socket BTC/USD
    status, assets = await asyncio.to_thread(_get, http + "/0/public/Assets")
    assert status == 200 and set(assets["result"]) == {"XBT", "USD"}


async def test_alpaca_rest_lists_the_served_pair_as_an_active_crypto_asset(feed_server):
    server = await feed_server("btcusd_1m", exchange="alpaca")
    status, assets = await asyncio.to_thread(
        _get, server.url.replace("ws://", "http://") + "/v2/assets?asset_class=crypto")
    assert status == 200 and [(a["symbol"], a["class"], a["status"]) for a in assets] == [
        ("BTC/USD", "crypto", "active")]


async def test_an_exchange_without_rest_answers_404(feed_server):
    server = await feed_server("btcusd_1m", exchange="polygon")
    status, _ = await asyncio.to_thread(
        _get, server.url.replace("ws://", "http://") + "/v2/aggs/ticker/BTC-USD")
    assert status == 404 and server.rest_missed == 1
