"""Performance analytics from fills and an equity curve: summary, trades table, drawdowns.

Inputs, in pandas conventions (both come from :func:`from_portfolio` or :func:`from_recording`):

``equity``
    A float Series on a timezone-aware ``DatetimeIndex``: the account's equity after each bar
    (marked at its close), e.g. ``Portfolio.equity_curve()``. Repeated times keep the last.
``fills``
    A DataFrame, one row per fill, on a timezone-aware ``DatetimeIndex`` (or with a ``time``
    column), with columns ``symbol``, ``side`` (``BUY``/``SELL``), ``quantity`` (> 0),
    ``price`` and, optionally, ``commission`` (0 if missing).

Returns are per bar (``equity.pct_change()``); with ``n`` returns and ``ppy`` bars a year
(inferred from the median bar spacing by :func:`infer_periods_per_year`, or given as
``periods_per_year=``): annual return ``(final / initial) ** (ppy / n) - 1``, volatility
``std(returns) * sqrt(ppy)``, Sharpe ``(mean(returns) - risk_free / ppy) / std * sqrt(ppy)``.
Annualising a short sample extrapolates it: a sample shorter than ``ANNUAL_MIN_YEARS`` (a
quarter of a year: ``n / ppy < 0.25``) still gets the annual figures, but the summary's
``short_sample`` is True, ``annual_caveat`` says why, and :func:`format_summary` prints it.
An equity curve with a NaN or an infinity is an error (``ValueError`` naming its position),
not a return.
A trade is a round trip of one symbol from flat to flat (a fill that crosses zero closes one
trade and opens the next, its commission split). Exposure: the fraction of equity times at
which a position is held. Drawdowns are fractions of the running peak (<= 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ANNUAL_MIN_YEARS", "SUMMARY_FIELDS", "TRADE_COLUMNS", "equity_frame", "exposure",
           "format_summary", "from_portfolio", "from_recording", "infer_periods_per_year",
           "summary", "trades"]

TRADING_DAYS = 252  # equities: bars per year of daily bars
TRADING_SECONDS = 6.5 * 3600  # one regular US equity session
_DAY = 86_400.0
ANNUAL_MIN_YEARS = 0.25  # below it annual figures are flagged: 3 days to the 120th power
_EPS = 1e-9
#: What :func:`summary` returns, in its order (a sweep checks ``metrics=`` names against it).
SUMMARY_FIELDS = ("start", "end", "periods", "periods_per_year", "initial_equity",
                  "final_equity", "total_return", "annual_return", "annual_volatility",
                  "sharpe", "max_drawdown", "max_drawdown_peak", "max_drawdown_trough",
                  "max_drawdown_recovery", "trades", "win_rate", "avg_trade_pnl",
                  "avg_trade_return", "exposure", "commission", "years", "short_sample",
                  "annual_caveat")
TRADE_COLUMNS = ["symbol", "direction", "entry_time", "exit_time", "entry_price", "exit_price",
                 "quantity", "commission", "pnl", "return", "closed"]


def infer_periods_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year from the median spacing of ``index``.

    An index with weekend times is a 24/7 market: 365 days a year (1-minute bars: 525,600).
    Otherwise a trading calendar: daily bars 252, intraday bars 252 sessions of 6.5 hours
    (1-minute bars: 98,280), longer bars 365.25 days / spacing (weekly: ~52).
    """
    if len(index) < 2:
        raise ValueError("infer_periods_per_year: need at least 2 times; "
                         "give periods_per_year= explicitly")
    spacing = pd.Series(index).diff().dropna().median().total_seconds()
    if spacing <= 0:
        raise ValueError(f"infer_periods_per_year: median spacing is {spacing}s")
    if (pd.DatetimeIndex(index).day_of_week >= 5).any():
        return 365 * _DAY / spacing
    if spacing < 0.75 * _DAY:
        return TRADING_DAYS * TRADING_SECONDS / spacing
    if spacing <= 1.5 * _DAY:
        return float(TRADING_DAYS)
    return 365.25 * _DAY / spacing


def _equity(equity: pd.Series) -> pd.Series:
    if not isinstance(equity.index, pd.DatetimeIndex) or equity.index.tz is None:
        raise ValueError("equity: need a Series on a timezone-aware DatetimeIndex")
    equity = equity.astype("float64")
    bad = np.flatnonzero(~np.isfinite(equity.to_numpy()))
    if len(bad):
        at = int(bad[0])
        raise ValueError(f"equity: value {equity.iloc[at]} at position {at} "
                         f"({equity.index[at]}) is not a number; {len(bad)} such value(s) "
                         "in all (drop or fill them first)")
    equity = equity.sort_index(kind="stable")
    return equity.groupby(level=0, sort=False).last().rename("equity")


def _fills(fills: pd.DataFrame) -> pd.DataFrame:
    if "time" in fills.columns:
        fills = fills.set_index("time")
    if not isinstance(fills.index, pd.DatetimeIndex) or fills.index.tz is None:
        raise ValueError("fills: need a timezone-aware DatetimeIndex or a 'time' column")
    missing = {"symbol", "side", "quantity", "price"} - set(fills.columns)
    if missing:
        raise ValueError(f"fills: missing columns {sorted(missing)}")
    fills = fills.sort_index(kind="stable")
    commission = fills["commission"] if "commission" in fills.columns else 0.0
    return pd.DataFrame({"symbol": fills["symbol"].astype(str), "side": fills["side"].astype(str),
                         "quantity": fills["quantity"].astype("float64"),
                         "price": fills["price"].astype("float64"),
                         "commission": commission}, index=fills.index).fillna({"commission": 0.0})


def equity_frame(equity: pd.Series) -> pd.DataFrame:
    """Columns ``equity``, ``returns`` (per bar), ``peak`` (running high) and ``drawdown``
    (``equity / peak - 1``, <= 0), on the equity's index."""
    equity = _equity(equity)
    peak = equity.cummax()
    return pd.DataFrame({"equity": equity, "returns": equity.pct_change(), "peak": peak,
                         "drawdown": equity / peak - 1.0})


def trades(fills: pd.DataFrame) -> pd.DataFrame:
    """One row per round trip: symbol, direction, entry/exit time and average price, quantity,
    commission, P&L (net of commission), return (P&L / entry notional), closed."""
    rows: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for time, symbol, side, quantity, price, commission in _fills(fills).itertuples():
        left = quantity if side == "BUY" else -quantity
        fee = float(commission)
        while abs(left) > _EPS:
            trade = open_.get(symbol)
            sign = 1.0 if left > 0 else -1.0
            if trade is None or trade["dir"] == sign:  # open, or add to the open trade
                trade = trade or open_.setdefault(symbol, {
                    "symbol": symbol, "dir": sign, "entry_time": time, "pos": 0.0,
                    "entry_qty": 0.0, "entry_value": 0.0, "exit_qty": 0.0, "exit_value": 0.0,
                    "commission": 0.0})
                trade["pos"] += left
                trade["entry_qty"] += abs(left)
                trade["entry_value"] += abs(left) * price
                trade["commission"] += fee
                break
            closing = min(abs(left), abs(trade["pos"]))
            share = fee * closing / abs(left)
            trade["pos"] += sign * closing
            trade["exit_qty"] += closing
            trade["exit_value"] += closing * price
            trade["commission"] += share
            left -= sign * closing
            fee -= share
            if abs(trade["pos"]) <= _EPS * max(1.0, trade["entry_qty"]):
                rows.append(_trade_row(open_.pop(symbol), time))
    rows += [_trade_row(t, None) for t in open_.values()]
    frame = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    for col in ("entry_time", "exit_time"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ns, UTC]")
    frame = frame.sort_values("entry_time", kind="stable", ignore_index=True)
    frame.index.name = "trade"
    return frame


def _trade_row(t: dict[str, Any], exit_time: Any) -> dict[str, Any]:
    closed = exit_time is not None
    pnl = t["dir"] * (t["exit_value"] - t["entry_value"]) - t["commission"] if closed else np.nan
    return {"symbol": t["symbol"], "direction": "long" if t["dir"] > 0 else "short",
            "entry_time": t["entry_time"], "exit_time": exit_time if closed else pd.NaT,
            "entry_price": t["entry_value"] / t["entry_qty"],
            "exit_price": t["exit_value"] / t["exit_qty"] if closed else np.nan,
            "quantity": t["entry_qty"], "commission": t["commission"], "pnl": pnl,
            "return": pnl / t["entry_value"] if closed else np.nan, "closed": closed}


def exposure(fills: pd.DataFrame, index: pd.DatetimeIndex) -> float:
    """The fraction of the times in ``index`` at which any position is held (after that
    time's fills)."""
    fills = _fills(fills)
    if fills.empty or len(index) == 0:
        return 0.0
    signed = fills["quantity"].where(fills["side"] == "BUY", -fills["quantity"])
    held = (signed.groupby([fills.index, fills["symbol"]]).sum().unstack("symbol")
            .fillna(0.0).cumsum())
    held = held.reindex(held.index.union(index)).ffill().fillna(0.0).loc[index]
    return float((held.abs() > _EPS).any(axis=1).mean())


def summary(fills: pd.DataFrame, equity: pd.Series, *, periods_per_year: float | None = None,
            risk_free: float = 0.0) -> pd.Series:
    """Total and annualised return, volatility, Sharpe (``risk_free`` a yearly rate), max
    drawdown with its peak, trough and recovery times, trades, win rate, average trade,
    exposure, commission: one Series named ``summary``."""
    frame = equity_frame(equity)
    if frame.empty:
        raise ValueError("summary: the equity curve is empty")
    times = pd.DatetimeIndex(frame.index)  # one already (``_equity`` checks); typed as one here
    ppy = float(periods_per_year or infer_periods_per_year(times))
    eq, returns, dd = frame["equity"], frame["returns"].dropna(), frame["drawdown"]
    first, last, n = eq.iloc[0], eq.iloc[-1], len(returns)
    std = returns.std(ddof=1) if n > 1 else np.nan
    sharpe = ((returns.mean() - risk_free / ppy) / std * math.sqrt(ppy)
              if std and np.isfinite(std) else np.nan)
    trough = dd.idxmin()
    peak = recovery = pd.NaT
    if dd.min() < 0:
        high = frame["peak"].at[trough]
        peak = eq.loc[:trough][eq.loc[:trough] == high].index[-1]
        after = eq.loc[trough:]
        recovery = after.index[after >= high][0] if (after >= high).any() else pd.NaT
    else:
        trough = pd.NaT
    table = trades(fills)
    closed = table[table["closed"]]
    commission = float(_fills(fills)["commission"].sum())
    stats: dict[str, Any] = {
        "start": eq.index[0], "end": eq.index[-1], "periods": n, "periods_per_year": ppy,
        "initial_equity": first, "final_equity": last, "total_return": last / first - 1.0,
        "annual_return": (last / first) ** (ppy / n) - 1.0 if n else np.nan,
        "annual_volatility": std * math.sqrt(ppy), "sharpe": sharpe,
        "max_drawdown": float(dd.min()), "max_drawdown_peak": peak,
        "max_drawdown_trough": trough, "max_drawdown_recovery": recovery,
        "trades": len(closed),
        "win_rate": float((closed["pnl"] > 0).mean()) if len(closed) else np.nan,
        "avg_trade_pnl": float(closed["pnl"].mean()) if len(closed) else np.nan,
        "avg_trade_return": float(closed["return"].mean()) if len(closed) else np.nan,
        "exposure": exposure(fills, times), "commission": commission,
        "years": n / ppy, "short_sample": n / ppy < ANNUAL_MIN_YEARS,
        "annual_caveat": _caveat(n / ppy),
    }
    return pd.Series(stats, name="summary", dtype=object)


def _caveat(years: float) -> str:
    if years >= ANNUAL_MIN_YEARS:
        return ""
    return (f"sample too short to annualise: {years * 365:.1f} days of bars, under "
            f"{ANNUAL_MIN_YEARS * 365:.0f} (ANNUAL_MIN_YEARS = {ANNUAL_MIN_YEARS}); the annual "
            "return, volatility and Sharpe are extrapolated and mean little")


def format_summary(stats: pd.Series) -> str:
    """A short readable account of a :func:`summary`."""
    def pct(key: str) -> str:
        return f"{stats[key]:+.2%}" if pd.notna(stats[key]) else "n/a"

    def day(key: str) -> str:
        return f"{stats[key]:%Y-%m-%d}" if pd.notna(stats[key]) else "not yet"

    caveat = [f"  caveat: {stats['annual_caveat']}"] if stats.get("annual_caveat") else []
    return "\n".join([
        f"  {day('start')} .. {day('end')}: {stats['periods']} bars, "
        f"{stats['periods_per_year']:,.0f} a year",
        f"  equity {stats['initial_equity']:,.2f} -> {stats['final_equity']:,.2f}: "
        f"total return {pct('total_return')}, annual {pct('annual_return')}",
        f"  annual volatility {stats['annual_volatility']:.2%}, Sharpe {stats['sharpe']:.2f}",
        f"  max drawdown {stats['max_drawdown']:.2%} (peak {day('max_drawdown_peak')}, "
        f"trough {day('max_drawdown_trough')}, recovered {day('max_drawdown_recovery')})",
        f"  {stats['trades']} trades, win rate {stats['win_rate']:.1%}, "
        f"average trade {stats['avg_trade_pnl']:,.2f} ({pct('avg_trade_return')}), "
        f"exposure {stats['exposure']:.1%}, commission {stats['commission']:,.2f}",
        *caveat,
    ])


def from_portfolio(portfolio: Any) -> tuple[pd.DataFrame, pd.Series]:
    """``(fills, equity)`` of a live ``evlab.execution.Portfolio``."""
    return portfolio.fills_frame(), portfolio.equity_curve()


def _column(frame: pd.DataFrame, name: str, cls: str) -> pd.Series | None:
    for key in (name, f"{cls}_{name}"):
        if key in frame.columns:
            return frame[key]
    return None


def _utc(values: Any) -> pd.DatetimeIndex:
    values = pd.Index(values)
    if pd.api.types.is_integer_dtype(values.dtype):
        return pd.DatetimeIndex(pd.to_datetime(values, unit="ns", utc=True), name="time")
    times = pd.DatetimeIndex(values)
    times = times.tz_localize("UTC") if times.tz is None else times.tz_convert("UTC")
    return times.rename("time")


def _as_frame(rec: Any) -> pd.DataFrame:
    if isinstance(rec, pd.DataFrame):
        return rec
    frame = getattr(rec, "frame", None)  # evlab.recording.Recording
    if isinstance(frame, pd.DataFrame):
        return frame
    for name in ("to_frame", "to_pandas"):  # EventRecorder, or anything like it
        method = getattr(rec, name, None)
        if callable(method):
            frame = method()
            if isinstance(frame, pd.DataFrame):
                return frame
            raise TypeError(f"from_recording: {type(rec).__name__}.{name}() returned "
                            f"{type(frame).__name__}, not a DataFrame")
    raise TypeError(f"from_recording: expected a DataFrame or a recording, "
                    f"got {type(rec).__name__}")


def from_recording(rec: Any, *, session: str | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """``(fills, equity)`` of a recorded session: an ``EventRecorder``, a ``Recording`` or a
    DataFrame with one row per event and columns ``type``, ``event_time`` (or that index)
    and the fields.

    Fill rows (``type == "fill"``) give ``symbol, side, quantity, price`` and, if present,
    ``commission`` and ``order_id``; portfolio rows give ``equity``, carried forward over the
    recorded bar times (the portfolio publishes only when something changed). A field may
    also be named ``<EventClass>_<field>`` (``FillEvent_price``). A recording of several
    sessions (a ``session`` column) needs ``session=``.
    """
    frame = _as_frame(rec)
    if "session" in frame.columns:
        names = frame["session"].dropna().unique()
        if session is None and len(names) > 1:
            raise ValueError(f"from_recording: {len(names)} sessions recorded; pick one with "
                             f"session= ({', '.join(map(str, names[:5]))})")
        if session is not None:
            frame = frame[frame["session"] == session]
    times = _utc(frame["event_time"] if "event_time" in frame.columns else frame.index)
    kind = frame["type"].astype(str).to_numpy()
    is_fill, is_pf, is_bar = kind == "fill", kind == "portfolio", kind == "bar"
    columns: dict[str, Any] = {}
    defaults = {"symbol": "", "side": "", "quantity": np.nan, "price": np.nan,
                "commission": 0.0, "order_id": ""}
    for name, default in defaults.items():
        col = _column(frame, name, "FillEvent")
        if col is not None:
            columns[name] = col.to_numpy()[is_fill]
        elif name in ("commission", "order_id") or not is_fill.any():
            columns[name] = [default] * int(is_fill.sum())
    fills = pd.DataFrame(columns, index=times[is_fill])
    for name in ("quantity", "price", "commission"):
        if name in fills.columns:
            fills[name] = fills[name].astype("float64")
    eq_col = _column(frame, "equity", "PortfolioEvent")
    if eq_col is None:
        return fills, pd.Series(dtype="float64", index=_utc([]), name="equity")
    equity = pd.Series(eq_col.to_numpy()[is_pf], index=times[is_pf], name="equity",
                       dtype="float64")
    equity = equity.groupby(level=0, sort=True).last()
    grid = equity.index.union(times[is_bar])
    return fills, equity.reindex(grid).ffill().dropna().rename("equity")
