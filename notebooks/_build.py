"""Write the tutorial notebooks from the cell sources below (without outputs).

    .venv/bin/python notebooks/_build.py            # rewrite every notebook
    .venv/bin/python notebooks/_build.py 02         # only those whose name contains "02"

The notebooks are generated so that their text lives in one reviewable file and every build
gives the same bytes (cell ids are derived from the notebook and the cell's position).
Edit a notebook here, rebuild it, then run ``.venv/bin/pytest tests/test_notebooks.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def md(text: str) -> tuple[str, str]:
    return ("markdown", text.strip("\n"))


def code(text: str) -> tuple[str, str]:
    return ("code", text.strip("\n"))


# --------------------------------------------------------------------------------------------
NB01 = [
    md("""
# 01 · Event bus basics

An event-driven trading system is a set of components that never call each other: a feed
publishes **bars**, a strategy turns bars into **signals**, a broker turns signals into
**orders** and **fills**. They meet only on an **event bus**. This notebook builds one up an
idea at a time:

1. events are immutable, validated values;
2. handlers run in a defined order;
3. emission is depth-first, and every event knows its cause and its event time;
4. components are held by weak references;
5. a failing handler never stops the others;
6. filters and chains;
7. the whole flow bar → signal → order → fill, recorded and drawn.

Each code cell ends with `assert`s that state what the cell showed. The test suite runs
this notebook on a real kernel, so if a feature breaks, the notebook fails.
"""),
    code("""
import dataclasses
import datetime as dt
import gc
from itertools import pairwise

import pandas as pd

import evlab
from evlab.core.events import (
    ChainHandler,
    EventBus,
    EventManager,
    EventType,
    FilterHandler,
    SignalEvent,
    create_bar_event,
    create_signal_event,
)
"""),
    md("""
## 1. Events are immutable, validated values

An event is a frozen dataclass. Its **event time** is the time it is *about* (a bar's open
time); the bus adds a **stamp** when it is emitted: a sequence number `seq`, the wall-clock
`emit_time` and its `cause`.
"""),
    code("""
t0 = dt.datetime(2016, 10, 7, 14, 30, tzinfo=dt.UTC)
bar = create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5)
bar
"""),
    code("""
assert bar.timestamp == t0, "a bar's event time is its open time"
assert bar.seq is None and bar.cause is None, "no stamp until the bus emits it"

try:
    bar.close = 700.0
except dataclasses.FrozenInstanceError:
    immutable = True
assert immutable, "events cannot be changed after they are made"

try:
    create_bar_event("BTC-USD", t0, 611.0, 609.0, 610.2, 612.0, 3.5)  # high below low
except ValueError as exc:
    problem = str(exc)
print(problem)
assert "BarEvent.high" in problem, "a malformed event is refused, naming the field"
"""),
    md("""
## 2. A bus, handlers and their order

`register(event_type, handler)` subscribes a callable. The handlers of one event run by
`priority` (higher first), then in registration order.
"""),
    code("""
bus = EventBus()
calls = []

bus.register(EventType.BAR, lambda e: calls.append("logger"), name="logger")
bus.register(EventType.BAR, lambda e: calls.append("strategy"), name="strategy")
bus.register(EventType.BAR, lambda e: calls.append("risk check"), priority=10, name="risk")

stamped = bus.emit(bar)
print(calls, "| seq", stamped.seq)
assert calls == ["risk check", "logger", "strategy"], "priority first, then registration order"
assert stamped is bar and bar.seq == 1, "emit() stamps the event with a sequence number"
assert bus.handlers(EventType.BAR) == ["risk", "logger", "strategy"], "handlers() shows the order"
"""),
    md("""
## 3. Depth-first emission, causes and event time

A handler may emit new events. They are dispatched **at once**, before the emitting handler
returns (depth-first), so a signal is fully handled before the next handler of its bar runs.
Each new event records the `seq` of the event being handled as its `cause`, and an event
built without a time takes the **event time of its cause**: the signal below is stamped at
the bar's time (2016), not at the wall clock. That is what lets a replay reproduce a live
session exactly.
"""),
    code("""
bus = EventBus()
trace = []

def strategy(bar):
    trace.append(f"strategy sees bar #{bar.seq}")
    bus.emit(create_signal_event(SignalEvent.BUY, bar.close, bar.symbol, "demo"))
    trace.append("strategy returns")

def executor(signal):
    trace.append(f"executor sees signal #{signal.seq}")

def bar_logger(bar):
    trace.append(f"logger sees bar #{bar.seq}")

signals = []
bus.register(EventType.BAR, strategy)
bus.register(EventType.BAR, bar_logger)
bus.register(EventType.SIGNAL, executor)
bus.register(EventType.SIGNAL, signals.append)

bar = bus.emit(create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5))
trace
"""),
    code("""
signal = signals[0]
assert trace == ["strategy sees bar #1", "executor sees signal #2", "strategy returns",
                 "logger sees bar #1"], "the signal is handled inside the bar's handler"
assert signal.cause == bar.seq, "a signal's cause is the bar that triggered it"
assert signal.timestamp == bar.timestamp, "it inherits the bar's event time"
assert signal.emit_time > bar.timestamp + dt.timedelta(days=365), "its emit time is the wall clock"
"""),
    md("""
## 4. Components and weak references

The usage guide wires components through an `EventManager`: each event type goes to the
component's `on_<type>` method. Registered directly on a bus built with
`use_weak_refs=True` (the default), a component's bound method is held **weakly**: delete the
component and it stops receiving events, with no `unregister` to forget. Plain functions and
lambdas are held strongly, so they keep working.
"""),
    code("""
class BarCounter:
    def __init__(self):
        self.bars = 0

    def on_bar(self, event):
        self.bars += 1

bus = EventBus(use_weak_refs=True)
counter = BarCounter()
bus.register(EventType.BAR, counter.on_bar)
lambda_calls = []
bus.register(EventType.BAR, lambda e: lambda_calls.append(e.seq))

bus.emit(create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5))
assert counter.bars == 1 and bus.get_stats()["active_handlers"] == 2

del counter      # the notebook drops its only reference ...
gc.collect()
bus.emit(create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5))
stats = bus.get_stats()
print({k: stats[k] for k in ("active_handlers", "dead_refs_cleaned")})
assert stats["dead_refs_cleaned"] == 1, "... and the bus dropped the dead component's handler"
assert stats["active_handlers"] == 1 and len(lambda_calls) == 2, "the lambda still runs"
"""),
    code("""
class SimpleStrategy:
    def __init__(self, symbol):
        self.symbol = symbol
        self.event_bus = None

    def set_event_bus(self, event_bus):
        self.event_bus = event_bus

    def on_bar(self, event):
        if event.get_symbol() == self.symbol:
            self.event_bus.emit(create_signal_event(
                SignalEvent.BUY, event.get_close(), self.symbol, "simple_strategy"))

bus = EventBus()
manager = EventManager(bus)
manager.register_component("strategy", SimpleStrategy("BTC-USD"), [EventType.BAR])
signals = []
bus.register(EventType.SIGNAL, signals.append)

bus.emit(create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5))
bus.emit(create_bar_event("ETH-USD", t0, 12.0, 12.1, 11.9, 12.05, 80.0))
assert [s.symbol for s in signals] == ["BTC-USD"], "the strategy only trades its symbol"
assert manager.components == {"strategy": ("bar",)}, "the manager owns its components"
"""),
    md("""
## 5. Errors are isolated, logged, counted and published

A handler that raises never stops the others. The bus logs the exception on the `evlab`
logger (the traceback shows below the cell), counts it per handler in `get_stats()` and
publishes an `ErrorEvent` naming the handler and the event it failed on, so a monitor or a
recording sees it too.
"""),
    code("""
bus = EventBus()
reached, errors = [], []

def broken(bar):
    raise ZeroDivisionError("a bug in a strategy")

bus.register(EventType.BAR, broken, priority=1)
bus.register(EventType.BAR, lambda e: reached.append(e.seq))
bus.register(EventType.ERROR, errors.append)

bar = bus.emit(create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5))
"""),
    code("""
error = errors[0]
print(error)
assert reached == [bar.seq], "the next handler still ran"
assert error.handler == "broken" and error.error_type == "ZeroDivisionError"
assert error.original_seq == bar.seq and error.cause == bar.seq, "it names the failed event"
stats = bus.get_stats()
assert stats["handler_errors"] == {"broken": 1} and stats["total_errors"] == 1
assert stats["events_emitted"] == {"bar": 1, "error": 1}
"""),
    md("""
## 6. Filters and chains

`FilterHandler` passes on the events its predicate accepts; `ChainHandler` runs handlers in
order and stops at the first that returns `False`.
"""),
    code("""
bus = EventBus()
expensive, big = [], []

def is_btc(event):
    return event.get_symbol() == "BTC-USD"

def above_615(event):
    return event.get_close() > 615

btc_filter = FilterHandler("btc_filter", is_btc, lambda e: None)
price_filter = FilterHandler("above_615", above_615, expensive.append)
chain = ChainHandler("filter_chain", [btc_filter, price_filter, big.append])
bus.register(EventType.BAR, chain.handle)

for symbol, close in [("BTC-USD", 612.0), ("BTC-USD", 616.0), ("ETH-USD", 700.0)]:
    bus.emit(create_bar_event(symbol, t0, close, close, close, close, 1.0))

print(chain, btc_filter, price_filter)
assert btc_filter.rejected == 1 and price_filter.rejected == 1, "each filter stopped one bar"
assert [e.get_close() for e in expensive] == [616.0], "only BTC above 615 got through both"
assert chain.completed == 1 and chain.stopped == 2
"""),
    md("""
## 7. The whole flow: bar → signal → order → fill

Now a small trading system on real data: six Coinbase BTC/USD minute bars shipped with evlab.
A strategy buys on the second bar and exits on the fourth; a `Portfolio` keeps the account and
a `PaperBroker` turns signals into orders, filled at the **next** bar's open (no look-ahead).
`evlab.record(bus)` records every event into a DataFrame.
"""),
    code("""
from evlab.execution import FixedQuantity, PaperBroker, Portfolio

bars = evlab.datasets.load("btcusd_1m").head(6)
bus = EventBus()
manager = EventManager(bus)
recorder = evlab.record(bus)

class BuyThenExit:
    def __init__(self):
        self.seen = 0

    def set_event_bus(self, event_bus):
        self.event_bus = event_bus

    def on_bar(self, bar):
        self.seen += 1
        kind = {2: SignalEvent.BUY, 4: SignalEvent.EXIT}.get(self.seen)
        if kind:
            self.event_bus.emit(create_signal_event(kind, bar.close, bar.symbol, "buy_then_exit"))

portfolio = Portfolio(10_000)
broker = PaperBroker(portfolio, sizer=FixedQuantity(2))
manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL], priority=20)
manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL], priority=10)
manager.register_component("strategy", BuyThenExit(), [EventType.BAR])

for time, row in bars.iterrows():
    bus.emit(create_bar_event(row.symbol, time, row.open, row.high, row.low, row.close,
                              row.volume, source="btcusd_1m"))

frame = recorder.to_frame()
frame[frame["type"].isin(["bar", "signal", "order", "fill"])][
    ["seq", "type", "event_time", "cause", "signal_type", "side", "quantity", "price", "close"]]
"""),
    code("""
fills = recorder.fills()
cause_of = dict(zip(frame["seq"], frame["cause"], strict=True))
type_of = dict(zip(frame["seq"], frame["type"], strict=True))
chain = [fills["seq"].iloc[0]]
while pd.notna(cause_of[chain[-1]]):      # walk the causes back from the first fill
    chain.append(cause_of[chain[-1]])
chain.reverse()
kinds = [type_of[s] for s in chain]
print(" -> ".join(f"{k} #{s}" for k, s in zip(kinds, chain, strict=True)))
assert kinds == ["bar", "signal", "order", "fill"], "a fill's causes lead back to its bar"
assert len(fills) == 2 and portfolio.position("BTC-USD") == 0, "bought 2, then exited"
assert fills.index[0] == bars.index[2], "the BUY on bar 2 filled at bar 3's open"
assert evlab.plot.edges(frame)[:3] == list(pairwise(chain)), "(cause, effect) pairs"
"""),
    md("""
`evlab.plot.flow` draws the same chains: one lane per event type, each event joined to its
cause. Hover a marker to see the event.
"""),
    code("""
fig = evlab.plot.flow(recorder, title="bar → signal → order → fill")
lanes = set(fig.layout.yaxis.ticktext)
assert {"bar", "signal · buy_then_exit", "order · buy_then_exit", "fill · buy_then_exit"} <= lanes
fig
"""),
    md("""
Next: `02_live_feed` runs the same bus on a live WebSocket feed, with a live chart.
"""),
]


# --------------------------------------------------------------------------------------------
NB02 = [
    md("""
# 02 · A live feed, a live chart, and a kernel that stays free

evlab ships a `FeedServer`: it streams a dataset over a real WebSocket on 127.0.0.1, in an
exchange's own message format (Binance here). `lab.live(...)` starts one and connects the
usage guide's `WebSocketEmitter` and `WebSocketHandler` to the lab's bus. Nothing leaves the
machine, and the feed is bounded (600 bars).

The feed runs on **its own asyncio loop on a daemon thread**. So the cell that starts it
returns at once, and bars keep arriving while other cells run, even while a cell blocks
(ipykernel runs every cell on the kernel's own loop, which freezes while a cell blocks; a
loop on another thread does not). This notebook checks each of these claims with an `assert`.
"""),
    code("""
import asyncio
import threading
import time
from collections import deque

import pandas as pd

import evlab
from evlab import EventType, create_signal_event
from evlab.plot import indicator_event

lab = evlab.Lab()
lab
"""),
    md("""
## Strategies first

`@lab.strategy(name)` registers a function (or a class) as a strategy; what the function
returns is emitted. This one draws a 20-bar moving average over the candles
(`indicator_event`) and signals when the close crosses it.
"""),
    code("""
window = deque(maxlen=20)
state = {"above": None}

@lab.strategy("sma_cross")
def sma_cross(bar):
    window.append(bar.close)
    if len(window) < window.maxlen:
        return None
    sma = sum(window) / len(window)
    events = [indicator_event(bar.symbol, "sma_20", sma)]  # a line over the candles
    above = bar.close > sma
    if state["above"] is not None and above != state["above"]:
        kind = "BUY" if above else "SELL"
        events.append(create_signal_event(kind, bar.close, bar.symbol, "sma_cross"))
    state["above"] = above
    return events
"""),
    md("""
And a strategy with a bug: it raises on the last minute of every hour. Each failure is logged,
counted and published as an `ErrorEvent`; the lab sums it up **once** on stderr (under the
cell that is running when it first happens), and the feed goes on.
"""),
    code("""
@lab.strategy("fragile")
def fragile(bar):
    if bar.timestamp.minute == 59:
        raise ValueError(f"no reference price at {bar.timestamp:%H:%M}")
"""),
    code("""
arrived = []  # every bar, appended on the feed's thread as it arrives
lab.bus.register(EventType.BAR, arrived.append)

def when_arrived(total):
    \"\"\"A threading.Event that is set once `total` bars have arrived.\"\"\"
    done = threading.Event()
    def check(bar):
        if len(arrived) >= total:
            done.set()
    lab.bus.register(EventType.BAR, check, priority=-100)  # after arrived.append
    if len(arrived) >= total:
        done.set()
    return done

async def until(condition, timeout=30):
    \"\"\"Wait for `condition()` without blocking the kernel's loop.\"\"\"
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
"""),
    md("""
## The views: a live chart and an event log

`lab.chart(symbol)` is a plotly `FigureWidget` that follows the bus: candles, signal markers,
indicator lines, volume. Its handlers only append to a bounded window; redraws are
**coalesced** to at most 10 a second on the kernel's loop (a browser cannot redraw 500
candles 100 times a second). `EventLog` lists the last events of the types you pick.
"""),
    code("""
chart = lab.chart("BTCUSDT")
chart
"""),
    code("""
log = evlab.EventLog(lab.bus, last=8, types=[EventType.SIGNAL, EventType.ERROR])
log
"""),
    md("""
## Start the feed: the cell returns at once

600 one-minute bars of Coinbase BTC/USD (October 2016, shipped with evlab), served as Binance
klines (symbol `BTCUSDT`) at 100 bars a second: six seconds of feed.
"""),
    code("""
started = time.perf_counter()
feed = lab.live("btcusd_1m", exchange="binance", rate=100, limit=600)
took = time.perf_counter() - started
print(f"returned after {took:.2f} s, connected={feed.connected}, {len(arrived)} bars so far")
assert feed.connected and took < 5, "the cell returned as soon as the feed was connected"
assert len(arrived) < 600, "... long before the feed's 600 bars have arrived"
"""),
    md("""
`lab.monitor()` is the observability panel: events per second by type, each handler's calls,
latency and errors, and the feed's counters. It refreshes itself every second.
"""),
    code("""
monitor = lab.monitor()
monitor
"""),
    md("""
## Block the kernel: the bars keep coming

`threading.Event.wait()` blocks this cell, and with it the kernel's own event loop, until a
bar handler sets the event, 100 bars later. Those bars can only arrive because the feed runs
on its own thread. (`time.sleep` would show the same.)
"""),
    code("""
before = len(arrived)
hundred_more = when_arrived(before + 100)
assert hundred_more.wait(timeout=30), "100 bars arrived while this cell blocked"
print(f"{len(arrived) - before} bars arrived while the cell was blocked")
"""),
    md("""
## Top-level `await`: the kernel's loop runs, the widgets update

A cell can `await`. While it waits, the kernel's loop is free: the chart redraws and the
panel refreshes. (The chart could not redraw during the blocking cell above; its first redraw
afterwards drew every bar that had arrived meanwhile. Coalescing merges redraws, never data.)
"""),
    code("""
redraws_before = chart.redraws
refreshes = []
monitor.on_refresh.append(refreshes.append)

target = len(arrived) + 50
await until(lambda: len(arrived) >= target and refreshes)
print(chart, monitor, sep="\\n")
assert chart.redraws > redraws_before, "the chart redrew while the cell awaited"
assert refreshes[-1]["total_events"] > 0, "the panel refreshed itself"
"""),
    md("""
`asyncio.run()` cannot start a second loop inside the kernel's running loop: in a cell, use
`await`. Where synchronous code has to drive a coroutine to completion (in a cell or in a
plain script alike), `evlab.run(coro)` does it.
"""),
    code("""
coro = asyncio.sleep(0)
try:
    asyncio.run(coro)
    refused = None
except RuntimeError as exc:
    coro.close()
    refused = str(exc)
print("asyncio.run:", refused)
assert refused and "running event loop" in refused

async def last_close():
    await asyncio.sleep(0.01)
    return arrived[-1].close

assert evlab.run(last_close()) > 0, "evlab.run() works from synchronous code in a cell"
"""),
    md("""
## Errors are shown, counted, and the feed goes on

The `fragile` strategy failed at the end of every hour. The lab printed one line about it,
the bus logged each failure, and every failure is counted: in `lab.strategies.errors`, in the
recording (with the sequence number of the bar it failed on), and in the panel.
"""),
    code("""
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
"""),
    md("""
## The end of the feed: every bar is drawn

The feed is bounded: it ends after 600 bars. After `chart.flush()` the figure holds exactly
the last 500 bars (the chart's window), although it was redrawn far fewer times than bars
arrived.
"""),
    code("""
assert when_arrived(600).wait(timeout=60), "the bounded feed delivered all its 600 bars"
chart.flush()
candles = chart.figure.data[0]
bars = lab.recorder.bars("BTCUSDT").tail(chart.window)
print(chart.stats)
assert chart.redraws < len(arrived) / 5, "coalescing: far fewer redraws than bars"
assert len(candles.x) == len(bars) == 500, "the window holds the last 500 bars"
drawn_times = pd.to_datetime(candles.x, utc=True)  # the times the figure holds
assert (drawn_times == bars.index).all(), "every bar of the window ..."
assert (candles.close == bars["close"].to_numpy()).all(), "... is in the figure"
"""),
    md("""
## `lab.stop()` ends it all

It stops the feed, the server, the chart and the panel, and ends their threads. The
recording stays, for the next notebook: `03_record_and_replay`.
"""),
    code("""
lab.stop()
log.close()
left = [t.name for t in threading.enumerate() if t.name.startswith("evlab-feed")]
assert left == [] and not feed.connected, "no feed thread is left"
assert len(lab.frame()) > 600, "the recording stays"
lab
"""),
]


# --------------------------------------------------------------------------------------------
NB03 = [
    md("""
# 03 · Record, save, load, replay, compare

A live session is gone once it is over, unless it was recorded. This notebook records a live
session (a local WebSocket feed and a strategy), saves it as Parquet, loads it back, replays
it through the same strategy on a fresh bus, and checks with `evlab.compare` that the replay
made **exactly** the same signals, event times included.

That works because a signal's event time is the event time of the bar that caused it, never
the wall clock (see `01_event_bus_basics`): live or replayed, the bar of 01:24 makes a signal
of 01:24.
"""),
    code("""
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import pandas as pd

import evlab
from evlab import EventType, SignalEvent, create_signal_event

scratch = tempfile.TemporaryDirectory(prefix="evlab-03-")  # removed at the end
workdir = Path(scratch.name)
"""),
    md("""
The strategy: a 5/20-bar moving-average crossover on minute bars, as a class, so each
registration gets a fresh instance with fresh state.
"""),
    code("""
class SmaCross:
    fast, slow = 5, 20

    def __init__(self):
        self.closes = deque(maxlen=self.slow)
        self.above = None

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, bar):
        self.closes.append(bar.close)
        if len(self.closes) < self.slow:
            return
        above = sum(list(self.closes)[-self.fast:]) / self.fast > sum(self.closes) / self.slow
        if self.above is not None and above != self.above:
            kind = SignalEvent.BUY if above else SignalEvent.SELL
            self.bus.emit(create_signal_event(kind, bar.close, bar.symbol, "sma"))
        self.above = above
"""),
    md("""
## 1. Record a live session

A `Lab` records every event of its bus by default. The feed: 400 Coinbase BTC/USD minute
bars served on 127.0.0.1 at 200 bars a second.
"""),
    code("""
live = evlab.Lab(name="live")
live.add("sma", SmaCross)

arrived = []
all_bars = threading.Event()
live.bus.register(EventType.BAR, lambda bar: arrived.append(bar) or
                  (len(arrived) == 400 and all_bars.set()))

live.live("btcusd_1m", exchange="coinbase", rate=200, limit=400)
assert all_bars.wait(timeout=60), "the feed delivered its 400 bars"
live.stop()
live.recorder
"""),
    code("""
frame = live.frame()
counts = frame["type"].value_counts()
bars, signals = live.recorder.bars(), live.recorder.signals()
print(counts.to_dict())
assert counts["bar"] == 400 and counts["websocket"] >= 400 and counts["signal"] > 5
cause_type = dict(zip(frame["seq"], frame["type"], strict=True))
assert {cause_type[c] for c in signals["cause"]} == {"bar"}, "signals are caused by bars ..."
assert {cause_type[c] for c in frame.loc[frame["type"] == "bar", "cause"]} == {"websocket"}, \\
    "... and bars by the raw WebSocket messages they were decoded from"
signals.head()
"""),
    md("""
## 2. Save as Parquet, load it back

`save` writes one Parquet file (atomically); `load_recording` reads it (or a folder of
autosaved parts) as a `Recording`. The round trip is exact: types, UTC nanosecond times,
sequence numbers, causes, raw payloads.
"""),
    code("""
path = live.recorder.save(workdir / "session.parquet")
rec = evlab.load_recording(path)
print(f"{path.name}: {path.stat().st_size:,} bytes")
pd.testing.assert_frame_equal(rec.frame, live.frame())  # raises if anything differs
rec
"""),
    md("""
## 3. Replay it, paced, into a fresh bus

`lab.replay(...)` runs a `Replayer` on a background thread: the cell returns at once.
`what="bars"` replays the bars decoded during the live session; the strategy, registered
on the new lab, makes its signals again. `speed=6_000` plays the recorded minutes 6,000
times faster than they happened: the session's 6 hours 43 minutes in about 4 seconds. A
live chart follows the replay as it would a feed.
"""),
    code("""
replay = evlab.Lab(name="replay")
replay.add("sma", SmaCross)
chart = replay.chart("BTC-USD")
chart
"""),
    code("""
rp = replay.replay(rec, what="bars", speed=6_000)
print(rp)
assert rp.progress.done < rp.progress.total, "the cell returned while the replay runs"
"""),
    md("""
A replay can be paused from any cell, stepped by hand while paused, and resumed.
"""),
    code("""
rp.pause()
stepped = rp.step(3)  # waits for the run to reach its pause, then emits 3 bars
held = rp.progress.done
time.sleep(0.2)
print(rp, [f"{e.timestamp:%H:%M}" for e in stepped])
assert [e.type for e in stepped] == ["bar"] * 3 and rp.state == "paused"
assert rp.progress.done == held, "nothing moves while paused"
rp.resume()
"""),
    code("""
summary = rp.wait(timeout=60)
print(summary)
span = (bars.index[-1] - bars.index[0]).total_seconds()
assert summary.finished and rp.progress.done == 400
assert summary.wall_seconds > 0.9 * span / 6_000, "paced: event-time gaps / speed"
chart.flush()
candles = chart.figure.data[0]
assert (candles.close == bars["close"].to_numpy()).all(), "the chart drew all 400 bars"
"""),
    md("""
## 4. Parity: the replay made the same signals

`evlab.compare(a, b)` lines up the signals of two recordings and lists every difference
(stamps such as `seq` and emit time legitimately differ and are ignored). Empty means
identical.
"""),
    code("""
differences = evlab.compare(rec, replay.recorder)
assert differences.empty, "replayed signals == live signals, event times included"
assert evlab.compare(rec, replay.recorder, types=["bar", "signal"]).empty
assert len(replay.recorder.signals()) == len(signals)
differences
"""),
    md("""
Change the strategy a little (a 21-bar slow average instead of 20) and replay the saved file
again, this time in the foreground and as fast as possible (`background=False`, no speed).
`compare` now shows where the two diverge: signals that moved a bar later, or changed price,
and signals only one side has.
"""),
    code("""
class Perturbed(SmaCross):
    slow = 21

tweaked = evlab.Lab(name="tweaked")
tweaked.add("sma", Perturbed)
tweaked.replay(path, what="bars", background=False)
differences = evlab.compare(rec, tweaked.recorder)
print(differences["status"].value_counts().to_dict())
assert not differences.empty, "a different strategy, different signals"
assert set(differences["status"]) <= {"changed", "only_a", "only_b"}
differences
"""),
    md("""
## 5. Step by step: debugging a signal

`evlab.Replayer(source, bus).step(n)` emits the next `n` events and returns them. Here a
strategy on a bare bus is stepped to its first signal, which can then be inspected together
with the strategy's state and the bar that caused it.
"""),
    code("""
bus = evlab.EventBus()
strategy = SmaCross()
evlab.EventManager(bus).register_component("sma", strategy, [EventType.BAR])
seen = []
bus.register(EventType.SIGNAL, seen.append)

stepper = evlab.Replayer(rec, bus, what="bars")
warm_up = stepper.step(SmaCross.slow - 1)
assert len(warm_up) == 19 and not seen and strategy.above is None, "still warming up"
while not seen:
    (bar,) = stepper.step(1)
signal = seen[0]
print(stepper, bar, signal, sep="\\n")
assert signal.cause == bar.seq, "a signal's cause is the bar that triggered it"
assert (signal.signal_type, signal.timestamp) == (signals["signal_type"].iloc[0], signals.index[0])
"""),
    code("""
replay.stop()
tweaked.stop()
scratch.cleanup()
assert not [t for t in threading.enumerate() if t.name.startswith(("evlab-feed", "evlab-replay"))]
"""),
    md("""
Next: `04_strategy_prototyping`: hot registration, a paper broker and analytics.
"""),
]


# --------------------------------------------------------------------------------------------
SMA_CELL = """
@lab.strategy("sma")
class SmaCross:
    \"\"\"BUY when the fast average crosses above the slow one, EXIT when it crosses below.\"\"\"
    fast, slow = 20, 50

    def __init__(self):
        self.closes = deque(maxlen=self.slow)
        self.above = None

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, bar):
        self.closes.append(bar.close)
        if len(self.closes) < self.slow:
            return
        above = sum(list(self.closes)[-self.fast:]) / self.fast > sum(self.closes) / self.slow
        if self.above is not None and above != self.above:
            kind = SignalEvent.BUY if above else SignalEvent.EXIT
            self.bus.emit(create_signal_event(kind, bar.close, bar.symbol, "sma"))
        self.above = above
"""

NB04 = [
    md("""
# 04 · Prototyping a strategy

The loop of strategy research in a notebook: write a strategy in a cell, run it on data,
change the cell, run it again, trade it on paper, look at the numbers and the equity curve.
evlab makes the "run it again" part safe: **re-running a strategy's cell replaces the
strategy of that name**, it never adds a second copy that silently doubles every signal.

Data: daily AAPL bars shipped with evlab (Quandl WIKI, public domain). The prices are
**unadjusted**, so we start after the February 2005 split: from March 2005 on there is none.
"""),
    code("""
import gc
import weakref
from collections import deque

import pandas as pd

import evlab
from evlab import EventType, SignalEvent, analytics, create_bar_event, create_signal_event
from evlab.execution import FillModel, FractionOfEquity, PaperBroker, Portfolio

bars = evlab.datasets.load("stocks_daily", symbol="AAPL").loc["2005-03-01":]
print(f"{len(bars):,} daily bars of AAPL, {bars.index[0]:%Y-%m-%d} .. {bars.index[-1]:%Y-%m-%d}")
bars.tail(3)
"""),
    md("""
`play` emits each row as a `BarEvent`, in time order. (A `Replayer` does the same, paced or
as fast as possible: see `03_record_and_replay`. A plain loop shows there is no magic.)
"""),
    code("""
def play(bars, bus):
    \"\"\"Emit each row of a bars frame on `bus` as a BarEvent.\"\"\"
    for time, row in zip(bars.index, bars.itertuples(index=False), strict=True):
        bus.emit(create_bar_event(row.symbol, time, row.open, row.high, row.low, row.close,
                                  row.volume, source="stocks_daily"))
"""),
    md("""
## 1. Hot registration: re-running a cell replaces the strategy

`@lab.strategy("sma")` registers the class below under the name `"sma"` (it makes one
instance and wires its `on_bar`). The strategy is a classic: the 20-day average crossing
the 50-day one.
"""),
    code("""
lab = evlab.Lab()
signals = []
lab.bus.register(EventType.SIGNAL, signals.append)
lab
"""),
    code(SMA_CELL),
    code("""
first = weakref.ref(lab.strategies.get("sma"))  # to check later that it is freed
play(bars.iloc[:250], lab.bus)
first_run = list(signals)
print(f"{len(first_run)} signals in the first 250 bars:",
      ", ".join(f"{s.signal_type} {s.timestamp:%Y-%m-%d}" for s in first_run))
assert first_run, "the strategy traded"
assert all(s.strategy_id == "sma" for s in first_run)
"""),
    md("""
Now run the strategy's cell **again**, as you would after editing it (in a notebook you
would press Shift+Enter on it once more; here the same cell is repeated below). Then play
the same 250 bars: if the old strategy were still registered, every signal would come
twice.
"""),
    code(SMA_CELL),
    code("""
signals.clear()
play(bars.iloc[:250], lab.bus)
gc.collect()
same = [(s.signal_type, s.timestamp) for s in first_run]
assert [(s.signal_type, s.timestamp) for s in signals] == same, "the same signals, once each"
assert first() is None, "the first strategy object is gone"
assert len(lab.strategies) == 1
assert [h for h in lab.bus.handlers(EventType.BAR) if h.startswith("sma")] == ["sma.on_bar"]
lab.strategies.list()
"""),
    md("""
## 2. Disable and enable

`disable` takes a strategy off the bus and keeps it (with its state) for `enable`.
"""),
    code("""
lab.strategies.disable("sma")
before = len(signals)
play(bars.iloc[250:750], lab.bus)
assert len(signals) == before, "a disabled strategy sees no bars"
assert lab.strategies.list()[0]["enabled"] is False

lab.strategies.enable("sma")
play(bars.iloc[750:1250], lab.bus)
print(f"{len(signals) - before} signals after enable")
assert len(signals) > before, "enabled again, it trades again"
"""),
    md("""
## 3. Paper trading: portfolio, broker, strategy

A fresh lab for a clean account. The `Portfolio` marks each bar's close and applies fills;
the `PaperBroker` turns each signal into an order (95% of equity on BUY, flat on EXIT) and
fills it at the **next** bar's open, with $1 commission and 5 bps slippage: no look-ahead.
Priorities make the account current before the strategy sees a bar: portfolio (20), broker
(10), strategy (0).
"""),
    code("""
bt = evlab.Lab(name="backtest")
portfolio = Portfolio(100_000)
broker = PaperBroker(portfolio, FillModel(commission=1.0, slippage_bps=5), FractionOfEquity(0.95))
bt.manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                              priority=20)
bt.manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL], priority=10)
bt.add("sma", SmaCross)
play(bars, bt.bus)
portfolio
"""),
    code("""
fills, equity = analytics.from_portfolio(portfolio)
stats = analytics.summary(fills, equity)
print(analytics.format_summary(stats))
accounted = portfolio.initial_cash + portfolio.realized_pnl + portfolio.unrealized_pnl
assert abs(portfolio.equity - accounted) < 1e-6, "equity = initial cash + realised + unrealised"
assert stats["final_equity"] == equity.iloc[-1] == portfolio.equity
assert stats["max_drawdown"] == analytics.equity_frame(equity)["drawdown"].min() < 0
assert stats["trades"] > 10
"""),
    md("""
Every fill has a cause chain back to its signal, so "no look-ahead" can be checked, not
just claimed: each fill is at a later bar than the signal behind it.
"""),
    code("""
rec = bt.recorder
orders, recorded_fills = rec.orders(), rec.fills()
signal_time = dict(zip(rec.signals()["seq"], rec.signals().index, strict=True))
order_signal = dict(zip(orders["seq"], orders["cause"], strict=True))
behind = [signal_time[order_signal[cause]] for cause in recorded_fills["cause"]]
assert (recorded_fills.index > pd.DatetimeIndex(behind)).all(), "fills come after signals"
assert len(recorded_fills) == len(fills), "the recording holds every fill"
"""),
    md("""
The round trips, one row each:
"""),
    code("""
trades = analytics.trades(fills)
closed = trades[trades["closed"]]
assert len(closed) == stats["trades"]
assert stats["win_rate"] == (closed["pnl"] > 0).mean()
trades.tail()
"""),
    md("""
## 4. The equity chart

`evlab.plot.chart` draws a recording: candles, BUY ▲ and EXIT ▼ markers at the signal
price, fills, volume, and an equity panel from the portfolio's events.
"""),
    code("""
fig = evlab.plot.chart(bt.recorder, "AAPL", title="AAPL · SMA 20/50 crossover, paper broker")
equity_trace = next(t for t in fig.data if t.name == "equity")
buys = next(t for t in fig.data if t.name == "buy")
assert len(equity_trace.y) > 0 and fig.layout.yaxis3.visible, "an equity panel"
assert len(buys.x) == (rec.signals()["signal_type"] == "BUY").sum(), "a ▲ per BUY signal"
fig
"""),
    md("""
## 5. A small parameter sweep

The same pieces in a function: a fresh lab (without recording) per run. Runs are
deterministic, so the 20/50 run reproduces the backtest above exactly.
"""),
    code("""
def backtest(fast, slow):
    lab = evlab.Lab(record=False)
    pf = Portfolio(100_000)
    lab.manager.register_component("portfolio", pf, [EventType.BAR, EventType.FILL], priority=20)
    pb = PaperBroker(pf, FillModel(commission=1.0, slippage_bps=5), FractionOfEquity(0.95))
    lab.manager.register_component("broker", pb, [EventType.BAR, EventType.SIGNAL], priority=10)
    lab.add("sma", type("Sma", (SmaCross,), {"fast": fast, "slow": slow}))
    play(bars, lab.bus)
    return analytics.summary(*analytics.from_portfolio(pf))

sweep = pd.DataFrame({f"{f}/{s}": backtest(f, s) for f, s in [(10, 30), (20, 50), (50, 200)]}).T
assert sweep.loc["20/50", "final_equity"] == stats["final_equity"], "the same run, the same result"
assert sweep["final_equity"].nunique() == 3
sweep[["total_return", "annual_return", "sharpe", "max_drawdown", "trades", "win_rate"]]
"""),
]


# --------------------------------------------------------------------------------------------
NOTEBOOKS = {
    "01_event_bus_basics": NB01,
    "02_live_feed": NB02,
    "03_record_and_replay": NB03,
    "04_strategy_prototyping": NB04,
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook(metadata={"kernelspec": KERNELSPEC,
                                "language_info": {"name": "python"}})
    for i, (kind, source) in enumerate(cells):
        cell = (new_code_cell if kind == "code" else new_markdown_cell)(source)
        cell.id = f"{name[:2]}-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main(argv: list[str]) -> None:
    for name, cells in NOTEBOOKS.items():
        if argv and not any(a in name for a in argv):
            continue
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name, cells), path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
