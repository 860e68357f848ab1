"""End-to-end backtest: a 10/30 SMA crossover over ~1M one-second bars, evlab against
backtesting.py and NautilusTrader on the same bars, in one run.

The bars are the shipped 1-second BTC/USD file (``btcusd_1s``, 11,520 bars) repeated with
shifted times (100 copies: 1,152,000 bars). Every engine takes the same decisions from the
same code path: ``evlab.examples.Crossing``'s running sums (backtesting.py's strategy calls
it; the Nautilus peer carries a copy of its arithmetic, in the same order), buys one unit on
a cross up and closes on a cross down, filled at the bar's close (evlab's
``fill_at="close"``, backtesting.py's ``trade_on_close=True``, Nautilus's bar execution at
the close). Trade counts and trades must be identical across engines: a mismatch fails the
run (the engines would not be doing the same work).

* ``evlab bare``: ``SmaCross`` -> ``PaperBroker`` -> ``Portfolio`` on an ``EventBus``.
* ``backtesting.py``: ``Backtest(...).run()``.
* ``NautilusTrader``: ``BacktestEngine`` run by ``peers/nautilus_backtest.py`` in a venv of
  its own (``tests/clients/venvs.py``: it pins pandas < 3); bars go to it as a Parquet file.
* ``evlab in a Lab``: the same components in a ``Lab`` with its recorder on (target: within
  1.3x of the bare run's time).
* ``100 symbols``: the same bars spread over 100 symbols (one copy each, interleaved by
  time) against one symbol: cost per bar at most 1.3x the one-symbol cost.

Targets: evlab / backtesting.py >= 1.5, evlab / Nautilus >= 6. Wall clock
(``time.perf_counter``), one run each (the runs take seconds to minutes).

    python -m benchmarks.bench_backtest             # full size
    python -m benchmarks.bench_backtest --copies 1 --limit 3000 --symbols 4  # tiny
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from benchmarks.common import machine
from evlab import analytics, datasets
from evlab.bus import EventBus
from evlab.events import BarEvent, EventType, create_bar_event
from evlab.examples import Crossing, SmaCross
from evlab.execution import FillModel, FixedQuantity, PaperBroker, Portfolio
from evlab.manager import EventManager

FAST, SLOW = 10, 30
CASH = 1_000_000.0
PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "nautilus_backtest.py"
TARGET_BT, TARGET_NAUTILUS, TARGET_LAB, TARGET_SYMBOLS = 1.5, 6.0, 1.3, 1.3
COLUMNS = ("open", "high", "low", "close", "volume")


def say(text: str) -> None:
    """Progress, printed as it goes (a full run takes minutes)."""
    print(text, flush=True)


def make_bars(copies: int) -> pd.DataFrame:
    """``copies`` of the 1-second file end to end, each shifted past the one before."""
    one = datasets.load("btcusd_1s")[list(COLUMNS)]
    span = one.index[-1] - one.index[0] + pd.Timedelta(seconds=1)
    frames = []
    for k in range(copies):
        part = one.copy()
        part.index = one.index + k * span
        frames.append(part)
    return pd.concat(frames)


def bar_events(bars: pd.DataFrame, symbols: list[str] | None = None) -> list[BarEvent]:
    """The bars as events, built before timing (feeding is not what is measured).

    With ``symbols``, the ``k``-th of ``len(symbols)`` equal runs of the bars (with 100
    copies, copy ``k``) is symbol ``symbols[k]`` at the first run's times, interleaved by
    time (so each bar moves one of many symbols).
    """
    # Python floats and ints, as evlab's feeds give them (evlab.feeds._frames): numpy scalars
    # would make every sum and product of a handler go through numpy's scalar arithmetic
    cols = [bars[k].to_numpy(float).tolist() for k in COLUMNS]
    ns = cast(pd.DatetimeIndex, bars.index).asi8.tolist()
    if symbols is None:
        return [create_bar_event("BTC-USD", t, o, h, lo, c, v)
                for t, o, h, lo, c, v in zip(ns, *cols, strict=True)]
    n = len(bars) // len(symbols)
    base = ns[:n]
    events = []
    for i in range(n):
        for k, sym in enumerate(symbols):
            j = k * n + i
            events.append(create_bar_event(sym, base[i], cols[0][j], cols[1][j],
                                           cols[2][j], cols[3][j], cols[4][j]))
    return events


class PerSymbol:
    """One ``SmaCross`` per symbol: routes each bar to its symbol's own."""

    strategy_id = "sma"

    def __init__(self) -> None:
        self.crosses: dict[str, SmaCross] = {}
        self.bus: Any = None

    def set_event_bus(self, bus: Any) -> None:
        self.bus = bus

    def on_bar(self, bar: BarEvent) -> None:
        cross = self.crosses.get(bar.symbol)
        if cross is None:
            cross = self.crosses[bar.symbol] = SmaCross(FAST, SLOW)
            cross.set_event_bus(self.bus)
        cross.on_bar(bar)


def wire(manager: Any, strategy: Any) -> Portfolio:
    """strategy -> PaperBroker -> Portfolio registered on ``manager``; the portfolio."""
    portfolio = Portfolio(CASH, equity_every="1min")
    broker = PaperBroker(portfolio, FillModel(fill_at="close"), FixedQuantity(1))
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
    manager.register_component("strategy", strategy, [EventType.BAR])
    return portfolio


def closed_trades(portfolio: Portfolio) -> pd.DataFrame:
    trades = analytics.trades(portfolio.fills_frame())
    closed = trades[trades["closed"]].reset_index(drop=True)
    return closed[["entry_time", "exit_time", "entry_price", "exit_price"]]


def run_evlab(events: list[BarEvent], strategy: Any, *, lab: bool = False
              ) -> tuple[float, pd.DataFrame, int]:
    """Seconds to emit ``events`` (new ones: the bus copies an event emitted before) through
    the wired components; closed trades; errors."""
    errors: list[Any] = []
    the_lab = None
    if lab:
        from evlab.lab import Lab

        the_lab = Lab(record=True, name="bench")
        bus = the_lab.bus
        portfolio = wire(the_lab.manager, strategy)
    else:
        bus = EventBus()
        portfolio = wire(EventManager(bus), strategy)
    bus.subscribe(EventType.ERROR, errors.append, weak=False)
    emit = bus.emit
    gc.collect()
    t0 = time.perf_counter()
    for e in events:
        emit(e)
    if the_lab is not None and the_lab.recorder is not None:
        # the recorder makes its rows in bulk: the last of them are made here, timed
        len(the_lab.recorder)
    seconds = time.perf_counter() - t0
    trades = closed_trades(portfolio)
    if the_lab is not None:
        the_lab.stop()
    return seconds, trades, len(errors)


def run_backtesting(bars: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """backtesting.py's ``Backtest.run`` with the same decisions; seconds and closed trades."""
    from backtesting import Backtest, Strategy

    frame = bars.rename(columns=str.capitalize)
    frame.index = cast(pd.DatetimeIndex, frame.index).tz_localize(None)

    class Cross(Strategy):
        def init(self) -> None:
            self.crossing = Crossing(FAST, SLOW)

        def next(self) -> None:
            crossed = self.crossing.update(float(self.data.Close[-1]))
            if crossed is True and not self.position:
                self.buy(size=1)
            elif crossed is False and self.position:
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(frame, Cross, cash=CASH, commission=0, trade_on_close=True,
                      finalize_trades=False)
        gc.collect()
        # its tqdm progress bar (on by default, so timed) goes to a sink, not over our lines
        with contextlib.redirect_stderr(io.StringIO()):
            t0 = time.perf_counter()
            stats = bt.run()
            seconds = time.perf_counter() - t0
    trades = stats._trades
    return seconds, pd.DataFrame({
        "entry_time": pd.to_datetime(trades["EntryTime"]).dt.tz_localize("UTC"),
        "exit_time": pd.to_datetime(trades["ExitTime"]).dt.tz_localize("UTC"),
        "entry_price": trades["EntryPrice"].to_numpy(float),
        "exit_price": trades["ExitPrice"].to_numpy(float)})


def run_nautilus(bars: pd.DataFrame) -> tuple[float, pd.DataFrame, str]:
    """NautilusTrader's ``BacktestEngine`` in its own venv, bars as a Parquet file."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.clients.venvs import client_python

    say("  (making or finding the NautilusTrader venv)")
    python = client_python("nautilus")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.parquet"
        out = Path(tmp) / "trades.parquet"
        frame = bars.reset_index(names="timestamp")
        frame["timestamp"] = frame["timestamp"].astype("int64")
        frame.to_parquet(path, index=False)
        proc = subprocess.run([str(python), str(PEER_SCRIPT), str(path), str(out),
                               str(FAST), str(SLOW)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": ""}, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"the Nautilus peer failed:\n{proc.stderr[-4000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        trades = pd.read_parquet(out)
    for col in ("entry_time", "exit_time"):
        trades[col] = pd.to_datetime(trades[col].astype("int64"), utc=True)
    return result["seconds"], trades, result["version"]


def check_same(name: str, ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Trade by trade, or an error: the engines must have done the same work."""
    if len(ours) != len(theirs):
        raise AssertionError(f"{name}: {len(theirs)} trades, evlab {len(ours)}")
    for col in ("entry_time", "exit_time"):
        if not (ours[col].to_numpy() == theirs[col].to_numpy()).all():
            raise AssertionError(f"{name}: {col} differs from evlab's")
    for col in ("entry_price", "exit_price"):
        if not np.allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float),
                           rtol=1e-9, atol=0):
            raise AssertionError(f"{name}: {col} differs from evlab's")


def run(copies: int = 100, symbols: int = 100, nautilus: bool = True,
        limit: int | None = None) -> dict[str, Any]:
    """Run every engine on ``copies`` of the file (its first ``limit`` bars); returns rates,
    ratios and the trade count."""
    print(f"\nEnd-to-end backtest, 10/30 SMA crossover\n{machine()}", flush=True)
    bars = make_bars(copies).iloc[:limit]
    n = len(bars)
    say(f"{n:,} one-second bars ({copies} copies of btcusd_1s)")
    events = bar_events(bars)
    rates: dict[str, float] = {}

    say("evlab bare: SmaCross -> PaperBroker -> Portfolio ...")
    bare, ours, errors = run_evlab(events, SmaCross(FAST, SLOW))
    if errors:
        raise AssertionError(f"evlab: {errors} error events")
    rates["evlab"] = n / bare
    say(f"  {rates['evlab']:,.0f} bars/s, {len(ours):,} trades")

    say("backtesting.py Backtest.run (trade_on_close=True) ...")
    seconds, theirs = run_backtesting(bars)
    rates["backtesting.py"] = n / seconds
    check_same("backtesting.py", ours, theirs)
    say(f"  {rates['backtesting.py']:,.0f} bars/s, {len(theirs):,} trades, same as evlab's")

    if nautilus:
        say("NautilusTrader BacktestEngine (own venv) ...")
        seconds, theirs, version = run_nautilus(bars)
        rates["NautilusTrader"] = n / seconds
        check_same("NautilusTrader", ours, theirs)
        say(f"  {rates['NautilusTrader']:,.0f} bars/s (nautilus_trader {version}), "
            f"{len(theirs):,} trades, same as evlab's")

    say("evlab in a Lab, recorder on ...")
    # fresh events: the bare run stamped these, and the bus copies an event emitted before
    # (one clone per bar the bare run did not pay)
    del events
    events = bar_events(bars)
    lab_seconds, lab_trades, _ = run_evlab(events, SmaCross(FAST, SLOW), lab=True)
    check_same("evlab in a Lab", ours, lab_trades)
    rates["evlab in a Lab"] = n / lab_seconds
    say(f"  {rates['evlab in a Lab']:,.0f} bars/s")
    del events

    k = min(symbols, n // SLOW)
    used = n // k * k
    say(f"{used:,} bars over 1 symbol against over {k} symbols (one SmaCross each) ...")
    one_s, _, _ = run_evlab(bar_events(bars.iloc[:used]), PerSymbol())
    many_s, _, errors = run_evlab(bar_events(bars.iloc[:used], [f"S{i}" for i in range(k)]),
                                  PerSymbol())
    if errors:
        raise AssertionError(f"evlab over {k} symbols: {errors} error events")
    per_one, per_many = one_s / used * 1e6, many_s / used * 1e6
    say(f"  {per_one:.2f} us/bar over 1 symbol, {per_many:.2f} us/bar over {k}")

    ratios = {"evlab / backtesting.py": rates["evlab"] / rates["backtesting.py"],
              "lab / bare (time)": lab_seconds / bare,
              f"{k} symbols / 1 (cost per bar)": per_many / per_one}
    if nautilus:
        ratios["evlab / NautilusTrader"] = rates["evlab"] / rates["NautilusTrader"]
    targets = {"evlab / backtesting.py": (">=", TARGET_BT),
               "evlab / NautilusTrader": (">=", TARGET_NAUTILUS),
               "lab / bare (time)": ("<=", TARGET_LAB),
               f"{k} symbols / 1 (cost per bar)": ("<=", TARGET_SYMBOLS)}
    print(f"\nbars/s over {n:,} bars, {len(ours):,} trades identical across engines")
    for name, rate in rates.items():
        print(f"  {name:<16} {rate:>12,.0f} bars/s")
    for name, value in ratios.items():
        op, target = targets[name]
        met = value >= target if op == ">=" else value <= target
        print(f"  {name:<32} {value:6.2f}x  (target {op} {target}: "
              f"{'met' if met else 'NOT met'})")
    return {"rates": rates, "ratios": ratios, "trades": len(ours)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--limit", type=int, default=None, help="the first LIMIT bars only")
    parser.add_argument("--no-nautilus", action="store_true")
    args = parser.parse_args()
    run(args.copies, args.symbols, nautilus=not args.no_nautilus, limit=args.limit)


if __name__ == "__main__":
    main()
