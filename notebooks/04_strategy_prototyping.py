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
# # 04 · Prototyping a strategy
#
# The loop of strategy research in a notebook: write a strategy in a cell, run it on data,
# change the cell, run it again, trade it on paper, look at the numbers and the equity curve.
# evlab makes the "run it again" part safe: **re-running a strategy's cell replaces the
# strategy of that name**, it never adds a second copy that silently doubles every signal.
#
# The last section trades by orders instead of signals: a limit entry with a take-profit and
# a stop-loss (a bracket).
#
# Data: daily AAPL bars shipped with evlab (Quandl WIKI, public domain). The prices are
# **unadjusted**, so we start after the February 2005 split: from March 2005 on there is none.

# %%
import gc
import inspect
import weakref

import pandas as pd

import evlab
from evlab import EventBus, EventType, SignalEvent, analytics, create_bar_event
from evlab.examples import SmaCross
from evlab.execution import FillModel, FractionOfEquity, PaperBroker, Portfolio
from evlab.sweeps import Broker, Source

bars = evlab.datasets.load("stocks_daily", symbol="AAPL").loc["2005-03-01":]
print(f"{len(bars):,} daily bars of AAPL, {bars.index[0]:%Y-%m-%d} .. {bars.index[-1]:%Y-%m-%d}")
bars.tail(3)


# %% [markdown]
# `play` emits each row as a `BarEvent`, in time order. (A `Replayer` does the same, paced or
# as fast as possible: see `03_record_and_replay`. A plain loop shows there is no magic.)

# %%
def play(bars: pd.DataFrame, bus: EventBus) -> None:
    """Emit each row of a bars frame on `bus` as a BarEvent."""
    for time, row in bars.iterrows():
        bus.emit(create_bar_event(row["symbol"], time, row["open"], row["high"], row["low"],
                                  row["close"], row["volume"], source="stocks_daily"))


# %% [markdown]
# ## 1. Hot registration: re-running a cell replaces the strategy
#
# The strategy is a classic: the 20-day average of the close crossing the 50-day one, BUY
# above and EXIT below. It is `evlab.examples.SmaCross`, which `03_record_and_replay` trades
# too (one definition, imported by both); its `on_bar`:

# %%
print(inspect.getsource(SmaCross.on_bar))

# %% [markdown]
# `lab.add("sma", strategy)` registers a strategy under the name `"sma"` and wires its
# `on_bar` to the lab's bus (`@lab.strategy("sma")` does the same for a function or a class
# written in the cell, see `02_live_feed`).

# %%
lab = evlab.Lab()
signals: list[SignalEvent] = []
lab.bus.register(EventType.SIGNAL, signals.append)
lab


# %%
strategy = lab.add("sma", SmaCross(fast=20, slow=50))

# %%
first = weakref.ref(strategy)  # to check later that it is freed
assert lab.strategies.get("sma") is strategy
play(bars.iloc[:250], lab.bus)
first_run = list(signals)
print(f"{len(first_run)} signals in the first 250 bars:",
      ", ".join(f"{s.signal_type} {s.timestamp:%Y-%m-%d}" for s in first_run))
assert first_run, "the strategy traded"
assert all(s.strategy_id == "sma" for s in first_run)


# %% [markdown]
# Now run the strategy's cell **again**, as you would after editing it (in a notebook you
# would press Shift+Enter on it once more; here the same cell is repeated below). Then play
# the same 250 bars: if the old strategy were still registered, every signal would come
# twice.

# %%
strategy = lab.add("sma", SmaCross(fast=20, slow=50))

# %%
signals.clear()
play(bars.iloc[:250], lab.bus)
gc.collect()
same = [(s.signal_type, s.timestamp) for s in first_run]
assert [(s.signal_type, s.timestamp) for s in signals] == same, "the same signals, once each"
assert first() is None, "the first strategy object is gone"
assert len(lab.strategies) == 1
assert [h for h in lab.bus.handlers(EventType.BAR) if h.startswith("sma")] == ["sma.on_bar"]
lab.strategies.list()

# %% [markdown]
# ## 2. Disable and enable
#
# `disable` takes a strategy off the bus and keeps it (with its state) for `enable`.

# %%
lab.strategies.disable("sma")
before = len(signals)
play(bars.iloc[250:750], lab.bus)
assert len(signals) == before, "a disabled strategy sees no bars"
assert lab.strategies.list()[0]["enabled"] is False

lab.strategies.enable("sma")
play(bars.iloc[750:1250], lab.bus)
print(f"{len(signals) - before} signals after enable")
assert len(signals) > before, "enabled again, it trades again"

# %% [markdown]
# ## 3. Paper trading: portfolio, broker, strategy
#
# A fresh lab for a clean account. The `Portfolio` marks each bar's close and applies fills;
# the `PaperBroker` turns each signal into an order (95% of equity on BUY, flat on EXIT) and
# fills it at the **next** bar's open, with $1 commission and 5 bps slippage: no look-ahead.
# Priorities make the account current before the strategy sees a bar: portfolio (20), broker
# (10), strategy (0).

# %%
bt = evlab.Lab(name="backtest")
portfolio = Portfolio(100_000)
broker = PaperBroker(portfolio, FillModel(commission=1.0, slippage_bps=5), FractionOfEquity(0.95))
bt.manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                              priority=20)
bt.manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL], priority=10)
bt.add("sma", SmaCross(fast=20, slow=50))
play(bars, bt.bus)
portfolio

# %%
fills, equity = analytics.from_portfolio(portfolio)
stats = analytics.summary(fills, equity)
print(analytics.format_summary(stats))
accounted = portfolio.initial_cash + portfolio.realized_pnl + portfolio.unrealized_pnl
assert abs(portfolio.equity - accounted) < 1e-6, "equity = initial cash + realised + unrealised"
assert stats["final_equity"] == equity.iloc[-1] == portfolio.equity
assert stats["max_drawdown"] == analytics.equity_frame(equity)["drawdown"].min() < 0
assert stats["trades"] > 10

# %% [markdown]
# Every fill has a cause chain back to its signal, so "no look-ahead" can be checked, not
# just claimed: each fill is at a later bar than the signal behind it.

# %%
rec = bt.recorder
assert rec is not None, "a Lab records by default"
orders, recorded_fills = rec.orders(), rec.fills()
signal_time = dict(zip(rec.signals()["seq"], rec.signals().index, strict=True))
order_signal = dict(zip(orders["seq"], orders["cause"], strict=True))
behind = [signal_time[order_signal[cause]] for cause in recorded_fills["cause"]]
assert (recorded_fills.index > pd.DatetimeIndex(behind)).all(), "fills come after signals"
assert len(recorded_fills) == len(fills), "the recording holds every fill"

# %% [markdown]
# The round trips, one row each:

# %%
trades = analytics.trades(fills)
closed = trades[trades["closed"]]
assert len(closed) == stats["trades"]
assert stats["win_rate"] == (closed["pnl"] > 0).mean()
trades.tail()

# %% [markdown]
# ## 4. The equity chart
#
# `evlab.plot.chart` draws a recording: candles, BUY ▲ and EXIT ▼ markers at the signal
# price, fills, volume, and an equity panel from the portfolio's events.

# %%
fig = evlab.plot.chart(bt.recorder, "AAPL", title="AAPL · SMA 20/50 crossover, paper broker")
equity_trace = next(t for t in fig.data if t.name == "equity")
buys = next(t for t in fig.data if t.name == "buy")
assert len(equity_trace.y) > 0 and fig.layout.yaxis3.visible, "an equity panel"
assert len(buys.x) == (rec.signals()["signal_type"] == "BUY").sum(), "a ▲ per BUY signal"
fig


# %% [markdown]
# ## 5. A small parameter sweep
#
# `evlab.sweep` runs the same pieces once per parameter set: a fresh bus, strategy, paper
# broker and portfolio for each run (`Broker` says how the account trades), replaying the
# shipped dataset by name (`Source` selects AAPL from March 2005). One row per run. Runs are
# deterministic, so the 20/50 run reproduces the backtest above exactly. `05_sweeps` sends
# the same call to a Dask cluster.

# %%
sweep = evlab.sweep(SmaCross, [{"fast": 10, "slow": 30}, {"fast": 20, "slow": 50},
                               {"fast": 50, "slow": 200}],
                    Source("stocks_daily", symbols="AAPL", start="2005-03-01"),
                    broker=Broker(fill_model=FillModel(commission=1.0, slippage_bps=5)))
assert sweep["error"].isna().all()
run_20_50 = sweep[(sweep["fast"] == 20) & (sweep["slow"] == 50)].iloc[0]
assert run_20_50["final_equity"] == stats["final_equity"], "the same run, the same result"
assert run_20_50["trades"] == stats["trades"]
assert sweep["final_equity"].nunique() == 3
sweep[["fast", "slow", "total_return", "annual_return", "sharpe", "max_drawdown", "trades",
       "win_rate"]]


# %% [markdown]
# ## 6. Orders instead of signals: a bracket
#
# A strategy may place orders itself (`create_order_event`): limit, stop, stop-limit and
# trailing-stop orders, with a time in force, and **brackets**: `take_profit` / `stop_loss`
# on an entry make the broker place both exits when the entry fills, the first one touched
# cancelling the other. `evlab.examples.BracketCross` buys on the same crossing as
# `SmaCross`, but with a `LIMIT` order 0.5% below the close, good for the next bar only
# (`DAY`), and leaves by its bracket alone: +8% take-profit, -4% stop-loss. Its `on_bar`:

# %%
BracketCross = evlab.examples.BracketCross
print(inspect.getsource(BracketCross.on_bar))

# %% [markdown]
# The broker's fill rules on bars (the `evlab.execution.broker` docstring): a buy limit fills
# when the low reaches it, at `min(open, limit)`; the take-profit (a sell limit) at
# `max(open, level)`, without slippage; the stop-loss (a sell stop) at `min(open, level)`,
# with slippage; a bar that touches both exits fills the stop-loss (nobody knows which came
# first, so the worse one). The strategy listens to its orders' updates
# (`BracketCross.EVENTS`) to know when a trade has ended.

# %%
ob = evlab.Lab(name="bracket")
account = Portfolio(100_000)
order_broker = PaperBroker(account, FillModel(commission=1.0, slippage_bps=5))
ob.manager.register_component("portfolio", account, [EventType.BAR, EventType.FILL],
                              priority=20)
ob.manager.register_component("broker", order_broker, PaperBroker.EVENTS, priority=10)
bracket = ob.add("bracket", BracketCross(10, 30, take_profit=0.08, stop_loss=0.04),
                 BracketCross.EVENTS)
play(bars, ob.bus)
orders_frame = order_broker.orders_frame()
statuses = orders_frame.groupby(["order_type", "status"]).size()
print(statuses.to_string())
entries = orders_frame[orders_frame["parent_id"] == ""]
exits = orders_frame[(orders_frame["parent_id"] != "") & (orders_frame["status"] == "FILLED")]
assert (entries["order_type"] == "LIMIT").all() and (entries["time_in_force"] == "DAY").all()
assert len(exits) == (entries["status"] == "FILLED").sum(), "one exit per filled entry"
assert set(exits["order_type"]) == {"LIMIT", "STOP"}, "take-profits and stop-losses"
assert not bracket.in_trade and account.positions == {} and not ob.errors
orders_frame.head(9)

# %% [markdown]
# Each trade is its entry and the exit that filled (`-tp` the take-profit, `-sl` the
# stop-loss); the other exit ends `CANCELED` ("OCO: ... filled"), an entry the market never
# came down to `EXPIRED`. The chart of the last 500 bars (`last=500`; without it, the whole
# run) shows the working orders as short segments at their levels (the limit entry dashed,
# the take-profit green, the stop-loss red), the fills on the candles (a star for a
# take-profit, a red cross for a stop-loss) and the equity below. (The README's picture of it is
# this figure, taken by `make screenshots`.)

# %%
assert ob.recorder is not None
fig = evlab.plot.chart(ob.recorder, "AAPL", last=500,
                       title="AAPL · BracketCross 10/30: DAY limit entry, "
                       "+8% take-profit / -4% stop-loss")
marks = {t.name: len(t.x) for t in fig.data if t.name.endswith("fill")}
first_bar = pd.Timestamp(fig.data[0].x[0], tz="UTC")
assert sum(marks.values()) == (ob.recorder.fills().index >= first_bar).sum() > 0, \
    "a mark per fill in the bars shown"
assert marks["take-profit fill"] and marks["stop-loss fill"], marks  # the exits told apart
drawn = {t.name for t in fig.data if t.name in ("limit", "take-profit", "stop-loss") and len(t.x)}
assert drawn == {"limit", "take-profit", "stop-loss"}, drawn  # working orders as level segments
fig
