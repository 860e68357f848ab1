"""Dispatch throughput: evlab's emit / emit_async against blinker, pyee and a bare loop.

Also: re-emitting one prebuilt event (evlab copies it: every emission has its own stamp),
the interpreted fallback of the dispatch core (the same source, not compiled), and building
a ``BarEvent`` from validated floats against a plain ``dataclass(slots=True)``.

Every contender calls the same no-op handlers with the same kind of prebuilt events, in one
run; events are built in chunks right before they are emitted (untimed), as a live feed
builds them, so no contender pays for cache misses the others do not.
evlab keeps all its features on (weak refs, error isolation, stats, causality stamps).

    python -m benchmarks.bench_dispatch            # full run
    python -m benchmarks.bench_dispatch --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any

import blinker
import pyee
import pyee.asyncio

from benchmarks.common import best_rate, print_table
from evlab import BarEvent, EventBus, EventType, create_bar_event
from evlab._accel import COMPILED, interpreted_copy

START = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def make_events(n: int, create: Callable[..., Any] = create_bar_event) -> list[Any]:
    """``n`` distinct, unemitted bar events (made by ``create``)."""
    return [create("AAPL", START + dt.timedelta(minutes=i), 100.0, 101.0, 99.0,
                   100.5, 1000.0) for i in range(n)]


def sync_handlers(k: int) -> list[Callable[[Any], None]]:
    def make() -> Callable[[Any], None]:
        def handler(event: Any) -> None:
            pass
        return handler
    return [make() for _ in range(k)]


def async_handlers(k: int) -> list[Callable[[Any], Any]]:
    def make() -> Callable[[Any], Any]:
        async def handler(event: Any) -> None:
            pass
        return handler
    return [make() for _ in range(k)]


CHUNK = 10_000  # events built (untimed) just before they are emitted, as in a live feed


def timed(consume: Callable[[list[BarEvent]], None], n: int, repeat: int,
          create: Callable[..., Any] = create_bar_event) -> float:
    """Best events/s of ``consume`` over ``n`` fresh events, fed in chunks of CHUNK.

    Events are built right before they are emitted, as a feed does, so each contender finds
    them in the CPU cache; only the ``consume`` calls are timed.
    """
    best = 0.0
    for _ in range(repeat):
        gc.collect()
        elapsed = 0.0
        for start in range(0, n, CHUNK):
            chunk = make_events(min(CHUNK, n - start), create)
            t0 = time.perf_counter()
            consume(chunk)
            elapsed += time.perf_counter() - t0
        best = max(best, n / elapsed)
    return best


def bench_sync(n: int, k: int, repeat: int, *, fallback: bool = False) -> dict[str, float]:
    """Events per second through ``k`` sync handlers for each contender (``fallback``: also
    the interpreted dispatch core)."""
    handlers = sync_handlers(k)

    def bare(events: list[BarEvent]) -> None:
        for e in events:
            for h in handlers:
                h(e)

    bus = EventBus(use_weak_refs=True)
    for h in handlers:
        bus.register(EventType.BAR, h)

    def evlab_emit(events: list[BarEvent]) -> None:
        emit = bus.emit
        for e in events:
            emit(e)

    signal = blinker.Signal()
    for h in handlers:
        signal.connect(h)

    def blinker_send(events: list[BarEvent]) -> None:
        send = signal.send
        for e in events:
            send(e)

    emitter = pyee.EventEmitter()
    for h in handlers:
        emitter.on("bar", h)

    def pyee_emit(events: list[BarEvent]) -> None:
        emit = emitter.emit
        for e in events:
            emit("bar", e)

    contenders = [("bare loop", bare), ("evlab emit", evlab_emit),
                  ("blinker send", blinker_send), ("pyee emit", pyee_emit)]
    rates = {name: timed(fn, n, repeat) for name, fn in contenders}
    if fallback and COMPILED:
        copy = interpreted_copy()
        slow = copy.bus.EventBus(use_weak_refs=True)
        for h in handlers:
            slow.register(EventType.BAR, h)

        def evlab_interpreted(events: list[BarEvent]) -> None:
            emit = slow.emit
            for e in events:
                emit(e)

        rates["evlab emit, interpreted core"] = timed(evlab_interpreted, n, repeat,
                                                      copy.events.create_bar_event)
    return rates


def bench_reemit(n: int, repeat: int) -> dict[str, float]:
    """One prebuilt event sent again and again to one no-op handler: evlab copies it each
    time (its own stamp per emission), blinker passes it on as it is."""
    handler = sync_handlers(1)[0]
    event = make_events(1)[0]
    bus = EventBus()
    bus.register(EventType.BAR, handler)
    signal = blinker.Signal()
    signal.connect(handler)

    def bare() -> None:
        for _ in range(n):
            handler(event)

    def evlab_emit() -> None:
        emit = bus.emit
        for _ in range(n):
            emit(event)

    def blinker_send() -> None:
        send = signal.send
        for _ in range(n):
            send(event)

    return {name: best_rate(fn, n, repeat) for name, fn in (
        ("bare loop", bare), ("evlab emit", evlab_emit), ("blinker send", blinker_send))}


@dataclasses.dataclass(slots=True)
class PlainBar:
    """The fields of a BarEvent in a plain slotted dataclass: the floor for building one."""

    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    time_ns: int | None = None
    source: str = ""


def bench_build(n: int, repeat: int) -> dict[str, float]:
    """Bars built per second from validated floats: evlab's BarEvent (validated, frozen)
    against a plain ``dataclass(slots=True)`` with the same fields."""
    rows = [("AAPL", 100.0 + i % 7, 102.0 + i % 7, 99.0, 101.0, 1000.0, i) for i in range(n)]

    def plain() -> None:
        for s, o, h, lo, c, v, t in rows:
            PlainBar(s, o, h, lo, c, v, time_ns=t)

    def evlab_bar() -> None:
        for s, o, h, lo, c, v, t in rows:
            BarEvent(s, o, h, lo, c, v, time_ns=t)

    return {name: best_rate(fn, n, repeat) for name, fn in (
        ("dataclass(slots=True)", plain), ("evlab BarEvent", evlab_bar))}


def bench_async(n: int, k: int, repeat: int) -> dict[str, float]:
    """Events per second through ``k`` async handlers, each awaited to completion."""
    handlers = async_handlers(k)
    loop = asyncio.new_event_loop()
    bus = EventBus(use_weak_refs=True)
    for h in handlers:
        bus.register_async(EventType.BAR, h)
    emitter = pyee.asyncio.AsyncIOEventEmitter(loop=loop)
    for h in handlers:
        emitter.on("bar", h)

    async def bare(events: list[BarEvent]) -> None:
        for e in events:
            for h in handlers:
                await h(e)

    async def evlab_emit(events: list[BarEvent]) -> None:
        emit = bus.emit_async
        for e in events:
            await emit(e)

    async def pyee_emit(events: list[BarEvent]) -> None:
        emit = emitter.emit
        for e in events:
            emit("bar", e)
        await emitter.wait_for_complete()

    def run_with(fn: Callable[[list[BarEvent]], Awaitable[None]]
                 ) -> Callable[[list[BarEvent]], None]:
        return lambda events: loop.run_until_complete(fn(events))

    try:
        return {name: timed(run_with(fn), size, repeat)
                for name, fn, size in (
                    ("bare await loop", bare, n), ("evlab emit_async", evlab_emit, n),
                    # pyee makes a task per handler call: measure fewer events
                    ("pyee AsyncIOEventEmitter", pyee_emit, max(n // 10, 1)))}
    finally:
        loop.close()


def run(n: int = 200_000, repeat: int = 5, *, show: bool = True) -> dict[str, dict[str, float]]:
    """Run every scenario; print a table of rates and ratios; return the rates."""
    table: dict[str, dict[str, float]] = {
        "sync, 1 handler": bench_sync(n, 1, repeat, fallback=True),
        "sync, 10 handlers": bench_sync(max(n // 5, 1), 10, repeat),
        "async, 1 handler": bench_async(max(n // 2, 1), 1, repeat),
        "async, 10 handlers": bench_async(max(n // 10, 1), 10, repeat),
        "re-emit one prebuilt event, 1 handler": bench_reemit(n, repeat),
        "build a bar from validated floats": bench_build(max(n // 2, 1), repeat),
    }
    if show:
        for scenario, rates in table.items():
            base = (rates.get("bare loop") or rates.get("bare await loop")
                    or rates.get("dataclass(slots=True)") or 1.0)
            ours = (rates.get("evlab emit") or rates.get("evlab emit_async")
                    or rates.get("evlab BarEvent") or 1.0)
            rows = []
            for name, rate in rates.items():
                note = f"{rate / base:5.2f}x bare"
                if not name.startswith("evlab") and not name.startswith("bare"):
                    note += f"   evlab is {ours / rate:6.1f}x this"
                rows.append((name, rate, note))
            print_table(f"{scenario} (events/s)", rows)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat")
    parser.add_argument("-n", type=int, default=200_000, help="events per run")
    args = parser.parse_args()
    if args.quick:
        run(n=200, repeat=1)
    else:
        run(n=args.n)


if __name__ == "__main__":
    main()
