"""evlab.widgets: the bus monitor panel and the live event log (fake clocks, no sleeps)."""

from __future__ import annotations

import asyncio
import threading

import ipywidgets
import pandas as pd
import pytest

from evlab import (
    EventBus,
    EventType,
    create_bar_event,
    create_signal_event,
    create_system_event,
)
from evlab.widgets import BusMonitor, EventLog
from tests.test_plot import FakeTime

T0 = pd.Timestamp("2024-03-01 14:30", tz="UTC").value
SEC = 1_000_000_000


def bar(i: int, symbol: str = "AAPL"):
    return create_bar_event(symbol, T0 + i * SEC, 100, 101, 99, 100.5, 10)


@pytest.fixture
def fake():
    return FakeTime()


@pytest.fixture
def bus():
    bus = EventBus()
    bus.register(EventType.BAR, lambda b: bus.emit(
        create_signal_event("BUY", b.close, b.symbol, "demo")) if b.time_ns % (3 * SEC) == 0
        else None, name="demo_strategy")
    return bus


class Emitter:
    name = "coinbase"

    def __init__(self) -> None:
        self.stats = {"received": 120, "delivered": 118, "dropped": 2, "reconnects": 1,
                      "errors": 0, "connected": True}

    def get_stats(self):
        return dict(self.stats)


class Decoder:
    """A WebSocketHandler-like object: reports gaps and duplicates, no 'dropped'."""

    def get_stats(self):
        return {"messages": 118, "gaps": 3, "duplicates": 1, "errors": 2}


class Broken:
    def get_stats(self):
        raise RuntimeError("gone")


# --- BusMonitor --------------------------------------------------------------------------------

def test_monitor_numbers_match_the_bus(bus, fake):
    bus.emit(bar(-1))  # before the monitor: in the totals, not in the rates
    monitor = BusMonitor(bus, clock=fake)
    for i in range(30):
        bus.emit(bar(i))
    fake.now = 2.0
    snap = monitor.refresh()
    stats = bus.get_stats()
    assert snap["events"]["bar"] == {"total": 31, "per_s": 15.0}
    assert snap["events"]["signal"]["total"] == stats["events_emitted"]["signal"] == 10
    assert snap["events"]["signal"]["per_s"] == 5.0
    assert snap["events_per_s"] == 20.0 and snap["total_events"] == stats["total_events"]
    rows = {h["handler"]: h for h in snap["handlers"]}
    assert rows["demo_strategy"]["calls"] == 30 and rows["demo_strategy"]["calls_per_s"] == 15.0
    assert rows["demo_strategy"]["mean_us"] > 0 and rows["demo_strategy"]["max_us"] > 0
    assert not any(name.startswith("BusMonitor") for name in rows)
    assert "demo_strategy" in monitor.widget.value and "15.0" in monitor.widget.value
    assert isinstance(monitor.widget, ipywidgets.HTML)
    # the next refresh: rates from the deltas since this one
    for i in range(30, 40):
        bus.emit(bar(i))
    fake.now = 3.0
    snap = monitor.refresh()
    assert snap["events"]["bar"]["per_s"] == 10.0
    assert {h["handler"]: h for h in snap["handlers"]}["demo_strategy"]["calls_per_s"] == 10.0
    monitor.close()


def test_monitor_counts_errors_and_shows_the_last_ones(fake):
    bus = EventBus()

    def flaky(b):
        raise ValueError("no price")

    bus.register(EventType.BAR, flaky)
    monitor = BusMonitor(bus, clock=fake)
    bus.emit(bar(0))
    bus.emit(bar(1))
    snap = monitor.refresh()
    assert snap["errors"] == 2 == bus.get_stats()["total_errors"]
    assert snap["handler_errors"] == {"test_monitor_counts_errors_and_shows_the_last_ones."
                                      "<locals>.flaky": 2}
    assert len(snap["last_errors"]) == 2 and "ValueError: no price" in snap["last_errors"][-1]
    assert "no price" in monitor.widget.value
    monitor.close()


async def test_monitor_shows_a_stuck_async_handler_and_its_drops(fake):
    bus = EventBus(async_backlog=5, stuck_after=0.0)
    never, started = asyncio.Event(), asyncio.Event()

    async def stuck_writer(b):
        started.set()
        await never.wait()

    bus.register_async(EventType.BAR, stuck_writer)
    monitor = BusMonitor(bus, clock=fake)
    for i in range(10):
        bus.emit(bar(i))
    await asyncio.wait_for(started.wait(), 30)  # its first call is under way
    snap = monitor.refresh()
    name = "test_monitor_shows_a_stuck_async_handler_and_its_drops.<locals>.stuck_writer"
    assert snap["stuck"] == [name] and snap["async_dropped"] == {name: 5}
    assert "stuck" in monitor.widget.value and "stuck_writer" in monitor.widget.value
    never.set()
    await bus.drain()
    monitor.close()


def test_monitor_reads_feeds_tolerating_missing_counters(bus, fake):
    monitor = BusMonitor(bus, emitters=[Emitter()], handlers=[Decoder(), Broken()], clock=fake)
    snap = monitor.snapshot
    coinbase, decoder, broken = snap["feeds"]
    assert coinbase["name"] == "coinbase" and coinbase["dropped"] == 2
    assert decoder["name"] == "Decoder" and decoder["gaps"] == 3 and decoder["dropped"] is None
    assert broken["received"] is None
    assert (snap["dropped"], snap["reconnects"], snap["gaps"]) == (2, 1, 3)
    assert "coinbase" in monitor.widget.value
    monitor.close()


def test_without_feeds_gaps_and_reconnects_come_from_system_events(bus, fake):
    monitor = BusMonitor(bus, clock=fake)
    bus.emit(create_system_event("gap", "AAPL: 2 bars missing"))
    bus.emit(create_system_event("reconnecting", "retry in 1 s"))
    bus.emit(create_system_event("gap", "AAPL: 1 bar missing"))
    snap = monitor.refresh()
    assert (snap["gaps"], snap["reconnects"]) == (2, 1)
    assert snap["system"] == {"gap": 2, "reconnecting": 1}
    monitor.close()


def test_monitor_turns_profiling_on_and_back_off(bus, fake):
    monitor = BusMonitor(bus, clock=fake)
    assert bus.profiling
    monitor.close()
    assert not bus.profiling
    assert not any(n.startswith("BusMonitor") for n in bus.handlers(EventType.SYSTEM))
    bus.profile(True)  # already on: the monitor leaves it as it found it
    BusMonitor(bus, clock=fake).close()
    assert bus.profiling


async def test_monitor_refreshes_itself_on_the_running_loop(bus):
    monitor = BusMonitor(bus, interval=0.01)
    refreshed = asyncio.Event()
    monitor.on_refresh.append(lambda snapshot: refreshed.set())
    bus.emit(bar(0))
    await asyncio.wait_for(refreshed.wait(), 5)  # the loop's timer refreshed it
    assert monitor.snapshot["events"]["bar"]["total"] == 1
    monitor.close()
    refreshed.clear()
    assert monitor._timer is None


# --- EventLog ----------------------------------------------------------------------------------

def test_event_log_shows_the_last_n_events_newest_first(bus, fake):
    log = EventLog(bus, last=50, clock=fake, schedule=fake.schedule)
    emitted = [bus.emit(bar(i)) for i in range(60)]
    fake.advance(1.0)
    rows = log.rows()
    assert len(rows) == 50
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == emitted[-1].seq
    signal = next(r for r in rows if r["type"] == "signal")
    assert signal["cause"] is not None and signal["summary"] == "BUY @ 100.5 (demo)"
    top = rows[0]
    assert top["symbol"] == "AAPL" and top["time"] == "2024-03-01 14:30:59.000"
    assert f">{emitted[-1].seq}<" in log.widget.value
    assert list(log.to_frame().columns) == ["seq", "type", "time", "symbol", "summary",
                                            "cause", "source"]
    log.close()


def test_event_log_coalesces_its_redraws(bus, fake):
    log = EventLog(bus, last=10, max_fps=4, clock=fake, schedule=fake.schedule)
    renders = log.renders
    for i in range(100):
        fake.advance(i / 100)  # 100 bars (and their signals) in one fake second
        bus.emit(bar(i))
    fake.advance(2.0)
    assert log.renders - renders <= 5
    assert f">{log.events[-1].seq}<" in log.widget.value  # the last one is shown


def test_event_log_filters_types_and_takes_events_from_threads(bus, fake):
    log = EventLog(bus, last=1000, types=[EventType.BAR], clock=fake, schedule=fake.schedule)
    threads = [threading.Thread(target=lambda k=k: [bus.emit(bar(i)) for i in range(k, 400, 4)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.flush()
    assert len(log.rows()) == 400 and {r["type"] for r in log.rows()} == {"bar"}
    log.clear()
    assert log.rows() == [] and "last 0 of 1000" in log.widget.value
    log.close()
    bus.emit(bar(500))
    assert log.rows() == []


def test_widgets_display_as_widgets(bus, fake):
    for widget in (BusMonitor(bus, clock=fake), EventLog(bus, clock=fake, schedule=fake.schedule)):
        assert "application/vnd.jupyter.widget-view+json" in widget._repr_mimebundle_()
        assert type(widget).__name__ in repr(widget)
        widget.close()
