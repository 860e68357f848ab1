"""evlab's PaperBroker against backtesting.py (a test dependency), trade by trade, on the
shipped daily (AAPL) and minute (BTC-USD) bars: market, limit, stop and stop-limit entries,
limit and stop exits as brackets (``buy(sl=, tp=)``).

Both engines get the same decisions: a 10/30 moving-average crossover computed once with
pandas (so the comparison is of execution, not of float sums in two SMA codes). On a cross
up the strategy enters; on a cross down it cancels what is still working and closes at the
next open. Conventions that differ, and how each case steers clear of them:

* backtesting.py closes open trades at the end only with ``finalize_trades=True``; here both
  compare closed trades (evlab leaves the last trade open).
* backtesting.py fills a triggered buy stop-limit at ``min(stop, limit)`` even when the bar
  opened above the stop (a price the bar may not have traded); evlab fills at
  ``max(open, stop)``. The stop-limit case counts those gaps and checks that only those
  trades' entry prices differ, each by exactly ``open - stop``.
* backtesting.py lets a stop entry's take-profit fill in the entry's bar when the stop-loss
  was not touched (it reprocesses the bar); evlab starts the children of an entry filled
  inside a bar from the next bar. The bracket cases use market and limit entries, where the
  two agree (backtesting.py warns and waits a bar too).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy

from evlab import analytics, datasets
from evlab.bus import EventBus
from evlab.events import (
    EventType,
    create_bar_event,
    create_cancel_event,
    create_order_event,
    create_signal_event,
)
from evlab.execution import FillModel, FixedQuantity, FractionOfEquity, PaperBroker, Portfolio
from evlab.manager import EventManager

FAST, SLOW = 10, 30


def load(name):
    bars = datasets.load("stocks_daily", "AAPL") if name == "AAPL" else datasets.load(name)
    return bars[["open", "high", "low", "close", "volume"]]


def crosses(bars):
    """(up, down): the bars where the fast average crosses above / below the slow one."""
    fast = bars["close"].rolling(FAST).mean()
    slow = bars["close"].rolling(SLOW).mean()
    ok = (fast.notna() & slow.notna()).to_numpy()
    above = (fast > slow).to_numpy()
    prev_ok = np.r_[False, ok[:-1]]
    prev_above = np.r_[False, above[:-1]]
    both = ok & prev_ok
    return both & above & ~prev_above, both & ~above & prev_above


# --- the two engines ---------------------------------------------------------------------

def run_backtesting(bars, up, down, entry, *, size):
    """backtesting.py: ``entry(strategy, close)`` places the entry on a cross up."""
    frame = bars.rename(columns=str.capitalize)
    frame.index = frame.index.tz_localize(None)

    class Cross(Strategy):
        def init(self):
            pass

        def next(self):
            i = len(self.data) - 1
            if up[i]:
                entry(self, self.data.Close[-1], size)
            elif down[i]:
                for o in list(self.orders):
                    if not o.is_contingent:
                        o.cancel()
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(frame, Cross, cash=1_000_000 if size else 100_000, commission=0,
                         finalize_trades=False).run()
    trades = stats._trades
    return pd.DataFrame({
        "entry_time": pd.to_datetime(trades["EntryTime"]).dt.tz_localize("UTC"),
        "exit_time": pd.to_datetime(trades["ExitTime"]).dt.tz_localize("UTC"),
        "entry_price": trades["EntryPrice"].to_numpy(float),
        "exit_price": trades["ExitPrice"].to_numpy(float),
        "quantity": trades["Size"].abs().to_numpy(float)})


class Decisions:
    """evlab: the same decisions; ``entry(bar)`` builds the entry orders on a cross up."""

    def __init__(self, up, down, entry, broker, portfolio):
        self.up, self.down, self.entry = up, down, entry
        self.broker, self.portfolio, self.i, self.n = broker, portfolio, -1, 0

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, bar):
        self.i += 1
        if self.up[self.i]:
            self.n += 1
            for e in self.entry(bar, f"e{self.n}"):
                self.bus.emit(e)
        elif self.down[self.i]:
            for o in self.broker.open_orders:
                if not o.event.reduce_only:
                    self.bus.emit(create_cancel_event(o.order_id))
            held = self.portfolio.position(bar.symbol)
            if held > 0:
                self.bus.emit(create_order_event(bar.symbol, "SELL", held, reduce_only=True,
                                                 order_id=f"x{self.i}"))


class Signals:
    """evlab's signal path: BUY on a cross up, EXIT on a cross down."""

    def __init__(self, up, down):
        self.up, self.down, self.i = up, down, -1

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, bar):
        self.i += 1
        kind = "BUY" if self.up[self.i] else "EXIT" if self.down[self.i] else None
        if kind:
            self.bus.emit(create_signal_event(kind, bar.close, bar.symbol, "cross"))


def run_evlab(bars, strategy_of, *, sizer=None, cash=1_000_000.0):
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(cash)
    broker = PaperBroker(portfolio, FillModel(), sizer or FixedQuantity(1))
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
    manager.register_component("strategy", strategy_of(broker, portfolio), [EventType.BAR])
    errors: list = []
    bus.subscribe(EventType.ERROR, errors.append, weak=False)
    symbol = "AAPL" if len(bars) < 10_000 else "BTC-USD"
    for t, o, h, lo, c, v in zip(bars.index, *(bars[k].to_numpy() for k in
                                               ("open", "high", "low", "close", "volume")),
                                 strict=True):
        bus.emit(create_bar_event(symbol, t, o, h, lo, c, v))
    trades = analytics.trades(portfolio.fills_frame())
    closed = trades[trades["closed"]].reset_index(drop=True)
    return closed[["entry_time", "exit_time", "entry_price", "exit_price", "quantity"]], \
        errors, broker


def assert_same_trades(ours, theirs):
    assert len(ours) == len(theirs)
    for col in ("entry_time", "exit_time"):
        assert (ours[col].to_numpy() == theirs[col].to_numpy()).all(), col
    for col in ("entry_price", "exit_price", "quantity"):
        np.testing.assert_allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float),
                                   rtol=1e-12, err_msg=col)


# --- market: the signal path, all in at each entry ---------------------------------------

@pytest.mark.parametrize(("name", "count"), [("AAPL", 58), ("btcusd_1m", 88)])
def test_market_all_in_matches_trade_by_trade(name, count):
    """``FractionOfEquity(1.0)`` sizes at the fill (backtesting.py's ``size=~1``): no
    rejections where sizing at the signal's close made 35 on AAPL. (On BTC, pandas' rolling
    means cross 88 times; ``evlab.examples.SmaCross``'s running sums, 86: on flat minutes
    the two averages tie and float sums in another order break the tie otherwise.)"""
    bars = load(name)
    up, down = crosses(bars)
    theirs = run_backtesting(bars, up, down, lambda s, close, size: s.buy(), size=None)
    ours, errors, _ = run_evlab(bars, lambda b, p: Signals(up, down),
                                sizer=FractionOfEquity(1.0), cash=100_000.0)
    assert errors == []
    assert len(ours) == count
    assert_same_trades(ours, theirs)


# --- limit, stop, stop-limit entries; brackets -------------------------------------------

def _order(kind, limit=None, stop=None, sl=None, tp=None):
    """The entry as (backtesting.py's call, evlab's order) for a price unit ``u`` (1% on the
    daily bars, 0.05% on the minutes): each price is ``close * (1 + k * u)``."""
    def at(close, k, u):
        return None if k is None else close * (1 + k * u)

    def theirs(u):
        def entry(s, close, size):
            s.buy(size=size, limit=at(close, limit, u), stop=at(close, stop, u),
                  sl=at(close, sl, u), tp=at(close, tp, u))
        return entry

    def ours(u, size):
        def make(bar, order_id):
            c = bar.close
            return [create_order_event(
                bar.symbol, "BUY", size, kind, at(c, limit, u), stop_price=at(c, stop, u),
                stop_loss=at(c, sl, u), take_profit=at(c, tp, u), order_id=order_id)]
        return make
    return theirs, ours


CASES = {
    "limit entry": _order("LIMIT", limit=-1),
    "stop entry": _order("STOP", stop=1),
    "stop-limit entry": _order("STOP_LIMIT", limit=2, stop=1),
    "stop-limit below its stop": _order("STOP_LIMIT", limit=-0.5, stop=0.5),
    "market bracket": _order("MARKET", sl=-5, tp=5),
    "limit bracket": _order("LIMIT", limit=-1, sl=-5, tp=5),
}


def _next_bar(bars, times):
    """The open time of the bar after each of ``times``."""
    pos = bars.index.get_indexer(pd.DatetimeIndex(times))
    return bars.index[pos + 1]


def differing(ours, theirs, key):
    """The trades that differ, paired on ``key``: (evlab's mask, backtesting.py's mask)."""
    o, t = ours.set_index(key), theirs.set_index(key)
    both = o.index.intersection(t.index)
    same = pd.Series(False, index=both)
    for when in both:
        a, b = o.loc[when], t.loc[when]
        same[when] = all(a[c] == b[c] for c in ("entry_time", "exit_time", "quantity")
                         if c != key) and np.isclose(a["entry_price"], b["entry_price"],
                                                     rtol=1e-12) \
            and np.isclose(a["exit_price"], b["exit_price"], rtol=1e-12)
    good = same.index[same]
    return ~ours[key].isin(good).to_numpy(), ~theirs[key].isin(good).to_numpy()


def explained(case, bars, ours, theirs, unit):
    """The trades where a named convention makes the engines differ (module doc): each is
    checked to be such a case, and to follow evlab's own rule. Returns (evlab's rows,
    backtesting.py's rows, how many).

    * ``stop-limit entry``: backtesting.py fills at the stop although the bar opened above
      it; evlab fills at that open if it is within the limit, else rests as a limit at L.
    * ``market bracket``: a child already beyond the market at the entry's open (a gap past
      the take-profit or stop-loss): backtesting.py fills it in the entry's bar at the
      open; evlab on the next bar by the child's own rule.
    * ``limit bracket``: a limit entry filled at the bar's open (a gap through the limit):
      evlab's children work for the rest of that bar; backtesting.py's from the next bar.
    """
    key = "exit_time" if case == "stop-limit entry" else "entry_time"  # pairs the trades
    mine, their = differing(ours, theirs, key)
    o, t = ours[mine].set_index(key), theirs[their].set_index(key)
    opens = bars["open"]
    if case == "stop-limit entry":
        for when, row in t.iterrows():
            stop = row["entry_price"]
            assert opens[row["entry_time"]] > stop  # backtesting.py filled under the open
            limit = stop / (1 + unit) * (1 + 2 * unit)
            if when in o.index:  # evlab: at the open, or later as the limit
                mine_row = o.loc[when]
                if mine_row["entry_time"] == row["entry_time"]:
                    assert mine_row["entry_price"] == opens[row["entry_time"]]
                else:
                    assert mine_row["entry_time"] > row["entry_time"]
                    assert mine_row["entry_price"] <= limit * (1 + 1e-12)
    elif case == "market bracket":
        assert (t["exit_time"] == t.index).all()  # backtesting.py: out at the entry's open
        assert np.allclose(t["exit_price"], t["entry_price"], rtol=1e-12)
        assert (o["exit_time"].to_numpy() == _next_bar(bars, o.index).to_numpy()).all()
    elif case == "limit bracket":
        assert np.allclose(o["entry_price"], opens[o.index], rtol=1e-12)  # gapped through
        assert (o["exit_time"] == o.index).all()  # evlab: out in that bar
        assert (t["exit_time"] > t.index).all()  # backtesting.py: a bar later at the earliest
    else:
        assert not mine.any() and not their.any()
    return mine, their, int(their.sum())


@pytest.mark.parametrize("name", ["AAPL", "btcusd_1m"])
@pytest.mark.parametrize("case", list(CASES))
def test_orders_match_trade_by_trade(case, name):
    bars = load(name)
    up, down = crosses(bars)
    size, unit = (100, 0.01) if name == "AAPL" else (1, 0.0005)
    theirs_entry, ours_entry = CASES[case]
    theirs = run_backtesting(bars, up, down, theirs_entry(unit), size=size)
    ours, errors, broker = run_evlab(
        bars, lambda b, p: Decisions(up, down, ours_entry(unit, size), b, p))
    assert errors == []
    assert len(ours) > 5  # the case trades
    mine, their, n = explained(case, bars, ours, theirs, unit)
    assert n <= 0.35 * len(theirs)  # the conventions concern the gaps, not the rule
    if name == "AAPL" and case in ("stop-limit entry", "market bracket", "limit bracket"):
        assert n > 0  # the daily bars gap: each named difference is exercised
    print(f"{case} on {name}: {len(theirs)} trades, {n} differ by the named convention")
    assert_same_trades(ours[~mine].reset_index(drop=True),
                       theirs[~their].reset_index(drop=True))
    if "bracket" in case and (name == "AAPL" or case == "market bracket"):
        # the brackets decide trades, not only the cross down (BTC's 14 limit entries all
        # end at a cross down)
        frame = broker.orders_frame()
        filled = frame["status"] == "FILLED"
        exits = (frame["order_id"].str.endswith("-sl") & filled).sum() + \
            (frame["order_id"].str.endswith("-tp") & filled).sum()
        assert exits > 0
