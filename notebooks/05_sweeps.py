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
# # 05 · Sweeps and walk-forward on a Dask cluster
#
# One backtest answers "how did these parameters do?"; research asks it for a whole grid of
# parameters over several instruments, and then asks the honest version: **had I chosen the
# parameters with only the data I had, how would the next year have gone?** (walk-forward).
#
# `evlab.sweep` runs one fresh replay per (parameters, source): its own bus, strategy, paper
# broker and portfolio, as in `04_strategy_prototyping`. With `client=None` the runs go one
# after another in this kernel; with a Dask `Client` they run on that cluster. Here the
# cluster is a `LocalCluster` (two worker processes on this machine); pointing the same call
# at a real one is `Client("tcp://scheduler:8786")`.
#
# Data: daily AAPL, IBM and MSFT bars shipped with evlab (Quandl WIKI, unadjusted: AAPL from
# March 2005, after its split).

# %%
import logging

import numpy as np
import plotly.graph_objects as go
from distributed import Client, LocalCluster

import evlab
from evlab import BarEvent, EventBus, SignalEvent, create_signal_event
from evlab.examples import SmaCross
from evlab.execution import FillModel
from evlab.sweeps import Broker, Source

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
client = Client(cluster)
client

# %% [markdown]
# ## 1. A grid on the cluster
#
# A `Source` is what one run replays: a shipped dataset's **name** (or a file's path) and a
# selection. Only names travel to the workers, which load the data themselves; each task
# is a few kilobytes whatever the size of the data. The grid is a dict of lists: every
# combination runs, on every source. The progress bar counts runs as they finish, and the
# link under the cell opens Dask's dashboard.

# %%
sources = [Source("stocks_daily", symbols="AAPL", start="2005-03-01"),
           Source("stocks_daily", symbols="IBM"), Source("stocks_daily", symbols="MSFT")]
grid = {"fast": [5, 10, 20, 30, 50], "slow": [50, 100, 150, 200]}
costs = Broker(fill_model=FillModel(commission=1.0, slippage_bps=5))

results = evlab.sweep(SmaCross, grid, sources, client=client, broker=costs)
print(f"{len(results)} runs: {results['error'].isna().sum()} ran, "
      f"{results['error'].notna().sum()} failed")
assert len(results) == 5 * 4 * 3
results[["fast", "slow", "source", "sharpe", "total_return", "trades", "wall_seconds"]].head()

# %% [markdown]
# One row per run, in grid order then source order (not the order runs finished in). A run
# that fails does not stop the sweep: `SmaCross(fast=50, slow=50)` refuses its parameters, and
# its rows say why.

# %%
failed = results[results["error"].notna()]
assert (failed["fast"] == 50).all() and (failed["slow"] == 50).all() and len(failed) == 3
assert failed["error"].str.contains("SmaCross needs 0 < fast < slow").all()
failed[["fast", "slow", "source", "error"]]

# %% [markdown]
# A row is exactly one run by hand: `evlab.sweeps.run_one` is what each worker runs, and
# running it here gives the same numbers.

# %%
row = results[(results["fast"] == 20) & (results["slow"] == 100)].iloc[1]
by_hand = evlab.sweeps.run_one(SmaCross, {"fast": 20, "slow": 100}, sources[1], broker=costs)
assert row["source"] == sources[1].name
assert by_hand["sharpe"] == row["sharpe"] and by_hand["final_equity"] == row["final_equity"]
print(f"{row['source']}, 20/100: Sharpe {row['sharpe']:.3f} on the cluster and here")

# %% [markdown]
# ## 2. Sharpe by parameters
#
# The mean Sharpe ratio over the three stocks, for each (fast, slow) pair.

# %%
sharpe = results.pivot_table(index="fast", columns="slow", values="sharpe", aggfunc="mean")
heatmap = go.Figure(go.Heatmap(z=sharpe.to_numpy(), x=[str(c) for c in sharpe.columns],
                               y=[str(i) for i in sharpe.index], colorscale="RdYlGn",
                               zmid=0, colorbar={"title": "Sharpe"},
                               hovertemplate="fast %{y}, slow %{x}: Sharpe %{z:.2f}"
                                             "<extra></extra>"))
heatmap.update_layout(title="SMA crossover: mean Sharpe over AAPL, IBM, MSFT",
                      xaxis_title="slow", yaxis_title="fast", height=420)
assert sharpe.shape == (5, 4) and np.isnan(sharpe.to_numpy()[-1, 0]), "50/50: no run"
heatmap

# %% [markdown]
# ## 3. A strategy written in a cell
#
# A class defined here lives in `__main__`, which a process pool cannot send to its
# workers. Dask's cloudpickle sends it by value, so a strategy written in a cell runs on the
# cluster as it is. This one buys a breakout above the highest high of the last `days` bars
# and exits below the lowest low of the last `exit_days`.

# %%
class Breakout:
    """BUY above the `days`-bar high, EXIT below the `exit_days`-bar low."""

    def __init__(self, days: int, exit_days: int) -> None:
        self.days, self.exit_days = days, exit_days
        self.highs: list[float] = []
        self.lows: list[float] = []
        self.bus: EventBus | None = None
        self.long = False

    def set_event_bus(self, bus: EventBus) -> None:
        self.bus = bus

    def on_bar(self, bar: BarEvent) -> None:
        assert self.bus is not None, "registered on a bus"
        if len(self.highs) >= self.days:
            if not self.long and bar.close > max(self.highs[-self.days:]):
                self.long = True
                self.bus.emit(create_signal_event(SignalEvent.BUY, bar.close, bar.symbol,
                                                  "breakout"))
            elif self.long and bar.close < min(self.lows[-self.exit_days:]):
                self.long = False
                self.bus.emit(create_signal_event(SignalEvent.EXIT, bar.close, bar.symbol,
                                                  "breakout"))
        self.highs.append(bar.high)
        self.lows.append(bar.low)


breakouts = evlab.sweep(Breakout, {"days": [20, 55, 100], "exit_days": [10, 20]}, sources,
                        client=client, broker=costs)
assert Breakout.__module__ == "__main__"
assert breakouts["error"].isna().all() and (breakouts["trades"] > 0).all()
breakouts.groupby(["days", "exit_days"])["sharpe"].mean().unstack()

# %% [markdown]
# ## 4. Start now, cancel from another cell
#
# `evlab.sweeps.start` takes the same arguments and returns at once, with a handle: the cell
# is free, `handle.frame` holds the rows finished so far, `await handle` or
# `handle.result()` waits for the rest, and `handle.cancel()`, from any cell, stops it.

# %%
handle = evlab.sweeps.start(SmaCross, {"fast": list(range(2, 50)), "slow": [100, 200]},
                            sources, client=client)
handle

# %%
handle.cancel()
partial = handle.result(timeout=60)
cancelled = partial["error"] == "cancelled"
print(f"{(~cancelled).sum()} runs finished before the cancel, {cancelled.sum()} cancelled")
assert len(partial) == 48 * 2 * 3 and cancelled.any()
assert partial.loc[~cancelled, "error"].isna().all()

# %% [markdown]
# ## 5. Walk-forward
#
# Fitting the grid to all thirteen years and reporting the best row overstates what a trader
# could have had: the choice used the future. `evlab.walk_forward` chooses the parameters
# with the best Sharpe on each two-year **training** window and trades them on the
# following year (**test**), then moves on a year. Each test starts a fresh account; its
# strategy first sees the training window without trading, so its averages are warm. The
# stitched out-of-sample equity compounds the test years.

# %%
study = evlab.walk_forward(SmaCross, {"fast": [10, 20, 50], "slow": [100, 150, 200]},
                           Source("stocks_daily", symbols="IBM"), train="730D", test="365D",
                           client=client, broker=costs)
choices = study.choices
assert len(choices) == 11 and choices["error"].isna().all()
assert study.equity.index.is_monotonic_increasing
best_in_hindsight = results[results["source"] == sources[1].name]["sharpe"].max()
print(f"in hindsight, the best IBM Sharpe of the grid above: {best_in_hindsight:.2f}")
print(f"walk-forward, out of sample: total return {study.equity.iloc[-1] / 1e5 - 1:+.1%}")
choices[["test_start", "param_fast", "param_slow", "train_sharpe", "test_sharpe"]]

# %%
fig = study.plot()
assert len(fig.layout.shapes) == len(choices)
fig

# %% [markdown]
# Done: close the client and the cluster (their worker processes end with it).

# %%
client.close()
cluster.close()
assert cluster.status.name == "closed"
