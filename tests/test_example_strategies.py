"""evlab.examples: SmaCross, the crossover notebooks 03 and 04 share, on hand-made closes;
BracketCross (a limit entry with a bracket) by hand and on the shipped AAPL bars."""

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evlab import EventBus, EventManager, EventType, create_bar_event, datasets
from evlab.events import ErrorEvent, FillEvent
from evlab.examples import BracketCross, SmaCross
from evlab.execution import FillModel, PaperBroker, Portfolio

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def signals_for(closes: list[float], strategy: SmaCross) -> list[tuple[int, str]]:
    """(bar index, signal type) of each signal ``strategy`` emits on bars with ``closes``."""
    bus = EventBus()
    EventManager(bus).register_component("sma", strategy, [EventType.BAR])
    seen: list[Any] = []  # SignalEvents
    bus.register(EventType.SIGNAL, seen.append)
    index: dict[int | None, int] = {}
    for i, close in enumerate(closes):
        bar = bus.emit(create_bar_event("X", T0 + dt.timedelta(minutes=i), close, close, close,
                                        close, 1.0))
        index[bar.seq] = i
    assert all(s.strategy_id == "sma" and s.symbol == "X" for s in seen)
    return [(index[s.cause], s.signal_type) for s in seen]


def test_buy_on_the_cross_up_exit_on_the_cross_down_nothing_while_warming_up() -> None:
    closes = [10.0] * 4 + [11.0, 12.0, 13.0] + [9.0, 8.0, 7.0]
    # bar 3 fills the slow window (equal averages: not above); bar 4 crosses up, bar 7 down
    assert signals_for(closes, SmaCross(fast=2, slow=4)) == [(4, "BUY"), (7, "EXIT")]


def test_a_trend_without_a_cross_makes_no_signal() -> None:
    closes = [float(i) for i in range(1, 30)]
    assert signals_for(closes, SmaCross(fast=3, slow=5)) == []


def test_each_instance_starts_fresh_and_bad_windows_are_refused() -> None:
    used = SmaCross(fast=2, slow=4)
    signals_for([10.0] * 10, used)
    assert used.above is False and len(used.closes) == 4
    fresh = SmaCross(fast=2, slow=4)
    assert fresh.above is None and not fresh.closes
    with pytest.raises(ValueError, match="0 < fast < slow"):
        SmaCross(fast=50, slow=20)
    with pytest.raises(RuntimeError, match="no bus"):
        fresh.on_bar(create_bar_event("X", T0, 1.0, 1.0, 1.0, 1.0, 1.0))


def test_numpy_integers_are_windows_and_other_types_are_refused() -> None:
    strategy = SmaCross(fast=np.int64(2), slow=np.int32(4))  # as read back from a DataFrame
    assert (strategy.fast, strategy.slow) == (2, 4) and type(strategy.fast) is int
    assert signals_for([1.0, 1.0, 1.0, 1.0, 5.0, 9.0], strategy) == [(4, "BUY")]
    for bad in (2.5, "2", True, None):
        with pytest.raises(TypeError, match="fast must be a whole number of bars"):
            SmaCross(fast=bad, slow=4)


# --- BracketCross: a limit entry with a take-profit and a stop-loss -------------------------

DAY = dt.timedelta(days=1)


def run_bracket(bars: list[tuple[float, float, float, float]] | pd.DataFrame,
                strategy: BracketCross, fill_model: FillModel | None = None,
                ) -> tuple[PaperBroker, Portfolio, list[FillEvent], list[ErrorEvent]]:
    """``strategy`` with a paper broker and portfolio on ``bars`` (OHLC tuples a day apart,
    or a bars frame); returns the broker, the portfolio, the fills and the errors."""
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(100_000)
    broker = PaperBroker(portfolio, fill_model)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
    manager.register_component("bracket", strategy, BracketCross.EVENTS)
    fills: list[Any] = []
    errors: list[Any] = []
    bus.register(EventType.FILL, fills.append)
    bus.register(EventType.ERROR, errors.append)
    if isinstance(bars, pd.DataFrame):
        rows = [(t, r.open, r.high, r.low, r.close, r.volume) for t, r in
                zip(bars.index, bars.itertuples(), strict=True)]
    else:
        rows = [(T0 + i * DAY, *b, 1e6) for i, b in enumerate(bars)]
    for row in rows:
        bus.emit(create_bar_event("X" if not isinstance(bars, pd.DataFrame) else "AAPL", *row))
    return broker, portfolio, fills, errors


# closes 10, 10, 10, 10, then 12: the 2-bar average crosses above the 4-bar one at bar 4
RISE = [(10.0, 10.0, 10.0, 10.0)] * 4 + [(10.0, 12.0, 10.0, 12.0)]


def test_bracket_entry_is_a_day_limit_below_the_close_with_both_exits() -> None:
    strategy = BracketCross(2, 4, take_profit=0.1, stop_loss=0.05, pullback=0.01,
                            notional=1_000)
    # bar 5 dips to the limit 11.88 (opens above it), bar 6 reaches the take-profit 13.068
    bars = [*RISE, (12.5, 12.6, 11.5, 12.0), (12.0, 13.5, 11.9, 13.0), (13.0, 13.0, 13.0, 13.0)]
    broker, portfolio, fills, errors = run_bracket(bars, strategy)
    assert errors == []
    entry = broker.order("bracket-1").event
    assert (entry.order_type, entry.side, entry.time_in_force, entry.strategy_id) == \
        ("LIMIT", "BUY", "DAY", "bracket")
    assert entry.limit_price == pytest.approx(11.88) and entry.quantity == 84  # 1000 // 11.88
    assert entry.take_profit == pytest.approx(13.068)
    assert entry.stop_loss == pytest.approx(11.286)
    assert strategy.exits == {"bracket-1": ("bracket-1-tp", "bracket-1-sl")}
    assert [(f.order_id, f.side, f.quantity, round(f.price, 6), f.timestamp) for f in fills] \
        == [("bracket-1", "BUY", 84, 11.88, T0 + 5 * DAY),
            ("bracket-1-tp", "SELL", 84, 13.068, T0 + 6 * DAY)]
    assert broker.order("bracket-1-sl").status == "CANCELED"
    assert not strategy.in_trade and portfolio.positions == {}
    assert portfolio.realized_pnl == pytest.approx(84 * (13.068 - 11.88))


def test_an_unfilled_entry_expires_and_the_next_crossing_trades_again() -> None:
    strategy = BracketCross(2, 4, take_profit=0.1, stop_loss=0.05, pullback=0.01,
                            notional=1_000)
    # bar 5 stays above the limit 11.88: the DAY entry expires; closes fall (cross below),
    # then rise again (cross above at bar 9): a second entry
    bars = [*RISE, (12.5, 12.9, 12.2, 12.5), (9.0, 9.0, 9.0, 9.0), (9.0, 9.0, 9.0, 9.0),
            (9.0, 9.0, 9.0, 9.0), (9.0, 14.0, 9.0, 14.0), (14.0, 14.0, 13.0, 13.5)]
    broker, _, fills, errors = run_bracket(bars, strategy)
    assert errors == []
    assert broker.order("bracket-1").status == "EXPIRED"
    second = broker.order("bracket-2")
    assert second.event.limit_price == pytest.approx(14.0 * 0.99)
    assert [(f.order_id, round(f.price, 6)) for f in fills] == [("bracket-2", 13.86)]
    assert strategy.in_trade, "filled, its bracket working"


def test_stop_loss_exit_and_no_new_entry_while_in_a_trade() -> None:
    strategy = BracketCross(2, 4, take_profit=0.1, stop_loss=0.05, pullback=0.01,
                            notional=1_000)
    # filled at 11.88 in bar 5; down (a cross below) and up again (a cross above) while the
    # bracket works: no second entry; bar 9 gaps below the stop 11.286: fills at its open
    bars = [*RISE, (12.0, 12.0, 11.8, 11.9), (11.6, 11.7, 11.5, 11.5),
            (11.5, 11.6, 11.4, 11.45), (11.5, 12.5, 11.4, 12.5), (11.0, 11.2, 10.8, 11.0)]
    broker, portfolio, fills, errors = run_bracket(bars, strategy,
                                                   FillModel(commission=1.0, slippage_bps=10))
    assert errors == []
    assert [(f.order_id, round(f.price, 6), f.timestamp) for f in fills] == [
        ("bracket-1", 11.88, T0 + 5 * DAY),  # a limit fill: no slippage
        ("bracket-1-sl", round(11.0 * (1 - 0.001), 6), T0 + 9 * DAY)]  # a stop: slippage
    assert len(broker.orders_frame()) == 3, "no second entry while the first trade ran"
    assert broker.order("bracket-1-tp").status == "CANCELED"
    assert portfolio.positions == {} and not strategy.in_trade
    assert portfolio.realized_pnl == pytest.approx(84 * (11.0 * 0.999 - 11.88) - 2.0)


def test_bad_bracket_parameters_are_refused() -> None:
    for kwargs, match in (({"take_profit": 0.0}, "above 0"), ({"stop_loss": 1.5}, "stop_loss"),
                          ({"pullback": float("nan")}, "pullback"),
                          ({"notional": -5}, "notional"), ({"fast": 30, "slow": 10}, "fast")):
        with pytest.raises(ValueError, match=match):
            BracketCross(**kwargs)
    with pytest.raises(RuntimeError, match="no bus"):
        BracketCross().on_bar(create_bar_event("X", T0, 1.0, 1.0, 1.0, 1.0, 1.0))


def test_bracket_cross_on_the_shipped_aapl_bars_every_exit_follows_its_rule() -> None:
    """AAPL daily from March 2005, $1 and 5 bps: each trade is an entry filled by the limit
    rule and one exit, the take-profit or the stop-loss, checked against the bars by the
    fill rules of evlab.execution.fills (not by asking the broker)."""
    bars = datasets.load("stocks_daily", symbol="AAPL").loc["2005-03-01":]
    model = FillModel(commission=1.0, slippage_bps=5)
    strategy = BracketCross()
    broker, portfolio, fills, errors = run_bracket(bars, strategy, model)
    assert errors == []
    by_time = {t.value: i for i, t in enumerate(bars.index)}
    o, h, lo = (bars[c].to_numpy() for c in ("open", "high", "low"))
    fill_of = {f.order_id: f for f in fills}
    assert len(fill_of) == len(fills), "each order fills once (no partial fills)"
    entries = [f for f in fills if f.side == "BUY"]
    kinds = []
    previous_exit = -1
    for entry_fill in entries:
        order = broker.order(entry_fill.order_id).event
        i = by_time[entry_fill.time_ns]
        assert i > previous_exit, "one trade at a time"
        assert lo[i] <= order.limit_price and entry_fill.price == min(o[i], order.limit_price)
        tp_id, sl_id = strategy.exits[entry_fill.order_id]
        tp, sl = order.take_profit, order.stop_loss
        (exit_id,) = [x for x in (tp_id, sl_id) if x in fill_of]  # exactly one exit
        exit_fill = fill_of[exit_id]
        j = by_time[exit_fill.time_ns]
        # the bracket works from the next bar, or from the entry's own bar if the entry
        # filled at its open (the open was at or below the limit)
        first = i if entry_fill.price == o[i] else i + 1
        assert j >= first
        # no bar before the exit bar touched either level
        assert (h[first:j] < tp).all() and (lo[first:j] > sl).all()
        if exit_id == tp_id:  # the take-profit: a sell limit, at max(open, tp), no slippage
            assert h[j] >= tp and lo[j] > sl, "the stop-loss not touched (it would win)"
            assert exit_fill.price == max(o[j], tp)
            kinds.append("tp")
        else:  # the stop-loss: a sell stop, at min(open, sl) less 5 bps
            assert lo[j] <= sl
            assert exit_fill.price == pytest.approx(min(o[j], sl) * (1 - 5e-4), rel=1e-12)
            kinds.append("sl")
        assert exit_fill.quantity == entry_fill.quantity
        previous_exit = j
    assert (len(entries), kinds.count("tp"), kinds.count("sl")) == (18, 8, 10)
    assert portfolio.positions == {} and not strategy.in_trade
    pnl = sum((-1 if f.side == "BUY" else 1) * f.quantity * f.price - f.commission
              for f in fills)
    assert portfolio.equity == pytest.approx(100_000 + pnl, abs=1e-6)
    statuses = broker.orders_frame().groupby(["order_type", "status"]).size().to_dict()
    assert statuses == {("LIMIT", "CANCELED"): 10, ("LIMIT", "EXPIRED"): 12,
                        ("LIMIT", "FILLED"): 26, ("STOP", "CANCELED"): 8,
                        ("STOP", "FILLED"): 10}
