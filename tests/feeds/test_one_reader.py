"""The one reader: a feed whose messages only its ``WebSocketHandler`` reads decodes them in its
delivery task (``EventBus.take`` + ``WebSocketHandler.decode``) instead of sending each across
the bus first. What comes out must be exactly what the guide's wiring gives (the same events,
``seq`` and ``cause`` stamps, errors, notices and counts), and the raw messages must still
reach whoever else wants them: a recorder, or a second WEBSOCKET subscriber, turns it off."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.server import serve

from evlab.bus import EventBus
from evlab.events import Event, EventType
from evlab.feeds.adapters import get_adapter
from evlab.feeds.emitter import WebSocketEmitter
from evlab.feeds.handler import WebSocketHandler
from evlab.recording import record
from tests.feeds.support import SAFETY

MIN = 60 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01


def frames() -> list[str]:
    """Bars of two symbols with what the handler must sort out: a re-sent bar (a duplicate),
    a missing minute (a gap notice), a message that is not JSON and one of an unknown kind
    (decode errors), a subscription ack (control)."""
    adapter = get_adapter("binance")

    def kline(symbol: str, minute: int, volume: float) -> str:
        frame = adapter.encode_bar(symbol, T0 + minute * MIN, 1.0, 2.0, 0.5, 1.5, volume)
        return frame.decode() if isinstance(frame, bytes) else frame

    out = [kline("BTCUSDT", 0, 1.0), kline("ETHUSDT", 0, 2.0), kline("BTCUSDT", 1, 3.0),
           kline("BTCUSDT", 1, 3.0), '{"result": null, "id": 1}', "not json",
           kline("BTCUSDT", 3, 4.0), '{"e": "mystery"}', kline("ETHUSDT", 1, 5.0)]
    return out + [kline("BTCUSDT", 4 + i, 10.0 + i) for i in range(50)]


def row(e: Event) -> tuple[Any, ...]:
    """What must be the same either way; wall-clock times (notices, errors) left out."""
    kind = getattr(e, "kind", None) or getattr(e, "error_type", None)
    if e.type == EventType.BAR:
        return ("bar", e.seq, e.cause, e.time_ns, e.symbol, e.volume)  # type: ignore[attr-defined]
    extra = getattr(e, "original_seq", None), getattr(e, "payload", None)
    return (str(e.type), e.seq, e.cause, kind, extra)


async def run(*, recorder: bool = False, second_reader: bool = False
              ) -> tuple[list[Event], list[Event], dict[str, Any], dict[str, Any], Any]:
    """The guide's wiring on one feed; returns (what BAR/SYSTEM/ERROR handlers saw, what a
    second WEBSOCKET subscriber saw, the feed's stats, the handler's, the recording)."""
    sent = frames()

    async def server(ws: Any) -> None:
        for frame in sent:
            await ws.send(frame)
        await ws.close(1000, "end of data")

    srv = await serve(server, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    bus = EventBus()
    seen: list[Event] = []
    raws: list[Event] = []
    for etype in (EventType.BAR, EventType.SYSTEM, EventType.ERROR):
        bus.register(etype, seen.append)
    handler = WebSocketHandler("market_data_handler", "binance")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    if second_reader:
        bus.register(EventType.WEBSOCKET, raws.append)
    rec = record(bus) if recorder else None
    feed = WebSocketEmitter("feed", url, event_bus=bus, subscriptions=[])
    try:
        await feed.start()
        await feed.wait_finished(SAFETY)
    finally:
        await feed.stop()
        srv.close()
        await srv.wait_closed()
    return seen, raws, feed.get_stats(), handler.get_stats(), rec


async def test_decoded_in_place_it_gives_the_events_stamps_and_counts_of_the_guides_wiring():
    fast, _, fast_feed, fast_handler, _ = await run()
    slow, raws, slow_feed, slow_handler, _ = await run(second_reader=True)
    n = len(frames())
    assert fast_feed["decoded"] == n and slow_feed["decoded"] == 0  # the fast path, then not
    assert [row(e) for e in fast] == [row(e) for e in slow]
    assert fast_handler == slow_handler
    assert fast_handler["duplicates"] == 1 and fast_handler["gaps"] == 1
    assert fast_handler["decode_errors"] == 2 and fast_handler["control"] == 1
    assert {k: v for k, v in fast_feed.items() if k not in ("decoded", "last_message_ns",
                                                            "last_message_time")} == \
        {k: v for k, v in slow_feed.items() if k not in ("decoded", "last_message_ns",
                                                         "last_message_time")}
    # every bar and every decode error is caused by (and names) the message it came from
    by_seq = {e.seq: e.payload for e in raws}  # type: ignore[attr-defined]
    bars = [e for e in fast if e.type == EventType.BAR]
    assert [(b.symbol, b.time_ns) for b in bars][:5] == [  # type: ignore[attr-defined]
        ("BTCUSDT", T0), ("ETHUSDT", T0), ("BTCUSDT", T0 + MIN), ("BTCUSDT", T0 + 3 * MIN),
        ("ETHUSDT", T0 + MIN)]
    assert all(f'"s":"{b.symbol}"' in by_seq[b.cause].replace(" ", "")  # type: ignore[attr-defined]
               for b in bars)
    errors = [e for e in fast if e.type == EventType.ERROR]
    assert [by_seq[e.original_seq] for e in errors] == ["not json", '{"e": "mystery"}']  # type: ignore[attr-defined]
    assert all(e.cause == e.original_seq for e in errors)  # type: ignore[attr-defined]
    gap = next(e for e in fast if getattr(e, "kind", None) == "gap")
    assert gap.cause == bars[3].cause  # the gap notice comes of the bar that reveals it
    assert len(raws) == n


async def test_a_recorder_turns_it_off_and_records_every_raw_message_with_its_bars_causes():
    seen, _, stats, _, rec = await run(recorder=True)
    assert stats["decoded"] == 0
    frame = rec.to_frame()
    raws = frame[frame["type"] == str(EventType.WEBSOCKET)]
    assert list(raws["payload"]) == frames()
    bars = [e for e in seen if e.type == EventType.BAR]
    assert len(bars) == 55
    assert {b.cause for b in bars} <= set(raws["seq"])
    fast, _, _, _, _ = await run()
    assert [row(e) for e in seen] == [row(e) for e in fast]  # and it changed nothing else


async def test_another_websocket_subscriber_sees_every_raw_message():
    _, raws, stats, _, _ = await run(second_reader=True)
    assert stats["decoded"] == 0
    assert [e.payload for e in raws] == frames()  # type: ignore[attr-defined]
