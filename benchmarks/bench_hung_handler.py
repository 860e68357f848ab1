"""One async handler that never returns, fed bars for 30 s: memory stays flat, others run.

A bus on a running loop gets bars as fast as a feed can send them (each ``emit`` in a plain
loop, yielding to the event loop every 1,000 bars). One async BAR handler hangs on its first
call; another async BAR handler counts. Every few seconds the process RSS and the number of
events waiting are printed, next to the same feed into a plain ``asyncio.Queue`` with no bound
and a consumer that hangs the same way (what a hand-written pool does: the reference for
"grows without limit").

    python -m benchmarks.bench_hung_handler [--quick] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks.common import machine, rss_mib
from evlab.bus import EventBus
from evlab.events import BarEvent, EventType, create_bar_event

T0 = 1_700_000_000 * 10**9


def _bar(i: int) -> BarEvent:
    return create_bar_event("BTC-USD", T0 + i * 10**9, 100.0, 101.0, 99.0, 100.5, 1.0)


async def _feed(emit: Any, seconds: float, every: float, report: Any) -> int:
    """Call ``emit(bar)`` for ``seconds``; ``report(n)`` every ``every`` seconds."""
    n, start, last = 0, time.perf_counter(), time.perf_counter()
    while (now := time.perf_counter()) - start < seconds:
        for _ in range(1000):
            emit(_bar(n))
            n += 1
        await asyncio.sleep(0)  # the feed's socket read: the loop runs other tasks here
        if now - last >= every:
            report(n)
            last = now
    return n


async def run_evlab(seconds: float, every: float, backlog: int) -> dict[str, Any]:
    """The evlab bus: one hung async handler, one counting async handler."""
    bus = EventBus(async_backlog=backlog, stuck_after=1.0)
    never = asyncio.Event()
    counted = [0]

    async def hung(bar: BarEvent) -> None:
        await never.wait()

    async def count(bar: BarEvent) -> None:
        counted[0] += 1

    bus.register_async(EventType.BAR, hung)
    bus.register_async(EventType.BAR, count)
    rows: list[tuple[int, float, int]] = []
    n = await _feed(bus.emit, seconds, every,
                    lambda n: rows.append((n, rss_mib(), bus.get_stats()["pending_async"])))
    stats = bus.get_stats()
    never.set()
    await bus.drain()
    return {"emitted": n, "counted": counted[0], "rows": rows,
            "dropped": sum(stats["async_dropped"].values()), "stuck": stats["stuck_handlers"]}


async def run_queue(seconds: float, every: float) -> dict[str, Any]:
    """The reference: an unbounded asyncio.Queue whose only consumer hangs."""
    queue: asyncio.Queue[BarEvent] = asyncio.Queue()
    never = asyncio.Event()

    async def consumer() -> None:
        await queue.get()
        await never.wait()

    task = asyncio.create_task(consumer())
    rows: list[tuple[int, float, int]] = []
    n = await _feed(queue.put_nowait, seconds, every,
                    lambda n: rows.append((n, rss_mib(), queue.qsize())))
    task.cancel()
    return {"emitted": n, "rows": rows}


def run(seconds: float = 30.0, every: float = 5.0, backlog: int = 100_000,
        show: bool = True) -> dict[str, Any]:
    """Both runs, evlab first; prints RSS and queue length over time; returns the numbers."""
    ours = asyncio.run(run_evlab(seconds, every, backlog))
    ref = asyncio.run(run_queue(seconds, every))
    if show:
        print(f"\none hung async handler, bars for {seconds:g} s\n{machine()}")
        print(f"  evlab bus (async_backlog={backlog:,}): {ours['emitted']:,} bars emitted, "
              f"the other handler ran {ours['counted']:,} times, {ours['dropped']:,} dropped "
              f"(counted), stuck: {', '.join(ours['stuck']) or 'none'}")
        for n, rss, waiting in ours["rows"]:
            print(f"    after {n:>11,} bars  RSS {rss:8.1f} MiB  waiting {waiting:>11,}")
        print(f"  unbounded asyncio.Queue, hung consumer: {ref['emitted']:,} bars")
        for n, rss, waiting in ref["rows"]:
            print(f"    after {n:>11,} bars  RSS {rss:8.1f} MiB  waiting {waiting:>11,}")
        if ours["rows"] and ref["rows"]:
            print(f"  RSS at the end: evlab {ours['rows'][-1][1]:.1f} MiB, unbounded queue "
                  f"{ref['rows'][-1][1]:.1f} MiB")
    return {"evlab": ours, "queue": ref}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half a second, tiny backlog")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.quick:
        run(seconds=0.5, every=0.1, backlog=1000)
    else:
        run(seconds=args.seconds)


if __name__ == "__main__":
    main()
