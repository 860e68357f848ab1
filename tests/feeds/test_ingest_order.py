"""The ingest hot path (reader -> bounded buffer -> delivery -> decoder -> on_bar) keeps every
message, in order, and the raw messages stay recordable: the buffer's no-wait paths and the
decoder's fast bar check must be shortcuts only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.server import serve

from evlab.bus import EventBus
from evlab.events import BarEvent, EventType, WebSocketEvent
from evlab.feeds.adapters import get_adapter
from evlab.feeds.buffer import FeedBuffer
from evlab.feeds.emitter import WebSocketEmitter
from evlab.feeds.handler import WebSocketHandler
from evlab.recording import record
from tests.feeds.support import SAFETY

MIN = 60 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01
N = 600


def klines(n: int) -> list[str]:
    adapter = get_adapter("binance")
    out = []
    for i in range(n):
        frame = adapter.encode_bar("BTCUSDT", T0 + i * MIN, 1.0, 2.0, 0.5, 1.5, float(i + 1))
        out.append(frame.decode() if isinstance(frame, bytes) else frame)
    return out


async def burst_server(frames: list[str]):
    """A real server that writes every frame at once, then closes normally (end of stream)."""
    async def handler(ws):
        for frame in frames:
            await ws.send(frame)
        await ws.close(1000, "end of data")

    return await serve(handler, "127.0.0.1", 0)


async def run_feed(*, buffer_size: int, overflow: str = "block", slow: bool = False,
                   recording: bool = False) -> tuple[list[BarEvent], WebSocketEmitter, Any]:
    frames = klines(N)
    srv = await burst_server(frames)
    url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    bus = EventBus()
    bars: list[BarEvent] = []

    async def on_bar(bar: BarEvent) -> None:
        bars.append(bar)
        if slow:
            await asyncio.sleep(0)  # let the reader run: the buffer fills and blocks

    bus.register_async(EventType.BAR, on_bar)
    handler = WebSocketHandler("market_data_handler", "binance")  # the guide's wiring
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    rec = record(bus) if recording else None
    feed = WebSocketEmitter("feed", url, event_bus=bus, subscriptions=[],
                            buffer_size=buffer_size, overflow=overflow)  # type: ignore[arg-type]
    try:
        await feed.start()
        await feed.wait_finished(SAFETY)
    finally:
        await feed.stop()
        srv.close()
        await srv.wait_closed()
    raws = [] if rec is None else rec.to_frame()
    return bars, feed, raws


@pytest.mark.parametrize("buffer_size", [1, 7, 10_000])
async def test_every_bar_arrives_once_in_order_whatever_the_buffer(buffer_size):
    bars, feed, _ = await run_feed(buffer_size=buffer_size, slow=True)
    assert [b.time_ns for b in bars] == [T0 + i * MIN for i in range(N)]
    assert [b.volume for b in bars] == [float(i + 1) for i in range(N)]
    stats = feed.get_stats()
    assert stats["received"] == stats["delivered"] == N
    assert stats["dropped"] == stats["discarded"] == 0


async def test_a_recorder_still_gets_every_raw_message_in_order_with_its_bars_caused_by_it():
    bars, _, frame = await run_feed(buffer_size=5, slow=True, recording=True)
    raws = frame[frame["type"] == str(EventType.WEBSOCKET)]
    assert list(raws["payload"]) == klines(N)
    assert [b.cause for b in bars] == list(raws["seq"])  # each bar caused by its message


async def test_drop_oldest_still_drops_and_counts_when_the_buffer_is_full():
    bars, feed, _ = await run_feed(buffer_size=3, overflow="drop_oldest", slow=True)
    stats = feed.get_stats()
    assert stats["received"] == N == stats["delivered"] + stats["dropped"]
    times = [b.time_ns for b in bars]
    assert times == sorted(times) and times[-1] == T0 + (N - 1) * MIN  # the newest kept


async def test_the_buffers_no_wait_paths_keep_its_bound_order_and_counts():
    buffer = FeedBuffer(3)
    events = [WebSocketEvent(str(i), i, time_ns=i) for i in range(5)]
    assert all(buffer.put_nowait(e) for e in events[:3])
    assert not buffer.put_nowait(events[3])  # full: refused, nothing changed
    assert len(buffer) == buffer.messages == 3
    assert buffer.get_nowait() is events[0]
    assert buffer.put_nowait(events[3])
    got = [buffer.get_nowait() for _ in range(3)]
    assert got == events[1:4] and buffer.get_nowait() is None and buffer.messages == 0
    putter = asyncio.ensure_future(buffer.put(events[4]))  # the awaited path still works
    await asyncio.wait_for(putter, SAFETY)
    assert await asyncio.wait_for(buffer.get(), SAFETY) is events[4]


async def test_a_waiting_get_wakes_on_put_nowait_and_a_waiting_put_on_get_nowait():
    buffer = FeedBuffer(1)
    events = [WebSocketEvent(str(i), i, time_ns=i) for i in range(3)]
    getter = asyncio.ensure_future(buffer.get())
    await asyncio.sleep(0)  # the getter runs up to its wait: the buffer is empty
    assert not getter.done()
    assert buffer.put_nowait(events[0])
    assert await asyncio.wait_for(getter, SAFETY) is events[0]
    assert buffer.put_nowait(events[1])
    putter = asyncio.ensure_future(buffer.put(events[2]))
    await asyncio.sleep(0)  # the putter runs up to its wait: the buffer is full
    assert not putter.done()
    assert buffer.get_nowait() is events[1]
    await asyncio.wait_for(putter, SAFETY)
    assert buffer.get_nowait() is events[2] and buffer.messages == 0
