"""EventBus behaviour: ordering, re-entrancy, weak references, errors, threads, async."""

import asyncio
import datetime as dt
import gc
import json
import logging
import threading
import weakref

import pytest

from evlab import (
    ErrorEvent,
    Event,
    EventBus,
    EventType,
    SignalEvent,
    create_bar_event,
    create_signal_event,
)

T0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def bar(close=151.0, symbol="AAPL"):
    return create_bar_event(symbol, T0, 150.0, 152.0, 149.0, close, 100)


class Component:
    def __init__(self):
        self.seen = []

    def on_bar(self, event):
        self.seen.append(event)


# --- order and re-entrancy -------------------------------------------------------------

def test_handlers_run_in_registration_order_and_priority_reorders():
    bus = EventBus()
    calls = []
    bus.register(EventType.BAR, lambda e: calls.append("a"))
    bus.register(EventType.BAR, lambda e: calls.append("b"))
    bus.register(EventType.BAR, lambda e: calls.append("first"), priority=10)
    bus.register(EventType.BAR, lambda e: calls.append("last"), priority=-1)
    bus.emit(bar())
    assert calls == ["first", "a", "b", "last"]


def test_reentrant_emit_is_dispatched_depth_first_with_its_cause():
    bus = EventBus()
    calls = []

    def strategy(event):
        calls.append(("strategy", event.seq))
        bus.emit(create_signal_event(SignalEvent.BUY, event.close, event.symbol, "s"))
        calls.append(("strategy done", event.seq))

    bus.register(EventType.BAR, strategy)
    bus.register(EventType.BAR, lambda e: calls.append(("after", e.seq)))
    bus.register(EventType.SIGNAL, lambda e: calls.append(("signal", e.seq, e.cause)))
    b = bus.emit(bar())
    # the signal is handled inside the strategy, before the next bar handler runs
    assert calls == [("strategy", 1), ("signal", 2, 1), ("strategy done", 1), ("after", 1)]
    assert b.seq == 1 and b.cause is None


def test_causality_chain_bar_signal_order_fill():
    from evlab import create_fill_event, create_order_event

    bus = EventBus()
    log = []
    bus.register_all(log.append, priority=100)
    bus.register(EventType.BAR, lambda e: bus.emit(
        create_signal_event("BUY", e.close, e.symbol, "s")))
    bus.register(EventType.SIGNAL, lambda e: bus.emit(create_order_event(e.symbol, "BUY", 1)))
    bus.register(EventType.ORDER, lambda e: bus.emit(
        create_fill_event(e.symbol, "BUY", 1, 151.0)))
    first = bus.emit(bar())
    kinds = [(str(e.type), e.seq, e.cause) for e in log]
    assert kinds == [("bar", 1, None), ("signal", 2, 1), ("order", 3, 2), ("fill", 4, 3)]
    assert all(e.time_ns == first.time_ns for e in log)  # event time flows down the chain
    assert all(e.emit_time_ns >= first.emit_time_ns for e in log)


def test_emitting_a_stamped_event_again_emits_a_copy():
    bus = EventBus()
    seen = []
    bus.register(EventType.BAR, seen.append)
    b = bus.emit(bar())
    again = bus.emit(b)
    assert again is not b and again == b and (b.seq, again.seq) == (1, 2)


def test_emit_rejects_non_events():
    bus = EventBus()
    with pytest.raises(TypeError, match="emit\\(\\) takes an Event, got dict"):
        bus.emit({"type": "bar"})


def test_register_rejects_bad_arguments():
    bus = EventBus()
    with pytest.raises(TypeError, match="callable"):
        bus.register(EventType.BAR, 42)
    with pytest.raises(TypeError, match="event_type"):
        bus.register(3.5, print)

    def plain(event):
        pass

    with pytest.raises(TypeError, match=r"register_async.*plain"):
        bus.register_async(EventType.BAR, plain)


def test_register_works_as_a_decorator_and_unregister_removes():
    bus = EventBus()
    seen = []

    @bus.register(EventType.BAR)
    def on_bar(event):
        seen.append(event.seq)

    bus.emit(bar())
    assert bus.unregister(EventType.BAR, on_bar) is True
    assert bus.unregister(EventType.BAR, on_bar) is False
    bus.emit(bar())
    assert seen == [1]


def test_subscription_as_context_manager():
    bus = EventBus()
    seen = []
    with bus.subscribe(EventType.BAR, seen.append):
        bus.emit(bar())
    bus.emit(bar())
    assert len(seen) == 1 and bus.get_stats()["active_handlers"] == 0


def test_register_all_sees_every_type_in_order():
    bus = EventBus()
    seen = []
    bus.register_all(lambda e: seen.append(str(e.type)))
    bus.emit(bar())
    bus.emit(create_signal_event("SELL", 1.0, "AAPL", "s"))
    assert seen == ["bar", "signal"]
    assert [h.rsplit(".", 1)[-1] for h in bus.handlers(EventType.SIGNAL)] == ["<lambda>"]


def test_every_type_handlers_interleave_with_named_ones_by_priority():
    # the routes of the types nobody names share the every-type handlers: they must still
    # run in priority order among a named type's handlers, and stop once those are gone
    bus = EventBus()
    calls = []
    bus.register_all(lambda e: calls.append(("all", str(e.type))), priority=5)
    first = bus.register(EventType.BAR, lambda e: calls.append(("first", "bar")), priority=10)
    bus.register(EventType.BAR, lambda e: calls.append(("last", "bar")), priority=-1)
    bus.register_all(lambda e: calls.append(("all-late", str(e.type))))
    bus.emit(bar())
    bus.emit(create_signal_event("SELL", 1.0, "AAPL", "s"))
    assert calls == [("first", "bar"), ("all", "bar"), ("all-late", "bar"), ("last", "bar"),
                     ("all", "signal"), ("all-late", "signal")]
    calls.clear()
    assert bus.unregister(EventType.BAR, first)
    bus.emit(bar())
    assert calls == [("all", "bar"), ("all-late", "bar"), ("last", "bar")]
    assert bus.get_stats()["events_emitted"] == {"bar": 2, "signal": 1}


# --- weak references ----------------------------------------------------------------

def test_deleted_component_stops_receiving_at_once_without_cleanup():
    bus = EventBus(use_weak_refs=True)
    comp = Component()
    bus.register(EventType.BAR, comp.on_bar)
    bus.emit(bar())
    probe = weakref.ref(comp)
    seen = comp.seen
    del comp
    gc.collect()
    assert probe() is None  # the bus did not keep it alive
    bus.emit(bar())
    assert len(seen) == 1
    stats = bus.get_stats()
    assert stats["active_handlers"] == 0 and stats["dead_refs_cleaned"] == 1
    assert bus.cleanup() == 0  # nothing left to sweep


def test_cleanup_sweeps_components_that_died_in_a_cycle():
    bus = EventBus(use_weak_refs=True)
    comp = Component()
    comp.me = comp  # a reference cycle: freed only by the cycle collector
    bus.register(EventType.BAR, comp.on_bar)
    gc.disable()
    try:
        del comp
        assert bus.get_stats()["active_handlers"] == 1
    finally:
        gc.enable()
    gc.collect()
    bus.cleanup()
    assert bus.get_stats()["active_handlers"] == 0
    assert bus.get_stats()["dead_refs_cleaned"] == 1


def test_lambdas_functions_and_unweakrefable_methods_are_held_strongly():
    bus = EventBus(use_weak_refs=True)
    seen = []
    bus.register(EventType.BAR, lambda e: seen.append("lambda"))

    def local(event):
        seen.append("function")

    bus.register(EventType.BAR, local)
    del local
    bus.register(EventType.BAR, seen.append)  # a list's method: lists have no weakrefs
    gc.collect()
    bus.emit(bar())
    assert seen[:2] == ["lambda", "function"] and isinstance(seen[2], Event)


def test_strong_refs_keep_components_alive():
    bus = EventBus(use_weak_refs=False)
    comp = Component()
    bus.register(EventType.BAR, comp.on_bar)
    seen = comp.seen
    del comp
    gc.collect()
    bus.emit(bar())
    assert len(seen) == 1


def test_unregister_a_weakly_held_bound_method():
    bus = EventBus()
    comp = Component()
    bus.register(EventType.BAR, comp.on_bar)
    assert bus.unregister(EventType.BAR, comp.on_bar) is True
    bus.emit(bar())
    assert comp.seen == []


# --- errors --------------------------------------------------------------------------

def test_a_failing_handler_does_not_stop_the_others(caplog):
    bus = EventBus()
    seen, errors = [], []

    def broken(event):
        raise ZeroDivisionError("bad maths")

    bus.register(EventType.BAR, broken)
    bus.register(EventType.BAR, seen.append)
    bus.register(EventType.ERROR, errors.append)
    with caplog.at_level(logging.ERROR, logger="evlab"):
        b = bus.emit(bar())
    assert seen == [b]
    assert len(errors) == 1
    err = errors[0]
    assert isinstance(err, ErrorEvent)
    assert (err.handler, err.original_seq, err.original_type) == (
        "test_a_failing_handler_does_not_stop_the_others.<locals>.broken", b.seq, "bar")
    assert err.error_type == "ZeroDivisionError" and "bad maths" in err.message
    assert err.cause == b.seq
    assert "bad maths" in caplog.text and caplog.records[0].name == "evlab"
    stats = bus.get_stats()
    assert stats["handler_errors"] == {err.handler: 1} and stats["total_errors"] == 1


def test_errors_in_error_handlers_are_counted_but_never_republished():
    bus = EventBus()
    errors = []

    def broken(event):
        raise RuntimeError("first")

    def broken_error_handler(event):
        errors.append(event)
        raise RuntimeError("second")

    bus.register(EventType.BAR, broken)
    bus.register(EventType.ERROR, broken_error_handler)
    bus.emit(bar())
    assert len(errors) == 1
    stats = bus.get_stats()
    assert sum(stats["handler_errors"].values()) == 2
    assert stats["events_emitted"] == {"bar": 1, "error": 1}


def test_errors_are_counted_per_handler_even_with_equal_names():
    bus = EventBus()
    bus.register(EventType.BAR, lambda e: 1 / 0)
    bus.register(EventType.BAR, lambda e: 1 / 0)
    bus.emit(bar())
    bus.emit(bar())
    errors = bus.get_stats()["handler_errors"]
    assert sorted(name.rsplit(".", 1)[-1] for name in errors) == ["<lambda>", "<lambda>#2"]
    assert list(errors.values()) == [2, 2]


# --- stats ---------------------------------------------------------------------------

def test_stats_count_events_per_type_and_handlers():
    bus = EventBus()
    bus.register(EventType.BAR, lambda e: None)
    bus.register(EventType.SIGNAL, lambda e: None)
    bus.register_all(lambda e: None)
    for _ in range(3):
        bus.emit(bar())
    bus.emit(create_signal_event("BUY", 1.0, "AAPL", "s"))
    stats = bus.get_stats()
    assert stats["active_handlers"] == 3
    assert stats["handlers_by_type"] == {"bar": 1, "signal": 1, "*": 1}
    assert stats["events_emitted"] == {"bar": 3, "signal": 1}
    assert stats["total_events"] == 4
    assert bus.get_stats()["total_events"] == 4  # reading the counts does not change them
    assert "4 events" in repr(bus)


# --- threads -------------------------------------------------------------------------

def test_concurrent_emits_from_threads_lose_and_double_nothing():
    bus = EventBus()
    seen = []
    lock = threading.Lock()

    def collect(event):
        with lock:
            seen.append(event)

    bus.register(EventType.BAR, collect)
    bus.register(EventType.SIGNAL, collect)
    threads_n, per_thread = 4, 5000
    start = threading.Barrier(threads_n)

    def worker(i):
        start.wait()
        for k in range(per_thread):
            if k % 2:
                bus.emit(bar(symbol=f"S{i}"))
            else:
                bus.emit(create_signal_event("BUY", 1.0, f"S{i}", f"t{i}"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = threads_n * per_thread
    assert len(seen) == total
    assert sorted(e.seq for e in seen) == list(range(1, total + 1))  # unique, none lost
    stats = bus.get_stats()
    assert stats["events_emitted"] == {"bar": total // 2, "signal": total // 2}
    for i in range(threads_n):
        assert sum(1 for e in seen if e.symbol == f"S{i}") == per_thread


def test_causes_do_not_leak_across_threads():
    bus = EventBus()
    results = {}
    inside = threading.Event()
    release = threading.Event()

    def slow_strategy(event):
        inside.set()
        release.wait(timeout=10)

    bus.register(EventType.BAR, slow_strategy)
    bus.register(EventType.SIGNAL, lambda e: results.setdefault("cause", e.cause))
    t = threading.Thread(target=bus.emit, args=(bar(),))
    t.start()
    inside.wait(timeout=10)
    bus.emit(create_signal_event("BUY", 1.0, "AAPL", "s"))  # another thread is mid-dispatch
    release.set()
    t.join()
    assert results["cause"] is None


# --- async ---------------------------------------------------------------------------

async def test_emit_async_returns_after_sync_and_async_handlers_in_order():
    bus = EventBus()
    calls = []

    async def slow(event):
        await asyncio.sleep(0)
        calls.append("async 1")

    async def second(event):
        calls.append("async 2")

    bus.register_async(EventType.BAR, slow)
    bus.register(EventType.BAR, lambda e: calls.append("sync"))
    bus.register(EventType.BAR, second)  # register() recognises async def too
    await bus.emit_async(bar())
    assert calls == ["async 1", "sync", "async 2"]


async def test_emit_async_isolates_errors_and_tracks_causes_across_awaits():
    bus = EventBus()
    got = []

    async def broken(event):
        await asyncio.sleep(0)
        raise ValueError("nope")

    async def strategy(event):
        await asyncio.sleep(0)
        await bus.emit_async(create_signal_event("BUY", event.close, event.symbol, "s"))

    bus.register_async(EventType.BAR, broken)
    bus.register_async(EventType.BAR, strategy)
    bus.register(EventType.SIGNAL, got.append)
    bus.register(EventType.ERROR, got.append)
    b1, b2 = await asyncio.gather(bus.emit_async(bar(1.0 + 150)), bus.emit_async(bar(150.5)))
    signals = {e.cause: e for e in got if isinstance(e, SignalEvent)}
    assert signals[b1.seq].price == b1.close and signals[b2.seq].price == b2.close
    errors = [e for e in got if isinstance(e, ErrorEvent)]
    assert sorted(e.original_seq for e in errors) == sorted([b1.seq, b2.seq])


async def test_emit_inside_a_running_loop_schedules_async_handlers():
    bus = EventBus()
    calls = []

    async def handler(event):
        calls.append(event.seq)

    bus.register_async(EventType.BAR, handler)
    bus.register(EventType.BAR, lambda e: calls.append(("sync", e.seq)))
    for _ in range(3):
        bus.emit(bar())
    assert calls == [("sync", 1), ("sync", 2), ("sync", 3)]  # async ones not run yet
    assert bus.get_stats()["pending_async"] == 3

    def workers():
        return [t for t in asyncio.all_tasks() if "evlab" in t.get_name()]

    assert len(workers()) == 1  # one task drains the burst, not one task per event
    await bus.drain()
    assert calls[3:] == [1, 2, 3]
    assert workers() == []  # and it ends when there is no more work


def test_emit_in_plain_sync_code_runs_async_handlers_to_completion():
    bus = EventBus()
    calls = []

    async def handler(event):
        await asyncio.sleep(0)
        calls.append(event.seq)
        bus.emit(create_signal_event("BUY", 1.0, "AAPL", "s"))

    bus.register_async(EventType.BAR, handler)
    bus.register(EventType.SIGNAL, lambda e: calls.append(("signal cause", e.cause)))
    bus.emit(bar())
    assert calls == [1, ("signal cause", 1)]


def test_emit_from_another_thread_reaches_async_handlers_on_the_home_loop():
    bus = EventBus()
    seen = []
    loop = asyncio.new_event_loop()
    done = asyncio.Event()

    async def handler(event):
        seen.append((event.seq, threading.current_thread() is threading.main_thread()))
        if len(seen) == 3:
            done.set()

    async def main():
        bus.register_async(EventType.BAR, handler)  # remembers this loop as home
        workers = [threading.Thread(target=bus.emit, args=(bar(),)) for _ in range(3)]
        for w in workers:
            w.start()
        await done.wait()
        for w in workers:
            w.join()

    try:
        loop.run_until_complete(asyncio.wait_for(main(), 10))
    finally:
        loop.close()
    assert sorted(s for s, _ in seen) == [1, 2, 3]
    assert all(on_main for _, on_main in seen)


async def test_emit_threadsafe_runs_sync_handlers_on_the_loop_thread():
    bus = EventBus()
    bus.attach_loop()
    got = asyncio.get_running_loop().create_future()
    bus.register(EventType.BAR, lambda e: got.set_result(threading.current_thread().name))
    threading.Thread(target=bus.emit_threadsafe, args=(bar(),), name="widget").start()
    assert await asyncio.wait_for(got, 10) == threading.current_thread().name


async def test_async_handlers_know_the_bus_that_delivered_the_event():
    from evlab.bus import current_bus

    buses = []

    async def handler(event):
        buses.append(current_bus())

    a, b = EventBus(name="a"), EventBus(name="b")
    a.register_async(EventType.BAR, handler)
    b.register_async(EventType.BAR, handler)
    await a.emit_async(bar())
    await b.emit_async(bar())
    b.emit(bar())
    await b.drain()
    assert [x.name for x in buses] == ["a", "b", "b"] and current_bus() is None


async def test_an_explicit_cause_overrides_the_automatic_one():
    bus = EventBus()
    seen = []
    bus.register_all(seen.append)
    order = bus.emit(bar())
    later = bus.emit(bar(close=150.5))
    fill = bus.emit(create_signal_event("BUY", 1.0, "AAPL", "s"), cause=order)
    again = await bus.emit_async(create_signal_event("BUY", 1.0, "AAPL", "s"), cause=later)
    assert (fill.cause, again.cause) == (order.seq, later.seq)
    with pytest.raises(TypeError, match="cause must be an Event"):
        bus.emit(bar(), cause=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        bus.emit(bar(), reason=order)


async def test_profiling_counts_and_times_handler_calls_only_while_on():
    bus = EventBus()
    bus.register(EventType.BAR, lambda e: None, name="fast")

    async def slow(event):
        await asyncio.sleep(0)

    bus.register_async(EventType.BAR, slow, name="slow")
    bus.register(EventType.BAR, lambda e: 1 / 0, name="broken")
    bus.emit(bar())
    assert all(row["calls"] == 0 for row in bus.get_handler_stats())
    bus.profile()
    assert bus.profiling
    bus.emit(bar())
    await bus.emit_async(bar())
    await bus.drain()
    rows = {row["handler"]: row for row in bus.get_handler_stats()}
    assert rows["fast"]["calls"] == 2 and rows["slow"]["calls"] == 2
    assert rows["broken"]["calls"] == 2 and rows["broken"]["errors"] == 3
    assert rows["slow"]["async"] is True and rows["fast"]["mean_us"] > 0
    assert rows["fast"]["max_us"] >= rows["fast"]["mean_us"]
    bus.profile(False)
    bus.emit(bar())
    assert {row["handler"]: row["calls"] for row in bus.get_handler_stats()}["fast"] == 2


def test_a_traceback_is_logged_once_per_handler_and_exception_type(caplog):
    bus = EventBus()
    bus.register(EventType.BAR, lambda e: 1 / 0, name="broken")
    with caplog.at_level(logging.DEBUG, logger="evlab"):
        for _ in range(5):
            bus.emit(bar())
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 4
    assert bus.get_stats()["handler_errors"] == {"broken": 5}


# --- nothing silent, nothing unbounded (issue 10) -----------------------------------------

async def test_a_hung_async_handler_holds_up_only_itself_and_its_backlog_is_bounded():
    """One async BAR handler that never returns: an unrelated async SIGNAL handler still runs
    every event, the BAR backlog stays at its bound (the oldest dropped, counted, reported
    once), and the stats name the stuck handler."""
    bus = EventBus(async_backlog=1500, stuck_after=0.0)
    never = asyncio.Event()
    signals, errors = [], []
    all_signals = asyncio.Event()

    async def hung(bar):
        await never.wait()

    async def on_signal(signal):
        signals.append(signal.seq)
        if len(signals) == 1000:
            all_signals.set()

    bus.register_async(EventType.BAR, hung)
    bus.register_async(EventType.SIGNAL, on_signal)
    bus.register(EventType.ERROR, lambda e: errors.append((e.error_type, e.handler)))
    for i in range(3000):
        bus.emit(bar())
        if i % 3 == 0:
            bus.emit(create_signal_event("BUY", 1.0, "X", "s"))
    await asyncio.wait_for(all_signals.wait(), 30)
    stats = bus.get_stats()
    name = "test_a_hung_async_handler_holds_up_only_itself_and_its_backlog_is_bounded" \
           ".<locals>.hung"
    assert len(signals) == 1000
    assert stats["async_dropped"] == {name: 1500}  # 3000 queued at once, 1500 kept
    assert stats["pending_async"] == 1499  # one of them is the call that hangs
    assert stats["stuck_handlers"] == [name]
    assert errors == [("OverflowError", name)]  # reported once, counted always
    with pytest.raises(TimeoutError, match="hung"):
        await bus.drain(timeout=0.05)
    never.set()
    await bus.drain()
    assert bus.get_stats()["pending_async"] == 0 and bus.get_stats()["stuck_handlers"] == []


def test_emit_with_no_loop_returns_even_if_an_async_handler_never_does():
    bus = EventBus(async_timeout=0.2)
    errors = []

    async def hung(bar):
        await asyncio.Event().wait()

    bus.register_async(EventType.BAR, hung)
    bus.register(EventType.ERROR, lambda e: errors.append((e.error_type, e.original_seq)))
    emitted = bus.emit(bar())  # returns: the handler is cancelled after async_timeout
    assert errors == [("TimeoutError", emitted.seq)]
    assert bus.get_stats()["handler_errors"] == {
        "test_emit_with_no_loop_returns_even_if_an_async_handler_never_does.<locals>.hung": 1}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_an_exception_whose_str_raises_is_still_reported(kind):
    class Nasty(Exception):
        def __str__(self):
            raise RuntimeError("no text for you")

        def __repr__(self):
            raise RuntimeError("nor this")

    bus = EventBus()
    after, errors = [], []

    def broken(event):
        raise Nasty()

    async def broken_async(event):
        raise Nasty()

    if kind == "sync":
        bus.register(EventType.BAR, broken)
    else:
        bus.register_async(EventType.BAR, broken_async)
    bus.register(EventType.BAR, lambda e: after.append(e.seq))
    bus.register(EventType.ERROR, lambda e: errors.append((e.message, e.error_type)))
    if kind == "sync":
        bus.emit(bar())
    else:
        await bus.emit_async(bar())
    assert after == [1]
    assert errors == [("Nasty: <str() of the exception failed>", "Nasty")]


def test_the_guides_wiring_inside_a_function_keeps_working():
    """The usage guide registers ``handler.handle`` and keeps nothing else: inside a function
    the handler object would be collected and every event lost. evlab's wiring objects are
    held strongly, so the bars still arrive."""
    import gc

    from evlab.core.events import FilterHandler, WebSocketHandler, create_websocket_event
    from tests.adapters._data import fixture_obj

    bus = EventBus(use_weak_refs=True)
    bars, apples = [], []

    def setup(event_bus):
        ws_handler = WebSocketHandler("market_data_handler", adapter="binance")
        event_bus.register_async(EventType.WEBSOCKET, ws_handler.handle)
        apple_filter = FilterHandler("apple_filter", lambda e: e.symbol == "AAPL",
                                     apples.append)
        event_bus.register(EventType.BAR, apple_filter.handle)

    setup(bus)
    gc.collect()
    bus.register(EventType.BAR, bars.append)
    kline = fixture_obj("binance", "kline.json")  # Binance's documented example, made final
    kline["k"].update(l="0.0010", x=True)  # (the documented low is above its open)
    bus.emit(create_websocket_event("feed", json.dumps(kline)))
    bus.emit(create_bar_event("AAPL", 0, 1.0, 1.0, 1.0, 1.0, 1))
    assert [b.symbol for b in bars] == ["BNBBTC", "AAPL"]  # decoded by the kept handler
    assert [b.symbol for b in apples] == ["AAPL"]
    assert bus.get_stats()["dead_refs_cleaned"] == 0
