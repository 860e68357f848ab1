"""``chart()``: a static ``go.Figure`` of a recorded session (same look as the live chart).

Accepted inputs (duck-typed; the recorder module is not imported):

* a recording: an object with ``.bars(symbol)`` and ``.signals()`` (optionally ``.fills()``,
  and ``.to_frame()`` or ``.frame`` for equity and indicator rows);
* a recording's full frame: a DataFrame with a ``type`` column (``bar``, ``signal``, ``fill``,
  ``portfolio``, ``system``), ``event_time`` (or the index), ``symbol`` and the fields;
* a bars DataFrame: index = time, columns ``open high low close`` (+ ``volume``), with
  optional ``signals`` (``signal_type``, ``price``, optional ``strategy_id``, ``symbol``),
  ``fills`` (``side``, ``price``, ``quantity``), ``equity`` (a Series, or a frame with an
  ``equity`` column) and ``overlays`` (one column per indicator line), all indexed by time.

From a recording (or its frame) the chart also draws the working orders (their order,
replace and order-update events: ``evlab.plot.orders``), marks the fills of a bracket's
take-profit and stop-loss apart from the others, puts each indicator on its panel
(``evlab.plot.indicators``) and runs the equity to the last bar (``evlab.plot.equity``).

Times may be naive (taken as UTC) or tz-aware; a ``time`` or ``event_time`` column wins
over the index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evlab.plot import _figure as F
from evlab.plot.equity import from_start, held_quantity, run_to_end, starting_cash
from evlab.plot.indicators import INDICATOR, indicator_panel, indicator_values
from evlab.plot.orders import OrderLevels, segment_arrays

__all__ = ["chart"]

Frame = pd.DataFrame | None


def _ns(frame: pd.DataFrame | pd.Series) -> np.ndarray:
    """Epoch ns (UTC) of each row: the ``event_time``/``time`` column, else the index."""
    col = next((c for c in ("event_time", "time") if isinstance(frame, pd.DataFrame)
                and c in frame.columns), None)
    values = frame[col] if col is not None else frame.index
    index = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return index.as_unit("ns").asi8


def _rows(frame: pd.DataFrame, etype: str, symbol: str | None) -> pd.DataFrame:
    rows = frame[frame["type"].astype(str) == etype]
    if symbol is not None and "symbol" in rows.columns:
        rows = rows[rows["symbol"].astype(str) == symbol]
    return rows


def _full_frame(data: Any) -> Frame:
    if isinstance(data, pd.DataFrame):
        return data if "type" in data.columns else None
    to_frame = getattr(data, "to_frame", None)
    frame = to_frame() if callable(to_frame) else getattr(data, "frame", None)
    return frame if isinstance(frame, pd.DataFrame) else None


def _pick_symbol(frame: pd.DataFrame, symbol: str | None) -> str | None:
    if symbol is not None or "symbol" not in frame.columns:
        return symbol
    found = sorted(set(frame.loc[frame["type"].astype(str) == "bar", "symbol"].astype(str)))
    if len(found) != 1:
        raise ValueError(f"chart(): the recording has bars of {found or 'no symbol'}; "
                         "pass symbol=")
    return found[0]


def _overlays_from(frame: pd.DataFrame, symbol: str | None) -> dict[str, tuple]:
    """``{name: (times, values, declared panel)}`` of the indicator events of ``symbol``."""
    rows = frame[frame["type"].astype(str) == "system"]
    if "kind" not in rows.columns or "data" not in rows.columns:
        return {}
    rows = rows[rows["kind"].astype(str) == INDICATOR]
    lines: dict[str, tuple[list[int], list[float], list[str | None]]] = {}
    for t, data in zip(_ns(rows), rows["data"], strict=True):
        sym, values, panel = indicator_values(data)
        if sym in (symbol, None):
            for name, value in values.items():
                ts, ys, panels = lines.setdefault(name, ([], [], [None]))
                ts.append(int(t))
                ys.append(value)
                panels[0] = panels[0] or panel
    return {k: (np.array(t, np.int64), np.array(y, np.float64), p[0])
            for k, (t, y, p) in lines.items()}


def _orders_from(frame: pd.DataFrame, symbol: str | None) -> OrderLevels | None:
    """The working orders of ``symbol`` from a recording's order, replace and order-update
    rows, fed in sequence order (the order the bus stamped them)."""
    types = frame["type"].astype(str)
    rows = frame[types.isin(("order", "replace", "order_update"))]
    if not len(rows):
        return None
    if "seq" in rows.columns:
        rows = rows.sort_values("seq", kind="stable")
    cols = ("type", "symbol", "seq", "cause", "order_id", "order_type", "side", "quantity",
            "limit_price", "stop_price", "parent_id", "status")
    rows = rows.reindex(columns=cols)
    levels = OrderLevels(keep=len(rows) + 1)
    col: dict[str, list[Any]] = {c: rows[c].tolist() for c in cols}
    t_ns = _ns(frame.loc[rows.index]) if "event_time" in frame.columns else _ns(rows)
    for i, t in enumerate(t_ns.tolist()):
        r = {c: col[c][i] for c in cols}
        seq = _int(r["seq"])
        kind = str(r["type"])
        if kind == "replace":
            levels.replace(seq, r["limit_price"], r["stop_price"])
            continue
        if symbol is not None and str(r["symbol"]) != symbol and not (
                kind == "order_update" and r["status"] == "REPLACED"):
            continue
        if kind == "order":
            levels.order(seq, _text(r["order_id"]), str(r["order_type"]), str(r["side"]),
                         float(r["quantity"]), r["limit_price"], r["stop_price"],
                         _text(r["parent_id"]))
        else:
            levels.update(t, _text(r["order_id"]), str(r["status"]), _int(r["cause"]),
                          r["stop_price"])
    return levels


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _parts(data: Any, symbol: str | None, kw: dict[str, Any]) -> dict[str, Any]:
    """Bars, signals, fills, equity and overlays of ``symbol`` from any accepted input."""
    full = _full_frame(data)
    if callable(getattr(data, "bars", None)):
        if symbol is None and full is not None:
            symbol = _pick_symbol(full, None)
        parts = {"bars": data.bars(symbol), "signals": data.signals()}
        fills = getattr(data, "fills", None)
        parts["fills"] = fills() if callable(fills) else None
    elif full is not None:
        symbol = _pick_symbol(full, symbol)
        parts = {k: _rows(full, t, symbol) for k, t in
                 (("bars", "bar"), ("signals", "signal"), ("fills", "fill"))}
    else:
        parts = {"bars": data, "signals": kw.get("signals"), "fills": kw.get("fills")}
    parts["equity"] = kw.get("equity")
    parts["overlays"] = kw.get("overlays")
    parts["orders"] = None
    if full is not None:
        if parts["equity"] is None and "equity" in full.columns:
            parts["equity"] = _rows(full, "portfolio", None)
        if parts["overlays"] is None:
            parts["overlays"] = _overlays_from(full, symbol)
        if kw.get("orders", True):
            parts["orders"] = _orders_from(full, symbol)
    for key in ("signals", "fills"):  # a recording's signals() holds every symbol
        frame = parts[key]
        if frame is not None and symbol is not None and "symbol" in frame.columns:
            parts[key] = frame[frame["symbol"].astype(str) == symbol]
    parts["symbol"] = symbol
    return parts


def chart(data: Any, symbol: str | None = None, *, signals: Frame = None, fills: Frame = None,
          equity: pd.Series | pd.DataFrame | None = None, overlays: Frame = None,
          panels: dict[str, str] | None = None, orders: bool = True,
          last: int | None = None, volume: bool = True, title: str | None = None,
          height: int = 600) -> go.Figure:
    """A static figure of ``symbol`` in a recording (or a bars frame): candles, BUY ▲ / SELL
    and EXIT ▼ at the signal price, fills (a bracket's take-profit ★ and stop-loss ✕ apart),
    the working orders' levels (``orders=False``: not drawn), volume, indicators (on the
    candles or in panels below them: ``panels`` maps a line to its panel, else its
    ``indicator_event(panel=)``, else by value range) and equity run to the last bar.

    ``last`` keeps only the last N bars (and what falls in their time span).
    """
    parts = _parts(data, symbol, {"signals": signals, "fills": fills, "equity": equity,
                                  "overlays": overlays, "orders": orders})
    bars = parts["bars"]
    t = _ns(bars)
    order = np.argsort(t, kind="stable")
    t = t[order]
    ohlc = {c: bars[c].to_numpy(np.float64)[order] for c in ("open", "high", "low", "close")}
    vol = bars["volume"].to_numpy(np.float64)[order] if "volume" in bars.columns else None
    all_t, all_close = t, ohlc["close"]  # the equity is marked with every bar's close
    if last is not None:
        t = t[-last:]
        ohlc = {c: v[-last:] for c, v in ohlc.items()}
        vol = None if vol is None else vol[-last:]
    start = int(t[0]) if len(t) else None
    levels: OrderLevels | None = parts["orders"]
    eq = _equity(parts["equity"], start, parts["symbol"], all_t, all_close)
    name = parts["symbol"] or "bars"
    show_volume = volume and vol is not None
    fig = F.new_figure(name, volume=show_volume, equity=eq is not None,
                       title=title, height=height)
    x = F.to_datetime64(t)
    fig.data[F.CANDLES].update(x=x, **ohlc)
    if show_volume:
        fig.data[F.VOLUME].update(x=x, y=vol,
                                  marker_color=(ohlc["close"] >= ohlc["open"]).astype(float))
    _marks(fig, parts["signals"], parts["fills"], start, levels)
    if levels is not None:
        end = int(t[-1]) if len(t) else None
        for kind, (st, sy, text) in segment_arrays(levels.segments(), end, start).items():
            fig.data[F.ORDER_STYLE[kind][0]].update(x=F.to_datetime64(st), y=sy,
                                                    hovertext=text)
    if eq is not None:
        fig.data[F.EQUITY].update(x=F.to_datetime64(eq[0]), y=eq[1])
    low = float(np.nanmin(ohlc["low"])) if len(t) else float("nan")
    high = float(np.nanmax(ohlc["high"])) if len(t) else float("nan")
    shown: list[str] = []
    for line, (lt, ly, declared) in _lines(parts["overlays"], panels or {}).items():
        keep = lt >= start if start is not None else slice(None)
        panel = indicator_panel(line, declared, ly[keep], low, high)
        if panel is not None and panel not in shown:
            shown.append(panel)
        axis = "y" if panel is None else F.panel_axis(shown.index(panel))
        index = F.add_overlay(fig, line, axis)
        fig.data[index].update(x=F.to_datetime64(lt[keep]), y=ly[keep])
    if shown:
        F.show_panels(fig, volume=show_volume, equity=eq is not None, panels=shown)
    return fig


def _equity(equity: Any, start: int | None, symbol: str | None, bar_t: np.ndarray,
            close: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The equity points from ``start`` on, run to the last bar (``evlab.plot.equity``)."""
    if equity is None or len(equity) == 0:
        return None
    values = equity["equity"] if isinstance(equity, pd.DataFrame) else equity
    t = _ns(equity)
    y = values.to_numpy(np.float64)
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    quantity = initial = None
    if isinstance(equity, pd.DataFrame):
        if "positions" in equity.columns:
            quantity = held_quantity(equity["positions"].iloc[order[-1]], symbol)
        if {"realized_pnl", "unrealized_pnl"} <= set(equity.columns):
            first = equity.iloc[order[0]]
            initial = starting_cash(first["equity"], first["realized_pnl"],
                                    first["unrealized_pnl"])
    t, y = run_to_end(t, y, quantity, bar_t, close)
    return from_start(t, y, start, initial)


def _lines(overlays: Any, panels: dict[str, str]
           ) -> dict[str, tuple[np.ndarray, np.ndarray, str | None]]:
    if overlays is None:
        return {}
    if isinstance(overlays, dict):
        return {k: (v[0], v[1], panels.get(k, v[2] if len(v) > 2 else None))
                for k, v in overlays.items()}
    t = _ns(overlays)
    return {str(c): (t, overlays[c].to_numpy(np.float64), panels.get(str(c)))
            for c in overlays.columns if c not in ("time", "event_time")}


def _marks(fig: go.Figure, signals: Frame, fills: Frame, start: int | None,
           levels: OrderLevels | None) -> None:
    def visible(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        t = _ns(frame)
        keep = t >= start if start is not None else np.ones(len(t), bool)
        return frame[keep], t[keep]

    if signals is not None and len(signals):
        signals, t = visible(signals)
        kinds = signals["signal_type"].astype(str).to_numpy()
        for kind, (index, _, _) in F.SIGNAL_STYLE.items():
            sel = kinds == kind
            rows = signals[sel]
            who = (rows["strategy_id"].astype(str) if "strategy_id" in rows.columns
                   else [""] * len(rows))
            text = [f"{kind} @ {p:.6g}<br>{s}" for p, s in zip(rows["price"], who, strict=True)]
            fig.data[index].update(x=F.to_datetime64(t[sel]),
                                   y=rows["price"].to_numpy(np.float64), hovertext=text)
    if fills is not None and len(fills):
        fills, t = visible(fills)
        roles = np.array([levels.fill_role(str(o)) or "" for o in fills["order_id"]]
                         if levels is not None and "order_id" in fills.columns
                         else [""] * len(fills), dtype=object)
        prices = fills["price"].to_numpy(np.float64)
        for role, index in (("", F.FILL), *((r, s[0]) for r, s in F.FILL_STYLE.items())):
            sel = roles == role
            rows = fills[sel]
            what = role.replace("_", "-") if role else "fill"
            text = [f"{what} {s} {q:g} @ {p:.6g}" for s, q, p in
                    zip(rows["side"], rows["quantity"], rows["price"], strict=True)]
            fig.data[index].update(x=F.to_datetime64(t[sel]), y=prices[sel], hovertext=text)
