"""A live chart fed 1,000 bars a second: redraws per second, bars drawn, CPU spent plotting.

A thread emits bars on the bus, paced by the wall clock (like a feed on its own thread); a
small strategy publishes an indicator every bar and a signal every 50 bars; a ``LiveChart``
created inside a running asyncio loop (as in a notebook cell) redraws through that loop.
The same feed and strategy run first without a chart, so the chart's CPU cost is the
difference of the two runs' process CPU time. At every redraw the figure is checked to hold
every bar of its window (consecutive bars, none skipped); at the end, without ``flush()``,
it must hold the last ``window`` bars fed.

The orders case runs the same bars through a ``Portfolio`` and a ``PaperBroker``, the
strategy placing a bracket entry (a limit with a take-profit and a stop-loss) every 50 bars
and publishing an RSI-like line in a panel; the chart draws the working orders as segments:
at the end its segments must match the broker's orders still working.

The quotes case does the same with ``quotes`` best bid/ask quotes and one trade per bar on
top (a book feed: 10 quotes a bar at 1,000 bars/s is 10,000 quotes/s), the chart drawing the
band and the trades: at the end it must hold the last ``tick_window`` quotes fed.

No browser is attached: the widget's messages go to ipywidgets' dummy comm, so the numbers
cover building and serialising the update in the kernel, not the transport or the drawing.

    python -m benchmarks.bench_live_chart [--quick] [--seconds S] [--rate N]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any

import numpy as np

from benchmarks.common import print_table
from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    EventType,
    create_bar_event,
    create_order_event,
    create_quote_event,
    create_signal_event,
    create_tick_event,
)
from evlab.execution import PaperBroker, Portfolio
from evlab.manager import EventManager
from evlab.plot import _figure as F
from evlab.plot.indicators import indicator_event
from evlab.plot.live import LiveChart

SYMBOL = "BTC-USD"
T0 = 1_700_000_000 * 10**9
STEP = 10**9  # one bar a second of event time


def _bid(i: int, k: int) -> float:
    """The bid of the ``k``-th quote of bar ``i`` (the ask is 0.02 above it)."""
    return 100.0 + (i % 100) * 0.01 + k * 0.001


def _feed(bus: EventBus, n: int, rate: float, out: dict[str, float], quotes: int = 0) -> None:
    """Emit ``n`` bars at ``rate`` a second (wall clock), each with ``quotes`` quotes and, if
    any, one trade; record this thread's CPU time."""
    cpu0, start = time.thread_time(), time.perf_counter()
    for i in range(n):
        ahead = i / rate - (time.perf_counter() - start)
        if ahead > 0.0005:
            time.sleep(ahead)
        c = 100.0 + (i % 100) * 0.01
        t = T0 + i * STEP
        bus.emit(create_bar_event(SYMBOL, t, c, c + 0.05, c - 0.05, c, 1.0))
        for k in range(quotes):
            bid = _bid(i, k)
            bus.emit(create_quote_event(SYMBOL, t + k * (STEP // quotes), bid, bid + 0.02,
                                        1.0, 2.0))
        if quotes:
            bus.emit(create_tick_event(SYMBOL, t + STEP // 2, c, 0.5,
                                       side="BUY" if i % 2 else "SELL"))
    out["feed_cpu"] = time.thread_time() - cpu0
    out["wall"] = time.perf_counter() - start


def _ns(x: Any) -> np.ndarray:
    """The widget's x (ISO strings to the ms) back as epoch nanoseconds."""
    return np.asarray(x, dtype="datetime64[ns]").view(np.int64)


def _strategy(bus: EventBus) -> None:
    """A strategy as the chart meets it: an indicator every bar, a signal every 50 bars."""
    def on_bar(bar: BarEvent) -> None:
        bus.emit(indicator_event(bar.symbol, "sma", bar.close - 0.01))
        assert bar.time_ns is not None  # set when the bar was built
        i = (bar.time_ns - T0) // STEP
        if i % 50 == 0:
            bus.emit(create_signal_event("BUY" if i % 100 else "SELL", bar.close, bar.symbol,
                                         "bench"))
    bus.register(EventType.BAR, on_bar)


def _trading(bus: EventBus) -> PaperBroker:
    """A portfolio and a broker, and a strategy with a bracket entry every 50 bars and a
    line in a panel of its own."""
    manager = EventManager(bus)
    portfolio = Portfolio(1e12)
    broker = PaperBroker(portfolio)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)

    def on_bar(bar: BarEvent) -> None:
        assert bar.time_ns is not None  # set when the event was built
        assert bar.time_ns is not None  # set when the bar was built
        i = (bar.time_ns - T0) // STEP
        bus.emit(indicator_event(bar.symbol, "rsi", 50.0 + i % 40, panel="rsi"))
        if i % 50 == 0:
            bus.emit(create_order_event(bar.symbol, "BUY", 1, "LIMIT", bar.close - 0.02,
                                        take_profit=bar.close + 0.04,
                                        stop_loss=bar.close - 0.08))
    bus.register(EventType.BAR, on_bar)
    return broker


async def _session(n: int, rate: float, window: int, max_fps: float, chart: bool,
                   quotes: int = 0, tick_window: int = 2000,
                   orders: bool = False) -> dict[str, Any]:
    bus = EventBus()
    _strategy(bus)
    broker = _trading(bus) if orders else None
    live = LiveChart(bus, SYMBOL, window=window, max_fps=max_fps, quotes=bool(quotes),
                     trades=bool(quotes), tick_window=tick_window) if chart else None
    stamps: list[float] = []
    broken: list[int] = []

    def check(c: LiveChart) -> None:  # every bar of the window present, none skipped
        stamps.append(time.perf_counter())
        x = _ns(c.figure.data[0].x)
        if not len(x):
            return  # an overlay point drawn before the first bar: nothing to check yet
        last = (int(x[-1]) - T0) // STEP
        if len(x) != min(window, last + 1) or np.any(np.diff(x) != STEP):
            broken.append(c.redraws)

    if live is not None:
        live.on_redraw.append(check)
    out: dict[str, float] = {}
    cpu0 = time.process_time()
    thread = threading.Thread(target=_feed, args=(bus, n, rate, out, quotes), daemon=True)
    thread.start()
    while thread.is_alive():
        await asyncio.sleep(0.05)
    process_cpu = time.process_time() - cpu0
    result: dict[str, Any] = {"wall": out["wall"], "process_cpu": process_cpu,
                              "feed_cpu": out["feed_cpu"]}
    if live is not None:
        await asyncio.sleep(3 / max_fps)  # the last coalesced redraw (no flush)
        x = _ns(live.figure.data[0].x)
        want = T0 + np.arange(max(0, n - window), n, dtype=np.int64) * STEP
        result.update(redraws=live.redraws, stamps=stamps, broken=broken,
                      window_complete=bool(np.array_equal(x, want)) and not broken,
                      redraw_cpu=live.redraw_cpu_seconds, points=live.points)
        if quotes:  # the band holds the last tick_window quotes fed, in order
            fed = [_bid(i, k) for i in range(n) for k in range(quotes)][-tick_window:]
            band = live.figure.data[F.BID].y
            result["band_complete"] = band is not None and list(band) == fed
        if broker is not None:  # every order still working is a segment to the last bar
            levels = (o.limit_price if o.event.order_type == "LIMIT" else o.stop_price
                      for o in broker.open_orders)
            working = sorted(x for x in levels if x is not None)
            drawn = sorted(s.level for s in live.data.orders.segments() if s.end_ns is None)
            result["orders_complete"] = working == drawn
            result["segments"] = sum(int(np.count_nonzero(~np.isnan(
                np.asarray(live.figure.data[F.ORDER_STYLE[k][0]].y, np.float64)))) // 2
                for k in F.ORDER_STYLE)
        live.close()
    return result


def _max_in_1s(stamps: list[float]) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _pct(cpu: float, over: float) -> float:
    return 100.0 * cpu / over if over > 0 else 0.0


def run(seconds: float = 5, rate: float = 1000, show: bool = True, *, window: int = 500,
        max_fps: float = 10.0, quotes: int = 10, tick_window: int = 2000,
        orders: bool = True) -> dict[str, Any]:
    """Feed ``rate`` bars/s for ``seconds`` without, then with, a live chart; the numbers.
    Then the orders case (``result["orders"]``; ``orders=False`` skips it) and the quotes
    case (``quotes`` quotes and a trade a bar; 0 skips it), in ``result["quotes"]``."""
    n = max(1, int(seconds * rate))
    base = asyncio.run(_session(n, rate, window, max_fps, chart=False))
    live = asyncio.run(_session(n, rate, window, max_fps, chart=True))
    wall = live["wall"]
    pct = _pct

    result = {
        "bars": n, "seconds": wall, "bars_per_s": n / wall if wall else 0.0,
        "window": window, "max_fps": max_fps,
        "redraws": live["redraws"], "redraws_per_s": live["redraws"] / wall if wall else 0.0,
        "max_redraws_in_1s": _max_in_1s(live["stamps"]),
        "window_complete": live["window_complete"], "redraws_missing_bars": len(live["broken"]),
        "process_cpu_percent": pct(live["process_cpu"], wall),
        "baseline_cpu_percent": pct(base["process_cpu"], base["wall"]),
        "redraw_cpu_percent": pct(live["redraw_cpu"], wall),
        "handler_cpu_percent": pct(live["feed_cpu"], wall) - pct(base["feed_cpu"], base["wall"]),
    }
    result["chart_cpu_percent"] = result["process_cpu_percent"] - result["baseline_cpu_percent"]
    if orders:
        result["orders"] = _orders_case(n, rate, window, max_fps)
    if quotes:
        result["quotes"] = _quotes_case(n, rate, window, max_fps, quotes, tick_window)
    if show:
        _print(result)
    return result


def _quotes_case(n: int, rate: float, window: int, max_fps: float, quotes: int,
                 tick_window: int) -> dict[str, Any]:
    """The same bars with ``quotes`` quotes and a trade each, without, then with, a chart
    drawing the band and the trades."""
    base = asyncio.run(_session(n, rate, window, max_fps, chart=False, quotes=quotes))
    live = asyncio.run(_session(n, rate, window, max_fps, chart=True, quotes=quotes,
                                tick_window=tick_window))
    wall = live["wall"]
    out = {"quotes": n * quotes, "quotes_per_s": n * quotes / wall if wall else 0.0,
           "trades": n, "tick_window": tick_window, "redraws": live["redraws"],
           "redraws_per_s": live["redraws"] / wall if wall else 0.0,
           "max_redraws_in_1s": _max_in_1s(live["stamps"]),
           "band_complete": live["band_complete"],
           "process_cpu_percent": _pct(live["process_cpu"], wall),
           "baseline_cpu_percent": _pct(base["process_cpu"], base["wall"]),
           "redraw_cpu_percent": _pct(live["redraw_cpu"], wall)}
    out["chart_cpu_percent"] = out["process_cpu_percent"] - out["baseline_cpu_percent"]
    return out


def _orders_case(n: int, rate: float, window: int, max_fps: float) -> dict[str, Any]:
    """The same bars through a portfolio and a broker, brackets every 50 bars, without,
    then with, a chart drawing the orders and a panel."""
    base = asyncio.run(_session(n, rate, window, max_fps, chart=False, orders=True))
    live = asyncio.run(_session(n, rate, window, max_fps, chart=True, orders=True))
    wall = live["wall"]
    out = {"bars": n, "bars_per_s": n / wall if wall else 0.0, "redraws": live["redraws"],
           "redraws_per_s": live["redraws"] / wall if wall else 0.0,
           "window_complete": live["window_complete"],
           "orders_complete": live["orders_complete"], "segments": live["segments"],
           "process_cpu_percent": _pct(live["process_cpu"], wall),
           "baseline_cpu_percent": _pct(base["process_cpu"], base["wall"]),
           "redraw_cpu_percent": _pct(live["redraw_cpu"], wall),
           "redraw_ms": 1e3 * live["redraw_cpu"] / max(live["redraws"], 1)}
    out["chart_cpu_percent"] = out["process_cpu_percent"] - out["baseline_cpu_percent"]
    return out


def _cpu(case: dict[str, Any]) -> str:
    """A case's CPU line: the feed alone, with the chart, the difference."""
    return (f"  CPU, % of one core: feed alone {case['baseline_cpu_percent']:.1f}%, feed + "
            f"chart {case['process_cpu_percent']:.1f}%  ->  chart "
            f"{case['chart_cpu_percent']:.1f}% (redraws {case['redraw_cpu_percent']:.1f}%)")


def _print(r: dict[str, Any]) -> None:
    print_table(f"live chart, {r['bars_per_s']:,.0f} bars/s for {r['seconds']:.1f} s "
                f"(window {r['window']}, at most {r['max_fps']:g} redraws/s)", [
                    ("bars fed", r["bars_per_s"], f"{r['bars']:,} bars"),
                    ("redraws", r["redraws_per_s"],
                     f"{r['redraws']} in all, at most {r['max_redraws_in_1s']} in any 1 s")])
    print(f"  every bar of the window drawn: at every redraw "
          f"{'yes' if not r['redraws_missing_bars'] else 'NO'}, at the end "
          f"{'yes' if r['window_complete'] else 'NO'}")
    print(f"  CPU, % of one core: feed alone {r['baseline_cpu_percent']:.1f}%, feed + chart "
          f"{r['process_cpu_percent']:.1f}%  ->  chart {r['chart_cpu_percent']:.1f}% "
          f"(redraws {r['redraw_cpu_percent']:.1f}%, handlers on the feed thread "
          f"{r['handler_cpu_percent']:.1f}%)")
    o = r.get("orders")
    if o:
        print_table(f"live chart of a trading session (brackets every 50 bars, a panel), "
                    f"{o['bars_per_s']:,.0f} bars/s", [
                        ("bars fed", o["bars_per_s"], f"{o['bars']:,} bars"),
                        ("redraws", o["redraws_per_s"],
                         f"{o['redraws']} in all, {o['redraw_ms']:.2f} ms of CPU each")])
        print(f"  every bar of the window drawn at the end: "
              f"{'yes' if o['window_complete'] else 'NO'}; the working orders drawn: "
              f"{'yes' if o['orders_complete'] else 'NO'} ({o['segments']} segments)")
        print(_cpu(o))
    q = r.get("quotes")
    if q:
        print_table(f"live chart with the bid/ask band and trades, {q['quotes_per_s']:,.0f} "
                    f"quotes/s (tick window {q['tick_window']:,})", [
                        ("quotes fed", q["quotes_per_s"],
                         f"{q['quotes']:,} quotes, {q['trades']:,} trades"),
                        ("redraws", q["redraws_per_s"],
                         f"{q['redraws']} in all, at most {q['max_redraws_in_1s']} in any 1 s")])
        print(f"  the band holds the last {q['tick_window']:,} quotes at the end: "
              f"{'yes' if q['band_complete'] else 'NO'}")
        print(_cpu(q))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 second instead of 5")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--quotes", type=int, default=10,
                        help="quotes per bar in the quotes case (0: skip it)")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (1 if args.quick else 5)
    return run(seconds=seconds, rate=args.rate, quotes=args.quotes)


if __name__ == "__main__":
    main()
