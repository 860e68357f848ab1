"""Analytics: hand-computed summaries and trades, bar frequency, a vectorised pandas reference
on shipped data, and a recorded session's analytics equal to the live ones."""

import math
import statistics
from collections import deque

import numpy as np
import pandas as pd
import pytest

from evlab import analytics, datasets
from evlab.core.events import (
    EventBus,
    EventManager,
    EventType,
    create_bar_event,
    create_signal_event,
)
from evlab.execution import FillModel, FixedQuantity, PaperBroker, Portfolio

MON = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday


def days(n):
    return pd.date_range(MON, periods=n, freq="D", name="time")


def fills_frame(rows):
    """rows: (day, symbol, side, quantity, price, commission)."""
    frame = pd.DataFrame(rows, columns=["day", "symbol", "side", "quantity", "price",
                                        "commission"])
    frame.index = pd.DatetimeIndex(MON + pd.to_timedelta(frame.pop("day"), unit="D"), name="time")
    return frame


# --- hand-computed --------------------------------------------------------------------------

def test_summary_by_hand():
    equity = pd.Series([100.0, 110.0, 99.0, 121.0, 110.0], index=days(5))  # Mon .. Fri
    fills = fills_frame([(0, "A", "BUY", 1, 100.0, 0.5), (2, "A", "SELL", 1, 99.0, 0.5)])
    s = analytics.summary(fills, equity)
    returns = [0.1, -0.1, 22 / 99, -11 / 121]
    assert s["periods_per_year"] == 252 and s["periods"] == 4
    assert s["total_return"] == pytest.approx(0.1, rel=1e-12)
    assert s["annual_return"] == pytest.approx(1.1 ** (252 / 4) - 1, rel=1e-12)
    vol = statistics.stdev(returns)
    assert s["annual_volatility"] == pytest.approx(vol * math.sqrt(252), rel=1e-12)
    assert s["sharpe"] == pytest.approx(statistics.mean(returns) / vol * math.sqrt(252),
                                        rel=1e-12)
    assert s["max_drawdown"] == pytest.approx(-0.1, rel=1e-12)  # 110 -> 99
    assert (s["max_drawdown_peak"], s["max_drawdown_trough"], s["max_drawdown_recovery"]) == (
        MON + pd.Timedelta(days=1), MON + pd.Timedelta(days=2), MON + pd.Timedelta(days=3))
    assert s["trades"] == 1 and s["win_rate"] == 0.0
    assert s["avg_trade_pnl"] == pytest.approx(-2.0, abs=1e-12)  # -1 - 0.5 - 0.5
    assert s["exposure"] == pytest.approx(2 / 5)  # held at Mon and Tue closes
    assert s["commission"] == 1.0
    assert s["start"].tz is not None and s.name == "summary"
    text = analytics.format_summary(s)
    assert "total return +10.00%" in text and "1 trades, win rate 0.0%" in text


def test_trades_partial_close_and_reversal_by_hand():
    fills = fills_frame([
        (0, "A", "BUY", 10, 100.0, 1.0),
        (1, "A", "SELL", 4, 110.0, 1.0),
        (2, "A", "SELL", 6, 120.0, 1.0),  # flat: trade 1 closed
        (3, "A", "SELL", 5, 120.0, 1.0),  # short 5
        (3, "B", "BUY", 2, 50.0, 0.0),  # another symbol, still open at the end
        (4, "A", "BUY", 8, 100.0, 1.6),  # cover 5 (commission 1.0), long 3 (0.6)
    ])
    t = analytics.trades(fills)
    assert list(t.columns) == analytics.TRADE_COLUMNS and t.index.name == "trade"
    assert list(zip(t.symbol, t.direction, t.closed, strict=True)) == [
        ("A", "long", True), ("A", "short", True), ("B", "long", False), ("A", "long", False)]
    long, short, b, rest = (t.iloc[i] for i in range(4))
    assert (long.entry_price, long.exit_price, long.quantity) == (100.0, 116.0, 10.0)
    assert long.pnl == pytest.approx(157.0, abs=1e-12)  # 4 * 10 + 6 * 20 - 3
    assert long["return"] == pytest.approx(0.157, abs=1e-12)
    assert (long.entry_time, long.exit_time) == (MON, MON + pd.Timedelta(days=2))
    assert short.pnl == pytest.approx(98.0, abs=1e-12)  # 5 * 20 - 1 - 1
    assert short["return"] == pytest.approx(98 / 600, abs=1e-12)
    assert rest.quantity == 3 and rest.commission == pytest.approx(0.6)
    assert pd.isna(rest.exit_time) and pd.isna(rest.pnl) and pd.isna(b.exit_price)
    assert str(t["entry_time"].dtype) == "datetime64[ns, UTC]"


def test_equity_frame():
    frame = analytics.equity_frame(pd.Series([100.0, 120.0, 90.0, 130.0], index=days(4)))
    assert list(frame.columns) == ["equity", "returns", "peak", "drawdown"]
    assert list(frame["peak"]) == [100.0, 120.0, 120.0, 130.0]
    assert list(frame["drawdown"]) == [0.0, 0.0, -0.25, 0.0]
    assert str(frame.index.tz) == "UTC"
    with pytest.raises(ValueError, match="timezone-aware"):
        analytics.equity_frame(pd.Series([1.0, 2.0], index=pd.date_range("2024", periods=2)))


@pytest.mark.parametrize(("index", "expected"), [
    (pd.bdate_range("2024-01-01", periods=30, tz="UTC"), 252),
    (pd.date_range("2024-01-06", periods=600, freq="min", tz="UTC"), 525_600),  # a Saturday
    (pd.date_range("2024-01-02 14:30", periods=300, freq="min", tz="UTC"), 252 * 390),
    (pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC"), 365),
    (pd.date_range("2024-01-01", periods=30, freq="W-MON", tz="UTC"), 365.25 / 7),
])
def test_periods_per_year(index, expected):
    assert analytics.infer_periods_per_year(index) == pytest.approx(expected)


def test_periods_per_year_on_shipped_data_and_override():
    assert analytics.infer_periods_per_year(datasets.load("btcusd_1m").index) == 525_600
    assert analytics.infer_periods_per_year(
        datasets.load("stocks_daily", symbol="MSFT").index) == 252
    equity = pd.Series([100.0, 101.0, 100.5], index=days(3))
    s = analytics.summary(fills_frame([]), equity, periods_per_year=12)
    assert s["periods_per_year"] == 12 and s["trades"] == 0 and s["exposure"] == 0.0
    assert s["annual_return"] == pytest.approx(1.005 ** 6 - 1)


# --- the broker against an independent vectorised computation ---------------------------------

QTY, CASH, FAST, SLOW = 100, 100_000.0, 20, 50
MODEL = FillModel(commission=1.0, commission_rate=0.0005, slippage_bps=5)


class SmaCross:
    """BUY when the fast SMA crosses above the slow one; EXIT (or SELL) when it crosses below."""

    def __init__(self, down: str) -> None:
        self.down, self.closes, self.above = down, deque(maxlen=SLOW), None

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, bar):
        self.closes.append(bar.close)
        if len(self.closes) < SLOW:
            return
        above = sum(list(self.closes)[-FAST:]) / FAST > sum(self.closes) / SLOW
        if self.above is not None and above != self.above:
            kind = "BUY" if above else self.down
            self.bus.emit(create_signal_event(kind, bar.close, bar.symbol, "sma"))
        self.above = above


def run_session(bars, down="EXIT", *, bus=None):
    bus = bus or EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(CASH, allow_short=down == "SELL")
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", PaperBroker(portfolio, MODEL, FixedQuantity(QTY)),
                               [EventType.BAR, EventType.SIGNAL], priority=10)
    manager.register_component("strategy", SmaCross(down), [EventType.BAR])
    for ts, row in zip(bars.index, bars.itertuples(index=False), strict=True):
        bus.emit(create_bar_event(row.symbol, ts, row.open, row.high, row.low, row.close,
                                  row.volume))
    return portfolio


def reference(bars, short):
    """The same strategy and fill model in plain vectorised pandas."""
    close, open_ = bars["close"], bars["open"]
    slow = close.rolling(SLOW).mean()
    above = (close.rolling(FAST).mean() > slow).astype(float).where(slow.notna())
    cross = above.notna() & above.shift(1).notna() & (above != above.shift(1))
    state = pd.Series(np.where(cross, np.where(above == 1, 1.0, -1.0 if short else 0.0), np.nan),
                      index=close.index).ffill().fillna(0.0)
    held = QTY * state.shift(1).fillna(0.0)  # ordered at the close, filled at the next open
    traded = held.diff().fillna(held)
    price = open_ * (1 + np.sign(traded) * MODEL.slippage_bps / 10_000)
    fee = (MODEL.commission + MODEL.commission_rate * traded.abs() * price).where(traded != 0, 0)
    cash = CASH - (traded * price + fee).cumsum()
    equity = cash + held * close
    # trades: from each change of position to the next; fees shared per unit
    moves = pd.DataFrame({"held": held, "price": price, "fee_per_unit": fee / traded.abs()})
    moves = moves[traded != 0]
    nxt = moves.shift(-1)
    legs = moves.assign(exit_time=moves.index.to_series().shift(-1), exit_price=nxt["price"],
                        exit_fee=nxt["fee_per_unit"]).iloc[:-1]
    legs = legs[legs["held"] != 0]
    sign = np.sign(legs["held"])
    pnl = (sign * QTY * (legs["exit_price"] - legs["price"])
           - QTY * (legs["fee_per_unit"] + legs["exit_fee"]))
    trades = pd.DataFrame({"entry_time": legs.index, "exit_time": legs["exit_time"].to_numpy(),
                           "entry_price": legs["price"].to_numpy(),
                           "exit_price": legs["exit_price"].to_numpy(),
                           "pnl": pnl.to_numpy()})
    return equity.rename("equity"), trades


@pytest.mark.parametrize(("symbol", "down"), [("AAPL", "EXIT"), ("MSFT", "EXIT"),
                                              ("AAPL", "SELL")])
def test_sma_crossover_matches_a_vectorised_pandas_reference(symbol, down):
    bars = datasets.load("stocks_daily", symbol=symbol)
    portfolio = run_session(bars, down)
    ref_equity, ref_trades = reference(bars, short=down == "SELL")
    live = analytics.trades(portfolio.fills_frame())
    closed = live[live["closed"]].reset_index(drop=True)
    assert len(closed) > 20
    pd.testing.assert_frame_equal(closed[ref_trades.columns], ref_trades, check_exact=False,
                                  rtol=1e-12, atol=1e-7, check_dtype=False,
                                  check_index_type=False)
    assert portfolio.equity == pytest.approx(ref_equity.iloc[-1], rel=1e-9)
    pd.testing.assert_series_equal(portfolio.equity_curve(), ref_equity, check_exact=False,
                                   rtol=1e-9, check_freq=False, check_index_type=False)


# --- recorded session == live ----------------------------------------------------------------

def test_a_recorded_sessions_analytics_equal_the_live_ones(tmp_path):
    from evlab.recording import load_recording, record  # evlab's recorder, saved and loaded

    bars = datasets.load("stocks_daily", symbol="AAPL")
    bus = EventBus()
    with record(bus) as rec:
        portfolio = run_session(bars, "SELL", bus=bus)
    live = analytics.summary(*analytics.from_portfolio(portfolio))
    assert live["trades"] > 20
    for source in (rec, load_recording(rec.save(tmp_path / "run.parquet"))):
        fills, equity = analytics.from_recording(source)
        pd.testing.assert_series_equal(equity, portfolio.equity_curve())
        pd.testing.assert_series_equal(analytics.summary(fills, equity), live)
        pd.testing.assert_frame_equal(analytics.trades(fills),
                                      analytics.trades(portfolio.fills_frame()))


def test_from_recording_tolerates_missing_and_prefixed_columns():
    from evlab.recording import record

    bars = datasets.load("stocks_daily", symbol="MSFT").iloc[:400]
    bus = EventBus()
    with record(bus) as rec:
        run_session(bars, "EXIT", bus=bus)
    frame = rec.to_frame()
    fills, equity = analytics.from_recording(frame)
    assert len(fills) > 2
    stripped = frame.drop(columns=["commission", "order_id"]).rename(
        columns={"price": "FillEvent_price"})
    fills2, equity2 = analytics.from_recording(stripped)
    assert (fills2["commission"] == 0).all() and (fills2["price"] == fills["price"]).all()
    pd.testing.assert_series_equal(equity2, equity)

    only_bars = pd.DataFrame({"seq": [1], "type": ["bar"], "symbol": ["A"],
                              "event_time": [MON.value]})
    fills3, equity3 = analytics.from_recording(only_bars)
    assert fills3.empty and {"symbol", "side", "quantity", "price"} <= set(fills3.columns)
    assert equity3.empty and str(equity3.index.tz) == "UTC"
    with pytest.raises(ValueError, match="2 sessions"):
        analytics.from_recording(frame.assign(session=["a", "b"] * (len(frame) // 2)
                                              + ["a"] * (len(frame) % 2)))


FILLS_NONE = fills_frame([])


def test_a_sample_shorter_than_a_quarter_year_is_flagged_not_silently_annualised():
    times = pd.date_range("2024-01-06", periods=3 * 1440, freq="min", tz="UTC")  # Sat..Mon
    equity = pd.Series(np.linspace(100.0, 98.0, len(times)), index=times)
    s = analytics.summary(FILLS_NONE, equity)
    assert s["periods_per_year"] == 525_600 and s["short_sample"] is True
    assert s["years"] == pytest.approx((len(times) - 1) / 525_600)
    assert "sample too short to annualise: 3.0 days of bars, under 91" in s["annual_caveat"]
    text = analytics.format_summary(s)
    assert text.splitlines()[-1] == f"  caveat: {s['annual_caveat']}"
    assert np.isfinite(s["annual_return"])  # still computed: the caveat says what it is worth
    year = pd.Series(np.linspace(100.0, 120.0, 253), index=days(253))
    long = analytics.summary(FILLS_NONE, year)
    assert long["short_sample"] is False and long["annual_caveat"] == ""
    assert "caveat" not in analytics.format_summary(long)
    assert analytics.ANNUAL_MIN_YEARS == 0.25


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nan_in_a_user_equity_curve_is_an_error_naming_its_position(bad):
    equity = pd.Series([100.0, 110.0, bad, 121.0, 110.0], index=days(5))
    with pytest.raises(ValueError, match=r"equity: value (nan|inf) at position 2 "
                                         r"\(2024-01-03 .*\) is not a number"):
        analytics.summary(FILLS_NONE, equity)
    with pytest.raises(ValueError, match="position 2"):
        analytics.equity_frame(equity)
