"""Recording cost: EventRecorder against the pyarrow columnar floor and a list of dicts.

Every contender turns the same prebuilt, stamped bar events into the same DataFrame
(seq, type, event_time, emit_time, source, cause, symbol, OHLCV; categoricals, UTC times,
nullable cause), in one run:

* ``recorder``: ``EventRecorder.append`` called on each event, then ``to_frame()``;
* ``recorder via bus``: the same, the events emitted on a bus whose only handler is the
  recorder (includes the bus's own cost; ``bus alone`` shows that cost);
* ``pyarrow floor``: the fields appended to Python lists, then ``pa.table(...).to_pandas()``;
* ``list of dicts``: one dict per event, then ``pd.DataFrame`` and dtype conversions.

It also reports the bytes the recorder holds per bar: its buffers' size, and (in a separate,
live-like run where each bar is made, emitted and dropped) what ``tracemalloc`` sees.
Targets: recorder within 1.5x the floor; <= 120 bytes per bar.

    python -m benchmarks.bench_record            # 1,000,000 bars
    python -m benchmarks.bench_record --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa

from benchmarks.common import print_table
from evlab.bus import EventBus
from evlab.events import BarEvent
from evlab.recording import EventRecorder

START_NS = 1_704_182_400_000_000_000  # 2024-01-02 08:00 UTC
TS = pa.timestamp("ns", tz="UTC")


def make_bars(n: int) -> list[BarEvent]:
    """``n`` distinct, unemitted bars over two symbols, one minute apart."""
    symbols = ("AAPL", "MSFT")
    return [BarEvent(symbols[i & 1], 100.0 + i % 7, 101.0 + i % 7, 99.0 + i % 7, 100.5 + i % 7,
                     1000.0 + i, time_ns=START_NS + i * 60_000_000_000, source="feed")
            for i in range(n)]


def stamped_bars(n: int) -> list[BarEvent]:
    """``n`` bars emitted once on a bus with no handlers, so each carries its stamp."""
    bus = EventBus()
    return [bus.emit(e) for e in make_bars(n)]


def by_recorder(events: list[BarEvent]) -> pd.DataFrame:
    rec = EventRecorder()
    append = rec.append
    for e in events:
        append(e)
    return rec.to_frame()


def by_floor(events: list[BarEvent]) -> pd.DataFrame:
    seq, typ, tim, emi, cau, sym, src = [], [], [], [], [], [], []
    o, h, lo, c, v = [], [], [], [], []
    for e in events:
        seq.append(e._seq)
        typ.append(e.type)
        tim.append(e.time_ns)
        emi.append(e._emit_ns)
        cau.append(e._cause)
        sym.append(e.symbol)
        src.append(e.source)
        o.append(e.open)
        h.append(e.high)
        lo.append(e.low)
        c.append(e.close)
        v.append(e.volume)
    table = pa.table({
        "seq": pa.array(seq, pa.int64()), "type": pa.array(typ, pa.string()).dictionary_encode(),
        "event_time": pa.array(tim, TS), "emit_time": pa.array(emi, TS),
        "source": pa.array(src, pa.string()).dictionary_encode(),
        "cause": pa.array(cau, pa.int64()),
        "symbol": pa.array(sym, pa.string()).dictionary_encode(),
        "open": pa.array(o, pa.float64()), "high": pa.array(h, pa.float64()),
        "low": pa.array(lo, pa.float64()), "close": pa.array(c, pa.float64()),
        "volume": pa.array(v, pa.float64())})
    frame: pd.DataFrame = table.to_pandas()
    frame["cause"] = frame["cause"].astype("Int64")
    return frame


def by_dicts(events: list[BarEvent]) -> pd.DataFrame:
    rows = [{"seq": e._seq, "type": str(e.type), "event_time": e.time_ns,
             "emit_time": e._emit_ns, "source": e.source, "cause": e._cause, "symbol": e.symbol,
             "open": e.open, "high": e.high, "low": e.low, "close": e.close, "volume": e.volume}
            for e in events]
    frame = pd.DataFrame(rows)
    for name in ("event_time", "emit_time"):
        frame[name] = pd.to_datetime(frame[name], unit="ns", utc=True)
    for name in ("type", "source", "symbol"):
        frame[name] = frame[name].astype("category")
    frame["cause"] = frame["cause"].astype("Int64")
    return frame


def best_seconds(run: Callable[..., Any], repeat: int,
                 setup: Callable[[], Any] | None = None) -> float:
    """Best wall time of ``run(setup())`` (or ``run()``) over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        arg = setup() if setup is not None else None
        gc.collect()
        t0 = time.perf_counter()
        run() if setup is None else run(arg)
        best = min(best, time.perf_counter() - t0)
    return best


def bytes_per_bar(events: list[BarEvent]) -> dict[str, float]:
    """Bytes the recorder holds per bar: its buffers' size; and, in a live-like run where
    each bar is made, emitted and dropped, what ``tracemalloc`` sees held and at peak, and
    what Arrow's memory pool holds (nothing for bars: their chunks are numpy arrays)."""
    n = len(events)
    rec = EventRecorder()
    for e in events:
        rec.append(e)
    buffers = rec.nbytes / n
    del rec
    gc.collect()
    arrow0 = pa.total_allocated_bytes()
    tracemalloc.start()
    bus = EventBus()
    rec = EventRecorder(bus)  # held here: dropping the recorder unsubscribes it
    emit = bus.emit
    base, _ = tracemalloc.get_traced_memory()
    for i in range(n):
        emit(BarEvent("AAPL" if i & 1 else "MSFT", 100.0 + i % 7, 101.0 + i % 7, 99.0 + i % 7,
                      100.5 + i % 7, 1000.0 + i, time_ns=START_NS + i * 60_000_000_000,
                      source="feed"))
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = len(rec)
    return {"buffers": buffers, "tracemalloc held": (held - base) / rows,
            "tracemalloc peak": (peak - base) / rows,
            "arrow pool": (pa.total_allocated_bytes() - arrow0) / rows}


def run(n: int = 1_000_000, show: bool = True, repeat: int = 3) -> dict[str, Any]:
    """Time every contender on ``n`` bars (best of ``repeat``); print and return the numbers."""
    events = stamped_bars(n)
    seconds = {
        "recorder": best_seconds(lambda: by_recorder(events), repeat),
        "pyarrow floor": best_seconds(lambda: by_floor(events), repeat),
        "list of dicts": best_seconds(lambda: by_dicts(events), repeat),
    }

    def via_bus(fresh: list[BarEvent]) -> pd.DataFrame:
        bus = EventBus()
        with EventRecorder(bus) as rec:
            emit = bus.emit
            for e in fresh:
                emit(e)
        return rec.to_frame()

    def bus_alone(fresh: list[BarEvent]) -> None:
        emit = EventBus().emit
        for e in fresh:
            emit(e)

    seconds["recorder via bus"] = best_seconds(via_bus, repeat, lambda: make_bars(n))
    seconds["bus alone (no recorder)"] = best_seconds(bus_alone, repeat, lambda: make_bars(n))
    rec = EventRecorder()
    for e in events:
        rec.append(e)
    seconds["recorder: to_frame() only"] = best_seconds(rec.to_frame, repeat)
    del rec
    memory = bytes_per_bar(events)
    rates = {name: n / s for name, s in seconds.items()}
    ratio = seconds["recorder"] / seconds["pyarrow floor"]
    if show:
        floor = seconds["pyarrow floor"]
        print_table(f"record {n:,} bars + to_frame() (bars/s, best of {repeat})",
                    [(name, rate, f"{seconds[name]:7.3f} s  {seconds[name] / floor:5.2f}x floor")
                     for name, rate in rates.items()])
        print(f"\n  recorder / floor = {ratio:.2f} (target <= 1.5)")
        for name, value in memory.items():
            print(f"  bytes per bar, {name:<17} {value:8.1f}  (target <= 120)")
    return {"rates": rates, "seconds": seconds, "ratio": ratio, "bytes_per_bar": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat")
    parser.add_argument("-n", type=int, default=1_000_000, help="bars per run")
    args = parser.parse_args()
    if args.quick:
        run(n=2_000, repeat=1)
    else:
        run(n=args.n)


if __name__ == "__main__":
    main()
