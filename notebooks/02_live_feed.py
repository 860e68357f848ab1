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
# # 02 · A live feed, a live chart, and a kernel that stays free
#
# evlab ships a `FeedServer`: it streams a dataset over a real WebSocket on 127.0.0.1, in an
# exchange's own message format (Binance here). `lab.live(...)` starts one and connects the
# usage guide's `WebSocketEmitter` and `WebSocketHandler` to the lab's bus. Nothing leaves the
# machine, and the feed is bounded (600 bars).
#
# The feed runs on **the lab's own asyncio loop on a daemon thread** (`lab.loop`, one for all
# the lab's feeds, servers and replays). So the cell that starts it
# returns at once, and bars keep arriving while other cells run, even while a cell blocks
# (ipykernel runs every cell on the kernel's own loop, which freezes while a cell blocks; a
# loop on another thread does not). This notebook checks each of these claims with an `assert`.

# %%
import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pandas as pd

import evlab
from evlab import BarEvent, Event, EventType, create_signal_event
from evlab.plot import indicator_event

lab = evlab.Lab()
lab

# %% [markdown]
# ## Strategies first
#
# `@lab.strategy(name)` registers a function (or a class) as a strategy; what the function
# returns is emitted. This one draws a 20-bar moving average over the candles
# (`indicator_event`) and signals when the close crosses it.

# %%
SMA_BARS = 20
window: deque[float] = deque(maxlen=SMA_BARS)
state: dict[str, bool | None] = {"above": None}

@lab.strategy("sma_cross")
def sma_cross(bar: BarEvent) -> list[Event] | None:
    window.append(bar.close)
    if len(window) < SMA_BARS:
        return None
    sma = sum(window) / len(window)
    events: list[Event] = [indicator_event(bar.symbol, "sma_20", sma)]  # a line on the chart
    above = bar.close > sma
    if state["above"] is not None and above != state["above"]:
        kind = "BUY" if above else "SELL"
        events.append(create_signal_event(kind, bar.close, bar.symbol, "sma_cross"))
    state["above"] = above
    return events


# %% [markdown]
# And a strategy with a bug: it raises on the last minute of every hour. Each failure is logged,
# counted and published as an `ErrorEvent`; the lab sums it up **once** on stderr (under the
# cell that is running when it first happens), and the feed goes on.

# %%
@lab.strategy("fragile")
def fragile(bar: BarEvent) -> None:
    if bar.timestamp.minute == 59:
        raise ValueError(f"no reference price at {bar.timestamp:%H:%M}")


# %%
arrived: list[BarEvent] = []  # every bar, appended on the feed's thread as it arrives
lab.bus.register(EventType.BAR, arrived.append)

def when_arrived(total: int) -> threading.Event:
    """A threading.Event that is set once `total` bars have arrived."""
    done = threading.Event()
    def check(bar: BarEvent) -> None:
        if len(arrived) >= total:
            done.set()
    lab.bus.register(EventType.BAR, check, priority=-100)  # after arrived.append
    if len(arrived) >= total:
        done.set()
    return done

async def until(condition: Callable[[], object], timeout: float = 30) -> None:
    """Wait for `condition()` without blocking the kernel's loop."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


# %% [markdown]
# ## The views: a live chart and an event log
#
# `lab.chart(symbol)` is a plotly `FigureWidget` that follows the bus: candles, signal markers,
# indicator lines, volume. Its handlers only append to a bounded window; redraws are
# **coalesced** to at most 10 a second on the kernel's loop (a browser cannot redraw 500
# candles 100 times a second). `EventLog` lists the last events of the types you pick.

# %%
chart = lab.chart("BTCUSDT")
chart

# %%
log = evlab.EventLog(lab.bus, last=8, types=[EventType.SIGNAL, EventType.ERROR])
log

# %% [markdown]
# ## Start the feed: the cell returns at once
#
# 600 one-minute bars of Coinbase BTC/USD (October 2016, shipped with evlab), served as Binance
# klines (symbol `BTCUSDT`) at 100 bars a second: six seconds of feed.

# %%
started = time.perf_counter()
feed = lab.live("btcusd_1m", exchange="binance", rate=100, limit=600)
took = time.perf_counter() - started
print(f"returned after {took:.2f} s, connected={feed.connected}, {len(arrived)} bars so far")
assert feed.connected, "the cell returned once the feed was connected ..."
assert len(arrived) < 600, "... long before the feed's 600 bars have arrived"

# %% [markdown]
# `lab.monitor()` is the observability panel: events per second by type, each handler's calls,
# latency and errors, and the feed's counters. It refreshes itself every second.

# %%
monitor = lab.monitor()
monitor

# %% [markdown]
# ## Block the kernel: the bars keep coming
#
# `threading.Event.wait()` blocks this cell, and with it the kernel's own event loop, until a
# bar handler sets the event, 100 bars later. Those bars can only arrive because the feed runs
# on its own thread. (`time.sleep` would show the same.)

# %%
before = len(arrived)
hundred_more = when_arrived(before + 100)
assert hundred_more.wait(timeout=30), "100 bars arrived while this cell blocked"
print(f"{len(arrived) - before} bars arrived while the cell was blocked")

# %% [markdown]
# ## Top-level `await`: the kernel's loop runs, the widgets update
#
# A cell can `await`. While it waits, the kernel's loop is free: the chart redraws and the
# panel refreshes. (The chart could not redraw during the blocking cell above; its first redraw
# afterwards drew every bar that had arrived meanwhile. Coalescing merges redraws, never data.)

# %%
redraws_before = chart.redraws
refreshes: list[dict[str, Any]] = []
monitor.on_refresh.append(refreshes.append)

target = len(arrived) + 50
# (a cell may await at top level: ipykernel runs it inside its loop; mypy sees a module)
await until(lambda: len(arrived) >= target and refreshes)  # type: ignore[top-level-await]
print(chart, monitor, sep="\n")
assert chart.redraws > redraws_before, "the chart redrew while the cell awaited"
assert refreshes[-1]["total_events"] > 0, "the panel refreshed itself"

# %% [markdown]
# `asyncio.run()` cannot start a second loop inside the kernel's running loop: in a cell, use
# `await`. Where synchronous code has to drive a coroutine to completion (in a cell or in a
# plain script alike), `evlab.run(coro)` does it, on a loop of its own; the kernel's loop
# waits meanwhile, as during any blocking cell, and is given back untouched: `asyncio.run`
# still fails in the next cell (run this notebook twice in one kernel: it still passes).

# %%
coro = asyncio.sleep(0)
try:
    asyncio.run(coro)
    refused = None
except RuntimeError as exc:
    coro.close()
    refused = str(exc)
print("asyncio.run:", refused)
assert refused and "running event loop" in refused

async def last_close() -> float:
    await asyncio.sleep(0.01)
    return arrived[-1].close

assert evlab.run(last_close()) > 0, "evlab.run() works from synchronous code in a cell"

# %% [markdown]
# ## Errors are shown, counted, and the feed goes on
#
# The `fragile` strategy failed at the end of every hour. The lab printed one line about it,
# the bus logged each failure, and every failure is counted: in `lab.strategies.errors`, in the
# recording (with the sequence number of the bar it failed on), and in the panel.

# %%
frame = lab.frame()
errors = frame[frame["type"] == "error"]
first_failure = errors["original_seq"].min()
bars_after = frame[(frame["type"] == "bar") & (frame["seq"] > first_failure)]
print(lab.strategies.errors)
assert lab.strategies.errors["fragile"]["ValueError"] >= 2, "every failure is counted"
assert set(errors["handler"]) == {"fragile.on_bar"}, "each names the failing strategy"
assert len(bars_after) > 50, "bars kept coming after the first failure"
assert monitor.refresh()["errors"] >= 2, "the panel shows them"
log.flush()
assert set(log.to_frame()["type"]) <= {"signal", "error"} and len(log.to_frame()) == 8
lab.strategies.list()

# %% [markdown]
# ## The end of the feed: every bar is drawn
#
# The feed is bounded: it ends after 600 bars. After `chart.flush()` the figure holds exactly
# the last 500 bars (the chart's window), although it was redrawn far fewer times than bars
# arrived.

# %%
assert when_arrived(600).wait(timeout=60), "the bounded feed delivered all its 600 bars"
chart.flush()
candles = chart.figure.data[0]
recorder = lab.recorder
assert recorder is not None, "a Lab records by default"
bars = recorder.bars("BTCUSDT").tail(chart.window)
print(chart.stats)
assert chart.redraws < len(arrived) / 5, "coalescing: far fewer redraws than bars"
assert len(candles.x) == len(bars) == 500, "the window holds the last 500 bars"
drawn_times = pd.to_datetime(candles.x, utc=True)  # the times the figure holds
assert (drawn_times == bars.index).all(), "every bar of the window ..."
assert (candles.close == bars["close"].to_numpy()).all(), "... is in the figure"

# %% [markdown]
# ## `lab.stop()` ends it all
#
# It stops the feed, the server, the chart and the panel, and ends their threads. The
# recording stays, for the next notebook: `03_record_and_replay`.

# %%
lab.stop()
log.close()
left = [t.name for t in threading.enumerate() if t.name.startswith("evlab-")]
assert left == [] and not feed.connected, "no evlab thread is left"
assert len(lab.frame()) > 600, "the recording stays"
lab
