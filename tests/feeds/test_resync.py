"""Live book resync (evlab.feeds.resync) against real websockets servers on 127.0.0.1.

Each server speaks the venue's book protocol: on a subscribe it acknowledges and sends the
book's snapshot, then (the first time) a message that puts the client's book out of sync (a
Kraken update whose checksum does not match, a Coinbase l2update that crosses the book); on an
unsubscribe + subscribe it sends a new snapshot. The tests assert the frames the emitter sent,
that the book is live again and equal to the new snapshot, and the resync counters. No sleeps:
they wait on the emitter's stats or on what the server received.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve

from evlab import EventBus, EventType, OrderBooks
from evlab.books.book import OrderBook
from evlab.events import ErrorEvent, SystemEvent
from evlab.feeds.adapters.kraken import book_checksum
from evlab.feeds.emitter import WebSocketEmitter
from evlab.feeds.handler import WebSocketHandler
from tests.adapters._data import fixture, fixture_obj
from tests.feeds.support import SAFETY
from tests.feeds.test_emitter import FAST

KRAKEN_SUB = {"method": "subscribe", "params": {"channel": "book", "symbol": ["MATIC/USD"],
                                                "depth": 10}, "req_id": 7}
COINBASE_SUB = {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level2_batch"]}


class Venue:
    """What a test server received; gates holding back each resync's snapshot (the n-th
    subscribe waits for ``gate(n)``), and the subscribes after which the book is corrupted."""

    def __init__(self, corrupt: tuple[int, ...] = (1,)) -> None:
        self.received: list[Any] = []
        self.subscribes = 0
        self.corrupt = corrupt
        self._gates: dict[int, asyncio.Event] = {}
        self._changed = asyncio.Condition()

    def gate(self, n: int) -> asyncio.Event:
        return self._gates.setdefault(n, asyncio.Event())

    async def passed(self, n: int) -> None:
        if n in self._gates:
            await self._gates[n].wait()

    async def got(self, obj: Any) -> None:
        self.received.append(obj)
        async with self._changed:
            self._changed.notify_all()

    async def until(self, cond: Callable[[], bool]) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(cond), SAFETY)


@contextlib.asynccontextmanager
async def venue_server(on_subscribe, venue: Venue | None = None
                       ) -> AsyncIterator[tuple[str, Venue]]:
    """A server calling ``on_subscribe(ws, venue, obj)`` on each subscribe frame."""
    venue = venue or Venue()

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            obj = orjson.loads(message)
            await venue.got(obj)
            if obj.get("method", obj.get("type")) == "subscribe":
                venue.subscribes += 1
                await on_subscribe(ws, venue, obj)

    async with serve(handler, "127.0.0.1", 0) as srv:
        yield f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}", venue


def wired() -> tuple[EventBus, OrderBooks, list[ErrorEvent], list[SystemEvent]]:
    """The usage guide's wiring: a WebSocketHandler for the feed, an OrderBooks on the bus."""
    bus = EventBus()
    handler = WebSocketHandler("market_data_handler")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    errors: list[ErrorEvent] = []
    system: list[SystemEvent] = []
    bus.register(EventType.ERROR, errors.append)
    bus.register(EventType.SYSTEM, system.append)
    return bus, OrderBooks(bus), errors, system


def gap(symbol: str) -> SystemEvent:
    """A book_gap as OrderBooks publishes it."""
    return SystemEvent("book_gap", f"{symbol}: test gap", {"symbol": symbol,
                                                            "reason": "bad_update",
                                                            "resync": True})


# --- Kraken v2 book: a bad checksum -----------------------------------------------------------

def kraken_new_snapshot() -> tuple[bytes, list[tuple[float, float]], list[tuple[float, float]]]:
    """The documented snapshot with its best bid's qty changed, and its checksum recomputed
    (Kraken's rule on the pair's 4 / 8 decimals)."""
    snap = fixture_obj("kraken", "book_snapshot.json")
    data = snap["data"][0]
    data["bids"][0]["qty"] = 1234.56789012
    book = OrderBook("MATIC/USD")
    bids = [(lv["price"], lv["qty"]) for lv in data["bids"]]
    asks = [(lv["price"], lv["qty"]) for lv in data["asks"]]
    book.apply(bids, asks)
    data["checksum"] = book_checksum(book, 4, 8)
    return orjson.dumps(snap), sorted(bids, reverse=True), sorted(asks)


async def kraken_venue(ws: ServerConnection, venue: Venue, obj: dict[str, Any]) -> None:
    n = venue.subscribes
    await ws.send(fixture("kraken", "book_subscribe_ack.json"))
    await venue.passed(n)
    await ws.send(fixture("kraken", "book_snapshot.json") if n == 1 else kraken_new_snapshot()[0])
    if n in venue.corrupt:
        corrupt = fixture_obj("kraken", "book_update.json")
        corrupt["data"][0]["bids"][0]["qty"] = 1098.3947559  # the checksum no longer matches
        if n > 1:  # on the new snapshot's book: its checksum is the old one, wrong here
            corrupt["data"][0]["bids"][0]["qty"] = 1098.3947558
        await ws.send(orjson.dumps(corrupt))


async def test_a_kraken_bad_checksum_resubscribes_the_book_and_it_recovers():
    async with venue_server(kraken_venue) as (url, venue):
        bus, books, errors, system = wired()
        feed = WebSocketEmitter("kraken-feed", url, bus, adapter="kraken",
                                subscriptions=[orjson.dumps(KRAKEN_SUB).decode()], backoff=FAST)
        await feed.start()
        stats = await feed.wait_stats(lambda s: s["resyncs_done"] == 1, SAFETY)
        await feed.stop()
    assert [g.data["reason"] for g in system if g.kind == "book_gap"] == ["checksum_mismatch"]
    unsub, sub = venue.received[1:]
    assert unsub["method"] == "unsubscribe" and unsub["params"] == {
        "channel": "book", "symbol": ["MATIC/USD"], "depth": 10}
    assert sub["method"] == "subscribe" and sub["params"] == {
        "channel": "book", "symbol": ["MATIC/USD"], "depth": 10, "snapshot": True}
    _, bids, asks = kraken_new_snapshot()
    book = books["MATIC/USD"]
    assert not book.stale and book.bids() == bids and book.asks() == asks
    assert books.stats["checksums"] == 2 and books.stats["checksum_mismatches"] == 1
    assert (stats["resyncs"], stats["resyncs_done"], stats["resync_failures"]) == (1, 1, 0)
    assert [e for e in errors if e.error_type == "ResyncFailed"] == []


async def test_gaps_during_a_resync_are_coalesced_and_resyncs_never_storm():
    """The resync's snapshot is held back while gaps come (coalesced); the book it brings is
    corrupted at once: the next resync starts at least 1 s after the first (the instants are
    taken as the emitter counts each start), and gaps meanwhile are coalesced too."""
    venue = Venue(corrupt=(1, 2))
    started: list[float] = []

    def starts(s: dict[str, Any]) -> bool:
        if s["resyncs"] > len(started):
            started.append(time.monotonic())  # called as the emitter counts the start
        return s["resyncs"] == 2

    async with venue_server(kraken_venue, venue) as (url, venue):
        bus, books, _, system = wired()
        feed = WebSocketEmitter("kraken-feed", url, bus, adapter="kraken",
                                subscriptions=[orjson.dumps(KRAKEN_SUB).decode()], backoff=FAST)
        await feed.start()
        watch = asyncio.ensure_future(feed.wait_stats(starts, SAFETY))
        await venue.until(lambda: venue.subscribes == 2)  # the first resync is under way
        for _ in range(3):
            await bus.emit_async(gap("MATIC/USD"))
        assert feed.get_stats()["resyncs_coalesced"] == 3
        venue.gate(2).set()
        await feed.wait_stats(lambda s: books.stats["checksum_mismatches"] == 2, SAFETY)
        for _ in range(4):  # the second resync waits (or runs): these join it
            await bus.emit_async(gap("MATIC/USD"))
        await watch
        venue.gate(3).set()
        stats = await feed.wait_stats(lambda s: s["resyncs_done"] == 2, SAFETY)
        await feed.stop()
    assert started[1] - started[0] >= 1.0 - 1e-3  # asyncio's timers may fire a tick early
    assert venue.subscribes == 3 and len(venue.received) == 5
    assert (stats["resyncs"], stats["resyncs_coalesced"], stats["resync_failures"]) == (2, 7, 0)
    assert [e.kind for e in system if e.source == books.name] == [
        "book_gap", "book_resynced", "book_gap", "book_resynced"]
    _, bids, _ = kraken_new_snapshot()
    assert not books["MATIC/USD"].stale and books["MATIC/USD"].bids() == bids
    # a gap of a book this feed does not keep is not its business
    assert feed.resync is not None and not feed.resync.owns("ETH/USD")


async def test_a_resync_without_an_answer_fails_after_its_timeout_and_the_next_gap_retries():
    async def silent_after_first(ws: ServerConnection, venue: Venue, obj: dict[str, Any]) -> None:
        if venue.subscribes == 1:
            await kraken_venue(ws, venue, obj)  # the snapshot, then the corrupt update

    async with venue_server(silent_after_first) as (url, venue):
        bus, books, errors, _ = wired()
        feed = WebSocketEmitter("kraken-feed", url, bus, adapter="kraken",
                                subscriptions=[orjson.dumps(KRAKEN_SUB).decode()], backoff=FAST,
                                resync_timeout=0.05)
        await feed.start()
        stats = await feed.wait_stats(lambda s: s["resync_failures"] == 1, SAFETY)
        failed = [e for e in errors if e.error_type == "ResyncFailed"]
        assert len(failed) == 1 and "MATIC/USD" in failed[0].message
        assert stats["resyncs"] == 1 and books["MATIC/USD"].stale
        await bus.emit_async(gap("MATIC/USD"))  # the next gap tries again
        await venue.until(lambda: venue.subscribes == 3)
        stats = await feed.wait_stats(lambda s: s["resync_failures"] == 2, SAFETY)
        await feed.stop()
    assert stats["resyncs"] == 2 and stats["resyncs_done"] == 0


# --- Coinbase Exchange level2: a crossed book ----------------------------------------------

COINBASE_SNAPSHOT = {"type": "snapshot", "product_id": "BTC-USD",
                     "bids": [["10101.10", "0.45054140"], ["10101.00", "1.0"]],
                     "asks": [["10102.55", "0.57753524"], ["10103.00", "2.0"]]}
COINBASE_NEW = {"type": "snapshot", "product_id": "BTC-USD",
                "bids": [["10100.00", "3.0"], ["10099.50", "1.5"]],
                "asks": [["10100.50", "0.25"], ["10101.00", "4.0"]]}
# a buy at 10103.00: the best bid above the best ask (10102.55), Coinbase sent nothing wrong
# that the adapter could see, but the book the client holds is crossed: it missed a change
CROSSING = {"type": "l2update", "product_id": "BTC-USD", "time": "2019-08-14T20:42:27.265Z",
            "changes": [["buy", "10103.00", "0.1"]]}


async def coinbase_venue(ws: ServerConnection, venue: Venue, obj: dict[str, Any]) -> None:
    await ws.send(orjson.dumps({"type": "subscriptions", "channels": [
        {"name": "level2_batch", "product_ids": obj["product_ids"]}]}))
    if venue.subscribes == 1:
        await ws.send(orjson.dumps(COINBASE_SNAPSHOT))
        await ws.send(orjson.dumps(CROSSING))
        return
    await ws.send(orjson.dumps(COINBASE_NEW))


async def test_a_coinbase_crossed_book_resubscribes_level2_and_the_book_recovers():
    async with venue_server(coinbase_venue) as (url, venue):
        bus, books, errors, system = wired()
        feed = WebSocketEmitter("coinbase-feed", url, bus, adapter="coinbase",
                                subscriptions=[orjson.dumps(COINBASE_SUB).decode()],
                                backoff=FAST)
        await feed.start()
        stats = await feed.wait_stats(lambda s: s["resyncs_done"] == 1, SAFETY)
        await feed.stop()
    assert [e.error_type for e in errors] == ["CrossedBook"]
    assert [g.data["reason"] for g in system if g.kind == "book_gap"] == ["crossed_book"]
    assert venue.received[1:] == [
        {"type": "unsubscribe", "product_ids": ["BTC-USD"], "channels": ["level2_batch"]},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level2_batch"]}]
    book = books["BTC-USD"]
    assert not book.stale and not book.crossed
    assert book.bids() == [(10100.0, 3.0), (10099.5, 1.5)]
    assert book.asks() == [(10100.5, 0.25), (10101.0, 4.0)]
    assert (stats["resyncs"], stats["resyncs_done"], stats["resync_failures"]) == (1, 1, 0)


ADVANCED_SUB = {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "level2"}


def advanced_l2(seq: int, kind: str, levels: list[tuple[str, str, str]]) -> bytes:
    """An Advanced Trade l2_data message of BTC-USD: ``levels`` of (side, price, quantity)."""
    return orjson.dumps({
        "channel": "l2_data", "client_id": "", "timestamp": "2023-02-09T20:32:50Z",
        "sequence_num": seq, "events": [{"type": kind, "product_id": "BTC-USD", "updates": [
            {"side": side, "event_time": "2023-02-09T20:32:50Z", "price_level": price,
             "new_quantity": qty} for side, price, qty in levels]}]})


async def advanced_venue(ws: ServerConnection, venue: Venue, obj: dict[str, Any]) -> None:
    """Advanced Trade level2: a snapshot and an update; on the first subscription the
    message numbered 2 is dropped (as the docs warn can happen), then comes 3."""
    if venue.subscribes == 1:
        await ws.send(advanced_l2(0, "snapshot", [("bid", "100.0", "1"), ("offer", "101.0", "2")]))
        await ws.send(advanced_l2(1, "update", [("bid", "100.5", "3")]))
        await ws.send(advanced_l2(3, "update", [("offer", "100.9", "4")]))
        return
    await ws.send(advanced_l2(5, "snapshot", [("bid", "99.0", "5"), ("offer", "102.0", "6")]))
    await ws.send(advanced_l2(6, "update", [("offer", "101.5", "7")]))


async def test_a_coinbase_advanced_sequence_gap_resubscribes_level2_and_the_book_recovers():
    async with venue_server(advanced_venue) as (url, venue):
        bus, books, errors, system = wired()
        feed = WebSocketEmitter("coinbase-feed", url, bus, adapter="coinbase",
                                subscriptions=[orjson.dumps(ADVANCED_SUB).decode()],
                                backoff=FAST)
        await feed.start()
        stats = await feed.wait_stats(lambda s: s["resyncs_done"] == 1 and s["delivered"] == 5,
                                      SAFETY)  # all five messages applied
        await feed.stop()
    assert errors == []
    [gap] = [g for g in system if g.kind == "book_gap"]
    assert gap.data["reason"] == "missed_messages" and gap.data["symbol"] == "BTC-USD"
    assert "sequence_num 3 after 1" in gap.data["error"]
    assert venue.received[1:] == [{**ADVANCED_SUB, "type": "unsubscribe"}, ADVANCED_SUB]
    book = books["BTC-USD"]
    assert not book.stale
    assert book.bids() == [(99.0, 5.0)] and book.asks() == [(101.5, 7.0), (102.0, 6.0)]
    assert books.stats["before_snapshot"] == 1  # the update after the gap: not applied
    assert (stats["resyncs"], stats["resyncs_done"], stats["resync_failures"]) == (1, 1, 0)


def test_resync_frames_for_coinbase_advanced_trade_and_exchange_channel_objects():
    """Advanced Trade subscribes one channel per message (``channel``, with its ``jwt``);
    Exchange may name products per channel. The resync keeps each form."""
    from evlab.feeds.adapters import get_adapter

    cb = get_adapter("coinbase")
    advanced = orjson.dumps({"type": "subscribe", "product_ids": ["ETH-USD", "BTC-USD"],
                             "channel": "level2", "jwt": "token"}).decode()
    assert [orjson.loads(f) for f in cb.resync_messages("BTC-USD", [advanced])] == [
        {"type": "unsubscribe", "product_ids": ["BTC-USD"], "channel": "level2", "jwt": "token"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "level2", "jwt": "token"}]
    exchange = orjson.dumps({"type": "subscribe", "channels": [
        "heartbeat", {"name": "level2", "product_ids": ["BTC-USD"]}]}).decode()
    assert [orjson.loads(f)["channels"] for f in cb.resync_messages("BTC-USD", [exchange])] \
        == [["level2"], ["level2"]]
    assert cb.resync_messages("SOL-USD", [advanced, exchange]) == []
    trades = orjson.dumps({"type": "subscribe", "product_ids": ["BTC-USD"],
                           "channels": ["matches"]}).decode()
    assert cb.resync_messages("BTC-USD", [trades]) == []
    kraken = get_adapter("kraken")
    no_depth = orjson.dumps({"method": "subscribe", "params": {
        "channel": "book", "symbol": ["BTC/USD", "ETH/USD"], "snapshot": False}}).decode()
    unsub, sub = (orjson.loads(f) for f in kraken.resync_messages("ETH/USD", [no_depth]))
    assert unsub["params"] == {"channel": "book", "symbol": ["ETH/USD"]}
    assert sub["params"] == {"channel": "book", "symbol": ["ETH/USD"], "snapshot": True}
    assert get_adapter("binance").resync_messages("BTCUSDT", []) == []  # over REST instead


async def test_signed_subscriptions_are_signed_again_for_a_resync():
    """subscriptions= as a function (a JWT per call, as Coinbase Advanced Trade wants one
    that expires after two minutes): the resync's frames carry a newer token than the first
    subscribe, not the one sent at connection."""
    tokens = iter(range(1, 1000))

    def signed() -> list[str]:
        return [orjson.dumps({**COINBASE_SUB, "jwt": f"jwt-{next(tokens)}"}).decode()]

    async with venue_server(coinbase_venue) as (url, venue):
        bus, books, _, _ = wired()
        feed = WebSocketEmitter("coinbase-feed", url, bus, adapter="coinbase",
                                subscriptions=signed, backoff=FAST)
        await feed.start()
        stats = await feed.wait_stats(lambda s: s["resyncs_done"] == 1, SAFETY)
        await feed.stop()
    first, unsub, sub = venue.received
    assert first["type"] == "subscribe" and unsub["type"] == "unsubscribe"
    assert sub["type"] == "subscribe" and sub["jwt"] == unsub["jwt"]
    assert int(sub["jwt"].split("-")[1]) > int(first["jwt"].split("-")[1])
    assert not books["BTC-USD"].stale and stats["resyncs_done"] == 1
