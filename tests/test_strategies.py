"""Hot registration: re-running a cell replaces a strategy by name, never duplicates it."""

import datetime as dt
import gc
import weakref

import pytest

from evlab import (
    EventBus,
    EventManager,
    EventType,
    SignalEvent,
    create_bar_event,
    create_signal_event,
)
from evlab.strategies import FunctionStrategy, Strategies

T0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def bar(close=151.0):
    return create_bar_event("AAPL", T0, close, close, close, close, 100)


@pytest.fixture
def setup():
    bus = EventBus()
    book = Strategies(EventManager(bus), report=lambda name, err: reports.append((name, err)))
    signals, reports = [], []
    bus.register(EventType.SIGNAL, signals.append)
    return bus, book, signals, reports


def test_rerunning_a_cell_replaces_the_strategy(setup):
    bus, book, signals, _ = setup

    def cell(threshold):  # what a notebook cell does each time it runs
        @book("sma", on=EventType.BAR)
        def sma(event):
            if event.close > threshold:
                return create_signal_event(SignalEvent.BUY, event.close, event.symbol, "sma")
        return book.get("sma")

    first = cell(100)
    bus.emit(bar())
    probe = weakref.ref(first)
    del first
    cell(200)  # re-run with a new threshold
    gc.collect()
    assert probe() is None  # the old strategy object is gone
    bus.emit(bar())  # 151 is below the new threshold: no signal, and no duplicate from the old
    assert len(signals) == 1 and signals[0].strategy_id == "sma"
    assert len(book) == 1 and bus.handlers(EventType.BAR) == ["sma.on_bar"]
    assert signals[0].cause == 1


def test_classes_instances_and_lists_of_events(setup):
    bus, book, signals, _ = setup

    class Momentum:
        def set_event_bus(self, bus):
            self.bus = bus

        def on_bar(self, event):
            self.bus.emit(create_signal_event("SELL", event.close, event.symbol, "momentum"))

    book.add("momentum", Momentum)
    book.add("twice", lambda e: [create_signal_event("BUY", e.close, e.symbol, "twice")] * 2)
    bus.emit(bar())
    assert sorted(s.strategy_id for s in signals) == ["momentum", "twice", "twice"]
    assert isinstance(book.get("momentum"), Momentum)
    assert isinstance(book.get("twice"), FunctionStrategy)
    assert [row["name"] for row in book.list()] == ["momentum", "twice"]


def test_disable_enable_remove(setup):
    bus, book, signals, _ = setup
    book.add("s", lambda e: create_signal_event("BUY", e.close, e.symbol, "s"))
    book.disable("s")
    bus.emit(bar())
    book.enable("s")
    bus.emit(bar())
    book.remove("s")
    bus.emit(bar())
    assert len(signals) == 1 and signals[0].cause == 2
    assert "s" not in book
    with pytest.raises(KeyError, match="no strategy named 's'"):
        book.disable("s")


def test_errors_are_reported_once_per_type_and_the_feed_goes_on(setup):
    bus, book, signals, reports = setup

    def flaky(event):
        if event.close > 150:
            raise ZeroDivisionError("boom")
        if event.close > 140:
            return "not an event"
        return create_signal_event("BUY", event.close, event.symbol, "flaky")

    book.add("flaky", flaky)
    for close in (151, 152, 153, 145, 146, 130):
        bus.emit(bar(close))
    assert [(name, err.error_type) for name, err in reports] == [
        ("flaky", "ZeroDivisionError"), ("flaky", "TypeError")]
    assert book.errors == {"flaky": {"ZeroDivisionError": 3, "TypeError": 2}}
    assert len(signals) == 1  # the last, good bar still produced its signal


async def test_async_function_strategies(setup):
    bus, book, signals, _ = setup

    @book("async_sma")
    async def async_sma(event):
        return create_signal_event("BUY", event.close, event.symbol, "async_sma")

    await bus.emit_async(bar())
    assert [s.strategy_id for s in signals] == ["async_sma"]


def test_the_default_report_prints_one_line_per_error_type(capsys):
    bus = EventBus()
    book = Strategies(EventManager(bus))
    book.add("broken", lambda e: 1 / 0)
    for _ in range(3):
        bus.emit(bar())
    err = capsys.readouterr().err
    assert err.count("strategy 'broken' raised ZeroDivisionError") == 1


def test_priority_is_kept_across_disable_and_enable(setup):
    bus, book, _, _ = setup
    calls = []
    book.add("late", lambda e: calls.append("late"))
    book.add("first", lambda e: calls.append("first"), priority=10)
    book.disable("first")
    book.enable("first")
    bus.emit(bar())
    assert calls == ["first", "late"]
