"""Replay rate: recorded bars emitted again into a bus with one no-op handler.

A recording of ``n`` synthetic bars over four symbols is made first (replayed from a
DataFrame into a bus with an ``EventRecorder``, saved to Parquet, loaded back). Then, in
one run, every contender builds the same fresh ``BarEvent``s and delivers them:

* ``Replayer(recording).run()``: the replay itself (``incl. setup`` adds making the
  Replayer: selecting the rows, sorting them, checking the bars);
* ``Replayer(DataFrame).run()``: the same bars from a bars DataFrame;
* ``to_events(validate=False) + emit``: the recording's generic event rebuild, emitted;
* ``floor: build + emit``: a bare loop making each BarEvent from the columns (as Python
  lists, a chunk at a time) the fastest trusted way (``object.__new__`` + slot setters)
  and passing it to ``bus.emit`` at once;
* ``floor: build + call``: the same, calling the handler directly (no bus).

Target: the replay at >= 1,000,000 bars/s.

    python -m benchmarks.bench_replay            # 1,000,000 bars
    python -m benchmarks.bench_replay --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from benchmarks.common import best_rate, print_table
from evlab.bus import EventBus
from evlab.events import BarEvent, Event
from evlab.recording import EventRecorder, Recording, load_recording
from evlab.replay import Replayer

START_NS = 1_704_182_400_000_000_000  # 2024-01-02 08:00 UTC
SYMBOLS = ("AAPL", "MSFT", "GOOG", "IBM")
CHUNK = 1024
TARGET = 1_000_000


def make_frame(n: int) -> pd.DataFrame:
    """``n`` valid bars, four symbols a minute, as a bars DataFrame (UTC index ``time``)."""
    i = np.arange(n)
    base = 100.0 + (i % 97) * 0.5
    times = pd.DatetimeIndex(START_NS + (i // len(SYMBOLS)) * 60_000_000_000, tz="UTC",
                             name="time")
    return pd.DataFrame({"open": base, "high": base + 1.0, "low": base - 1.0,
                         "close": base + 0.25, "volume": 1000.0 + i % 13,
                         "symbol": pd.Categorical(np.array(SYMBOLS)[i % len(SYMBOLS)])},
                        index=times)


def make_recording(frame: pd.DataFrame, folder: Path) -> Recording:
    """The bars recorded from a bus, saved to Parquet and loaded back."""
    bus = EventBus()
    with EventRecorder(bus) as rec:
        Replayer(frame, bus, source_name="feed", progress=False).run()
    return load_recording(rec.save(folder / "bars.parquet"))


def noop(event: Event) -> None:
    pass


def fresh_bus() -> EventBus:
    bus = EventBus()
    bus.register("bar", noop)
    return bus


def floor(frame: pd.DataFrame, deliver: Callable[[Event], Any] | None) -> Callable[[], None]:
    """A bare loop: lists from the columns, each BarEvent made slot by slot and delivered."""
    cols = [cast(pd.DatetimeIndex, frame.index).asi8, frame["symbol"].to_numpy(dtype=object),
            *(frame[c].to_numpy() for c in ("open", "high", "low", "close", "volume"))]
    new = object.__new__
    s_sym, s_o, s_h, s_l, s_c, s_v = (getattr(BarEvent, f).__set__ for f in
                                      ("symbol", "open", "high", "low", "close", "volume"))
    s_t, s_src, s_seq, s_cause = (getattr(Event, f).__set__ for f in
                                  ("time_ns", "source", "_seq", "_cause"))

    def run() -> None:
        call = deliver or fresh_bus().emit
        for lo in range(0, len(frame), CHUNK):
            chunk = [c[lo:lo + CHUNK].tolist() for c in cols]
            for t, sym, o, h, lw, c, v in zip(*chunk, strict=True):
                e = new(BarEvent)
                s_sym(e, sym)
                s_o(e, o)
                s_h(e, h)
                s_l(e, lw)
                s_c(e, c)
                s_v(e, v)
                s_t(e, t)
                s_src(e, "feed")
                s_seq(e, None)
                s_cause(e, None)
                call(e)

    return run


def run(n: int = 1_000_000, show: bool = True, repeat: int = 3) -> dict[str, Any]:
    """Time every contender on ``n`` recorded bars (best of ``repeat``); print, return."""
    frame = make_frame(n)
    with tempfile.TemporaryDirectory() as tmp:
        recording = make_recording(frame, Path(tmp))

    def replay(source: Any) -> Callable[[], object]:
        return lambda: Replayer(source, fresh_bus(), progress=False).run()

    made = {"recording": Replayer(recording, fresh_bus(), progress=False),
            "frame": Replayer(frame, fresh_bus(), progress=False)}

    def prepared(key: str) -> Callable[[], None]:
        def go() -> None:
            made[key].rewind()
            made[key].run()
        return go

    def generic() -> None:
        emit = fresh_bus().emit
        for e in recording.to_events(validate=False):
            emit(e)

    rates = {
        "Replayer(recording).run()": best_rate(prepared("recording"), n, repeat),
        "  incl. setup": best_rate(replay(recording), n, repeat),
        "Replayer(DataFrame).run()": best_rate(prepared("frame"), n, repeat),
        "to_events(validate=False) + emit": best_rate(generic, n, repeat),
        "floor: build + emit": best_rate(floor(frame, None), n, repeat),
        "floor: build + call": best_rate(floor(frame, noop), n, repeat),
    }
    replayed = rates["Replayer(recording).run()"]
    if show:
        bare = rates["floor: build + call"]
        print_table(f"replay {n:,} recorded bars into a bus with one no-op handler "
                    f"(bars/s, best of {repeat})",
                    [(name, rate, f"{rate / bare:5.2f}x floor") for name, rate in rates.items()])
        verdict = "met" if replayed >= TARGET else "not met"
        print(f"\n  replay {replayed:,.0f} bars/s: target {TARGET:,} bars/s {verdict}")
    return {"n": n, "rates": rates, "target": TARGET, "met": replayed >= TARGET}


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
