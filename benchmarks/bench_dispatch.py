"""Dispatch throughput: evlab's emit / emit_async against blinker, pyee and a bare loop.

Every contender calls the same no-op handlers with the same prebuilt events, in one run.
evlab keeps all its features on (weak refs, error isolation, stats, causality stamps).

    python -m benchmarks.bench_dispatch            # full run
    python -m benchmarks.bench_dispatch --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
from collections.abc import Callable
from typing import Any

import blinker
import pyee
import pyee.asyncio

from benchmarks.common import best_rate, print_table
from evlab import BarEvent, EventBus, EventType, create_bar_event

START = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def make_events(n: int) -> list[BarEvent]:
    """``n`` distinct, unemitted bar events."""
    return [create_bar_event("AAPL", START + dt.timedelta(minutes=i), 100.0, 101.0, 99.0,
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


def bench_sync(n: int, k: int, repeat: int) -> dict[str, float]:
    """Events per second through ``k`` sync handlers for each contender."""
    handlers = sync_handlers(k)
    batches = [make_events(n) for _ in range(repeat)]
    results: dict[str, float] = {}

    def bare() -> None:
        for e in events:
            for h in handlers:
                h(e)

    bus = EventBus(use_weak_refs=True)
    for h in handlers:
        bus.register(EventType.BAR, h)

    def evlab_emit() -> None:
        emit = bus.emit
        for e in next(fresh):
            emit(e)

    signal = blinker.Signal()
    for h in handlers:
        signal.connect(h)

    def blinker_send() -> None:
        send = signal.send
        for e in events:
            send(e)

    emitter = pyee.EventEmitter()
    for h in handlers:
        emitter.on("bar", h)

    def pyee_emit() -> None:
        emit = emitter.emit
        for e in events:
            emit("bar", e)

    events = batches[0]
    fresh = iter(batches)
    results["bare loop"] = best_rate(bare, n, repeat)
    results["evlab emit"] = best_rate(evlab_emit, n, repeat)
    results["blinker send"] = best_rate(blinker_send, n, repeat)
    results["pyee emit"] = best_rate(pyee_emit, n, repeat)
    return results


def bench_async(n: int, k: int, repeat: int) -> dict[str, float]:
    """Events per second through ``k`` async handlers, each awaited to completion."""
    handlers = async_handlers(k)
    batches = [make_events(n) for _ in range(repeat)]
    results: dict[str, float] = {}

    async def main() -> None:
        bus = EventBus(use_weak_refs=True)
        for h in handlers:
            bus.register_async(EventType.BAR, h)
        emitter = pyee.asyncio.AsyncIOEventEmitter()
        for h in handlers:
            emitter.on("bar", h)
        events = batches[0]
        fresh = iter(batches)

        async def bare() -> None:
            for e in events:
                for h in handlers:
                    await h(e)

        async def evlab_emit() -> None:
            emit = bus.emit_async
            for e in next(fresh):
                await emit(e)

        async def pyee_emit() -> None:
            emit = emitter.emit
            for e in events:
                emit("bar", e)
            await emitter.wait_for_complete()

        for name, fn, size in (("bare await loop", bare, n), ("evlab emit_async", evlab_emit, n),
                               ("pyee AsyncIOEventEmitter", pyee_emit, max(n // 10, 1))):
            best = 0.0
            for _ in range(repeat):
                gc.collect()
                t0 = loop.time()
                if fn is pyee_emit:  # pyee makes a task per handler call: measure fewer
                    for e in events[:size]:
                        emitter.emit("bar", e)
                    await emitter.wait_for_complete()
                else:
                    await fn()
                best = max(best, size / (loop.time() - t0))
            results[name] = best

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return results


def run(n: int = 200_000, repeat: int = 5, *, show: bool = True) -> dict[str, dict[str, float]]:
    """Run every scenario; print a table of rates and ratios; return the rates."""
    table: dict[str, dict[str, float]] = {
        "sync, 1 handler": bench_sync(n, 1, repeat),
        "sync, 10 handlers": bench_sync(max(n // 5, 1), 10, repeat),
        "async, 1 handler": bench_async(max(n // 2, 1), 1, repeat),
        "async, 10 handlers": bench_async(max(n // 10, 1), 10, repeat),
    }
    if show:
        for scenario, rates in table.items():
            base = rates.get("bare loop") or rates.get("bare await loop") or 1.0
            ours = rates.get("evlab emit") or rates.get("evlab emit_async") or 1.0
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
