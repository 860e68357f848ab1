# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Record, save, load, replay, compare
#
# A live session is gone once it is over, unless it was recorded. This notebook records a live
# session (a local WebSocket feed and a strategy), saves it as Parquet, loads it back, replays
# it through the same strategy on a fresh bus, and checks with `evlab.compare` that the replay
# made **exactly** the same signals, event times included.
#
# That works because a signal's event time is the event time of the bar that caused it, never
# the wall clock (see `01_event_bus_basics`): live or replayed, the bar of 01:24 makes a signal
# of 01:24.

# %%
import inspect
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

import evlab
from evlab import BarEvent, EventType, SignalEvent
from evlab.examples import SmaCross

scratch = tempfile.TemporaryDirectory(prefix="evlab-03-")  # removed at the end
workdir = Path(scratch.name)


# %% [markdown]
# The strategy is `evlab.examples.SmaCross`, the moving-average crossover that
# `04_strategy_prototyping` trades too (one definition, imported by both): BUY when the fast
# average crosses above the slow one, EXIT when it crosses below. Here it averages 5 and 20
# minute bars. Each lab gets its own instance, so each starts with fresh state.

# %%
print(inspect.getsource(SmaCross.on_bar))
SmaCross(fast=5, slow=20)

# %% [markdown]
# ## 1. Record a live session
#
# A `Lab` records every event of its bus by default. The feed: 400 Coinbase BTC/USD minute
# bars served on 127.0.0.1 at 200 bars a second.

# %%
live = evlab.Lab(name="live")
live.add("sma", SmaCross(fast=5, slow=20))

arrived: list[BarEvent] = []
all_bars = threading.Event()

def count(bar: BarEvent) -> None:
    arrived.append(bar)
    if len(arrived) == 400:
        all_bars.set()

live.bus.register(EventType.BAR, count)

live.live("btcusd_1m", exchange="coinbase", rate=200, limit=400)
assert all_bars.wait(timeout=60), "the feed delivered its 400 bars"
live.stop()
live.recorder

# %%
frame = live.frame()
counts = frame["type"].value_counts()
recorder = live.recorder
assert recorder is not None, "a Lab records by default"
bars, signals = recorder.bars(), recorder.signals()
print(counts.to_dict())
assert counts["bar"] == 400 and counts["websocket"] >= 400 and counts["signal"] > 5
cause_type = dict(zip(frame["seq"], frame["type"], strict=True))
assert {cause_type[c] for c in signals["cause"]} == {"bar"}, "signals are caused by bars ..."
assert {cause_type[c] for c in frame.loc[frame["type"] == "bar", "cause"]} == {"websocket"}, \
    "... and bars by the raw WebSocket messages they were decoded from"
signals.head()

# %% [markdown]
# ## 2. Save as Parquet, load it back
#
# `save` writes one Parquet file (atomically); `load_recording` reads it (or a folder of
# autosaved parts) as a `Recording`. The round trip is exact: types, UTC nanosecond times,
# sequence numbers, causes, raw payloads.

# %%
path = recorder.save(workdir / "session.parquet")
rec = evlab.load_recording(path)
print(f"{path.name}: {path.stat().st_size:,} bytes")
pd.testing.assert_frame_equal(rec.frame, live.frame())  # raises if anything differs
rec

# %% [markdown]
# ## 3. Replay it, paced, into a fresh bus
#
# `lab.replay(...)` runs a `Replayer` on a background thread: the cell returns at once.
# `what="bars"` replays the bars decoded during the live session; the strategy, registered
# on the new lab, makes its signals again. `speed=6_000` plays the recorded minutes 6,000
# times faster than they happened: the session's 6 hours 43 minutes in about 4 seconds. A
# live chart follows the replay as it would a feed.

# %%
replay = evlab.Lab(name="replay")
replay.add("sma", SmaCross(fast=5, slow=20))
chart = replay.chart("BTC-USD")
chart

# %%
rp = replay.replay(rec, what="bars", speed=6_000)
print(rp)
assert rp.progress.done < rp.progress.total, "the cell returned while the replay runs"

# %% [markdown]
# A replay can be paused from any cell, stepped by hand while paused, and resumed.

# %%
rp.pause()
stepped = rp.step(3)  # waits for the run to reach its pause, then emits 3 bars
held = rp.progress.done
time.sleep(0.2)
print(rp, [f"{e.timestamp:%H:%M}" for e in stepped])
assert [e.type for e in stepped] == ["bar"] * 3 and rp.state == "paused"
assert rp.progress.done == held, "nothing moves while paused"
rp.resume()

# %%
summary = rp.wait(timeout=60)
print(summary)
span = (bars.index[-1] - bars.index[0]).total_seconds()
assert summary.finished and rp.progress.done == 400
assert summary.wall_seconds > 0.9 * span / 6_000, "paced: event-time gaps / speed"
chart.flush()
candles = chart.figure.data[0]
assert (candles.close == bars["close"].to_numpy()).all(), "the chart drew all 400 bars"

# %% [markdown]
# ## 4. Parity: the replay made the same signals
#
# `evlab.compare(a, b)` lines up the signals of two recordings and lists every difference
# (stamps such as `seq` and emit time legitimately differ and are ignored). Empty means
# identical.

# %%
differences = evlab.compare(rec, replay.recorder)
assert differences.empty, "replayed signals == live signals, event times included"
assert evlab.compare(rec, replay.recorder, types=["bar", "signal"]).empty
assert replay.recorder is not None and len(replay.recorder.signals()) == len(signals)
differences

# %% [markdown]
# Change the strategy a little (a 21-bar slow average instead of 20) and replay the saved file
# again, this time in the foreground and as fast as possible (`background=False`, no speed).
# `compare` now shows where the two diverge: signals that moved a bar later, or changed price,
# and signals only one side has.

# %%
tweaked = evlab.Lab(name="tweaked")
tweaked.add("sma", SmaCross(fast=5, slow=21))
tweaked.replay(path, what="bars", background=False)
differences = evlab.compare(rec, tweaked.recorder)
print(differences["status"].value_counts().to_dict())
assert not differences.empty, "a different strategy, different signals"
assert set(differences["status"]) <= {"changed", "only_a", "only_b"}
differences

# %% [markdown]
# ## 5. Step by step: debugging a signal
#
# `evlab.Replayer(source, bus).step(n)` emits the next `n` events and returns them. Here a
# strategy on a bare bus is stepped to its first signal, which can then be inspected together
# with the strategy's state and the bar that caused it.

# %%
bus = evlab.EventBus()
strategy = SmaCross(fast=5, slow=20)
evlab.EventManager(bus).register_component("sma", strategy, [EventType.BAR])
seen: list[SignalEvent] = []
bus.register(EventType.SIGNAL, seen.append)

stepper = evlab.Replayer(rec, bus, what="bars")
warm_up = stepper.step(strategy.slow - 1)
assert len(warm_up) == 19 and not seen and strategy.above is None, "still warming up"
while not seen:
    (bar,) = stepper.step(1)
signal = seen[0]
print(stepper, bar, signal, sep="\n")
assert signal.cause == bar.seq, "a signal's cause is the bar that triggered it"
assert (signal.signal_type, signal.timestamp) == (signals["signal_type"].iloc[0], signals.index[0])

# %%
replay.stop()
tweaked.stop()
scratch.cleanup()
assert not [t for t in threading.enumerate() if t.name.startswith("evlab-")]

# %% [markdown]
# Next: `04_strategy_prototyping`: hot registration, a paper broker and analytics.
