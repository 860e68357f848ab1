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

``lab`` (issue 13): the SmaCross 10/30 -> PaperBroker -> Portfolio backtest on the shipped
1-second BTC/USD bars (repeated with shifted times), bare (EventManager) and inside a ``Lab``
with its recorder on, best process time of each; target lab / bare <= 1.3.

    python -m benchmarks.bench_record            # 1,000,000 bars
    python -m benchmarks.bench_record --quick    # tiny inputs (what the test suite runs)
    python -m benchmarks.bench_record --lab-bars 1000000   # the Lab case on 1M bars
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
from evlab import datasets
from evlab.bus import EventBus
from evlab.events import BarEvent, EventType, create_bar_event
from evlab.examples import SmaCross
from evlab.execution import FillModel, FixedQuantity, PaperBroker, Portfolio
from evlab.lab import Lab
from evlab.manager import EventManager
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
    frame = table.to_pandas()
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


def best_seconds(run: Callable[[], Any], repeat: int,
                 setup: Callable[[], Any] | None = None) -> float:
    """Best wall time of ``run(setup())`` (or ``run()``) over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        arg = setup() if setup is not None else None
        gc.collect()
        t0 = time.perf_counter()
        run() if setup is None else run(arg)  # type: ignore[call-arg]
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


def backtest_bars(n: int) -> pd.DataFrame:
    """The shipped 1-second BTC/USD bars repeated (times shifted) to ``n`` bars."""
    bars = datasets.load("btcusd_1s")[["open", "high", "low", "close", "volume"]]
    step = bars.index[-1] - bars.index[0] + pd.Timedelta(seconds=1)
    parts = [bars.set_axis(bars.index + k * step) for k in range(-(-n // len(bars)))]
    return pd.concat(parts).iloc[:n]


def backtest(bars: pd.DataFrame, in_lab: bool) -> int:
    """SmaCross 10/30 -> PaperBroker -> Portfolio over ``bars``, bare or in a recording Lab;
    returns the number of fills (the same either way)."""
    lab = Lab() if in_lab else None
    bus = lab.bus if lab is not None else EventBus()
    manager = lab.manager if lab is not None else EventManager(bus)
    portfolio = Portfolio(1_000_000.0)
    broker = PaperBroker(portfolio, FillModel(), FixedQuantity(1))
    parts = (("portfolio", portfolio, [EventType.BAR, EventType.FILL], 20),
             ("broker", broker, PaperBroker.EVENTS, 10),
             ("strategy", SmaCross(10, 30), [EventType.BAR], 0))
    for name, component, events, priority in parts:
        if lab is not None:
            lab.add(name, component, events, priority=priority)
        else:
            manager.register_component(name, component, events, priority=priority)
    emit = bus.emit
    columns = [bars[k].to_numpy().tolist() for k in ("open", "high", "low", "close", "volume")]
    for t, o, h, lo, c, v in zip(pd.DatetimeIndex(bars.index).asi8.tolist(), *columns, strict=True):
        emit(create_bar_event("BTC-USD", t, o, h, lo, c, v))
    if lab is not None:
        lab.stop()
    return len(portfolio.fills_frame())


def run_lab(n: int = 200_000, repeat: int = 3, show: bool = True) -> dict[str, float]:
    """Best process time of the bare and the Lab backtest on ``n`` bars (interleaved runs)."""
    bars = backtest_bars(n)
    best = {"bare": float("inf"), "lab": float("inf")}
    fills: dict[str, int] = {}
    for _ in range(repeat):
        for name in best:
            gc.collect()
            t0 = time.process_time()
            fills[name] = backtest(bars, name == "lab")
            best[name] = min(best[name], time.process_time() - t0)
    if fills["bare"] != fills["lab"]:
        raise AssertionError(f"the Lab run made other fills: {fills}")
    ratio = best["lab"] / best["bare"]
    if show:
        print_table(f"backtest {n:,} bars, bare vs Lab recording (bars/s, best of {repeat})",
                    [(name, n / s, f"{s:7.3f} s  {s / best['bare']:5.2f}x bare")
                     for name, s in best.items()])
        print(f"\n  lab / bare = {ratio:.2f} (target <= 1.3)")
    return {**best, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat")
    parser.add_argument("-n", type=int, default=1_000_000, help="bars per run")
    parser.add_argument("--lab-bars", type=int, default=200_000, help="bars of the Lab case")
    args = parser.parse_args()
    if args.quick:
        run(n=2_000, repeat=1)
        run_lab(n=2_000, repeat=1)
    else:
        run(n=args.n)
        run_lab(n=args.lab_bars)


if __name__ == "__main__":
    main()
