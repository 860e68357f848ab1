"""The dispatch core gives the same results compiled and interpreted, in one process.

``evlab/_core.py`` is one source: compiled by Cython where a compiler exists, interpreted
otherwise. Each scenario below runs through both (a second copy of ``evlab.events`` and
``evlab.bus`` is loaded on the interpreted core) and must give the same trace, and the
trace it is expected to give, so both cannot be wrong the same way.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

import evlab
from evlab import _accel

COMPILED = types.SimpleNamespace(events=evlab.events, bus=evlab.bus, core=_accel.core,
                                 compiled=_accel.COMPILED)
INTERPRETED = _accel.interpreted_copy()


def test_the_compiled_core_is_in_use_unless_pure_python_is_asked_for() -> None:
    if os.environ.get("EVLAB_PURE_PYTHON"):
        assert not _accel.COMPILED
    else:
        assert _accel.COMPILED, "evlab._core was not compiled: are Cython and gcc installed?"
    assert not INTERPRETED.core.__file__.endswith(".so")
    assert INTERPRETED.bus.EventBus is not evlab.EventBus


def both(scenario: Callable[[types.SimpleNamespace], Any]) -> Any:
    """Run ``scenario`` on the compiled and the interpreted core; they must agree."""
    compiled, interpreted = scenario(COMPILED), scenario(INTERPRETED)
    assert compiled == interpreted
    return compiled


def _bar(ns: types.SimpleNamespace, t: int = 60_000_000_000, symbol: str = "AAPL") -> Any:
    return ns.events.create_bar_event(symbol, t, 100.0, 101.0, 99.0, 100.5, 1000.0)


def _row(e: Any) -> tuple[Any, ...]:
    return (str(e.type), e.seq, e.cause, e.time_ns)


def test_order_priorities_depth_first_causes_and_event_times() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus = ns.events, ns.bus.EventBus()
        trace: list[Any] = []

        def strategy(bar: Any) -> None:
            trace.append(("strategy", _row(bar)))
            bus.emit(ev.create_signal_event("BUY", bar.close, bar.symbol, "s"))
            trace.append(("strategy done", bar.seq))

        def broker(signal: Any) -> None:
            trace.append(("broker", _row(signal)))
            bus.emit(ev.create_order_event(signal.symbol, "BUY", 1))

        bus.register(ev.EventType.BAR, strategy)
        bus.register(ev.EventType.BAR, lambda b: trace.append(("first", b.seq)), priority=5)
        bus.register(ev.EventType.SIGNAL, broker)
        bus.register(ev.EventType.ORDER, lambda o: trace.append(("order", _row(o))))
        out = bus.emit(_bar(ns))
        trace.append(("returned", _row(out)))
        return trace

    assert both(scenario) == [
        ("first", 1), ("strategy", ("bar", 1, None, 60_000_000_000)),
        ("broker", ("signal", 2, 1, 60_000_000_000)), ("order", ("order", 3, 2, 60_000_000_000)),
        ("strategy done", 1), ("returned", ("bar", 1, None, 60_000_000_000))]


def test_keyword_and_positional_calls_and_errors_are_the_same() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        bus, out = ns.bus.EventBus(), []
        first = bus.emit(event=_bar(ns))
        out.append(_row(bus.emit(_bar(ns), cause=first)))
        out.append(_row(bus.emit(event=_bar(ns), cause=first)))
        for call in (lambda: bus.emit("not an event"), lambda: bus.emit(_bar(ns), cause=3),
                     lambda: bus.emit(_bar(ns), bogus=1), lambda: bus.emit()):
            with pytest.raises(TypeError) as info:
                call()
            out.append(str(info.value) if "bogus" not in str(info.value) and
                       "argument" not in str(info.value) else "call shape")
        return out

    assert both(scenario) == [("bar", 2, 1, 60_000_000_000), ("bar", 3, 1, 60_000_000_000),
                              "emit() takes an Event, got str", "cause must be an Event, got int",
                              "call shape", "call shape"]


def test_a_failing_handler_is_isolated_counted_and_published() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus, out = ns.events, ns.bus.EventBus(), []

        def broken(bar: Any) -> None:
            raise ValueError("bad bar")

        bus.register(ev.EventType.BAR, broken)
        bus.register(ev.EventType.BAR, lambda b: out.append(("sibling", b.seq)))
        bus.register(ev.EventType.ERROR, lambda e: out.append(
            ("error", e.message, e.handler, e.original_seq, e.cause)))
        bus.emit(_bar(ns))
        stats = bus.get_stats()
        out.append((stats["handler_errors"], stats["total_errors"]))
        return out

    assert both(scenario) == [
        ("error", "ValueError: bad bar", "test_a_failing_handler_is_isolated_counted_and_"
         "published.<locals>.scenario.<locals>.broken", 1, 1), ("sibling", 1),
        ({"test_a_failing_handler_is_isolated_counted_and_published.<locals>.scenario."
          "<locals>.broken": 1}, 1)]


def test_re_emitting_copies_the_event_with_a_new_stamp() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        bus, seen = ns.bus.EventBus(), []
        bus.register_all(seen.append)
        bar = _bar(ns)
        for _ in range(3):
            bus.emit(bar)
        copy = bar.copy()
        return [[_row(e) for e in seen], seen[1] == bar and seen[1] is not bar,
                _row(copy), copy.emit_time_ns, copy.to_dict()["close"], bar.seq]

    assert both(scenario) == [[("bar", 1, None, 60_000_000_000), ("bar", 2, None, 60_000_000_000),
                               ("bar", 3, None, 60_000_000_000)], True,
                              ("bar", None, None, 60_000_000_000), None, 100.5, 1]


def test_nested_emission_works_1000_deep_and_beyond_is_an_error_event() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus, depths, errors = ns.events, ns.bus.EventBus(), [], []

        def recurse(e: Any) -> None:
            depths.append(e.strength)
            bus.emit(ev.create_signal_event("BUY", 1.0, "X", "r", strength=e.strength + 1))

        bus.register(ev.EventType.SIGNAL, recurse)
        bus.register(ev.EventType.SIGNAL, lambda e: None)  # a sibling that must keep running
        bus.register(ev.EventType.ERROR, lambda e: errors.append((e.error_type, e.original_type)))
        bus.emit(ev.create_signal_event("BUY", 1.0, "X", "r", strength=0))
        return [len(depths), max(depths), errors, bus.get_stats()["too_deep"],
                bus.get_stats()["total_errors"]]

    assert both(scenario) == [1001, 1000.0, [("RecursionError", "signal")], 1, 0]


def test_async_dispatch_carries_the_current_event_across_awaits() -> None:
    """sync -> async -> sync and async -> sync -> async: causes and event times stay right,
    also while other tasks interleave."""

    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev = ns.events
        trace: list[Any] = []

        async def main() -> None:
            bus = ns.bus.EventBus()

            async def on_ws(ws: Any) -> None:
                await asyncio.sleep(0)
                bar = await bus.emit_async(_bar(ns, t=ws.time_ns))
                trace.append(("bar", _row(bar), ns.events.current_event() is ws))

            def on_bar(bar: Any) -> None:
                bus.emit(ev.create_signal_event("BUY", bar.close, bar.symbol, "s"))

            async def on_signal(signal: Any) -> None:
                await asyncio.sleep(0)
                trace.append(("signal", _row(signal)))
                order = bus.emit(ev.create_order_event(signal.symbol, "BUY", 1))
                trace.append(("order", _row(order)))

            bus.register_async(ev.EventType.WEBSOCKET, on_ws)
            bus.register(ev.EventType.BAR, on_bar)
            bus.register_async(ev.EventType.SIGNAL, on_signal)
            a = ev.create_websocket_event("feed", "{}", received_ns=1_000)
            b = ev.create_websocket_event("feed", "{}", received_ns=2_000)
            await asyncio.gather(bus.emit_async(a), bus.emit_async(b))
            await bus.drain()
            trace.append(("after", ns.events.current_event()))

        asyncio.run(main())
        return sorted(trace, key=repr)

    assert both(scenario) == sorted([
        ("bar", ("bar", 3, 1, 1_000), True), ("bar", ("bar", 5, 2, 2_000), True),
        ("signal", ("signal", 4, 3, 1_000)), ("signal", ("signal", 6, 5, 2_000)),
        ("order", ("order", 7, 4, 1_000)), ("order", ("order", 8, 6, 2_000)),
        ("after", None)], key=repr)


def test_no_loop_dispatch_gives_the_bar_as_cause_of_the_signal() -> None:
    """``bus.emit(ws)`` from plain code, an async WEBSOCKET handler awaiting
    ``emit_async(bar)``, a sync BAR handler emitting a signal: the bar is the signal's cause
    and its time the signal's time (the raw-replay case of issue 9)."""

    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus, signals = ns.events, ns.bus.EventBus(), []

        async def on_ws(ws: Any) -> None:
            await bus.emit_async(_bar(ns, t=ws.time_ns + 5))

        bus.register_async(ev.EventType.WEBSOCKET, on_ws)
        bus.register(ev.EventType.BAR, lambda bar: bus.emit(
            ev.create_signal_event("BUY", bar.close, bar.symbol, "s")))
        bus.register(ev.EventType.SIGNAL, lambda s: signals.append(_row(s)))
        bus.emit(ev.create_websocket_event("feed", "{}", received_ns=7_000))
        return signals

    assert both(scenario) == [("signal", 3, 2, 7_005)]


def test_emit_from_a_thread_hands_async_handlers_to_the_home_loop() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev = ns.events
        out: list[Any] = []

        async def main() -> None:
            bus = ns.bus.EventBus()
            done = asyncio.Event()
            loop = asyncio.get_running_loop()

            async def on_bar(bar: Any) -> None:
                out.append((_row(bar), threading.current_thread() is threading.main_thread()))
                sig = bus.emit(ev.create_signal_event("SELL", 1.0, "X", "s"))
                out.append(_row(sig))
                loop.call_soon(done.set)

            bus.register_async(ev.EventType.BAR, on_bar)
            thread = threading.Thread(target=lambda: bus.emit(_bar(ns)))
            thread.start()
            await asyncio.wait_for(done.wait(), 30)
            thread.join()

        asyncio.run(main())
        return out

    assert both(scenario) == [(("bar", 1, None, 60_000_000_000), True),
                              ("signal", 2, 1, 60_000_000_000)]


def test_threads_never_share_a_sequence_number_or_a_current_event() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus = ns.events, ns.bus.EventBus()
        wrong: list[Any] = []

        def on_bar(bar: Any) -> None:
            sig = bus.emit(ev.create_signal_event("BUY", 1.0, bar.symbol, "s"))
            if sig.cause != bar.seq or sig.time_ns != bar.time_ns:
                wrong.append((bar.seq, sig.cause))

        seqs: list[int] = []
        bus.register(ev.EventType.BAR, on_bar)
        bus.register(ev.EventType.SIGNAL, lambda s: seqs.append(s.seq))

        def work(k: int) -> None:
            for i in range(2000):
                bus.emit(_bar(ns, t=i, symbol=f"S{k}"))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [wrong, len(set(seqs)), bus.get_stats()["total_events"]]

    assert both(scenario) == [[], 8000, 16000]


def test_weakly_held_components_stop_at_once_in_both() -> None:
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus, got = ns.events, ns.bus.EventBus(), []

        class Component:
            def on_bar(self, bar: Any) -> None:
                got.append(bar.seq)

        c = Component()
        bus.register(ev.EventType.BAR, c.on_bar)
        bus.emit(_bar(ns))
        del c
        gc.collect()
        bus.emit(_bar(ns))
        return [got, bus.get_stats()["dead_refs_cleaned"]]

    assert both(scenario) == [[1], 1]


def test_weakly_held_sync_methods_are_called_through_the_cores_weakcall_in_both() -> None:
    """A weakly held sync bound method is dispatched through ``_core.WeakCall`` (compiled: a C
    call, no Python frame): it gets the event as the method would, its errors are reported
    under the method's name, and once its object is gone it calls nothing."""
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus, got, errors = ns.events, ns.bus.EventBus(), [], []

        class Component:
            def on_bar(self, bar: Any) -> None:
                got.append((bar.seq, ns.events.current_event() is bar))

            def on_bad(self, bar: Any) -> None:
                raise ValueError("boom")

        c, failing = Component(), Component()  # (a failure's traceback holds its object)
        sub = bus.subscribe(ev.EventType.BAR, c.on_bar)
        bus.register(ev.EventType.BAR, failing.on_bad)
        bus.register(ev.EventType.ERROR, errors.append)
        bus.emit(_bar(ns))
        call = sub.call
        del c
        gc.collect()
        return [type(call) is ns.core.WeakCall, call.name, got,
                [(e.handler, e.error_type) for e in errors], call(_bar(ns)),
                bus.get_stats()["dead_refs_cleaned"]]

    assert both(scenario) == [True, "Component.on_bar", [(1, True)],
                              [("Component.on_bad", "ValueError")], None, 1]


def test_emit_is_a_real_method_with_a_signature_a_docstring_and_overridable() -> None:
    import inspect

    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        seen: list[str] = []

        class Logged(ns.bus.EventBus):  # type: ignore[name-defined,misc]
            def emit(self, event: Any, *, cause: Any = None) -> Any:
                seen.append(str(event.type))
                return super().emit(event, cause=cause)

        bus = Logged()

        def broken(bar: Any) -> None:
            raise RuntimeError("x")

        bus.register(ns.events.EventType.BAR, broken)
        bus.emit(_bar(ns))  # the error the bus publishes goes through the override too
        sig = inspect.signature(ns.bus.EventBus.emit)
        return [seen, list(sig.parameters), str(sig.parameters["cause"].kind),
                (ns.bus.EventBus.emit.__doc__ or "").split("\n")[0],
                list(inspect.signature(ns.bus.EventBus.emit_async).parameters)]

    assert both(scenario) == [
        ["bar", "error"], ["self", "event", "cause"], "KEYWORD_ONLY",
        "Dispatch ``event`` to its handlers now (depth-first); returns the stamped event.",
        ["self", "event", "cause"]]


def test_the_fast_bar_check_agrees_with_the_full_one_in_both() -> None:
    """``bar_ok`` (the fast path of BarEvent's checks) says yes only where the full checks
    do, compiled and interpreted alike."""
    nan, inf = float("nan"), float("inf")
    cases = [(1.0, 2.0, 0.5, 1.5, 10), (1.0, 2.0, 0.5, 1.5, 10.0), (1.0, 1.0, 1.0, 1.0, 0),
             (1, 2.0, 0.5, 1.5, 10), (1.0, 2.0, 0.5, 1.5, True), (1.0, 2.0, 0.5, 1.5, -1),
             (1.0, 2.0, 0.5, 1.5, 10**400), (1.0, 2.0, 0.5, 1.5, -(10**400)),
             (1.0, inf, 0.5, 1.5, 1.0), (nan, 2.0, 0.5, 1.5, 1.0), (1.0, 2.0, 0.0, 1.5, 1.0),
             (3.0, 2.0, 0.5, 1.5, 1.0), (1.0, 2.0, 0.5, 2.5, 1.0), (1.0, 2.0, 0.5, 1.5, nan),
             (1.0, 2.0, 0.5, 1.5, inf), (1.0, 0.4, 0.5, 0.45, 1.0), ("1", 2.0, 0.5, 1.5, 1)]

    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        out = []
        for case in cases:
            try:
                ns.events.BarEvent("X", *case, time_ns=0)
                full = True
            except (ValueError, OverflowError):
                full = False
            out.append((ns.core.bar_ok(*case), full))
        return out

    results = both(scenario)
    assert all(full for fast, full in results if fast)  # fast yes => really valid
    assert [fast for fast, _ in results] == [True, True, True, False, False, False, True,
                                             False, False, False, False, False, False, False,
                                             False, False, False]


def test_the_tape_takes_every_dispatched_event_before_any_handler_and_calls_when_full() -> None:
    # the core's part of recording (evlab.recording.tape owns the rest): each event goes on
    # the tape before its first handler; once the tape holds _tape_limit events, _tape_full
    # is called at the end of that emit, after its handlers
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus = ns.events, ns.bus.EventBus()
        trace: list[Any] = []
        tape: list[Any] = []

        def full() -> None:
            trace.append(("full", [e.seq for e in tape]))
            tape.clear()

        assert bus._tape is None
        bus._tape, bus._tape_limit, bus._tape_full = tape, 3, full
        bus.register(ev.EventType.BAR, lambda b: (trace.append(("bar", b.seq, len(tape))),
                                                  bus.emit(ev.create_signal_event(
                                                      "BUY", b.close, b.symbol, "s"))),
                     priority=10**9)
        bus.register(ev.EventType.SIGNAL, lambda s: trace.append(("signal", s.seq, len(tape))))
        for i in range(3):
            bus.emit(_bar(ns, 60_000_000_000 * (i + 1)))

        async def run() -> None:
            await bus.emit_async(_bar(ns))

        asyncio.run(run())
        bus._tape = None
        bus.emit(_bar(ns))
        trace.append(("left", [e.seq for e in tape]))
        return trace

    assert both(scenario) == [
        ("bar", 1, 1), ("signal", 2, 2), ("bar", 3, 3), ("signal", 4, 4), ("full", [1, 2, 3, 4]),
        ("bar", 5, 1), ("signal", 6, 2), ("bar", 7, 3), ("signal", 8, 4), ("full", [5, 6, 7, 8]),
        ("bar", 9, 0), ("signal", 10, 0), ("left", [])]


def test_take_stamps_and_counts_an_event_and_runs_its_stand_in_as_the_current_event() -> None:
    """``take`` (a feed decoding its messages in place of their only handler) stamps the event
    as ``emit`` would and counts it, runs no handler and puts it on no tape; what the stand-in
    emits is caused by the event; its exception is reported as the handler's."""
    def scenario(ns: types.SimpleNamespace) -> list[Any]:
        ev, bus = ns.events, ns.bus.EventBus()
        trace: list[Any] = []

        async def handle(event: Any) -> None:  # never runs: take stands in for it
            trace.append("handler ran")

        bus.register_async(ev.EventType.WEBSOCKET, handle, name="reader")
        bus.register(ev.EventType.BAR, lambda b: trace.append(("bar", _row(b))))
        bus.register(ev.EventType.ERROR, lambda e: trace.append(
            ("error", e.error_type, e.original_seq, e.cause)))
        bus.emit(_bar(ns))  # seq 1

        def decode(event: Any) -> str:
            trace.append(("decode", _row(event), ev.current_event() is event))
            bus.emit(_bar(ns, 120_000_000_000))  # caused by the message
            return "decoded"

        def broken(event: Any) -> str:
            raise RuntimeError("boom")

        raw = ev.create_websocket_event("feed", '{"x": 1}', 5)
        trace.append(bus.take(raw, decode, handle))
        trace.append(_row(raw))
        trace.append(bus.take(ev.create_websocket_event("feed", "{}", 6), broken, handle))
        trace.append(ev.current_event())
        with pytest.raises(ValueError, match="new event"):
            bus.take(raw, decode, handle)
        stats = bus.get_stats()
        trace.append((stats["events_emitted"], stats["handler_errors"]))
        return trace

    assert both(scenario) == [
        ("bar", ("bar", 1, None, 60_000_000_000)),
        ("decode", ("websocket", 2, None, 5), True),
        ("bar", ("bar", 3, 2, 120_000_000_000)),
        "decoded",
        ("websocket", 2, None, 5),
        ("error", "RuntimeError", 4, 4),
        None,
        None,
        ({"bar": 2, "websocket": 2, "error": 1}, {"reader": 1}),
    ]
