"""``flow()``: the cause chains of a recording (bar → signal → order → fill) as a figure.

Each event is a marker in the lane of its type (signals, orders and fills get one lane per
strategy); a line joins each event to its cause. The input is a recording's full frame (or
a recording with ``to_frame()``/``.frame``): columns ``seq``, ``type``, ``cause``,
``event_time``, ``symbol``, ``source`` and the event fields (``strategy_id`` gives the
strategy of a signal or order; fills inherit it through their cause).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evlab.plot.describe import summary
from evlab.plot.static import _full_frame, _ns

__all__ = ["CHAIN_TYPES", "edges", "flow"]

CHAIN_TYPES = ("bar", "signal", "order", "fill")
_ORDER = ("bar", "bar_update", "tick", "signal", "order", "fill", "portfolio", "system",
          "error", "websocket")
_STYLE = {"bar": ("square", "#7f7f7f"), "signal": ("diamond", "#1f77b4"),
          "order": ("circle", "#ff7f0e"), "fill": ("star", "#2ca02c"),
          "portfolio": ("hexagon", "#9467bd")}
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _frame(data: Any) -> pd.DataFrame:
    frame = _full_frame(data)
    if frame is None:
        raise TypeError("flow(): needs a recording frame (columns seq, type, cause, ...) or an "
                        f"object with to_frame(); got {type(data).__name__}")
    return frame.sort_values("seq", kind="stable")


def _causes(frame: pd.DataFrame) -> dict[int, int]:
    cause = pd.to_numeric(frame["cause"], errors="coerce").astype("Float64")
    known = cause.notna().to_numpy()
    return {int(s): int(c) for s, c in zip(frame["seq"][known], cause[known], strict=True)}


def edges(data: Any, types: Sequence[str] = CHAIN_TYPES) -> list[tuple[int, int]]:
    """``(cause_seq, effect_seq)`` for each event of ``types`` whose cause chain reaches
    another event of ``types`` (events of other types in between are skipped)."""
    frame = _frame(data)
    return _edges(frame, _causes(frame), types)


def _edges(frame: pd.DataFrame, causes: dict[int, int],
           types: Sequence[str]) -> list[tuple[int, int]]:
    kept = set(frame.loc[frame["type"].astype(str).isin(types), "seq"].astype(int))
    out = []
    for seq in sorted(kept):
        cause, hops = causes.get(seq), 0
        while cause is not None and cause not in kept and hops < 64:
            cause, hops = causes.get(cause), hops + 1
        if cause in kept:
            out.append((cause, seq))
    return out


def _strategies(frame: pd.DataFrame, causes: dict[int, int]) -> dict[int, str]:
    """The strategy behind each event: its own ``strategy_id``, else its cause's."""
    own = frame["strategy_id"] if "strategy_id" in frame.columns else pd.Series(
        [None] * len(frame), index=frame.index)
    out: dict[int, str] = {}
    for seq, etype, sid in zip(frame["seq"].astype(int), frame["type"].astype(str), own,
                               strict=True):
        if etype in ("signal", "order") and isinstance(sid, str) and sid:
            out[seq] = sid
        elif causes.get(seq) in out:
            out[seq] = out[causes[seq]]
    return out


def flow(data: Any, *, types: Sequence[str] = CHAIN_TYPES, x: Literal["time", "seq"] = "time",
         symbol: str | None = None, last: int | None = None, title: str | None = None,
         height: int | None = None) -> go.Figure:
    """A figure of the events of ``types`` in lanes, each joined to its cause.

    ``x="time"`` puts an event at its event time (a bar and what it caused line up
    vertically); ``x="seq"`` at its sequence number. ``last`` keeps the last N events.
    """
    frame = _frame(data)
    causes = _causes(frame)
    strategy = _strategies(frame, causes)
    rows = frame[frame["type"].astype(str).isin(types)]
    if symbol is not None and "symbol" in rows.columns:
        rows = rows[rows["symbol"].isna() | (rows["symbol"].astype(str) == symbol)]
    if last is not None:
        rows = rows.tail(last)
    seqs = rows["seq"].astype(int).to_numpy()
    etypes = rows["type"].astype(str).to_numpy()
    strats = [strategy.get(int(s), "") for s in seqs]
    lanes = sorted({(t, s if t != "bar" else "") for t, s in zip(etypes, strats, strict=True)},
                   key=lambda lane: (_ORDER.index(lane[0]) if lane[0] in _ORDER else 99, lane[1]))
    lane_y = {lane: i for i, lane in enumerate(lanes)}
    ys = np.array([lane_y[(t, s if t != "bar" else "")] for t, s in
                   zip(etypes, strats, strict=True)], float)
    xs = _ns(rows).view("datetime64[ns]") if x == "time" else seqs
    where = {int(s): (xv, yv) for s, xv, yv in zip(seqs, xs, ys, strict=True)}
    links = [(c, e) for c, e in _edges(frame, causes, types) if c in where and e in where]
    fig = go.Figure()
    for n, name in enumerate(sorted(set(strats))):
        ex: list[Any] = []
        ey: list[Any] = []
        pairs: list[Any] = []
        for cause, effect in links:
            if strategy.get(effect, "") == name:
                ex += [where[cause][0], where[effect][0], None]
                ey += [where[cause][1], where[effect][1], None]
                pairs += [cause, effect, None]
        if ex:
            fig.add_scatter(x=ex, y=ey, mode="lines", name=f"chain {name}".strip(),
                            customdata=pairs, hoverinfo="skip",
                            line={"width": 1.5, "color": _PALETTE[n % len(_PALETTE)]})
    records = rows.to_dict("records")
    for etype in dict.fromkeys(etypes):
        sel = etypes == etype
        marker, colour = _STYLE.get(etype, ("circle", "#333"))
        text = [f"#{r['seq']} {etype} {_sym(r)}<br>{summary(etype, r)}<br>cause "
                f"{causes.get(int(r['seq']), '-')}"
                for r, keep in zip(records, sel, strict=True) if keep]
        fig.add_scatter(x=xs[sel], y=ys[sel], mode="markers", name=etype, hovertext=text,
                        hoverinfo="text", customdata=seqs[sel],
                        marker={"symbol": marker, "size": 11, "color": colour})
    labels = [f"{t} · {s}" if s else t for t, s in lanes]
    fig.update_layout(
        title=title if title is not None else "event flow: each event joined to its cause",
        height=height or 160 + 45 * len(lanes), hovermode="closest",
        margin={"l": 110, "r": 20, "t": 50, "b": 40},
        yaxis={"tickvals": list(range(len(lanes))), "ticktext": labels,
               "autorange": "reversed", "zeroline": False},
        xaxis={"title": "event time" if x == "time" else "seq"})
    return fig


def _sym(row: Mapping[Hashable, Any]) -> str:
    value = row.get("symbol")
    return value if isinstance(value, str) else ""
