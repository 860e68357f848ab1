"""Parity: a live session over the local feed server, recorded, saved, loaded and replayed
into a fresh bus with the same strategy, gives exactly the same signals (symbols, types,
prices, event times, order), whether the raw WebSocket messages are decoded again or the
decoded bars are replayed; a perturbed strategy gives the differing rows."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from evlab.bus import EventBus
from evlab.compare import compare
from evlab.events import BarEvent, EventType, SignalEvent, create_signal_event
from evlab.feeds import FeedServer, WebSocketEmitter, WebSocketHandler
from evlab.recording import EventRecorder, Recording, load_recording, record
from evlab.replay import Replayer

BARS = 300


class SmaCross:
    """BUY when the fast SMA crosses above the slow one, SELL when it crosses below."""

    def __init__(self, bus: EventBus, fast: int = 5, slow: int = 20) -> None:
        self.bus, self.fast, self.slow = bus, fast, slow
        self.closes: deque[float] = deque(maxlen=slow)
        self.above: bool | None = None
        bus.subscribe(EventType.BAR, self.on_bar, weak=False)

    def on_bar(self, bar: BarEvent) -> None:
        self.closes.append(bar.close)
        if len(self.closes) < self.slow:
            return
        closes = list(self.closes)
        above = sum(closes[-self.fast:]) / self.fast > sum(closes) / self.slow
        if self.above is not None and above != self.above:
            self.bus.emit(create_signal_event(SignalEvent.BUY if above else SignalEvent.SELL,
                                              bar.close, bar.symbol, "sma_cross"))
        self.above = above


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Recording:
    """The live session, recorded, saved to Parquet and loaded back."""
    async def run() -> EventRecorder:
        async with FeedServer("btcusd_1m", exchange="binance", limit=BARS) as server:
            bus = EventBus()
            rec = record(bus)
            SmaCross(bus)
            decoder = WebSocketHandler("decoder", adapter=server.client_adapter())
            bus.register_async(EventType.WEBSOCKET, decoder.handle)
            last_bar = int(server.bars.index[-1].value)
            done = asyncio.Event()
            bus.register(EventType.BAR, lambda e: e.time_ns == last_bar and done.set())
            emitter = WebSocketEmitter("feed", server.url, event_bus=bus,
                                       adapter=server.client_adapter(),
                                       subscriptions=server.subscribe_messages())
            await emitter.start(timeout=30)
            await asyncio.wait_for(done.wait(), 60)  # the last bar has been handled
            await emitter.stop()
            rec.close()
            return rec

    rec = asyncio.run(run())
    return load_recording(rec.save(tmp_path_factory.mktemp("live") / "live.parquet"))


def fresh(fast: int = 5, slow: int = 20, *, raw: bool) -> tuple[EventBus, EventRecorder, list]:
    bus = EventBus()
    rec = EventRecorder(bus)
    SmaCross(bus, fast, slow)
    keep: list = []
    if raw:
        decoder = WebSocketHandler("decoder", adapter="binance")
        bus.register_async(EventType.WEBSOCKET, decoder.handle)
        keep.append(decoder)  # the bus holds bound methods weakly
    return bus, rec, keep


def test_the_live_session_is_complete(live):
    frame = live.frame
    assert (frame["type"] == "bar").sum() == BARS
    assert (frame["type"] == "websocket").sum() >= BARS
    assert len(live.signals()) >= 5
    bars = frame[frame["type"] == "bar"]
    assert bars["cause"].notna().all()  # decoded from the WebSocketEvents


async def test_replaying_the_raw_messages_reproduces_the_signals(live):
    bus, rec, _keep = fresh(raw=True)
    summary = await Replayer(live, bus, what="raw").run_async()
    assert summary.by_type == {"websocket": int((live.frame["type"] == "websocket").sum())}
    assert compare(live, rec, types=("signal",)).empty
    assert compare(live, rec, types=("bar", "signal")).empty
    assert rec.signals().index.equals(live.signals().index)  # event times, in order


def test_a_sync_raw_replay_with_no_loop_reproduces_the_signals(live):
    """``Replayer(...).run()`` from plain code: the decoder is async and there is no loop, so
    each raw message runs its handler to completion inside ``emit`` (issue 9: the signals
    once took the message, not the bar, as cause and the wall clock as time)."""
    bus, rec, _keep = fresh(raw=True)
    Replayer(live, bus, what="raw").run()
    assert compare(live, rec, types=("bar", "signal")).empty
    replayed = rec.to_frame()
    signals = replayed[replayed["type"] == "signal"]
    kinds = replayed.set_index("seq")["type"]
    assert len(signals) >= 5 and (kinds[signals["cause"]] == "bar").all()


async def test_replaying_every_root_reproduces_every_type(live):
    bus, rec, _keep = fresh(raw=True)
    await Replayer(live, bus).run_async()  # websocket messages and the feed's notices
    assert compare(live, rec, types=None).empty


def test_replaying_the_decoded_bars_reproduces_the_signals(live):
    bus, rec, _ = fresh(raw=False)
    summary = Replayer(live, bus, what="bars").run()
    assert summary.by_type == {"bar": BARS}
    assert compare(live, rec, types=("signal",)).empty
    replayed = rec.to_frame()
    signals = replayed[replayed["type"] == "signal"]
    bar_time = replayed.set_index("seq")["event_time"]
    assert (bar_time[signals["cause"]].to_numpy() == signals["event_time"].to_numpy()).all()


def test_a_perturbed_strategy_shows_the_differing_rows(live):
    bus, rec, _ = fresh(fast=8, slow=20, raw=False)
    Replayer(live, bus, what="bars").run()
    diff = compare(live, rec, types=("signal",))
    assert not diff.empty
    assert set(diff["type"]) == {"signal"}
    assert set(diff["status"]) <= {"changed", "only_a", "only_b"}
    assert set(diff["column"].dropna()) <= {"event_time", "price", "signal_type", "symbol"}
    a, b = live.signals(), rec.signals()
    for _, row in diff[diff["status"] == "changed"].iterrows():
        i, j, column = int(row["position_a"]), int(row["position_b"]), row["column"]
        if column == "event_time":
            assert (row["a"], row["b"]) == (a.index[i], b.index[j])
        else:
            assert (row["a"], row["b"]) == (a[column].iloc[i], b[column].iloc[j])
    only = diff[diff["status"] != "changed"]
    assert only["position_a"].notna().sum() + only["position_b"].notna().sum() == len(only)
    both_ways = compare(rec, live, types=("signal",))
    assert len(both_ways) == len(diff)
