"""The whole live path over the real local server: FeedServer -> WebSocketEmitter ->
WebSocketHandler -> BarEvents on a bus, for every exchange format, and across a server
restart mid-stream (reconnect, resubscribe, no duplicates, every missing bar in a gap)."""

from __future__ import annotations

import asyncio

import pytest

from evlab import BarEvent, EventBus, EventType, SystemEvent
from evlab.feeds.adapters import ADAPTERS
from evlab.feeds.backoff import Backoff
from evlab.feeds.emitter import WebSocketEmitter
from evlab.feeds.handler import WebSocketHandler
from evlab.feeds.server import ManualClock
from tests.feeds.support import SAFETY, Recorder


def wire(server, **options):
    """A bus with a decoder and an emitter for ``server``; returns (bus, recorder, emitter)."""
    bus = EventBus()
    rec = Recorder(bus)
    handler = WebSocketHandler("decoder", adapter=server.client_adapter())
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    emitter = WebSocketEmitter("feed", server.url, event_bus=bus,
                               subscriptions=server.subscribe_messages(), **options)
    return bus, rec, emitter, handler


@pytest.mark.parametrize("exchange", ADAPTERS)
async def test_n_bars_sent_are_n_bar_events_received_in_order(feed_server, exchange):
    server = await feed_server("btcusd_1m", exchange=exchange, limit=60)
    _, rec, emitter, handler = wire(server)
    await emitter.start()
    await rec.until(lambda r: any(e.kind == "ended" for e in r.system()))
    await emitter.stop()
    bars = [e for e in rec.events if type(e) is BarEvent]
    sent = server.bars
    assert [(b.time_ns, b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        (int(t.value), r.open, r.high, r.low, r.close, r.volume)
        for t, r in zip(sent.index, sent.itertuples(), strict=True)]
    assert {b.symbol for b in bars} == set(server.symbols)
    assert handler.get_stats()["errors"] == 0


async def test_a_server_restart_mid_stream_loses_nothing_silently(feed_server):
    clock = ManualClock()
    server = await feed_server("btcusd_1m", exchange="binance", mode="live", rate=1,
                               limit=40, clock=clock)
    _, rec, emitter, handler = wire(server, backoff=Backoff(initial=0.01, maximum=0.05))
    times = [int(t.value) for t in server.bars.index]

    def bars():
        return [e for e in rec.events if type(e) is BarEvent]

    await emitter.start()
    for k in range(1, 6):  # bars 1..5 published one by one while connected
        clock.advance(1)
        await rec.until(lambda r, k=k: len(bars()) == k)
    await server.stop()
    await rec.until(lambda r: r.system("reconnecting"))
    clock.advance(8)  # down for 8 s: bars 6..13 fall due and go to nobody
    await server.start()
    await rec.until(lambda r: len(r.system("connected")) == 2)  # reconnected, resubscribed
    for _ in range(6):
        clock.advance(1)
    await rec.until(lambda r: bars() and bars()[-1].time_ns == times[19])
    await emitter.stop()

    got = [b.time_ns for b in bars()]
    assert len(got) == len(set(got)) and got == sorted(got)  # nothing twice, in order
    gaps = [e.data for e in rec.system("gap")]
    assert gaps, "the downtime must be reported"

    def in_gap(t):
        return any(g["start_ns"] <= t < g["end_ns"] for g in gaps)

    sent_window = [t for t in times if times[1] <= t <= times[19]]
    missing = [t for t in sent_window if t not in got]
    assert missing and all(in_gap(t) for t in missing)  # every lost bar is inside a gap
    assert not any(in_gap(t) for t in got)
    assert handler.get_stats()["errors"] == 0
    assert all(isinstance(e, SystemEvent) for e in rec.system())


async def test_stop_during_a_reconnect_returns_promptly(feed_server):
    server = await feed_server("btcusd_1m", exchange="kraken", mode="live", rate=1, limit=5,
                               clock=ManualClock())
    _, rec, emitter, _ = wire(server, backoff=Backoff(initial=60, maximum=60))
    await emitter.start()
    await server.stop()
    await rec.until(lambda r: r.system("reconnecting"))  # now waiting 60 s to retry
    await asyncio.wait_for(emitter.stop(), SAFETY)
    assert not emitter.running
