"""A capture served as the exchange served it (CaptureServer, ``evlab serve --capture``), and the
emitter fetching the REST snapshots its books need from it: real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
import urllib.error
import urllib.request

import orjson
import pytest
from websockets.asyncio.client import connect

import evlab
from evlab import EventBus, EventType, OrderBooks, Replayer, WebSocketEmitter, WebSocketHandler
from evlab.events import ErrorEvent, RestResponseEvent, SystemEvent, WebSocketEvent
from evlab.feeds.adapters import get_adapter
from evlab.feeds.adapters._common import rfc3339_ns
from evlab.feeds.backoff import Backoff
from evlab.feeds.capture_server import CaptureServer
from evlab.recording import Recording
from tests.books import CAPTURES, capture, load_shipped
from tests.clients import sessions

SYMBOLS = ("nknusdt", "blzeth", "lrcbtc", "runeeur")
DEPTH = json.dumps({"method": "SUBSCRIBE", "params": [f"{s}@depth@100ms" for s in SYMBOLS],
                    "id": 1})


def binance_server(**options) -> CaptureServer:
    return CaptureServer(CAPTURES / "BINANCE.ws.1.0", http=CAPTURES / "BINANCE.http.0.0",
                         **options)


def captured(stream: str) -> list[dict]:
    """The captured envelopes of one stream (the capture is of a combined stream)."""
    out = [orjson.loads(e.payload) for e in capture("binance") if type(e) is WebSocketEvent]
    return [o for o in out if o["stream"] == stream]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def test_stream_endpoint_sends_the_subscribed_streams_verbatim_in_envelopes():
    async with binance_server() as server, connect(server.url + "/stream") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 7,
                                  "params": ["nknusdt@depth@100ms", "blzeth@bookTicker"]}))
        got = [m async for m in ws]  # the server closes (1000) after the last message
    assert got[0] == '{"result":null,"id":7}'
    wanted = [e.payload for e in capture("binance") if type(e) is WebSocketEvent
              and re.match(r'\{"stream":"(nknusdt@depth@100ms|blzeth@bookTicker)"', e.payload)]
    assert got[1:] == wanted and len(wanted) == len(captured("nknusdt@depth@100ms")) + len(
        captured("blzeth@bookTicker"))


async def test_raw_endpoint_sends_bare_payloads_of_the_streams_its_path_names():
    async with binance_server() as server, \
            connect(server.url + "/ws/lrcbtc@depth@100ms/lrcbtc@aggTrade") as ws:
        got = [orjson.loads(m) for m in [m async for m in ws]]
    expected = [o["data"] for o in captured("lrcbtc@depth@100ms") + captured("lrcbtc@aggTrade")]
    assert sorted(got, key=lambda o: o["E"]) == sorted(expected, key=lambda o: o["E"])
    assert got and all(o["s"] == "LRCBTC" for o in got)


async def test_rest_requests_are_answered_from_the_capture_on_the_same_port():
    async with binance_server() as server:
        status, body = await asyncio.to_thread(
            get, server.http_url + "/api/v3/depth?symbol=BLZETH&limit=5000")
        assert status == 200
        [rest] = [e for e in capture("binance") if type(e) is RestResponseEvent
                  and "BLZETH" in e.url]
        assert body.decode() == rest.payload  # verbatim
        status, body = await asyncio.to_thread(get, server.http_url + "/api/v3/depth?symbol=X")
        assert status == 404 and orjson.loads(body) == {  # an HTTP error body, not a WS frame
            "error": "Not Found",
            "message": "this capture holds no response to /api/v3/depth?symbol=X"}
        assert (server.rest_served, server.rest_missed) == (1, 1)


async def test_speed_paces_the_recorded_session():
    """The session spans 30 s; at speed 1000 it takes about 30 ms, so it must arrive, in order."""
    async with binance_server(speed=1000) as server, connect(server.url + "/stream") as ws:
        await ws.send(DEPTH)
        got = [m async for m in ws][1:]
    assert [orjson.loads(m)["data"]["u"] for m in got] == [
        orjson.loads(e.payload)["data"]["u"] for e in capture("binance")
        if type(e) is WebSocketEvent and "@depth" in e.payload[:40]]


async def test_a_malformed_or_unknown_subscribe_is_refused_whole_and_counted():
    """Binance's error frame for a stream name it has not, or one the capture does not hold
    (with a good one beside it: nothing of that request is subscribed), then a good one."""
    async with binance_server() as server, connect(server.url + "/stream") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 1,
                                  "params": ["nknusdt@depth@100ms", "nknusdt@depth15"]}))
        bad_name = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 2,
                                  "params": ["nknusdt@bookTicker", "btcusdt@bookTicker"]}))
        not_held = orjson.loads(await ws.recv())
        await ws.send("{not json")
        not_json = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 3,
                                  "params": ["blzeth@bookTicker"]}))
        got = [m async for m in ws]
    assert bad_name["code"] == 2 and bad_name["id"] == 1 and "'nknusdt@depth15'" in \
        bad_name["msg"]
    assert not_held["id"] == 2 and "no stream 'btcusdt@bookTicker'" in not_held["msg"]
    assert not_json["code"] == 2 and "malformed JSON" in not_json["msg"]
    assert got[0] == '{"result":null,"id":3}'
    assert [orjson.loads(m)["stream"] for m in got[1:]] == ["blzeth@bookTicker"] * len(
        captured("blzeth@bookTicker"))  # neither nknusdt stream of the refused requests
    assert server.requests_refused == 3 and server.stats["requests_refused"] == 3


async def test_unsubscribe_stops_those_streams_for_that_client():
    """Binance's documented UNSUBSCRIBE: the streams it names stop (the session takes 6 s at
    speed 5; the unsubscribe is answered at once, long before the NKNUSDT diffs run out)."""
    async with binance_server(speed=5) as server, connect(server.url + "/stream") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "id": 1, "params": [
            "nknusdt@depth@100ms", "runeeur@depth@100ms"]}))
        assert await ws.recv() == '{"result":null,"id":1}'
        await ws.send(json.dumps({"method": "UNSUBSCRIBE", "id": 312,
                                  "params": ["nknusdt@depth@100ms"]}))
        before = []
        async with asyncio.timeout(60):
            while (message := await ws.recv()) != '{"result":null,"id":312}':
                before.append(orjson.loads(message)["stream"])
        after = [orjson.loads(m)["stream"] for m in [m async for m in ws]]
    runeeur = captured("runeeur@depth@100ms")
    assert set(after) == {"runeeur@depth@100ms"} and before.count("nknusdt@depth@100ms") < len(
        captured("nknusdt@depth@100ms"))
    assert before.count("runeeur@depth@100ms") + len(after) == len(runeeur)


def test_other_exchanges_and_non_exchange_sources_are_refused_by_name():
    with pytest.raises(ValueError, match=r"kraken: none of the session's [0-9,]+ messages is one"):
        CaptureServer(CAPTURES / "COINBASE.ws.28.0", exchange="kraken")
    with pytest.raises(ValueError, match="not an exchange: pass exchange="):
        CaptureServer(evlab.load_capture(CAPTURES / "BINANCE.ws.1.0", source="feed"))
    with pytest.raises(ValueError, match="speed must be positive"):
        binance_server(speed=0)


# --- the emitter fetches the snapshots its books need -------------------------------------

def wired() -> tuple[EventBus, OrderBooks, WebSocketHandler]:
    bus = EventBus()
    handler = WebSocketHandler("market_data_handler")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    return bus, OrderBooks(bus), handler


async def replayed_books() -> OrderBooks:
    bus, books, _ = wired()
    await Replayer(load_shipped("binance"), bus, what="raw").run_async()
    return books


async def test_emitter_fetches_depth_snapshots_and_builds_the_captured_books():
    async with binance_server(speed=100) as server:
        bus, books, handler = wired()
        with evlab.record(bus) as rec:
            feed = WebSocketEmitter("feed", server.url + "/stream", bus, adapter="binance",
                                    subscriptions=[DEPTH])
            assert sorted(feed.rest.requests) == ["BLZETH", "LRCBTC", "NKNUSDT", "RUNEEUR"]
            await feed.start()
            stats = await feed.wait_finished(60)
    assert stats["rest_fetched"] == 4 and stats["rest_errors"] == 0 and server.rest_served == 4
    assert stats["received"] == stats["delivered"]
    expected = await replayed_books()
    for symbol in expected:
        assert (books[symbol].bids(), books[symbol].asks()) == (expected[symbol].bids(),
                                                                expected[symbol].asks()), symbol
        assert not books[symbol].stale
    assert books.stats["snapshots"] == 4 and handler.stats["errors"] == 0
    # the recording of this live session replays the same way: its REST responses are in it
    session = rec.snapshot()
    kept = [e for e in session.to_events() if type(e) is RestResponseEvent]
    assert sorted(e.url.rsplit("=", 2)[1].split("&")[0] for e in kept) == sorted(expected)
    bus2, again, _ = wired()
    await Replayer(session, bus2, what="raw").run_async()
    for symbol in expected:
        assert (again[symbol].bids(), again[symbol].asks()) == (books[symbol].bids(),
                                                                books[symbol].asks())
    # and the feed server serves that recording like the capture
    async with CaptureServer(session, exchange="binance") as replay_server:
        status, body = await asyncio.to_thread(
            get, replay_server.http_url + "/api/v3/depth?symbol=NKNUSDT")
        async with connect(replay_server.url + "/ws/nknusdt@depth") as ws:
            bare = [orjson.loads(m) async for m in ws]
    assert status == 200 and orjson.loads(body)["lastUpdateId"] == 499869752
    assert bare == [o["data"] for o in captured("nknusdt@depth@100ms")]


async def test_a_book_gap_fetches_that_symbol_again(tmp_path):
    """A capture whose NKNUSDT diffs skip ids: the book's book_gap makes the emitter fetch
    NKNUSDT's snapshot again (the server answers with the capture's next response)."""
    lines = (CAPTURES / "BINANCE.ws.1.0").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if "nknusdt@depth" in line and '"U":499869753'
                 in line)
    del lines[first]  # 753..754 is lost: 755 follows 752, a gap once the snapshot (752) is in
    ws_path = tmp_path / "BINANCE.ws.1.0"
    ws_path.write_text("\n".join(lines) + "\n")
    http = (CAPTURES / "BINANCE.http.0.0").read_text().splitlines()
    nkn = next(line for line in http if "symbol=NKNUSDT" in line)
    # a second snapshot, later than every diff, for the refetch (made up for this test)
    later = nkn.replace('"lastUpdateId":499869752', '"lastUpdateId":499869800')
    (tmp_path / "BINANCE.http.0.0").write_text(nkn + "\n" + later + "\n")
    server = CaptureServer(ws_path, http=tmp_path / "BINANCE.http.0.0", speed=20)
    async with server:
        bus, books, _ = wired()
        gaps = []
        bus.register(EventType.SYSTEM, lambda e: gaps.append(e) if e.kind == "book_gap" else None)
        feed = WebSocketEmitter("feed", server.url + "/stream", bus, adapter="binance",
                                subscriptions=[DEPTH])
        await feed.start()
        stats = await feed.wait_finished(60)
    # the three symbols the capture holds no snapshot for: their first answer (a 404 body)
    # is a bad snapshot, a gap that asks once more (the answer is the same: no second gap).
    # The snapshots are fetched concurrently, so the gaps come in no set order: compare sorted.
    assert sorted((g.data["symbol"], g.data["reason"]) for g in gaps) == [
        ("BLZETH", "bad_update"), ("LRCBTC", "bad_update"), ("NKNUSDT", "missed_updates"),
        ("RUNEEUR", "bad_update")]
    assert all(g.data["source"] == "feed" for g in gaps)  # the feed that sent it
    assert stats["rest_refetches"] == 4 and stats["rest_fetched"] == 8
    assert not books["NKNUSDT"].stale and books["NKNUSDT"].update_id >= 499869800


async def test_a_resync_whose_snapshot_is_bad_fails_at_once_not_after_its_timeout(tmp_path):
    """NKNUSDT's diffs skip ids; the snapshot the resync fetches has a negative size: the
    resync fails now (one ResyncFailed), though its timeout is an hour."""
    lines = (CAPTURES / "BINANCE.ws.1.0").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if "nknusdt@depth" in line and '"U":499869753'
                 in line)
    del lines[first]  # a gap once the snapshot (752) is in
    ws_path = tmp_path / "BINANCE.ws.1.0"
    ws_path.write_text("\n".join(lines) + "\n")
    http = (CAPTURES / "BINANCE.http.0.0").read_text().splitlines()
    nkn = next(line for line in http if "symbol=NKNUSDT" in line)
    bad = nkn.replace('["0.35210000","672.00000000"]', '["0.35210000","-672.00000000"]', 1)
    assert bad != nkn
    (tmp_path / "BINANCE.http.0.0").write_text(nkn + "\n" + bad + "\n")
    server = CaptureServer(ws_path, http=tmp_path / "BINANCE.http.0.0", speed=20)
    async with server:
        bus, books, _ = wired()
        errors: list[ErrorEvent] = []
        bus.subscribe(EventType.ERROR, errors.append, weak=False)
        feed = WebSocketEmitter("feed", server.url + "/stream", bus, adapter="binance",
                                subscriptions=[json.dumps({"method": "SUBSCRIBE", "params": [
                                    "nknusdt@depth@100ms"], "id": 1})], resync_timeout=3600)
        await feed.start()
        stats = await feed.wait_stats(lambda s: s["resync_failures"] == 1, 60)
        await feed.stop()
    failed = [e for e in errors if e.error_type == "ResyncFailed"]
    assert len(failed) == 1 and "NKNUSDT" in failed[0].message
    assert "could not be decoded" in failed[0].message
    assert any("must not be negative" in e.message for e in errors)  # the handler's, says why
    assert (stats["resyncs"], stats["resyncs_done"], stats["resync_failures"]) == (1, 0, 1)
    assert books["NKNUSDT"].stale


async def test_a_rest_host_that_never_answers_is_one_error_after_bounded_retries():
    async with binance_server() as server:
        dead = server.http_url.rsplit(":", 1)[0] + ":9"  # discard port: nothing listens
        bus, _, _ = wired()
        errors: list[ErrorEvent] = []
        bus.register(EventType.ERROR, errors.append)
        feed = WebSocketEmitter("feed", server.url + "/stream", bus, adapter="binance",
                                subscriptions=[DEPTH], rest_url=dead, rest_retries=1,
                                backoff=Backoff(initial=0.01, maximum=0.02))
        await feed.start()
        stats = await feed.wait_finished(60)
    failed = [e for e in errors if e.error_type == "RestFetchFailed"]
    assert len(failed) == 4 and stats["rest_errors"] == 4 and stats["rest_fetched"] == 0
    assert "after 2 attempts" in failed[0].message and ":9/api/v3/depth?symbol=" in \
        failed[0].message


async def test_evlab_serve_capture_answers_both_on_one_port():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evlab.cli", "serve", "--port", "0", "--capture",
        str(CAPTURES / "BINANCE.ws.1.0"), "--http", str(CAPTURES / "BINANCE.http.0.0"),
        "--speed", "10", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        url = re.search(r"ws://127\.0\.0\.1:\d+", line)
        assert url, line
        status, body = await asyncio.to_thread(
            get, url.group(0).replace("ws://", "http://") + "/api/v3/depth?symbol=RUNEEUR")
        assert status == 200 and orjson.loads(body)["lastUpdateId"] == 15602511
        async with connect(url.group(0) + "/ws/nknusdt@depth@100ms") as ws:
            first = orjson.loads(await ws.recv())
        assert first == captured("nknusdt@depth@100ms")[0]["data"]
    finally:
        proc.terminate()
        async with asyncio.timeout(60):
            await proc.communicate()
    assert proc.returncode == 0


# --- Coinbase Exchange: level2, matches, ticker as its websocket feed sends them ---------------

def coinbase_payloads(product: str, types: tuple[str, ...]) -> list[str]:
    """The captured payloads (verbatim) of one product's messages of those types."""
    out = []
    for e in capture("coinbase"):
        if type(e) is WebSocketEvent:
            obj = orjson.loads(e.payload)
            if obj.get("product_id") == product and obj.get("type") in types:
                out.append(e.payload)
    return out


async def test_coinbase_channels_are_served_as_its_feed_sends_them():
    """A documented Exchange subscribe (root product_ids, a channel object with its own): the
    subscriptions ack, then each captured payload of those streams verbatim, in order."""
    async with CaptureServer(CAPTURES / "COINBASE.ws.28.0") as server, connect(server.url) as ws:
        await ws.send(json.dumps({"type": "subscribe", "product_ids": ["SKL-GBP"],
                                  "channels": ["level2_batch",
                                               {"name": "matches", "product_ids": ["NU-GBP"]}]}))
        got = [m async for m in ws]
    assert orjson.loads(got[0]) == {"type": "subscriptions", "channels": [
        {"name": "level2_batch", "product_ids": ["SKL-GBP"]},
        {"name": "matches", "product_ids": ["NU-GBP"]}]}
    skl = coinbase_payloads("SKL-GBP", ("snapshot", "l2update"))
    nu = coinbase_payloads("NU-GBP", ("match", "last_match"))
    assert sorted(got[1:]) == sorted(skl + nu) and len(skl) > 100 and nu
    assert [m for m in got[1:] if "SKL-GBP" in m] == skl  # in the captured order
    assert orjson.loads(got[1])["type"] in ("snapshot", "last_match")


async def test_coinbase_refuses_an_unknown_product_or_channel_whole_and_unsubscribes():
    async with CaptureServer(CAPTURES / "COINBASE.ws.28.0", speed=5) as server, \
            connect(server.url) as ws:
        await ws.send(json.dumps({"type": "subscribe", "product_ids": ["SKL-GBP", "BTC-USD"],
                                  "channels": ["ticker"]}))
        not_held = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"type": "subscribe", "product_ids": ["SKL-GBP"],
                                  "channels": ["level9"]}))
        no_channel = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"type": "subscribe", "product_ids": ["SKL-USD", "DASH-BTC"],
                                  "channels": ["level2"]}))
        assert orjson.loads(await ws.recv())["type"] == "subscriptions"
        await ws.send(json.dumps({"type": "unsubscribe", "product_ids": ["SKL-USD"],
                                  "channels": ["level2"]}))
        async with asyncio.timeout(60):
            while orjson.loads(message := await ws.recv())["type"] != "subscriptions":
                pass
        left = orjson.loads(message)  # what the connection is subscribed to now
        after = [orjson.loads(m)["product_id"] for m in [m async for m in ws]]
    for error in (not_held, no_channel):
        assert error["type"] == "error" and error["message"] == "Failed to subscribe"
    assert "'ticker:BTC-USD'" in not_held["reason"] and "'level9' is not a valid channel" in \
        no_channel["reason"]
    assert left == {"type": "subscriptions", "channels": [{"name": "level2",
                                                           "product_ids": ["DASH-BTC"]}]}
    assert set(after) == {"DASH-BTC"}
    assert server.requests_refused == 2


async def test_coinbase_rest_lists_the_captured_products_and_their_currencies():
    async with CaptureServer(CAPTURES / "COINBASE.ws.28.0") as server:
        status, body = await asyncio.to_thread(get, server.http_url + "/products")
        assert status == 200
        products = orjson.loads(body)
        status, body = await asyncio.to_thread(get, server.http_url + "/currencies")
        currencies = {c["id"] for c in orjson.loads(body)}
        missing, _ = await asyncio.to_thread(get, server.http_url + "/products/SKL-USD/book")
    captured_ids = {orjson.loads(e.payload)["product_id"] for e in capture("coinbase")
                    if type(e) is WebSocketEvent and '"product_id"' in e.payload}
    assert {p["id"] for p in products} == captured_ids and len(captured_ids) == 10
    assert all(p["id"] == f"{p['base_currency']}-{p['quote_currency']}" for p in products)
    assert currencies == {x for p in products for x in (p["base_currency"], p["quote_currency"])}
    assert missing == 404


# --- a recording of a live evlab session, served again (Kraken) -------------------------------

async def test_a_recorded_live_kraken_session_replays_and_is_served_as_kraken_sent_it(tmp_path):
    """Record a live session (the emitter's raw Kraken v2 ohlc messages from the FeedServer)
    to Parquet; replaying it gives the dataset's bars, and the CaptureServer serves it: a
    Kraken v2 subscribe gets Kraken's ack and every recorded message, verbatim."""
    from evlab import BarEvent, datasets
    from evlab.recording import load_recording

    rows = datasets.load("btcusd_1m").iloc[:8]
    async with evlab.FeedServer("btcusd_1m", exchange="kraken", limit=8) as live:
        bus, _, _ = wired()
        with evlab.record(bus) as rec:
            feed = WebSocketEmitter("feed", live.url, bus, adapter="kraken",
                                    subscriptions=live.subscribe_messages())
            await feed.start()
            await feed.wait_finished(60)
        path = rec.save(tmp_path / "kraken_session.parquet")
    session = load_recording(path)
    recorded = [e.payload for e in session.to_events() if type(e) is WebSocketEvent
                and e.payload.startswith('{"channel":"ohlc"')]  # not the ack
    assert len(recorded) == 8
    bus2 = EventBus()  # a handler of its own: the emitter's adapter has seen these bars
    bus2.register_async(EventType.WEBSOCKET, WebSocketHandler("replayed", "kraken").handle)
    bars: list[BarEvent] = []
    bus2.register(EventType.BAR, bars.append)
    await Replayer(session, bus2, what="raw").run_async()
    assert [(b.time_ns, b.close) for b in bars] == [
        (t.value, c) for t, c in zip(rows.index, rows["close"], strict=True)]

    async with CaptureServer(path, exchange="kraken") as server, connect(server.url) as ws:
        assert server.streams == ["ohlc:BTC/USD:1"]
        greeting = orjson.loads(await ws.recv())  # Kraken greets every connection
        assert greeting["channel"] == "status" and greeting["data"][0]["api_version"] == "v2"
        await ws.send(json.dumps({"method": "subscribe", "req_id": 4, "params": {
            "channel": "ohlc", "symbol": ["ETH/USD"], "interval": 1}}))
        refused = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"method": "subscribe", "req_id": 5, "params": {
            "channel": "ohlc", "symbol": ["BTC/USD"], "interval": 1}}))
        got = [m async for m in ws]
    assert refused["success"] is False and "'ohlc:ETH/USD:1'" in refused["error"]
    ack = orjson.loads(got[0])
    assert ack["method"] == "subscribe" and ack["success"] is True and ack["req_id"] == 5
    assert ack["result"] == {"channel": "ohlc", "interval": 1, "snapshot": True,
                             "symbol": "BTC/USD"}
    assert got[1:] == recorded and server.requests_refused == 1


# --- recordings of live evlab sessions: Alpaca, Polygon, Coinbase Advanced Trade ---------------

@pytest.fixture(scope="module")
def alpaca_session(tmp_path_factory) -> Recording:
    return asyncio.run(sessions.record_live("alpaca", sessions.alpaca_injected(),
                                            tmp_path_factory.mktemp("alpaca") / "s.parquet"))


@pytest.fixture(scope="module")
def polygon_session(tmp_path_factory) -> Recording:
    return asyncio.run(sessions.record_live("polygon", sessions.polygon_injected(),
                                            tmp_path_factory.mktemp("polygon") / "s.parquet"))


ADVANCED_SUBSCRIPTIONS = ['{"type":"subscribe","product_ids":["BTC-USD"],"channel":"candles"}',
                          '{"type":"subscribe","channel":"heartbeats"}']


@pytest.fixture(scope="module")
def advanced_session(tmp_path_factory) -> Recording:
    """Coinbase Advanced Trade: candles and heartbeats, the documented level2, market_trades
    and ticker messages. Two bars a second: those messages come 0.5 s or more after the
    session's start, so a client that subscribes channel by channel, one message each (as
    Advanced Trade has it), has them all subscribed before they are due at speed 1."""
    return asyncio.run(sessions.record_live(
        "coinbase", sessions.coinbase_advanced_injected(),
        tmp_path_factory.mktemp("advanced") / "s.parquet",
        subscriptions=ADVANCED_SUBSCRIPTIONS, rate=2))


def unnumbered(frames: list[str]) -> list[dict]:
    """Advanced Trade messages without their ``sequence_num`` (the server numbers each
    connection's messages, as Coinbase does); otherwise as served."""
    return [{k: v for k, v in orjson.loads(f).items() if k != "sequence_num"} for f in frames]


def numbered_per_connection(frames: list[str]) -> bool:
    """The ``sequence_num`` of a connection's Advanced Trade messages count them: 0, 1, 2..."""
    return [orjson.loads(f)["sequence_num"] for f in frames] == list(range(len(frames)))


def items(frames: list[str | bytes]) -> list[dict]:
    """The data points of JSON array frames, in order."""
    return [item for f in frames for item in orjson.loads(f)]


async def test_alpaca_recording_is_served_with_alpacas_handshake(alpaca_session):
    """Greeting, auth before subscribe (401 until then), the errors of a malformed or an
    unknown subscribe, then the ack listing the connection's subscriptions and only the
    subscribed streams' data points, each frame verbatim where it held one stream's."""
    raw = sessions.recorded(alpaca_session)
    async with CaptureServer(alpaca_session, exchange="alpaca") as server, \
            connect(server.url + "/v2/iex") as ws:
        assert orjson.loads(await ws.recv()) == [{"T": "success", "msg": "connected"}]
        subscribe = {"action": "subscribe", "quotes": ["AMD"], "trades": ["EEM", "AVAX/USD"]}
        await ws.send(json.dumps(subscribe))
        early = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"action": "auth", "key": "k", "secret": "s"}))
        assert orjson.loads(await ws.recv()) == [{"T": "success", "msg": "authenticated"}]
        await ws.send("{not json")
        malformed = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"action": "subscribe", "quotes": ["AMD", "TSLA"]}))
        unknown = orjson.loads(await ws.recv())
        await ws.send(json.dumps(subscribe))
        got = [m async for m in ws]
    assert early == [{"T": "error", "code": 401, "msg": "not authenticated"}]
    assert malformed[0]["T"] == "error" and "malformed JSON" in malformed[0]["msg"]
    assert unknown[0]["T"] == "error" and "'quotes:TSLA'" in unknown[0]["msg"]
    assert server.requests_refused == 3
    [ack] = orjson.loads(got[0])
    assert (ack["T"], ack["quotes"], ack["trades"], ack["bars"]) == (
        "subscription", ["AMD"], ["EEM", "AVAX/USD"], [])
    quotes = [p for p in raw if '"T":"q"' in p]
    assert got[1] == quotes[0]  # one stream's frame: verbatim
    mixed = next(p for p in raw if '"T":"c"' in p)
    kept = [o for o in orjson.loads(mixed) if o["S"] in ("EEM", "AVAX/USD")]
    assert [orjson.loads(f) for f in got[2:]] == [[o] for o in kept]  # one frame per stream


async def test_alpaca_recording_is_served_in_messagepack_to_a_client_that_asks(alpaca_session):
    """A handshake with ``Content-Type: application/msgpack`` (alpaca-py's): every frame,
    both ways, MessagePack; the recorded JSON data points re-encoded, ``t`` a Timestamp."""
    import msgpack

    raw = sessions.recorded(alpaca_session)
    async with CaptureServer(alpaca_session, exchange="alpaca") as server, \
            connect(server.url, additional_headers={"Content-Type": "application/msgpack"}
                    ) as ws:
        assert msgpack.unpackb(await ws.recv()) == [{"T": "success", "msg": "connected"}]
        await ws.send(msgpack.packb({"action": "auth", "key": "k", "secret": "s"}))
        assert msgpack.unpackb(await ws.recv())[0]["msg"] == "authenticated"
        await ws.send(msgpack.packb({"action": "subscribe", "bars": ["BTC/USD"],
                                     "trades": ["AAPL"]}))
        got = [msgpack.unpackb(m) async for m in ws]
    assert got[0][0]["T"] == "subscription" and got[0][0]["trades"] == ["AAPL"]
    wanted = [o for o in items([p for p in raw if '"S":"BTC/USD"' in p or '"S":"AAPL"' in p])
              if o["T"] in ("b", "t")]
    data = [o for frame in got[1:] for o in frame]
    assert all(isinstance(o["t"], msgpack.Timestamp) for o in data)
    for o in wanted:
        o["t"] = msgpack.Timestamp.from_unix_nano(rfc3339_ns(o["t"]))
    assert data == wanted and len(data) == 9  # 8 bars and the trade


async def test_polygon_recording_is_served_with_polygons_handshake(polygon_session):
    raw = sessions.recorded(polygon_session)
    async with CaptureServer(polygon_session, exchange="polygon") as server, \
            connect(server.url + "/stocks") as ws:
        [greeting] = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"action": "subscribe", "params": "T.MSFT"}))
        early = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"action": "auth", "params": "key"}))
        [authed] = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"action": "subscribe", "params": "T.MSFT,XX.MSFT"}))
        malformed = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"action": "subscribe", "params": "T.AAPL"}))
        unknown = orjson.loads(await ws.recv())
        await ws.send(json.dumps({"action": "subscribe", "params": "T.MSFT,AM.BTC-USD"}))
        got = [m async for m in ws]
    assert (greeting["ev"], greeting["status"]) == ("status", "connected")
    assert early[0]["status"] == "error" and "not authorized" in early[0]["message"]
    assert authed["status"] == "auth_success"
    assert malformed[0]["status"] == "error" and "'XX.MSFT'" in malformed[0]["message"]
    assert unknown[0]["status"] == "error" and "'T.AAPL'" in unknown[0]["message"]
    assert server.requests_refused == 3
    assert [m["message"] for m in orjson.loads(got[0])] == [
        "subscribed to: T.MSFT", "subscribed to: AM.BTC-USD"]
    trades = [p for p in raw if p.startswith('[{"ev":"T"') and '"ev":"Q"' not in p]
    assert trades[0] in got  # a frame of one stream: verbatim
    wanted = [o for o in items([p for p in raw if '"ev":"T"' in p or '"ev":"AM"' in p])
              if o["ev"] in ("T", "AM")]
    assert items(got[1:]) == wanted and len(wanted) == 10  # 8 aggregates, 2 trades, no quote


async def test_coinbase_advanced_recording_is_served_as_advanced_trade_sends_it(
        advanced_session):
    """Advanced Trade subscribes (channel + product_ids, heartbeats too): each ack lists every
    subscription of the connection; each stream's messages as recorded (a market_trades
    message of two products split per product), numbered for this connection: the recording
    counted messages this client did not subscribe to, and a client reads a jump in
    ``sequence_num`` as dropped messages (evlab's adapter as gaps in its books: none here);
    an Exchange-feed subscribe names other streams."""
    raw = sessions.recorded(advanced_session)
    async with CaptureServer(advanced_session, exchange="coinbase", speed=1) as server, \
            connect(server.url) as ws:
        await ws.send(json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"],
                                  "channels": ["level2"]}))  # the Exchange feed's
        exchange_feed = orjson.loads(await ws.recv())
        for channel, ids in (("heartbeats", []), ("level2", ["BTC-USD"]),
                             ("market_trades", ["ETH-USD"])):
            await ws.send(json.dumps({"type": "subscribe", "product_ids": ids,
                                      "channel": channel}))
        acks, seen = [], []
        while len(acks) < 3:
            seen.append(await ws.recv())
            message = orjson.loads(seen[-1])
            if message["channel"] == "subscriptions":
                acks.append(message["events"][0]["subscriptions"])
        got = [m async for m in ws]
    assert exchange_feed["type"] == "error" and "'level2:BTC-USD'" in exchange_feed["reason"]
    assert numbered_per_connection(seen + got)
    decoded = [e for m in got for e in get_adapter("coinbase").parse(m)]
    assert not [e for e in decoded if isinstance(e, SystemEvent)]  # no book_error: no gap
    assert acks[-1] == {"heartbeats": ["heartbeats"], "level2": ["BTC-USD"],
                        "market_trades": ["ETH-USD"]}
    level2 = [p for p in raw if '"channel":"l2_data"' in p]
    assert unnumbered([m for m in got if '"channel":"l2_data"' in m]) == unnumbered(level2)
    assert len(level2) == 2
    trades = [orjson.loads(m) for m in got if '"channel":"market_trades"' in m]
    assert [t["product_id"] for m in trades for e in m["events"] for t in e["trades"]] == [
        "ETH-USD", "ETH-USD"]  # the documented one, and the ETH-USD half of the batch
    beats = [m for m in got if '"channel":"heartbeats"' in m]
    assert unnumbered(beats) == unnumbered([p for p in raw if '"channel":"heartbeats"' in p])
    assert not [m for m in got if '"channel":"ticker"' in m or '"channel":"candles"' in m]


async def test_heartbeats_a_session_did_not_record_are_made_once_a_second(tmp_path):
    """A Coinbase Advanced Trade session without heartbeats: subscribing to them is granted
    (Coinbase recommends it) and they come, counted from 0, beside the recorded level2."""
    session = await sessions.record_live(
        "coinbase", sessions.coinbase_advanced_injected()[:2], tmp_path / "s.parquet",
        subscriptions=ADVANCED_SUBSCRIPTIONS[:1])
    async with CaptureServer(session, exchange="coinbase", speed=1) as server, \
            connect(server.url) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": "heartbeats"}))
        await ws.send(json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"],
                                  "channel": "level2"}))
        got = [orjson.loads(m) async for m in ws]
    beats = [m["events"][0]["heartbeat_counter"] for m in got if m["channel"] == "heartbeats"]
    assert beats[:1] == ["0"] and [m["channel"] for m in got].count("l2_data") == 2
    assert server.requests_refused == 0


def decoded(events: list) -> list[tuple]:
    """What decoding gave, without the stamps and the source: each event's compared fields."""
    return [(type(e).__name__, *((f.name, getattr(e, f.name)) for f in dataclasses.fields(e)
                                 if f.compare and f.name != "source")) for e in events]


@pytest.mark.parametrize("venue", ["alpaca", "polygon", "coinbase", "kraken"])
async def test_a_lab_feed_of_a_served_recording_decodes_as_the_recording_replays(
        venue, alpaca_session, polygon_session, advanced_session, tmp_path):
    """``server.client()`` (the adapter's ``capture_client``, what ``Lab.connect`` sends):
    an emitter subscribed to every recorded stream decodes what replaying the recording
    decodes, event for event."""
    if venue == "kraken":
        session = await sessions.record_live("kraken", sessions.kraken_injected(),
                                             tmp_path / "k.parquet")
    else:
        session = {"alpaca": alpaca_session, "polygon": polygon_session,
                   "coinbase": advanced_session}[venue]
    kinds = (EventType.BAR, EventType.TICK, EventType.QUOTE, EventType.BOOK)

    def collecting(bus: EventBus) -> list:
        got: list = []
        for kind in kinds:
            bus.register(kind, got.append)
        return got

    bus = EventBus()
    bus.register_async(EventType.WEBSOCKET, WebSocketHandler("replayed", venue).handle)
    expected = collecting(bus)
    await Replayer(session, bus, what="raw").run_async()
    async with CaptureServer(session, exchange=venue) as server:
        url, frames = server.client()
        bus2 = EventBus()
        bus2.register_async(EventType.WEBSOCKET, WebSocketHandler("live", venue).handle)
        got = collecting(bus2)
        feed = WebSocketEmitter("feed", url, bus2, adapter=venue, subscriptions=frames)
        await feed.start()
        await feed.wait_finished(60)
    assert server.requests_refused == 0
    assert decoded(got) == decoded(expected) and len({type(e) for e in got}) >= 2
    assert all(len(d) > 3 for d in decoded(got))  # the events' own fields, compared


def test_a_server_whose_init_failed_still_has_a_repr():
    server = object.__new__(CaptureServer)
    with pytest.raises(ValueError, match="speed must be positive"):
        server.__init__(CAPTURES / "BINANCE.ws.1.0", speed=-1)
    assert repr(server) == "<CaptureServer (not made)>"


def test_lab_connect_subscribes_to_the_streams_of_a_served_alpaca_recording(alpaca_session):
    """``lab.connect(server, streams=...)``: Alpaca's auth, then a subscribe of those streams
    only (the adapter's ``capture_client``); the lab decodes the recorded quotes."""
    from evlab import Lab

    with Lab() as lab:
        server = lab.serve_capture(alpaca_session, exchange="alpaca")
        lab.connect(server, streams=["quotes:AMD"])
        lab.wait_finished()
        frame = lab.frame()
    quotes = frame[frame["type"] == "quote"]
    assert list(quotes["symbol"]) == ["AMD"] * 3 and not (frame["type"] == "bar").any()
    assert server.requests_refused == 0


async def test_evlab_serve_capture_serves_a_recorded_polygon_session(tmp_path):
    """``evlab serve --capture session.parquet --exchange polygon``: Polygon's greeting, auth
    and subscribe, then the recorded trades."""
    await sessions.record_live("polygon", sessions.polygon_injected(), tmp_path / "s.parquet")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "evlab.cli", "serve", "--port", "0", "--capture",
        str(tmp_path / "s.parquet"), "--exchange", "polygon", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        url = re.search(r"ws://127\.0\.0\.1:\d+", line)
        assert url, line
        async with connect(url.group(0) + "/stocks") as ws:
            assert orjson.loads(await ws.recv())[0]["status"] == "connected"
            await ws.send('{"action":"auth","params":"k"}')
            assert orjson.loads(await ws.recv())[0]["status"] == "auth_success"
            await ws.send('{"action":"subscribe","params":"T.MSFT"}')
            got = [orjson.loads(m) async for m in ws]
    finally:
        proc.terminate()
        async with asyncio.timeout(60):
            await proc.communicate()
    assert got[0] == [{"ev": "status", "status": "success", "message": "subscribed to: T.MSFT"}]
    assert [o["i"] for frame in got[1:] for o in frame] == ["12345", "12346"]
    assert proc.returncode == 0


async def test_wildcards_stand_for_every_held_stream_they_cover(alpaca_session,
                                                                polygon_session):
    """Alpaca ``"trades": ["*"]`` and Polygon ``T.*``: every recorded trade stream (and
    nothing else); a wildcard that covers none is refused."""
    async with CaptureServer(alpaca_session, exchange="alpaca") as server, \
            connect(server.url) as ws:
        await ws.recv()
        await ws.send('{"action":"auth","key":"k","secret":"s"}')
        await ws.recv()
        await ws.send('{"action":"subscribe","lulds":["*"]}')
        none = orjson.loads(await ws.recv())
        await ws.send('{"action":"subscribe","trades":["*"]}')
        got = [orjson.loads(m) async for m in ws]
    assert none[0]["T"] == "error" and "'lulds:*'" in none[0]["msg"]
    assert got[0][0]["trades"] == ["*"]
    assert sorted(o["S"] for frame in got[1:] for o in frame) == [
        "AAPL", "AVAX/USD", "EEM", "IBM"]  # the trade, the correction, the cancel, crypto
    async with CaptureServer(polygon_session, exchange="polygon") as server, \
            connect(server.url) as ws:
        await ws.recv()
        await ws.send('{"action":"auth","params":"k"}')
        await ws.recv()
        await ws.send('{"action":"subscribe","params":"T.*"}')
        got = [orjson.loads(m) async for m in ws]
    assert [o["ev"] for frame in got[1:] for o in frame] == ["T", "T"]


async def test_alpaca_key_headers_authenticate_the_connection(alpaca_session):
    """Alpaca's other documented way: ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` in the
    handshake, answered with ``authenticated`` after the greeting; no auth message needed."""
    headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
    async with CaptureServer(alpaca_session, exchange="alpaca") as server, \
            connect(server.url, additional_headers=headers) as ws:
        assert orjson.loads(await ws.recv())[0]["msg"] == "connected"
        assert orjson.loads(await ws.recv())[0]["msg"] == "authenticated"
        await ws.send('{"action":"subscribe","trades":["AAPL"]}')
        got = [orjson.loads(m) async for m in ws]
    assert got[0][0]["T"] == "subscription" and [o["S"] for o in got[1][:1]] == ["AAPL"]
    assert len(got) == 2 and server.requests_refused == 0


async def test_coinbase_advanced_unsubscribe_acks_what_is_left_in_advanced_trades_format(
        advanced_session):
    async with CaptureServer(advanced_session, exchange="coinbase", speed=1) as server, \
            connect(server.url) as ws:
        request = {"product_ids": ["BTC-USD"], "channel": "level2"}
        await ws.send(json.dumps({"type": "subscribe", **request}))
        await ws.send(json.dumps({"type": "unsubscribe", **request}))
        acks = []
        while len(acks) < 2:
            message = orjson.loads(await ws.recv())
            if message.get("channel") == "subscriptions":
                acks.append(message["events"][0]["subscriptions"])
    assert acks == [{"level2": ["BTC-USD"]}, {}]


async def test_a_stream_subscribed_during_the_replay_gets_its_messages_from_then_on(
        advanced_session):
    """Paced: heartbeats first; once the first came, level2, whose messages are due about a
    second later: they come (the replay waits for each message's time, then looks at what
    the connection is subscribed to)."""
    raw = sessions.recorded(advanced_session)
    async with CaptureServer(advanced_session, exchange="coinbase", speed=1) as server, \
            connect(server.url) as ws:
        await ws.send('{"type":"subscribe","channel":"heartbeats"}')
        while orjson.loads(await ws.recv())["channel"] != "heartbeats":
            pass
        await ws.send('{"type":"subscribe","product_ids":["BTC-USD"],"channel":"level2"}')
        got = [m async for m in ws]
    level2 = [p for p in raw if '"channel":"l2_data"' in p]
    assert unnumbered([m for m in got if '"channel":"l2_data"' in m]) == unnumbered(level2)
    assert len(level2) == 2
