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

Times may be naive (taken as UTC) or tz-aware; a ``time`` or ``event_time`` column wins
over the index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evlab.plot import _figure as F
from evlab.plot.indicators import INDICATOR, indicator_values

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
    rows = frame[frame["type"].astype(str) == "system"]
    if "kind" not in rows.columns or "data" not in rows.columns:
        return {}
    rows = rows[rows["kind"].astype(str) == INDICATOR]
    lines: dict[str, tuple[list[int], list[float]]] = {}
    for t, data in zip(_ns(rows), rows["data"], strict=True):
        sym, values = indicator_values(data)
        if sym in (symbol, None):
            for name, value in values.items():
                ts, ys = lines.setdefault(name, ([], []))
                ts.append(int(t))
                ys.append(value)
    return {k: (np.array(t, np.int64), np.array(y, np.float64)) for k, (t, y) in lines.items()}


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
    if full is not None:
        if parts["equity"] is None and "equity" in full.columns:
            parts["equity"] = _rows(full, "portfolio", None)
        if parts["overlays"] is None:
            parts["overlays"] = _overlays_from(full, symbol)
    for key in ("signals", "fills"):  # a recording's signals() holds every symbol
        frame = parts[key]
        if frame is not None and symbol is not None and "symbol" in frame.columns:
            parts[key] = frame[frame["symbol"].astype(str) == symbol]
    parts["symbol"] = symbol
    return parts


def chart(data: Any, symbol: str | None = None, *, signals: Frame = None, fills: Frame = None,
          equity: pd.Series | pd.DataFrame | None = None, overlays: Frame = None,
          last: int | None = None, volume: bool = True, title: str | None = None,
          height: int = 600) -> go.Figure:
    """A static figure of ``symbol`` in a recording (or a bars frame): candles, BUY ▲ / SELL
    and EXIT ▼ at the signal price, fills, volume, indicator overlays and equity if any.

    ``last`` keeps only the last N bars (and what falls in their time span).
    """
    parts = _parts(data, symbol, {"signals": signals, "fills": fills, "equity": equity,
                                  "overlays": overlays})
    bars = parts["bars"]
    t = _ns(bars)
    order = np.argsort(t, kind="stable")
    t = t[order]
    ohlc = {c: bars[c].to_numpy(np.float64)[order] for c in ("open", "high", "low", "close")}
    vol = bars["volume"].to_numpy(np.float64)[order] if "volume" in bars.columns else None
    if last is not None:
        t = t[-last:]
        ohlc = {c: v[-last:] for c, v in ohlc.items()}
        vol = None if vol is None else vol[-last:]
    start = int(t[0]) if len(t) else None
    eq = _equity(parts["equity"], start)
    name = parts["symbol"] or "bars"
    fig = F.new_figure(name, volume=volume and vol is not None, equity=eq is not None,
                       title=title, height=height)
    x = F.to_datetime64(t)
    fig.data[F.CANDLES].update(x=x, **ohlc)
    if volume and vol is not None:
        fig.data[F.VOLUME].update(x=x, y=vol,
                                  marker_color=(ohlc["close"] >= ohlc["open"]).astype(float))
    _marks(fig, parts["signals"], parts["fills"], start)
    if eq is not None:
        fig.data[F.EQUITY].update(x=F.to_datetime64(eq[0]), y=eq[1])
    for line, (lt, ly) in _lines(parts["overlays"]).items():
        keep = lt >= start if start is not None else slice(None)
        index = F.add_overlay(fig, line)
        fig.data[index].update(x=F.to_datetime64(lt[keep]), y=ly[keep])
    return fig


def _equity(equity: Any, start: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    if equity is None or len(equity) == 0:
        return None
    values = equity["equity"] if isinstance(equity, pd.DataFrame) else equity
    t = _ns(equity)
    y = values.to_numpy(np.float64)
    keep = t >= start if start is not None else np.ones(len(t), bool)
    return t[keep], y[keep]


def _lines(overlays: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if overlays is None:
        return {}
    if isinstance(overlays, dict):
        return overlays
    t = _ns(overlays)
    return {str(c): (t, overlays[c].to_numpy(np.float64)) for c in overlays.columns
            if c not in ("time", "event_time")}


def _marks(fig: go.Figure, signals: Frame, fills: Frame, start: int | None) -> None:
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
        text = [f"fill {s} {q:g} @ {p:.6g}" for s, q, p in
                zip(fills["side"], fills["quantity"], fills["price"], strict=True)]
        fig.data[F.FILL].update(x=F.to_datetime64(t), y=fills["price"].to_numpy(np.float64),
                                hovertext=text)
