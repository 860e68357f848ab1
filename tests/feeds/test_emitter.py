"""WebSocketEmitter against real websockets servers on 127.0.0.1 (port 0).

No mocks, no sleeps for synchronisation: tests wait on bus events or emitter stats, with
``asyncio.wait_for`` timeouts only as a safety net.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import random
import re
import socket
import subprocess
import sys
import threading
import time
import warnings
from http import HTTPStatus

import orjson
import pytest
from websockets.asyncio.server import serve

from evlab.bus import EventBus
from evlab.events import ErrorEvent, EventType, SystemEvent, WebSocketEvent
from evlab.feeds.backoff import Backoff, backoff_delay
from evlab.feeds.emitter import WebSocketEmitter
from tests.feeds.support import SAFETY, Recorder

FAST = Backoff(initial=0.001, factor=2.0, maximum=0.01, jitter=0.5)


@contextlib.asynccontextmanager
async def server(handler, **options):
    """A real websockets server on 127.0.0.1, port 0; yields its ws:// URL."""
    async with serve(handler, "127.0.0.1", 0, **options) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def reject_first(n):
    """A ``process_request`` answering HTTP 503 to the first ``n`` handshakes."""
    count = itertools.count(1)

    def process_request(connection, request):
        if next(count) <= n:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "not now\n")
        return None

    return process_request


def other_tasks() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


def emitter(url: str, bus: EventBus, **options) -> WebSocketEmitter:
    """A feed of raw messages: these servers send without being asked (``subscriptions=[]``)."""
    options.setdefault("backoff", FAST)
    if "adapter" not in options:
        options.setdefault("subscriptions", [])
    return WebSocketEmitter("feed", url, event_bus=bus, **options)


# --- messages ---------------------------------------------------------------------------

async def test_every_frame_becomes_a_websocket_event_with_payload_time_and_source():
    frames = ["hello", b"\x00\x01binary", '{"a": 1}']

    async def handler(ws):
        for frame in frames:
            await ws.send(frame)
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus)
        before = time.time_ns()
        await em.start()
        assert em.connected and em.running
        await rec.until(lambda r: len(r.payloads()) == 3)
        after = time.time_ns()
        await em.stop()
    events = rec.of(WebSocketEvent)
    assert [e.payload for e in events] == frames
    for event in events:
        assert event.source == "feed"
        assert before <= event.received_ns <= after
        assert event.time_ns == event.received_ns
        assert event.seq is not None and event.cause is None
    assert [e.received_ns for e in events] == sorted(e.received_ns for e in events)
    stats = em.get_stats()
    assert stats["received"] == stats["delivered"] == 3
    assert stats["last_message_ns"] == events[-1].received_ns
    assert stats["connected"] is False and stats["running"] is False
    first = rec.system()[0]
    assert first.kind == "connected" and first.data["attempt"] == 0 and first.source == "feed"
    assert rec.system()[-1].kind == "stopped"


async def test_start_returns_connected_and_the_feed_runs_in_the_background():
    gate = asyncio.Event()

    async def handler(ws):
        await gate.wait()
        await ws.send("late")
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url, emitter(url, bus) as em:
        assert em.connected and rec.payloads() == []  # start() returned; nothing yet
        gate.set()
        await rec.until(lambda r: r.payloads() == ["late"])
    assert not em.running


# --- subscriptions and reconnection -------------------------------------------------------

async def test_subscriptions_are_sent_on_connect_and_resent_after_a_reconnect():
    received: list[list[dict]] = []

    async def handler(ws):
        msgs = [orjson.loads(await ws.recv())]
        received.append(msgs)
        await ws.send(f"frame{len(received)}")
        if len(received) == 1:
            ws.transport.abort()  # abrupt: no closing handshake
            return
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    backoff = Backoff(initial=0.002, factor=2.0, maximum=0.01, jitter=0.5)
    async with server(handler) as url:
        em = emitter(url, bus, adapter="binance", symbols=["BTCUSDT", "ETHUSDT"],
                     channels=["bars", "trades"], backoff=backoff, rng=random.Random(7))
        await em.start()
        await rec.until(lambda r: r.payloads() == ["frame1", "frame2"])
        await em.stop()
    assert len(received) == 2
    for msgs in received:
        assert msgs[0]["method"] == "SUBSCRIBE"
        assert msgs[0]["params"] == ["btcusdt@kline_1m", "btcusdt@trade",
                                     "ethusdt@kline_1m", "ethusdt@trade"]
    kinds = [e.kind for e in rec.system()]
    assert kinds == ["connected", "disconnected", "reconnecting", "connected", "stopped"]
    _, lost, retry, again, _ = rec.system()
    assert lost.data["code"] == 1006
    assert retry.data["attempt"] == 1
    assert retry.data["delay"] == backoff.delay(1, random.Random(7))
    assert again.data["attempt"] == 1 and again.data["connections"] == 2
    # the notices travel in order with the messages
    order = [e.payload if isinstance(e, WebSocketEvent) else e.kind for e in rec.events]
    assert order == ["connected", "frame1", "disconnected", "reconnecting", "connected",
                     "frame2", "stopped"]
    assert em.get_stats()["reconnects"] == 1 and em.get_stats()["connections"] == 2


async def test_raw_subscriptions_are_sent_verbatim_on_every_connection():
    received: list[list[str]] = []

    async def handler(ws):
        received.append([await ws.recv(), await ws.recv()])
        if len(received) == 1:
            ws.transport.abort()
            return
        await ws.send("ok")
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    subs = ['{"op": "subscribe", "args": ["a"]}', '{"op": "subscribe", "args": ["b"]}']
    async with server(handler) as url, emitter(url, bus, subscriptions=subs):
        await rec.until(lambda r: r.payloads() == ["ok"])
    assert received == [subs, subs]


async def test_failed_attempts_back_off_exponentially_with_seeded_jitter():
    async def handler(ws):
        await ws.send("finally")
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    backoff = Backoff(initial=0.001, factor=2.0, maximum=0.004, jitter=0.5)
    async with server(handler, process_request=reject_first(5)) as url:
        em = emitter(url, bus, backoff=backoff, rng=random.Random(3))
        await em.start()
        await rec.until(lambda r: r.payloads() == ["finally"])
        await em.stop()
    retries = rec.system("reconnecting")
    assert [e.data["attempt"] for e in retries] == [1, 2, 3, 4, 5]
    expected = list(itertools.islice(backoff.schedule(random.Random(3)), 5))
    assert [e.data["delay"] for e in retries] == expected
    assert all("503" in e.data["error"] for e in retries)
    connected = rec.system("connected")
    assert len(connected) == 1 and connected[0].data["attempt"] == 5
    assert em.get_stats()["reconnects"] == 5


async def test_max_retries_gives_up_and_start_raises():
    async def handler(ws):  # never reached: every handshake is refused
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    backoff = Backoff(initial=0.001, maximum=0.002, max_retries=2)
    async with server(handler, process_request=reject_first(10**9)) as url:
        em = emitter(url, bus, backoff=backoff)
        with pytest.raises(ConnectionError, match=re.escape(url)):
            await em.start()
        assert not em.running and other_tasks() - server_tasks() == set()
    assert [e.data["attempt"] for e in rec.system("reconnecting")] == [1, 2]
    gave_up = rec.system("gave_up")
    assert len(gave_up) == 1 and gave_up[0].data["attempts"] == 2
    assert rec.system()[-1].kind == "stopped"


async def test_start_with_a_timeout_stops_the_feed_and_raises():
    async def handler(ws):  # never reached: every handshake is refused
        await ws.wait_closed()

    bus = EventBus()
    async with server(handler, process_request=reject_first(10**9)) as url:
        em = emitter(url, bus, backoff=Backoff(initial=0.001, maximum=0.002))  # forever
        with pytest.raises(TimeoutError, match=f"not connected to {re.escape(url)}"):
            await em.start(timeout=0.2)
        assert not em.running
        assert not [t for t in other_tasks() if t.get_name().startswith("evlab")]


def server_tasks() -> set[asyncio.Task]:
    """Tasks of the websockets servers themselves (not the emitter's)."""
    return {t for t in other_tasks() if "evlab" not in t.get_name()}


async def test_max_retries_zero_never_reconnects_after_a_drop():
    async def handler(ws):
        await ws.send("only")
        ws.transport.abort()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus, backoff=Backoff(max_retries=0))
        await em.start()
        await rec.until(lambda r: r.system("gave_up"))
        await em.stop()
    assert rec.payloads() == ["only"]
    assert [e.kind for e in rec.system()] == ["connected", "disconnected", "gave_up", "stopped"]


async def test_stop_during_backoff_returns_promptly_and_leaves_no_tasks():
    async def handler(ws):
        ws.transport.abort()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus, backoff=Backoff(initial=600.0, maximum=600.0, jitter=0.0))
        await em.start()
        await rec.until(lambda r: r.system("reconnecting"))
        assert rec.system("reconnecting")[0].data["delay"] == 600.0
        await asyncio.wait_for(em.stop(), timeout=5.0)  # safety bound, far below the delay
        assert not em.running
        assert not [t for t in other_tasks() if t.get_name().startswith("evlab")]
    assert other_tasks() == set()


async def test_stop_leaves_no_pending_tasks():
    async def handler(ws):
        await ws.send("x")
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)

    async def slow(event):
        await asyncio.sleep(0)

    bus.register_async(EventType.WEBSOCKET, slow)
    async with server(handler) as url:
        em = emitter(url, bus)
        await em.start()
        await rec.until(lambda r: r.payloads() == ["x"])
        await em.stop()
        await em.stop()  # idempotent
    assert other_tasks() == set()


# --- limits: message size, heartbeat ------------------------------------------------------

async def test_an_oversized_frame_is_an_error_event_then_reconnect_losing_nothing_else():
    connections = 0

    async def handler(ws):
        nonlocal connections
        connections += 1
        if connections == 1:
            await ws.send("good1")
            await ws.send("good2")
            await ws.send("x" * 5000)  # over max_size: the client closes with 1009
        else:
            await ws.send("good3")
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus, max_size=1024)
        await em.start()
        await rec.until(lambda r: "good3" in r.payloads())
        await em.stop()
    assert rec.payloads() == ["good1", "good2", "good3"]
    errors = rec.of(ErrorEvent)
    assert len(errors) == 1 and errors[0].error_type == "MessageTooBig"
    assert "max_size=1024" in errors[0].message
    assert rec.system("disconnected")[0].data["code"] == 1009
    stats = em.get_stats()
    assert stats["oversized"] == 1 and stats["errors"] == 1
    assert stats["received"] == stats["delivered"] == 3


async def test_a_text_frame_with_invalid_utf8_is_one_error_event_and_the_connection_stays():
    bad = b'{"e":"kline","s":"BTC\xffUSDT"}'
    connections = 0

    async def handler(ws):
        nonlocal connections
        connections += 1
        await ws.send("good1")
        await ws.send(bad, text=True)  # a text frame whose bytes are not UTF-8
        await ws.send(b"\xc3\xa9 binary")  # valid UTF-8, but a binary frame: stays bytes
        await ws.send("good2 \u00e9")
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus)
        await em.start()
        await rec.until(lambda r: "good2 \u00e9" in r.payloads())
        await em.stop()
    assert rec.payloads() == ["good1", b"\xc3\xa9 binary", "good2 \u00e9"]
    errors = rec.of(ErrorEvent)
    assert len(errors) == 1 and errors[0].error_type == "InvalidUTF8"
    assert errors[0].payload == bad and errors[0].source == em.name
    kinds = [type(e).__name__ for e in rec.events if not isinstance(e, SystemEvent)]
    assert kinds == ["WebSocketEvent", "ErrorEvent", "WebSocketEvent", "WebSocketEvent"]
    assert connections == 1 and rec.system("disconnected") == []
    stats = em.get_stats()
    assert stats["invalid_text"] == 1 and stats["errors"] == 1
    assert stats["received"] == stats["delivered"] == 3


async def test_a_missed_heartbeat_drops_the_connection_and_reconnects():
    connections = 0
    reconnected = asyncio.Event()

    async def handler(ws):
        nonlocal connections
        connections += 1
        await ws.send(f"conn{connections}")
        if connections == 1:
            ws.transport.pause_reading()  # the client's pings go unanswered
            await reconnected.wait()
            ws.transport.abort()
            return
        reconnected.set()
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus, ping_interval=0.05, ping_timeout=0.25, close_timeout=0.05)
        await em.start()
        await rec.until(lambda r: "conn2" in r.payloads())
        await em.stop()
    lost = rec.system("disconnected")[0]
    assert lost.data["code"] == 1011 and "keepalive" in lost.data["reason"]
    assert rec.payloads() == ["conn1", "conn2"]


# --- the buffer between socket and bus ------------------------------------------------------

def slow_feed(n: int):
    """A server sending "first", waiting until the bus is stuck on it, then ``n`` frames."""
    stuck = asyncio.Event()

    async def handler(ws):
        await ws.send("first")
        await stuck.wait()
        for i in range(n):
            await ws.send(str(i))
        await ws.wait_closed()

    return handler, stuck


def slow_handler(bus: EventBus, stuck: asyncio.Event, release: asyncio.Event, seen: list):
    async def handle(event):
        seen.append(event.payload)
        if event.payload == "first":
            stuck.set()
            await release.wait()

    bus.register_async(EventType.WEBSOCKET, handle)


async def test_drop_oldest_counts_exactly_and_keeps_the_newest():
    handler, stuck = slow_feed(19)
    release, seen = asyncio.Event(), []
    bus = EventBus()
    slow_handler(bus, stuck, release, seen)
    async with server(handler) as url:
        em = emitter(url, bus, buffer_size=4, overflow="drop_oldest")
        await em.start()
        stats = await em.wait_stats(lambda s: s["received"] == 20, SAFETY)
        assert (stats["delivered"], stats["dropped"], stats["buffered"]) == (0, 15, 4)
        release.set()
        stats = await em.wait_stats(lambda s: s["delivered"] == 5, SAFETY)
        await em.stop()
    assert seen == ["first", "15", "16", "17", "18"]  # "0".."14" were the oldest
    stats = em.get_stats()
    assert (stats["received"], stats["delivered"], stats["dropped"]) == (20, 5, 15)
    assert stats["received"] == stats["delivered"] + stats["dropped"]
    assert stats["discarded"] == 0


async def test_block_drops_nothing_and_bounds_the_buffer():
    handler, stuck = slow_feed(19)
    release, seen = asyncio.Event(), []
    bus = EventBus()
    slow_handler(bus, stuck, release, seen)
    async with server(handler) as url:
        em = emitter(url, bus, buffer_size=4, overflow="block")
        await em.start()
        stats = await em.wait_stats(lambda s: s["buffered"] == 4, SAFETY)
        assert stats["dropped"] == 0 and stats["received"] < 20  # the reader waits for room
        release.set()
        stats = await em.wait_stats(lambda s: s["delivered"] == 20, SAFETY)
        await em.stop()
    assert seen == ["first", *map(str, range(19))]
    assert (stats["received"], stats["delivered"], stats["dropped"]) == (20, 20, 0)


async def test_stop_discards_the_buffer_and_counts_it():
    handler, stuck = slow_feed(3)
    release, seen = asyncio.Event(), []
    bus = EventBus()
    slow_handler(bus, stuck, release, seen)
    async with server(handler) as url:
        em = emitter(url, bus)
        await em.start()
        await em.wait_stats(lambda s: s["received"] == 4, SAFETY)
        await em.stop()  # "first" is in flight, three are buffered
    stats = em.get_stats()
    assert (stats["received"], stats["delivered"], stats["discarded"]) == (4, 0, 4)
    assert other_tasks() == set()


async def test_stop_drain_delivers_the_buffer_first():
    handler, stuck = slow_feed(3)
    release, seen = asyncio.Event(), []
    bus = EventBus()
    slow_handler(bus, stuck, release, seen)
    async with server(handler) as url:
        em = emitter(url, bus)
        await em.start()
        await em.wait_stats(lambda s: s["received"] == 4, SAFETY)
        release.set()
        await em.stop(drain=True)
    assert seen == ["first", "0", "1", "2"]
    assert em.get_stats()["delivered"] == 4 and em.get_stats()["discarded"] == 0


# --- validation, backoff as a pure function --------------------------------------------------

@pytest.mark.parametrize("url", ["http://example.com/ws", "ftp://example.com", "garbage",
                                 "ws://", "", "wss://host:notaport/x"])
def test_only_ws_and_wss_urls_are_accepted(url):
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        WebSocketEmitter("feed", url, event_bus=EventBus())


def test_ws_and_wss_urls_are_accepted():
    for url in ("ws://127.0.0.1:9000", "wss://exchange.com/ws/market-data", "WSS://Host/x"):
        assert WebSocketEmitter("feed", url, event_bus=EventBus(), subscriptions=[]).url == url


def test_bad_options_are_rejected_at_construction():
    bus = EventBus()
    with pytest.raises(ValueError, match="overflow"):
        WebSocketEmitter("f", "ws://h", bus, overflow="grow")
    with pytest.raises(ValueError, match="buffer_size"):
        WebSocketEmitter("f", "ws://h", bus, buffer_size=0)
    with pytest.raises(ValueError, match="adapter="):
        WebSocketEmitter("f", "ws://h", bus, symbols=["BTCUSDT"])
    with pytest.raises(ValueError, match="unknown exchange"):
        WebSocketEmitter("f", "ws://h", bus, adapter="nasdaq")
    with pytest.raises(ValueError, match="channel"):
        WebSocketEmitter("f", "ws://h", bus, adapter="binance", symbols=["X"], channels=["l2"])


async def test_start_without_a_bus_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no bus"):
        await WebSocketEmitter("f", "ws://127.0.0.1:1", subscriptions=[]).start()


def test_backoff_schedule_grows_exponentially_is_jittered_and_bounded():
    policy = Backoff(initial=1.0, factor=2.0, maximum=10.0, jitter=0.5, max_retries=8)
    delays = list(policy.schedule(random.Random(42)))
    assert delays == list(policy.schedule(random.Random(42)))  # pure given the seed
    assert len(delays) == 8
    for n, delay in enumerate(delays, 1):
        cap = min(10.0, 2.0 ** (n - 1))
        assert cap * 0.5 <= delay <= cap
    assert len(set(delays)) == len(delays)  # jittered: no two alike
    assert list(Backoff(initial=1, maximum=10, jitter=0, max_retries=6).schedule()) == \
        [1, 2, 4, 8, 10, 10]


def test_backoff_without_max_retries_goes_on_forever_and_stays_bounded():
    policy = Backoff(initial=0.5, maximum=30.0, max_retries=None)
    delays = list(itertools.islice(policy.schedule(random.Random(1)), 2000))
    assert len(delays) == 2000 and max(delays) <= 30.0 and min(delays) >= 0.25
    assert backoff_delay(10**6, initial=1, factor=10, maximum=5, jitter=0) == 5
    assert Backoff(max_retries=0).allows(1) is False
    assert list(Backoff(max_retries=0).schedule()) == []


@pytest.mark.parametrize("bad", [dict(initial=-1), dict(factor=0.5), dict(maximum=0.1),
                                 dict(jitter=2), dict(max_retries=-1)])
def test_backoff_rejects_bad_parameters(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        Backoff(**bad)


# --- threads --------------------------------------------------------------------------------

async def test_start_in_thread_runs_the_feed_on_its_own_loop():
    async def handler(ws):
        for i in range(3):
            await ws.send(f"m{i}")
        await ws.wait_closed()

    bus = EventBus()
    got, threads, done = [], set(), threading.Event()

    def on_message(event):
        got.append(event.payload)
        threads.add(threading.current_thread().name)
        if len(got) == 3:
            done.set()

    bus.register(EventType.WEBSOCKET, on_message)
    async with server(handler) as url:
        em = emitter(url, bus)
        thread = await asyncio.to_thread(em.start_in_thread, timeout=SAFETY)
        assert thread.daemon and em.connected
        assert await asyncio.to_thread(done.wait, SAFETY)
        await em.stop()  # from another loop: handed to the feed's loop, then the thread ends
        assert not thread.is_alive()
    assert got == ["m0", "m1", "m2"] and threads == {"evlab-feed-feed"}


async def test_stop_in_thread_from_blocking_code():
    async def handler(ws):
        await ws.send("hi")
        await ws.wait_closed()

    bus = EventBus()
    done = threading.Event()
    bus.register(EventType.WEBSOCKET, lambda e: done.set())
    async with server(handler) as url:
        em = emitter(url, bus)

        def script():
            thread = em.start_in_thread(timeout=SAFETY)
            assert done.wait(SAFETY)
            em.stop_in_thread(timeout=SAFETY)
            return thread

        thread = await asyncio.to_thread(script)
        assert not thread.is_alive() and not em.running


async def test_a_finite_stream_that_ends_normally_ends_the_feed(feed_server):
    server = await feed_server("btcusd_1m", exchange="binance", limit=5)
    bus = EventBus()
    rec = Recorder(bus)
    emitter = WebSocketEmitter("finite", server.url, event_bus=bus, adapter="binance",
                               symbols=server.symbols)  # the default: the end is the end
    await emitter.start()
    stats = await emitter.wait_finished(SAFETY)
    assert not stats["running"] and not emitter.running
    assert [e.kind for e in rec.system()] == ["connected", "disconnected", "ended"]
    assert stats["delivered"] == 6 == stats["received"]  # the ack and the 5 bars, all delivered
    assert stats["reconnects"] == 0 and server.streams_finished == 1
    await emitter.stop()
    assert [e.kind for e in rec.system()] == ["connected", "disconnected", "ended", "stopped"]
    assert emitter.get_stats()["discarded"] == 0


async def test_asked_to_reconnect_a_normal_close_starts_a_reconnect():
    connections = []

    async def handler(ws):
        connections.append(ws)
        await ws.send(f"stream{len(connections)}")
        if len(connections) == 1:
            await ws.close(1000, "maintenance")
            return
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus, end_on_normal_close=False)
        await em.start()
        await rec.until(lambda r: r.payloads() == ["stream1", "stream2"])
        await em.stop()
    kinds = [e.kind for e in rec.system()]
    assert kinds == ["connected", "disconnected", "reconnecting", "connected", "stopped"]
    assert rec.system("disconnected")[0].data == {"url": url, "code": 1000,
                                                  "reason": "maintenance"}


async def test_wait_finished_returns_on_stop_and_times_out_while_running():
    async def handler(ws):
        await ws.wait_closed()

    bus = EventBus()
    async with server(handler) as url:
        em = emitter(url, bus)
        await em.start()
        with pytest.raises(TimeoutError):
            await em.wait_finished(0)
        waiting = asyncio.ensure_future(em.wait_finished(SAFETY))
        await em.stop()
        assert (await waiting)["running"] is False


# --- nothing waits forever: start() times out, stop() is prompt in every state ------------------

def closed_port_url() -> str:
    """A ws:// URL of a 127.0.0.1 port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{s.getsockname()[1]}"


async def test_start_to_a_closed_port_times_out_by_default_with_a_clear_error():
    assert WebSocketEmitter("f", "ws://h", EventBus(), subscriptions=[]).start_timeout == 30.0
    url = closed_port_url()
    em = emitter(url, EventBus(), start_timeout=0.3)
    with pytest.raises(TimeoutError) as failure:
        await asyncio.wait_for(em.start(), SAFETY)  # no timeout given: the default applies
    text = str(failure.value)
    assert f"not connected to {url} within 0.3 s" in text
    assert "ConnectionRefusedError" in text and "start(timeout=None)" in text
    assert not em.running
    assert not [t for t in other_tasks() if t.get_name().startswith("evlab")]


async def test_retrying_forever_is_opt_in():
    em = emitter(closed_port_url(), EventBus(), start_timeout=None)
    starting = asyncio.ensure_future(em.start())
    await em.wait_stats(lambda s: s["reconnects"] >= 3, SAFETY)
    assert not starting.done()  # still trying
    await asyncio.wait_for(em.stop(), SAFETY)
    with pytest.raises(ConnectionError, match="ConnectionRefusedError"):
        await starting


def hung_handler(bus: EventBus) -> asyncio.Event:
    """An async WEBSOCKET handler that never returns (until the returned event is set)."""
    never = asyncio.Event()

    async def hang(event):
        await never.wait()

    bus.register_async(EventType.WEBSOCKET, hang)
    return never


async def test_stop_is_prompt_when_the_consumer_has_fallen_behind():
    async def flood(ws):
        for i in range(20_000):
            await ws.send(f"m{i}")
        await ws.wait_closed()

    bus = EventBus()
    hung_handler(bus)
    async with server(flood) as url:
        em = emitter(url, bus, buffer_size=1)
        await em.start()
        # one in the hung handler, one buffered, the next waits for room; the socket fills up
        await em.wait_stats(lambda s: s["received"] == 2, SAFETY)
        await asyncio.wait_for(em.stop(), SAFETY)
    stats = em.get_stats()
    # the server's close frame sat behind unread messages: the close was cut, and counted
    assert stats["closes_abandoned"] == 1 and not stats["running"]
    assert stats["delivered"] == 0 and stats["discarded"] == stats["received"] >= 2


async def test_stop_is_prompt_when_the_server_stalls():
    writers: list[asyncio.StreamWriter] = []

    async def stalled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Accept the WebSocket handshake, then never read or answer anything again."""
        writers.append(writer)
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        writer.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                     f"Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n".encode())

    srv = await asyncio.start_server(stalled, "127.0.0.1", 0)
    try:
        port = srv.sockets[0].getsockname()[1]
        em = emitter(f"ws://127.0.0.1:{port}", EventBus())
        await em.start()
        await asyncio.wait_for(em.stop(), SAFETY)
        assert em.get_stats()["closes_abandoned"] == 1 and not em.running
    finally:
        for writer in writers:
            writer.close()
        srv.close()
        await srv.wait_closed()


async def test_a_normal_stop_completes_the_close_handshake():
    async def handler(ws):
        await ws.send("x")
        await ws.wait_closed()

    bus = EventBus()
    rec = Recorder(bus)
    async with server(handler) as url:
        em = emitter(url, bus)
        await em.start()
        await rec.until(lambda r: r.payloads() == ["x"])
        await em.stop()
    assert em.get_stats()["closes_abandoned"] == 0


async def test_stop_drain_with_a_hung_handler_gives_up_after_its_timeout():
    async def handler(ws):
        for i in range(3):
            await ws.send(f"m{i}")
        await ws.wait_closed()

    bus = EventBus()
    hung_handler(bus)
    async with server(handler) as url:
        em = emitter(url, bus)
        await em.start()
        await em.wait_stats(lambda s: s["received"] == 3, SAFETY)
        await asyncio.wait_for(em.stop(drain=True, drain_timeout=0.2), SAFETY)
    stats = em.get_stats()
    assert stats["drains_abandoned"] == 1 and not stats["running"]
    assert (stats["delivered"], stats["discarded"]) == (0, 3)


# --- an emitter that would subscribe to nothing says so, once ---------------------------------

def test_an_emitter_without_adapter_or_symbols_warns_naming_them():
    with pytest.warns(UserWarning, match="no adapter= and no symbols=") as caught:
        WebSocketEmitter("exchange_feed", "wss://exchange.com/ws/market-data", EventBus())
    assert len(caught) == 1 and caught[0].filename == __file__  # points at the caller
    with pytest.warns(UserWarning, match="no symbols=, so it subscribes to nothing"):
        WebSocketEmitter("f", "ws://h", EventBus(), adapter="binance")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WebSocketEmitter("f", "ws://h/ws/btcusdt@kline_1m", EventBus(), adapter="binance")
        WebSocketEmitter("f", "ws://h", EventBus(), subscriptions=[])
        WebSocketEmitter("f", "ws://h", EventBus(), adapter="binance", symbols=["BTCUSDT"])


GUIDE_WITHOUT_ADAPTER = """
import asyncio, json
from evlab.core.events import EventBus, EventType, WebSocketEmitter, WebSocketHandler
from evlab.feeds.server import FeedServer

async def main():
    event_bus, errors = EventBus(), []
    event_bus.register(EventType.ERROR, errors.append)
    async with FeedServer("btcusd_1m", exchange="binance", limit=100) as server:
        ws_handler = WebSocketHandler("market_data_handler")
        event_bus.register_async(EventType.WEBSOCKET, ws_handler.handle)
        ws_emitter = WebSocketEmitter("exchange_feed", server.url + "/ws/btcusdt@kline_1m",
                                      event_bus=event_bus)
        await ws_emitter.start()
        await ws_emitter.wait_finished(timeout=60)
    return len([e for e in errors if e.error_type == "NoAdapter"])
"""


def test_the_warning_shows_once_in_a_script():
    script = GUIDE_WITHOUT_ADAPTER + "print(json.dumps({'no_adapter': asyncio.run(main())}))\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=True)
    assert orjson.loads(result.stdout.splitlines()[-1]) == {"no_adapter": 100}
    assert result.stderr.count("no adapter= and no symbols=") == 1


def test_the_warning_shows_once_in_a_notebook(tmp_path):
    from tests.test_kernel import Kernel

    kernel = Kernel(str(tmp_path))
    try:
        kernel.run(GUIDE_WITHOUT_ADAPTER)
        cell = kernel.run("print(json.dumps({'no_adapter': await main()}))")
    finally:
        kernel.shutdown()
    assert cell.json() == {"no_adapter": 100}
    assert cell.stderr.count("no adapter= and no symbols=") == 1
