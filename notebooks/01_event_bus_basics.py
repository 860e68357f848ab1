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
# # 01 · Event bus basics
#
# An event-driven trading system is a set of components that never call each other: a feed
# publishes **bars**, a strategy turns bars into **signals**, a broker turns signals into
# **orders** and **fills**. They meet only on an **event bus**. This notebook builds one up an
# idea at a time:
#
# 1. events are immutable, validated values;
# 2. handlers run in a defined order;
# 3. emission is depth-first, and every event knows its cause and its event time;
# 4. components are held by weak references;
# 5. a failing handler never stops the others;
# 6. filters and chains;
# 7. the whole flow bar → signal → order → fill, recorded and drawn.
#
# Each code cell ends with `assert`s that state what the cell showed. The test suite runs
# this notebook on a real kernel, so if a feature breaks, the notebook fails.

# %%
import dataclasses
import datetime as dt
import gc
from itertools import pairwise

import pandas as pd

import evlab
from evlab.core.events import (
    BarEvent,
    ChainHandler,
    ErrorEvent,
    EventBus,
    EventManager,
    EventType,
    FilterHandler,
    SignalEvent,
    create_bar_event,
    create_signal_event,
)
from evlab.execution import FixedQuantity, PaperBroker, Portfolio

# %% [markdown]
# ## 1. Events are immutable, validated values
#
# An event is a frozen dataclass. Its **event time** is the time it is *about* (a bar's open
# time); the bus adds a **stamp** when it is emitted: a sequence number `seq`, the wall-clock
# `emit_time` and its `cause`.

# %%
t0 = dt.datetime(2016, 10, 7, 14, 30, tzinfo=dt.UTC)
bar = create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5)
bar

# %%
assert bar.timestamp == t0, "a bar's event time is its open time"
assert bar.seq is None and bar.cause is None, "no stamp until the bus emits it"

try:
    bar.close = 700.0  # type: ignore[misc]  # frozen: this raises, on purpose
except dataclasses.FrozenInstanceError:
    immutable = True
assert immutable, "events cannot be changed after they are made"

try:
    create_bar_event("BTC-USD", t0, 611.0, 609.0, 610.2, 612.0, 3.5)  # high below low
except ValueError as exc:
    problem = str(exc)
print(problem)
assert "BarEvent.high" in problem, "a malformed event is refused, naming the field"

# %% [markdown]
# ## 2. A bus, handlers and their order
#
# `register(event_type, handler)` subscribes a callable. The handlers of one event run by
# `priority` (higher first), then in registration order.

# %%
bus = EventBus()
calls: list[str] = []

bus.register(EventType.BAR, lambda e: calls.append("logger"), name="logger")
bus.register(EventType.BAR, lambda e: calls.append("strategy"), name="strategy")
bus.register(EventType.BAR, lambda e: calls.append("risk check"), priority=10, name="risk")

stamped = bus.emit(bar)
print(calls, "| seq", stamped.seq)
assert calls == ["risk check", "logger", "strategy"], "priority first, then registration order"
assert stamped is bar and bar.seq == 1, "emit() stamps the event with a sequence number"
assert bus.handlers(EventType.BAR) == ["risk", "logger", "strategy"], "handlers() shows the order"

# %% [markdown]
# ## 3. Depth-first emission, causes and event time
#
# A handler may emit new events. They are dispatched **at once**, before the emitting handler
# returns (depth-first), so a signal is fully handled before the next handler of its bar runs.
# Each new event records the `seq` of the event being handled as its `cause`, and an event
# built without a time takes the **event time of its cause**: the signal below is stamped at
# the bar's time (2016), not at the wall clock. That is what lets a replay reproduce a live
# session exactly.

# %%
bus = EventBus()
trace: list[str] = []

def strategy(bar: BarEvent) -> None:
    trace.append(f"strategy sees bar #{bar.seq}")
    bus.emit(create_signal_event(SignalEvent.BUY, bar.close, bar.symbol, "demo"))
    trace.append("strategy returns")

def executor(signal: SignalEvent) -> None:
    trace.append(f"executor sees signal #{signal.seq}")

def bar_logger(bar: BarEvent) -> None:
    trace.append(f"logger sees bar #{bar.seq}")

signals: list[SignalEvent] = []
bus.register(EventType.BAR, strategy)
bus.register(EventType.BAR, bar_logger)
bus.register(EventType.SIGNAL, executor)
bus.register(EventType.SIGNAL, signals.append)

bar = create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5)
bus.emit(bar)
trace

# %%
signal = signals[0]
assert trace == ["strategy sees bar #1", "executor sees signal #2", "strategy returns",
                 "logger sees bar #1"], "the signal is handled inside the bar's handler"
assert signal.cause == bar.seq, "a signal's cause is the bar that triggered it"
assert signal.timestamp == bar.timestamp, "it inherits the bar's event time"
assert signal.emit_time is not None, "emitted, so stamped"
assert signal.emit_time > bar.timestamp + dt.timedelta(days=365), "its emit time is the wall clock"


# %% [markdown]
# ## 4. Components and weak references
#
# The usage guide wires components through an `EventManager`: each event type goes to the
# component's `on_<type>` method. Registered directly on a bus built with
# `use_weak_refs=True` (the default), a component's bound method is held **weakly**: delete the
# component and it stops receiving events, with no `unregister` to forget. Plain functions and
# lambdas are held strongly, so they keep working.

# %%
class BarCounter:
    def __init__(self) -> None:
        self.bars = 0

    def on_bar(self, event: BarEvent) -> None:
        self.bars += 1

bus = EventBus(use_weak_refs=True)
counter = BarCounter()
bus.register(EventType.BAR, counter.on_bar)
lambda_calls: list[int | None] = []
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


# %%
class SimpleStrategy:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def set_event_bus(self, event_bus: EventBus) -> None:
        self.event_bus = event_bus

    def on_bar(self, event: BarEvent) -> None:
        if event.get_symbol() == self.symbol:
            self.event_bus.emit(create_signal_event(
                SignalEvent.BUY, event.get_close(), self.symbol, "simple_strategy"))

bus = EventBus()
manager = EventManager(bus)
manager.register_component("strategy", SimpleStrategy("BTC-USD"), [EventType.BAR])
signals = []  # a new list, for this bus
bus.register(EventType.SIGNAL, signals.append)

bus.emit(create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5))
bus.emit(create_bar_event("ETH-USD", t0, 12.0, 12.1, 11.9, 12.05, 80.0))
assert [s.symbol for s in signals] == ["BTC-USD"], "the strategy only trades its symbol"
assert manager.components == {"strategy": ("bar",)}, "the manager owns its components"

# %% [markdown]
# ## 5. Errors are isolated, logged, counted and published
#
# A handler that raises never stops the others. The bus logs the exception on the `evlab`
# logger (the traceback shows below the cell), counts it per handler in `get_stats()` and
# publishes an `ErrorEvent` naming the handler and the event it failed on, so a monitor or a
# recording sees it too.

# %%
bus = EventBus()
reached: list[int | None] = []
errors: list[ErrorEvent] = []

def broken(bar: BarEvent) -> None:
    raise ZeroDivisionError("a bug in a strategy")

bus.register(EventType.BAR, broken, priority=1)
bus.register(EventType.BAR, lambda e: reached.append(e.seq))
bus.register(EventType.ERROR, errors.append)

bar = create_bar_event("BTC-USD", t0, 611.0, 612.5, 610.2, 612.0, 3.5)
bus.emit(bar)

# %%
error = errors[0]
print(error)
assert reached == [bar.seq], "the next handler still ran"
assert error.handler == "broken" and error.error_type == "ZeroDivisionError"
assert error.original_seq == bar.seq and error.cause == bar.seq, "it names the failed event"
stats = bus.get_stats()
assert stats["handler_errors"] == {"broken": 1} and stats["total_errors"] == 1
assert stats["events_emitted"] == {"bar": 1, "error": 1}

# %% [markdown]
# ## 6. Filters and chains
#
# `FilterHandler` passes on the events its predicate accepts; `ChainHandler` runs handlers in
# order and stops at the first that returns `False`.

# %%
bus = EventBus()
expensive: list[BarEvent] = []
big: list[BarEvent] = []

def is_btc(event: BarEvent) -> bool:
    return event.get_symbol() == "BTC-USD"

def above_615(event: BarEvent) -> bool:
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

# %% [markdown]
# ## 7. The whole flow: bar → signal → order → fill
#
# Now a small trading system on real data: six Coinbase BTC/USD minute bars shipped with evlab.
# A strategy buys on the second bar and exits on the fourth; a `Portfolio` keeps the account and
# a `PaperBroker` turns signals into orders, filled at the **next** bar's open (no look-ahead).
# `evlab.record(bus)` records every event into a DataFrame.

# %%
bars = evlab.datasets.load("btcusd_1m").head(6)
bus = EventBus()
manager = EventManager(bus)
recorder = evlab.record(bus)

class BuyThenExit:
    def __init__(self) -> None:
        self.seen = 0

    def set_event_bus(self, event_bus: EventBus) -> None:
        self.event_bus = event_bus

    def on_bar(self, bar: BarEvent) -> None:
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

# %%
fills = recorder.fills()
cause_of = dict(zip(frame["seq"], frame["cause"], strict=True))
type_of = dict(zip(frame["seq"], frame["type"], strict=True))
lineage = [fills["seq"].iloc[0]]
while pd.notna(cause_of[lineage[-1]]):      # walk the causes back from the first fill
    lineage.append(cause_of[lineage[-1]])
lineage.reverse()
kinds = [type_of[s] for s in lineage]
print(" -> ".join(f"{k} #{s}" for k, s in zip(kinds, lineage, strict=True)))
assert kinds == ["bar", "signal", "order", "fill"], "a fill's causes lead back to its bar"
assert len(fills) == 2 and portfolio.position("BTC-USD") == 0, "bought 2, then exited"
assert fills.index[0] == bars.index[2], "the BUY on bar 2 filled at bar 3's open"
assert evlab.plot.edges(frame)[:3] == list(pairwise(lineage)), "(cause, effect) pairs"

# %% [markdown]
# `evlab.plot.flow` draws the same chains: one lane per event type, each event joined to its
# cause. Hover a marker to see the event.

# %%
fig = evlab.plot.flow(recorder, title="bar → signal → order → fill")
lanes = set(fig.layout.yaxis.ticktext)
assert {"bar", "signal · buy_then_exit", "order · buy_then_exit", "fill · buy_then_exit"} <= lanes
fig

# %% [markdown]
# Next: `02_live_feed` runs the same bus on a live WebSocket feed, with a live chart.
