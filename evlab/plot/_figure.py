"""The chart's look, shared by the live chart and the static chart of a recording.

Every chart has the same traces in the same order (see ``TRACES``); panels share one time
axis: price (candles, signal and fill markers, the bid/ask band, trades, overlays), volume,
equity. A panel that is off keeps its (empty) trace and hides its axis, so the live chart can
show the equity panel when the first portfolio arrives without rebuilding the widget; the
band and the trades are hidden traces until shown (``show_ticks``), for the same reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["ASK", "BID", "EQUITY", "SIGNAL_STYLE", "TRACES", "TRADES", "add_overlay",
           "new_figure", "show_panels", "show_ticks", "side_colours", "to_datetime64",
           "to_widget_times"]

UP, DOWN = "#26a69a", "#ef5350"
TRACES = ("candles", "volume", "buy", "sell", "exit", "fill", "equity", "bid", "ask", "trades")
CANDLES, VOLUME, BUY, SELL, EXIT, FILL, EQUITY, BID, ASK, TRADES = range(len(TRACES))
#: trade marker colour by the taker's side (``TickEvent.side``); None: the venue does not say
TRADE_COLOUR = {"BUY": UP, "SELL": DOWN, None: "#7f7f7f"}
#: the trade marker's colour value by side, on ``TRADE_SCALE`` (numbers: plotly checks a list
#: of colour names one by one, which made a 2,000-trade redraw ten times slower)
TRADE_SIDE = {"SELL": 0.0, None: 0.5, "BUY": 1.0}
TRADE_SCALE = [[0.0, DOWN], [0.5, TRADE_COLOUR[None]], [1.0, UP]]
BID_COLOUR, ASK_COLOUR = "#2e7d32", "#c62828"
#: signal type -> (trace index, marker symbol, colour); ▲ for BUY, ▼ for SELL and EXIT
SIGNAL_STYLE = {"BUY": (BUY, "triangle-up", "#1b9e4b"),
                "SELL": (SELL, "triangle-down", "#d62728"),
                "EXIT": (EXIT, "triangle-down", "#ff9800")}
_PALETTE = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def to_datetime64(ns: Any) -> np.ndarray:
    """Epoch nanoseconds (UTC) as a ``datetime64[ns]`` array (for static figures)."""
    return np.asarray(ns, dtype=np.int64).view("datetime64[ns]")


def to_widget_times(ns: Any) -> np.ndarray:
    """Epoch nanoseconds (UTC) as ISO strings to the millisecond, for a FigureWidget.

    The widget sends ``datetime64`` arrays to the browser as plain integers, and plotly.js
    then turns the date axis into a linear one (ns numbers on the axis, seen in a real
    browser); ISO strings keep it a date axis. Three decimals: plotly.js parses at most four.
    """
    return np.datetime_as_string(to_datetime64(ns), unit="ms")


def side_colours(sides: list[str | None]) -> np.ndarray:
    """Marker colour values of trades by taker side on ``TRADE_SCALE`` (buy green, sell red,
    unknown grey)."""
    unknown = TRADE_SIDE[None]
    return np.fromiter((TRADE_SIDE.get(s, unknown) for s in sides), np.float64, len(sides))


def show_ticks(fig: go.Figure, *, quotes: bool | None = None, trades: bool | None = None
               ) -> None:
    """Show or hide the bid/ask band (``quotes``) and the trade markers (``trades``); None
    leaves that part as it is."""
    if quotes is not None:
        fig.data[BID].visible = quotes
        fig.data[ASK].visible = quotes
    if trades is not None:
        fig.data[TRADES].visible = trades


def _domains(volume: bool, equity: bool) -> dict[str, list[float]]:
    if volume and equity:
        return {"yaxis": [0.47, 1.0], "yaxis2": [0.26, 0.42], "yaxis3": [0.0, 0.21]}
    if volume:
        return {"yaxis": [0.27, 1.0], "yaxis2": [0.0, 0.22], "yaxis3": [0.0, 0.22]}
    if equity:
        return {"yaxis": [0.3, 1.0], "yaxis2": [0.0, 0.25], "yaxis3": [0.0, 0.25]}
    return {"yaxis": [0.0, 1.0], "yaxis2": [0.0, 0.2], "yaxis3": [0.0, 0.2]}


def show_panels(fig: go.Figure, *, volume: bool, equity: bool) -> None:
    """Lay out the panels that are on (call it inside ``batch_update`` on a widget)."""
    for axis, domain in _domains(volume, equity).items():
        fig.layout[axis].domain = domain
    # A hidden panel's axis overlays the price axis: as a subplot of its own, its (empty)
    # background would be drawn over the panel that shares its place (seen in a browser).
    fig.layout.yaxis2.visible = volume
    fig.layout.yaxis2.overlaying = None if volume else "y"
    fig.layout.yaxis3.visible = equity
    fig.layout.yaxis3.overlaying = None if equity else "y"
    fig.layout.xaxis.anchor = "y3" if equity else "y2" if volume else "y"


def new_figure(symbol: str, *, volume: bool = True, equity: bool = False, widget: bool = False,
               title: str | None = None, height: int = 600, quotes: bool = False,
               trades: bool = False) -> go.Figure:
    """An empty chart for ``symbol`` (a ``FigureWidget`` if ``widget``) with every base trace;
    the bid/ask band and the trades shown if ``quotes`` / ``trades``."""
    empty: dict[str, Any] = {"x": np.empty(0, "datetime64[ns]")}
    traces = [
        go.Candlestick(name=symbol, increasing_line_color=UP, decreasing_line_color=DOWN,
                       open=[], high=[], low=[], close=[], **empty),
        go.Bar(name="volume", yaxis="y2", y=[], showlegend=False, opacity=0.6,
               marker={"color": [], "colorscale": [[0, DOWN], [1, UP]], "cmin": 0, "cmax": 1},
               **empty),
    ]
    for name in ("buy", "sell", "exit"):
        _, symbol_, colour = SIGNAL_STYLE[name.upper()]
        traces.append(go.Scatter(name=name, mode="markers", y=[], hoverinfo="text+x",
                                 marker={"symbol": symbol_, "size": 12, "color": colour,
                                         "line": {"width": 1, "color": "white"}}, **empty))
    traces.append(go.Scatter(name="fill", mode="markers", y=[], hoverinfo="text+x",
                             marker={"symbol": "x-thin", "size": 9, "color": "#333",
                                     "line": {"width": 2, "color": "#333"}}, **empty))
    traces.append(go.Scatter(name="equity", yaxis="y3", mode="lines", y=[],
                             line={"color": "#1f77b4", "width": 1.5}, **empty))
    # The band: bid and ask as steps (a quote holds until the next), the ask filled down to
    # the bid; NaN (an empty side) is a gap in both.
    for name, colour, fill in (("bid", BID_COLOUR, "none"), ("ask", ASK_COLOUR, "tonexty")):
        traces.append(go.Scatter(name=name, mode="lines", y=[], line_shape="hv",
                                 line={"color": colour, "width": 1}, connectgaps=False,
                                 fill=fill, fillcolor="rgba(120, 144, 156, 0.18)",
                                 visible=quotes, legendgroup="quotes",
                                 hovertemplate=f"{name} %{{y}}, size %{{customdata}}"
                                               "<extra></extra>", **empty))
    traces.append(go.Scatter(name="trades", mode="markers", y=[], hoverinfo="text+x",
                             marker={"symbol": "circle", "size": 6, "color": [],
                                     "colorscale": TRADE_SCALE, "cmin": 0, "cmax": 1,
                                     "line": {"width": 0.5, "color": "white"}},
                             visible=trades, **empty))
    layout = go.Layout(
        title={"text": title if title is not None else symbol, "x": 0.01, "xanchor": "left"},
        height=height, uirevision=symbol, margin={"l": 50, "r": 20, "t": 60, "b": 30},
        hovermode="x",  # the legend sits on the right, clear of the title on the left
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        xaxis={"type": "date", "rangeslider": {"visible": False}},
        yaxis={"title": "price"}, yaxis2={"title": "volume", "showgrid": False},
        yaxis3={"title": "equity"})
    fig = (go.FigureWidget if widget else go.Figure)(data=traces, layout=layout)
    show_panels(fig, volume=volume, equity=equity)
    return fig


def add_overlay(fig: go.Figure, name: str) -> int:
    """Add a line on the price panel for the indicator ``name``; returns its trace index."""
    colour = _PALETTE[(len(fig.data) - len(TRACES)) % len(_PALETTE)]
    fig.add_trace(go.Scatter(name=name, mode="lines", x=np.empty(0, "datetime64[ns]"), y=[],
                             line={"width": 1.2, "color": colour}, connectgaps=False))
    return len(fig.data) - 1
