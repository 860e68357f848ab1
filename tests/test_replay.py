"""Replayer: order, event times, interleaving, pacing, stepping, background control,
raw vs decoded replays, progress bars, and clear errors. No sleeps, no timing asserts."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import warnings
from collections import deque
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from benchmarks import bench_replay
from evlab import datasets
from evlab.bus import EventBus
from evlab.compare import compare
from evlab.events import (
    BarEvent,
    Event,
    EventType,
    SignalEvent,
    WebSocketEvent,
    create_bar_event,
    create_signal_event,
    create_websocket_event,
)
from evlab.feeds import WebSocketHandler
from evlab.feeds.adapters import get_adapter
from evlab.recording import EventRecorder, RecordingError, load_recording, record
from evlab.replay import Replayer, ReplaySummary
from tests import test_parity as parity

DAY = 86_400_000_000_000


def collect(bus: EventBus, event_type: str = "bar") -> list[Event]:
    out: list[Event] = []
    bus.register(event_type, out.append)
    return out


class Sma:
    """A small SMA crossover: BUY/SELL on crossings, one signal stream per symbol."""

    def __init__(self, bus: EventBus, fast: int = 3, slow: int = 8) -> None:
        self.bus, self.fast, self.slow = bus, fast, slow
        self.closes: dict[str, deque[float]] = {}
        self.above: dict[str, bool] = {}
        bus.subscribe(EventType.BAR, self.on_bar, weak=False)

    def on_bar(self, bar: BarEvent) -> None:
        closes = self.closes.setdefault(bar.symbol, deque(maxlen=self.slow))
        closes.append(bar.close)
        if len(closes) < self.slow:
            return
        values = list(closes)
        above = sum(values[-self.fast:]) / self.fast > sum(values) / self.slow
        if bar.symbol in self.above and above != self.above[bar.symbol]:
            self.bus.emit(create_signal_event("BUY" if above else "SELL", bar.close,
                                              bar.symbol, "sma"))
        self.above[bar.symbol] = above


def recorded_bars(frame: pd.DataFrame, tmp_path, fast: int = 3, slow: int = 8):
    """A recording of ``frame``'s bars replayed through ``Sma`` (saved, loaded back)."""
    bus = EventBus()
    Sma(bus, fast, slow)
    with record(bus) as rec:
        Replayer(frame, bus, source_name="feed").run()
    return load_recording(rec.save(tmp_path / "bars.parquet"))


# --- order and event times ---------------------------------------------------------------

def test_dataset_replays_in_order_with_original_event_times():
    bus = EventBus()
    bars = collect(bus)
    summary = Replayer("btcusd_1m", bus).run(progress=False)
    expected = datasets.load("btcusd_1m")
    assert [b.time_ns for b in bars] == expected.index.asi8.tolist()
    assert [b.close for b in bars] == expected["close"].tolist()
    assert [b.volume for b in bars] == expected["volume"].tolist()
    assert [b.seq for b in bars] == list(range(1, len(expected) + 1))  # stamped anew
    assert all(type(b) is BarEvent and b.cause is None and b.source == "btcusd_1m"
               for b in bars)
    assert summary.events == len(expected) and summary.by_type == {"bar": len(expected)}
    assert summary.first_time == expected.index[0] and summary.last_time == expected.index[-1]
    assert summary.finished and not summary.stopped and summary.rate >= 0


def test_recording_replays_roots_and_strategies_produce_the_rest(tmp_path):
    frame = datasets.load("stocks_daily", symbol="AAPL").iloc[:300]
    rec = recorded_bars(frame, tmp_path)
    assert len(rec.signals()) > 0
    bus = EventBus()
    Sma(bus)
    bars, signals = collect(bus), collect(bus, "signal")
    summary = Replayer(rec, bus).run()
    assert summary.by_type == {"bar": 300}  # the signals were not replayed: made again
    assert [b.time_ns for b in bars] == frame.index.asi8.tolist()
    assert [b.source for b in bars] == ["feed"] * 300
    want = rec.signals()
    assert [s.time_ns for s in signals] == want.index.asi8.tolist()
    assert [s.price for s in signals] == want["price"].tolist()
    bar_of = {b.seq: b for b in bars}
    assert all(bar_of[s.cause].time_ns == s.time_ns for s in signals)
    again = Replayer(rec, EventBus(), what=EventType.SIGNAL).run()  # one type, as recorded
    assert again.by_type == {"signal": len(want)}


def test_replayed_signals_take_the_event_time_of_their_bar():
    bus = EventBus()
    Sma(bus)
    by_seq: dict[int, Event] = {}
    bus.register_all(lambda e: by_seq.__setitem__(e.seq, e))
    Replayer("stocks_daily", bus, symbols="IBM", end="2001-01-01").run()
    signals = [e for e in by_seq.values() if isinstance(e, SignalEvent)]
    assert signals
    for s in signals:
        assert by_seq[s.cause].time_ns == s.time_ns and isinstance(by_seq[s.cause], BarEvent)


# --- interleaving --------------------------------------------------------------------------

def per_symbol_blocks(symbols=("MSFT", "AAPL", "IBM"), days=40) -> pd.DataFrame:
    parts = [datasets.load("stocks_daily", symbol=s).iloc[:days] for s in symbols]
    frame = pd.concat(parts)  # all MSFT, then all AAPL, then all IBM
    frame["symbol"] = frame["symbol"].astype(str)
    return frame


def test_symbols_interleave_by_time_ties_in_row_order():
    frame = per_symbol_blocks()
    runs = []
    for _ in range(2):
        bus = EventBus()
        bars = collect(bus)
        Replayer(frame, bus).run()
        runs.append([(b.time_ns, b.symbol, b.close) for b in bars])
    assert runs[0] == runs[1]  # deterministic
    times = [t for t, _, _ in runs[0]]
    assert times == sorted(times)
    assert [s for _, s, _ in runs[0][:6]] == ["MSFT", "AAPL", "IBM"] * 2  # row order on ties
    expected = frame.iloc[np.lexsort((np.arange(len(frame)), frame.index.asi8))]
    assert [c for _, _, c in runs[0]] == expected["close"].tolist()


def test_a_seq_column_breaks_ties_in_a_frame():
    frame = per_symbol_blocks(days=3)
    frame["seq"] = np.arange(len(frame))[::-1]  # later rows first among equal times
    bus = EventBus()
    bars = collect(bus)
    Replayer(frame, bus).run()
    assert [b.symbol for b in bars[:3]] == ["IBM", "AAPL", "MSFT"]


def test_recording_ties_broken_by_seq_and_order_recorded_keeps_rows():
    frame = per_symbol_blocks(days=5)
    bus = EventBus()
    with record(bus) as rec:
        Replayer(frame, bus, order="recorded").run()  # emitted MSFT*5, AAPL*5, IBM*5
    bus2 = EventBus()
    bars = collect(bus2)
    Replayer(rec, bus2).run()
    assert [b.symbol for b in bars[:3]] == ["MSFT", "AAPL", "IBM"]  # same day: by seq
    assert [b.time_ns for b in bars] == sorted(b.time_ns for b in bars)
    bus3 = EventBus()
    kept = collect(bus3)
    Replayer(rec, bus3, order="recorded").run()
    assert [b.symbol for b in kept] == ["MSFT"] * 5 + ["AAPL"] * 5 + ["IBM"] * 5


def test_symbols_and_time_window_select():
    bus = EventBus()
    bars = collect(bus)
    Replayer("stocks_daily", bus, symbols=["AAPL", "MSFT"], start="2005-01-01",
             end=pd.Timestamp("2005-02-01", tz="UTC")).run()
    assert {b.symbol for b in bars} == {"AAPL", "MSFT"}
    assert min(b.timestamp for b in bars) >= pd.Timestamp("2005-01-01", tz="UTC")
    assert max(b.timestamp for b in bars) < pd.Timestamp("2005-02-01", tz="UTC")


def test_frame_without_symbol_column_is_named_by_symbols():
    frame = datasets.load("btcusd_1m").iloc[:10].drop(columns="symbol")
    bus = EventBus()
    bars = collect(bus)
    Replayer(frame, bus, symbols="BTC").run()
    assert [b.symbol for b in bars] == ["BTC"] * 10


# --- pacing ----------------------------------------------------------------------------------

class FakeClock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_speed_paces_by_event_time_deltas():
    clock = FakeClock()
    frame = datasets.load("btcusd_1m").iloc[:50]
    bus = EventBus()
    bars = collect(bus)
    summary = Replayer(frame, bus, clock=clock, sleep=clock.sleep).run(speed=10)
    t = frame.index.asi8
    assert len(bars) == 50 and summary.speed == 10
    assert sum(clock.sleeps) == pytest.approx((t[-1] - t[0]) / 1e9 / 10)
    gaps = [d / 1e9 / 10 for d in np.diff(t) if d]
    assert clock.sleeps == pytest.approx(gaps)  # one wait per later event time, none first


def test_equal_times_are_not_waited_for():
    clock = FakeClock()
    bus = EventBus()
    Replayer("stocks_daily", bus, end="2000-03-08", clock=clock,
             sleep=clock.sleep).run(speed=86_400)
    assert clock.sleeps == pytest.approx([1.0, 1.0, 3.0, 1.0])  # Mar 1, 2, 3, 6, 7


async def test_run_async_paces_with_an_async_sleep():
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    frame = datasets.load("btcusd_1m").iloc[:20]
    bus = EventBus()
    bars = collect(bus)
    await Replayer(frame, bus, clock=clock, sleep=sleep).run_async(speed=60)
    t = frame.index.asi8
    assert len(bars) == 20
    assert sum(clock.sleeps) == pytest.approx((t[-1] - t[0]) / 1e9 / 60)


def test_speed_must_be_positive():
    with pytest.raises(ValueError, match="speed"):
        Replayer("btcusd_1m", EventBus()).run(speed=0)


# --- step, rewind, run again ------------------------------------------------------------------

def test_step_emits_the_next_events_and_returns_them():
    bus = EventBus()
    bars = collect(bus)
    rp = Replayer("btcusd_1m", bus)
    first = rp.step()
    three = rp.step(3)
    assert [e.seq for e in first + three] == [1, 2, 3, 4] and bars == first + three
    assert rp.progress == (4, len(rp)) and rp.step(0) == []
    summary = rp.run(progress=False)
    assert summary.events == len(rp) - 4 and summary.done == len(rp)
    expected = datasets.load("btcusd_1m").index.asi8.tolist()
    assert [b.time_ns for b in bars] == expected
    assert rp.step(5) == [] and rp.state == "finished"
    assert rp.run().events == 0
    rp.rewind()
    assert rp.step(2)[1].time_ns == expected[1]


# --- background runs: pause, resume, stop, wait ------------------------------------------------

class Gate:
    """A handler that blocks the replay thread at the ``k``-th bar until ``go`` is set."""

    def __init__(self, bus: EventBus, k: int) -> None:
        self.k, self.count = k, 0
        self.reached, self.go = threading.Event(), threading.Event()
        self.bars: list[BarEvent] = []
        self.threads: set[int] = set()
        bus.register(EventType.BAR, self)

    def __call__(self, bar: BarEvent) -> None:
        self.bars.append(bar)
        self.threads.add(threading.get_ident())
        self.count += 1
        if self.count == self.k:
            self.reached.set()
            assert self.go.wait(30)


def test_pause_step_resume_from_another_thread():
    frame = datasets.load("btcusd_1m").iloc[:200]
    bus = EventBus()
    gate = Gate(bus, 10)
    rp = Replayer(frame, bus).start()
    assert gate.reached.wait(30)
    assert rp.running and rp.state == "running"
    rp.pause()
    assert rp.paused and rp.state == "paused"
    with pytest.raises(RuntimeError, match="already running"):
        rp.run()
    gate.go.set()
    stepped = rp.step(2)  # waits for the run to reach its pause, then emits here
    assert [e.time_ns for e in stepped] == frame.index.asi8[10:12].tolist()
    assert rp.progress.done == 12
    rp.resume()
    summary = rp.wait(30)
    assert [b.time_ns for b in gate.bars] == frame.index.asi8.tolist()  # each once, in order
    assert summary.events == 198 and summary.finished and rp.state == "finished"
    assert threading.get_ident() in gate.threads and len(gate.threads) == 2


def test_stop_from_another_thread_keeps_the_position():
    frame = datasets.load("btcusd_1m").iloc[:100]
    bus = EventBus()
    gate = Gate(bus, 30)
    rp = Replayer(frame, bus).start()
    assert gate.reached.wait(30)
    with pytest.raises(RuntimeError, match="pause"):
        rp.step()
    assert rp.stop(timeout=0) is False  # the run is blocked in the gate: not ended yet
    gate.go.set()
    summary = rp.wait(30)
    assert summary.stopped and not summary.finished and summary.events == 30
    assert rp.state == "stopped" and rp.progress == (30, 100)
    rest = rp.run()
    assert rest.events == 70 and rest.finished
    assert [b.time_ns for b in gate.bars] == frame.index.asi8.tolist()


def test_stop_interrupts_a_paced_wait():
    bus = EventBus()
    first = threading.Event()
    bus.register(EventType.BAR, lambda e: first.set())
    rp = Replayer("stocks_daily", bus).start(speed=1.0)  # the next bar is due in a day
    assert first.wait(30)
    assert rp.stop(timeout=30) is True
    summary = rp.wait(0)
    assert summary.stopped and 1 <= summary.events < len(rp)


def test_pause_from_a_handler_and_resume_from_another_thread():
    frame = datasets.load("btcusd_1m").iloc[:50]
    bus = EventBus()
    parked = threading.Event()
    rp = Replayer(frame, bus)
    seen: list[int] = []

    def handler(bar: BarEvent) -> None:
        seen.append(bar.time_ns)
        if len(seen) == 5:
            rp.pause()
            parked.set()

    bus.register(EventType.BAR, handler)
    rp.start()
    assert parked.wait(30)
    assert rp.step(1)[0].time_ns == frame.index.asi8[5]  # the run held after bar 5
    rp.resume()
    rp.wait(30)
    assert seen == frame.index.asi8.tolist()


def test_background_errors_are_raised_by_wait():
    class Boom(BaseException):
        pass

    bus = EventBus()

    def explode(bar: BarEvent) -> None:
        raise Boom("bad")

    bus.register(EventType.BAR, explode)
    rp = Replayer("btcusd_1m", bus).start()
    with pytest.raises(Boom):
        rp.wait(30)
    assert not rp.running


async def test_run_async_awaits_async_handlers_in_order_and_pauses():
    frame = datasets.load("btcusd_1m").iloc[:30]
    bus = EventBus()
    rp = Replayer(frame, bus)
    seen: list[int] = []

    async def handler(bar: BarEvent) -> None:
        seen.append(bar.time_ns)
        if len(seen) == 10:
            rp.pause()
            asyncio.get_running_loop().call_soon(rp.resume)

    bus.register_async(EventType.BAR, handler)
    summary = await rp.run_async()
    assert seen == frame.index.asi8.tolist() and summary.events == 30


# --- raw websocket events vs decoded bars ------------------------------------------------------

async def websocket_session(frame: pd.DataFrame):
    """A recorded session: raw binance kline messages decoded by a WebSocketHandler."""
    adapter = get_adapter("binance")
    bus = EventBus()
    decoder = WebSocketHandler("decoder", adapter=adapter)  # held: the bus holds it weakly
    bus.register_async(EventType.WEBSOCKET, decoder.handle)
    rec = EventRecorder(bus)
    for i, (t, row) in enumerate(frame.iterrows()):
        payload = adapter.encode_bar("BTCUSDT", t.value, row.open, row.high, row.low,
                                     row.close, row.volume)
        await bus.emit_async(create_websocket_event("feed", payload, received_ns=1_000 + i))
    return rec.snapshot()


async def test_raw_replay_runs_the_adapters_again_and_bars_replay_skips_them():
    frame = datasets.load("btcusd_1m").iloc[:40]
    rec = await websocket_session(frame)
    assert set(rec.frame["type"].astype(str)) >= {"websocket", "bar"}

    raw_bus = EventBus()
    decoder = WebSocketHandler("decoder", adapter="binance")
    raw_bus.register_async(EventType.WEBSOCKET, decoder.handle)
    raw_ws, raw_bars = collect(raw_bus, "websocket"), collect(raw_bus)
    summary = await Replayer(rec, raw_bus, what="raw").run_async()
    assert summary.by_type == {"websocket": 40}
    assert all(type(e) is WebSocketEvent for e in raw_ws)
    assert [e.received_ns for e in raw_ws] == list(range(1_000, 1_040))
    assert [b.time_ns for b in raw_bars] == frame.index.asi8.tolist()
    assert all(b.cause == w.seq for b, w in zip(raw_bars, raw_ws, strict=True))

    bar_bus = EventBus()
    ws_seen, bars = collect(bar_bus, "websocket"), collect(bar_bus)
    assert Replayer(rec, bar_bus, what="bars").run().by_type == {"bar": 40}
    assert ws_seen == [] and [b.close for b in bars] == frame["close"].tolist()
    assert [b.source for b in bars] == ["feed"] * 40


async def test_raw_replay_with_sync_run_uses_the_bus_async_rules():
    frame = datasets.load("btcusd_1m").iloc[:10]
    rec = await websocket_session(frame)
    bus = EventBus()
    decoder = WebSocketHandler("decoder", adapter="binance")
    bus.register_async(EventType.WEBSOCKET, decoder.handle)
    bars = collect(bus)
    with pytest.warns(RuntimeWarning, match="WebSocketHandler.handle will run only after"):
        Replayer(rec, bus, what=["websocket"]).run()
    assert bars == []  # the decoder runs once this coroutine awaits
    await bus.drain()
    assert [b.time_ns for b in bars] == frame.index.asi8.tolist()


def test_what_all_and_user_event_classes(tmp_path):
    @dataclasses.dataclass(frozen=True, slots=True, repr=False)
    class Note(Event):
        type = "note"
        text: str = ""

    bus = EventBus()
    with record(bus) as rec:
        bus.emit(Note(text="hello", time_ns=5))
        bus.emit(create_bar_event("AAPL", 7, 10.0, 11.0, 9.0, 10.5, 100.0))
    out = EventBus()
    seen: list[Event] = []
    out.register_all(seen.append)
    Replayer(rec, out, what="all", classes=[Note]).run()
    assert [type(e) for e in seen] == [Note, BarEvent] and seen[0].text == "hello"
    path = rec.save(tmp_path / "notes.parquet")
    assert Replayer(path, EventBus(), what=["note"], classes=[Note]).run().by_type == {"note": 1}


def test_several_sessions_in_a_folder(tmp_path):
    for i, name in enumerate(("a", "b")):
        bus = EventBus()
        Sma(bus)
        with record(bus) as rec:
            Replayer("stocks_daily", bus, symbols="IBM", start=f"200{i}-06-01",
                     end=f"200{i}-09-01").run()
        rec.save(tmp_path / "runs" / f"{name}.parquet")
    both = load_recording(tmp_path / "runs")
    bus = EventBus()
    bars = collect(bus)
    summary = Replayer(tmp_path / "runs", bus).run()
    assert summary.by_type == {"bar": int((both.frame["type"] == "bar").sum())}
    assert [b.time_ns for b in bars] == sorted(b.time_ns for b in bars)


# --- progress bars ---------------------------------------------------------------------------

class FakeBar:
    made: ClassVar[list[FakeBar]] = []

    def __init__(self, **options) -> None:
        self.options, self.updates, self.closed = options, [], False
        FakeBar.made.append(self)

    def update(self, n: int) -> None:
        self.updates.append(n)

    def close(self) -> None:
        self.closed = True


def test_progress_bar_on_long_replays_only():
    FakeBar.made = []
    summary = Replayer("stocks_daily", EventBus(), progress_factory=FakeBar).run()
    (bar,) = FakeBar.made
    assert summary.progress_bar and bar.closed and bar.options["total"] == 12_154
    assert sum(bar.updates) == 12_154 and len(bar.updates) < 100  # by chunks
    short = Replayer("btcusd_1m", EventBus(), progress_factory=FakeBar, end="2016-10-07 01:00")
    assert not short.run().progress_bar and len(FakeBar.made) == 1
    assert short.rewind() is None and short.run(progress=True).progress_bar
    assert not Replayer("stocks_daily", EventBus(), progress=False,
                        progress_factory=FakeBar).run().progress_bar
    assert len(FakeBar.made) == 2


def test_default_progress_bar_is_tqdm(capsys):
    summary = Replayer("btcusd_1m", EventBus(), progress=True).run()
    assert summary.progress_bar
    assert "replay dataset 'btcusd_1m'" in capsys.readouterr().err


# --- summaries ---------------------------------------------------------------------------------

def test_summary_as_dict_and_text():
    summary = Replayer("stocks_daily", EventBus(), symbols="FB").run()
    assert isinstance(summary, ReplaySummary)
    d = summary.to_dict()
    assert d["events"] == summary.events == d["by_type"]["bar"] and d["total"] == d["done"]
    assert "replayed" in str(summary) and "finished" in str(summary)
    assert set(d) >= {"first_time", "last_time", "wall_seconds", "rate", "speed"}


def test_missing_symbol_is_named():
    frame = datasets.load("btcusd_1m").iloc[:5].copy()
    frame["symbol"] = frame["symbol"].astype(object)
    frame.iloc[2, frame.columns.get_loc("symbol")] = None
    with pytest.raises(ValueError, match=r"row 2 .*: symbol must be a non-empty string, got None"):
        Replayer(frame, EventBus())


def test_lab_replays_in_the_background_and_stops():
    from evlab.lab import Lab

    with Lab(name="replay-test") as lab:
        gate = Gate(lab.bus, 5)
        rp = lab.replay("btcusd_1m")
        assert gate.reached.wait(30) and rp.running
        rp.stop(timeout=0)
        gate.go.set()
        assert rp.wait(30).stopped
        done = lab.replay("btcusd_1m", background=False, end="2016-10-07 00:30")
        assert done.state == "finished"
    assert (lab.frame()["type"] == "bar").sum() == 5 + done.progress.done


def test_recorder_as_source_and_repr():
    bus = EventBus()
    with record(bus) as rec:
        Replayer("btcusd_1m", bus, end="2016-10-07 00:10").run()
    rp = Replayer(rec, EventBus())
    assert len(rp) == 10 and "0/10 events, ready" in repr(rp)


# --- bad inputs ----------------------------------------------------------------------------------

def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        Replayer("nope", EventBus())


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no such file"):
        Replayer("/no/such/bars.parquet", EventBus())


def test_frame_missing_columns():
    frame = datasets.load("btcusd_1m").drop(columns=["high", "volume"])
    with pytest.raises(ValueError, match=r"missing column\(s\) high, volume"):
        Replayer(frame, EventBus())


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        Replayer(path, EventBus())


def test_truncated_recording(tmp_path):
    bus = EventBus()
    with record(bus) as rec:
        Replayer("btcusd_1m", bus).run()
    data = rec.save(tmp_path / "r.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        Replayer(tmp_path / "cut.parquet", EventBus())


@pytest.mark.parametrize(("column", "value", "message"), [
    ("high", 1.0, r"row 3 \(2016-10-07 00:03:00\+00:00, 'BTC-USD'\): high must be >= low"),
    ("close", float("nan"), "row 3 .*: close must be finite and > 0, got nan"),
    ("volume", -1.0, "row 3 .*: volume must be finite and >= 0, got -1.0"),
    ("open", 10_000.0, r"row 3 .*: open must lie in \[low, high\], got 10000.0"),
])
def test_bad_bar_rows_name_the_row_and_field(column, value, message):
    frame = datasets.load("btcusd_1m").iloc[:10].copy()
    frame.iloc[3, frame.columns.get_loc(column)] = value
    bus = EventBus()
    bars = collect(bus)
    with pytest.raises(ValueError, match=message):
        Replayer(frame, bus)
    assert bars == []  # nothing emitted
    assert Replayer(frame, bus, validate=False).plan.name == "bars DataFrame"


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"what": "raw"}, ValueError, "holds bars, no raw WebSocketEvents"),
    ({"what": "bogus"}, ValueError, "what: must be one of"),
    ({"what": ["signal"]}, ValueError, "nothing to replay"),
    ({"symbols": "ZZZ"}, ValueError, "unknown symbol"),
    ({"start": "2030-01-01"}, ValueError, "nothing to replay"),
    ({"order": "random"}, ValueError, "order: must be one of"),
    ({"chunk": 0}, ValueError, "chunk"),
])
def test_bad_options(kwargs, error, message):
    with pytest.raises(error, match=message):
        Replayer("stocks_daily", EventBus(), **kwargs)


def test_bad_sources():
    with pytest.raises(TypeError, match="expected a Recording"):
        Replayer(42, EventBus())
    with pytest.raises(TypeError, match="bus must be an EventBus"):
        Replayer("btcusd_1m", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no symbol column"):
        Replayer(datasets.load("btcusd_1m").drop(columns="symbol"), EventBus())
    bus = EventBus()
    with record(bus) as rec:
        Replayer("btcusd_1m", bus, end="2016-10-07 00:05").run()
    with pytest.raises(ValueError, match="recording's frame"):
        Replayer(rec.to_frame(), EventBus())
    with pytest.raises(ValueError, match="nothing to replay"):
        Replayer(rec, EventBus(), what="raw")


def test_unloadable_user_class():
    @dataclasses.dataclass(frozen=True, slots=True, repr=False)
    class Ghost(Event):
        type = "ghost"

    bus = EventBus()
    with record(bus) as rec:
        bus.emit(Ghost(time_ns=1))
    with pytest.raises(RecordingError, match="Ghost: it is not loaded"):
        Replayer(rec, EventBus(), what="all")  # a local class: pass it with classes=
    assert Replayer(rec, EventBus(), what="all", classes=[Ghost]).run().events == 1


# --- the benchmark runs ---------------------------------------------------------------------

def test_replay_benchmark_quick_run(capsys):
    result = bench_replay.run(n=2_000, show=True, repeat=1)
    assert result["n"] == 2_000 and all(rate > 0 for rate in result["rates"].values())
    assert "x floor" in capsys.readouterr().out


# --- the README ------------------------------------------------------------------------------

def test_readme_record_save_replay_block_runs_as_pasted(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("\n## Record, save, replay\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # the block saves session.parquet where it runs
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)  # the project's own documentation
    assert capsys.readouterr().out.startswith("Empty DataFrame")
    assert (tmp_path / "session.parquet").is_file()
    signals = names["session"].signals()
    assert len(signals) > 10 and (signals["signal_type"] == "BUY").all()
    pd.testing.assert_frame_equal(names["replayed"].signals().drop(columns=["seq", "cause"]),
                                  signals.drop(columns=["seq", "cause"]))


# --- a default replay of a live session (recorded over the local feed server) ---------------

live = parity.live  # the fixture: a live session over the local feed server, saved and loaded
BARS, fresh = parity.BARS, parity.fresh


def test_a_default_replay_of_a_live_session_without_a_decoder_replays_its_bars(live):
    bus, rec, _ = fresh(raw=False)  # the strategy, and nothing to decode raw messages
    raw = int((live.frame["type"] == "websocket").sum())
    with pytest.warns(UserWarning, match=rf"Replayer: the bus has no WEBSOCKET handler to "
                                         rf"decode recording \w+'s {raw:,} raw messages: "
                                         rf"replaying its {BARS} recorded bars in their place "
                                         r"\(what='bars'"):
        replay = Replayer(live, bus)
    summary = replay.run()
    assert summary.by_type["bar"] == BARS and "websocket" not in summary.by_type
    assert len(rec.signals()) >= 5
    assert compare(live, rec, types=("bar", "signal")).empty


def test_a_default_replay_with_a_decoder_still_replays_the_raw_messages(live):
    bus, rec, _keep = fresh(raw=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = Replayer(live, bus).run()
    assert summary.by_type["websocket"] == int((live.frame["type"] == "websocket").sum())
    assert "bar" not in summary.by_type  # the decoder makes them again
    assert compare(live, rec, types=("bar", "signal")).empty


def test_raw_messages_with_no_bars_and_no_decoder_say_what_is_missing():
    bus = EventBus()
    with record(bus) as raw_only:
        for i in range(3):
            bus.emit(create_websocket_event("binance", f'{{"i":{i}}}', 1_700_000_000 * 10**9 + i))
    with pytest.warns(UserWarning, match=r"roots are 3 raw WebSocket messages and the bus has "
                                         r"no WEBSOCKET handler .*subscribe a WebSocketHandler"):
        Replayer(raw_only, EventBus())


def test_a_sync_run_under_a_running_loop_warns_that_async_handlers_come_later():
    """In a notebook cell (a running loop on this thread) ``run()`` cannot await the async
    handlers: it says so by name instead of leaving their events silently missing."""
    import asyncio

    import pytest

    from evlab import EventBus, EventType, Replayer

    bus = EventBus()
    seen: list[object] = []

    async def decoder(event):
        seen.append(event)

    bus.register_async(EventType.BAR, decoder)
    bars = datasets.load("btcusd_1m").iloc[:3]

    async def cell():
        with pytest.warns(RuntimeWarning, match=r"decoder will run only after.*run_async"):
            Replayer(bars, bus).run()
        assert seen == []  # not yet: they run once the cell returns to the loop
        await bus.drain()
        assert len(seen) == 3

    asyncio.run(cell())
    Replayer(bars, bus).run()  # no loop here: nothing to warn about (RuntimeWarning = error)
