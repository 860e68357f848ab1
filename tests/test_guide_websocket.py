"""The usage guide's WebSocket block, run as written against evlab's local feed server
(a real websockets server on 127.0.0.1) instead of wss://exchange.com."""

import asyncio

from evlab.core.events import (
    BarEvent,
    EventBus,
    EventType,
    WebSocketEmitter,
    WebSocketHandler,
)
from evlab.feeds.server import FeedServer


async def test_websocket_block_of_the_guide():
    async with FeedServer("btcusd_1m", exchange="binance", limit=25) as server:
        event_bus = EventBus()
        bars = []
        done = asyncio.Event()

        def collect(event):
            bars.append(event)
            if len(bars) == 25:
                done.set()

        event_bus.register(EventType.BAR, collect)

        # Create WebSocket handler
        ws_handler = WebSocketHandler("market_data_handler")

        # Register handler with event bus
        event_bus.register_async(EventType.WEBSOCKET, ws_handler.handle)

        # Create WebSocket emitter for your exchange
        ws_emitter = WebSocketEmitter(
            "market_data_handler",
            server.url,  # the guide's "wss://exchange.com/ws/market-data", served locally
            event_bus=event_bus,
            adapter="binance",
            symbols=server.symbols,
        )

        # Start the WebSocket connection
        await ws_emitter.start()
        await asyncio.wait_for(done.wait(), 30)
        await ws_emitter.stop()

    expected = server.bars
    assert [b.time_ns for b in bars] == [int(t.value) for t in expected.index]
    assert [b.close for b in bars] == list(expected["close"])
    assert all(isinstance(b, BarEvent) and b.symbol == "BTCUSDT" for b in bars)
    assert all(b.cause is not None for b in bars)  # each bar was caused by its WebSocketEvent
    assert ws_handler.get_stats()["errors"] == 0
