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

__all__ = ["ASK", "BID", "EQUITY", "FILL_STYLE", "ORDER_STYLE", "SIGNAL_STYLE", "TRACES",
           "TRADES", "add_overlay", "panel_axis",
           "new_figure", "show_panels", "show_ticks", "side_colours", "to_datetime64",
           "to_widget_times"]

UP, DOWN = "#26a69a", "#ef5350"
TRACES = ("candles", "volume", "buy", "sell", "exit", "fill", "equity", "bid", "ask", "trades",
          "limit", "stop", "take_profit", "stop_loss", "take_profit_fill", "stop_loss_fill")
(CANDLES, VOLUME, BUY, SELL, EXIT, FILL, EQUITY, BID, ASK, TRADES, LIMIT, STOP, TAKE_PROFIT,
 STOP_LOSS, TAKE_PROFIT_FILL, STOP_LOSS_FILL) = range(len(TRACES))
#: working-order segment kind (``evlab.plot.orders.KINDS``) -> (trace index, colour, dash)
ORDER_STYLE = {"limit": (LIMIT, "#3949ab", "dash"), "stop": (STOP, "#ef6c00", "dot"),
               "take_profit": (TAKE_PROFIT, "#2e7d32", "solid"),
               "stop_loss": (STOP_LOSS, "#c62828", "solid")}
#: fill role (a bracket child's fill) -> (trace index, marker symbol, colour)
FILL_STYLE = {"take_profit": (TAKE_PROFIT_FILL, "star", "#2e7d32"),
              "stop_loss": (STOP_LOSS_FILL, "x", "#c62828")}
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


#: heights (fractions of the figure) of the panels under the candles, and the gap between
_HEIGHT = {"volume": 0.16, "equity": 0.21, "panel": 0.17}
_GAP = 0.05
_PRICE_MIN = 0.4  # the candles keep at least this much; the other panels shrink to fit


def panel_axis(i: int) -> str:
    """The y axis (``"y4"`` ...) of the ``i``-th indicator panel (0-based)."""
    return f"y{4 + i}"


def _domains(volume: bool, equity: bool, panels: int) -> dict[str, list[float]]:
    """Top to bottom: price, the indicator panels, volume, equity."""
    below = [(f"yaxis{4 + i}", _HEIGHT["panel"]) for i in range(panels)]
    if volume:
        below.append(("yaxis2", _HEIGHT["volume"]))
    if equity:
        below.append(("yaxis3", _HEIGHT["equity"]))
    room = 1.0 - _PRICE_MIN - _GAP * len(below)
    total = sum(h for _, h in below)
    scale = min(1.0, room / total) if total else 1.0
    out: dict[str, list[float]] = {}
    bottom = 0.0
    for axis, height in reversed(below):
        top = bottom + height * scale
        out[axis] = [round(bottom, 4), round(top, 4)]
        bottom = top + _GAP
    out["yaxis"] = [round(bottom, 4), 1.0]
    # a hidden panel takes the place of the one it overlays (see show_panels)
    out.setdefault("yaxis2", out.get("yaxis3", out["yaxis"]))
    out.setdefault("yaxis3", out["yaxis2"])
    return out


def show_panels(fig: go.Figure, *, volume: bool, equity: bool,
                panels: tuple[str, ...] | list[str] = ()) -> None:
    """Lay out the panels that are on, the indicator ``panels`` (named, on ``panel_axis(i)``)
    under the candles (call it inside ``batch_update`` on a widget)."""
    axes: dict[str, dict[str, Any]] = {axis: {"domain": domain} for axis, domain in
                                       _domains(volume, equity, len(panels)).items()}
    for i, name in enumerate(panels):
        axes[f"yaxis{4 + i}"].update(title={"text": name}, anchor="x")
    fig.update_layout(axes)
    # A hidden panel's axis overlays the price axis: as a subplot of its own, its (empty)
    # background would be drawn over the panel that shares its place (seen in a browser).
    fig.layout.yaxis2.visible = volume
    fig.layout.yaxis2.overlaying = None if volume else "y"
    fig.layout.yaxis3.visible = equity
    fig.layout.yaxis3.overlaying = None if equity else "y"
    fig.layout.xaxis.anchor = ("y3" if equity else "y2" if volume
                               else panel_axis(len(panels) - 1) if panels else "y")


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
    # A step: the portfolio publishes on change, so a value holds until the next one (a
    # straight line between two changes would draw equity the account never had).
    traces.append(go.Scatter(name="equity", yaxis="y3", mode="lines", y=[], line_shape="hv",
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
    # Working orders: one line trace per kind, a segment per order level (see plot.orders)
    for kind, (_, colour, dash) in ORDER_STYLE.items():
        traces.append(go.Scatter(name=kind.replace("_", "-"), mode="lines", y=[],
                                 line={"color": colour, "width": 1.5, "dash": dash},
                                 connectgaps=False, hoverinfo="text", legendgroup="orders",
                                 **empty))
    for role, (_, symbol_, colour) in FILL_STYLE.items():
        traces.append(go.Scatter(name=f"{role.replace('_', '-')} fill", mode="markers", y=[],
                                 hoverinfo="text+x", legendgroup="orders",
                                 marker={"symbol": symbol_, "size": 11, "color": colour,
                                         "line": {"width": 1, "color": "white"}}, **empty))
    layout = go.Layout(
        title={"text": title if title is not None else symbol, "x": 0.01, "xanchor": "left"},
        height=height, autosize=True, uirevision=symbol,
        margin={"l": 50, "r": 20, "t": 60, "b": 30},
        hovermode="x",  # the legend sits on the right, clear of the title on the left
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        xaxis={"type": "date", "rangeslider": {"visible": False}},
        yaxis={"title": "price"}, yaxis2={"title": "volume", "showgrid": False},
        yaxis3={"title": "equity"})
    fig = (go.FigureWidget if widget else go.Figure)(data=traces, layout=layout)
    if widget:  # no width: the figure takes its output area's, and follows it when resized
        fig._config = {**fig._config, "responsive": True}
    show_panels(fig, volume=volume, equity=equity)
    return fig


def add_overlay(fig: go.Figure, name: str, axis: str = "y") -> int:
    """Add a line for the indicator ``name`` on the price panel, or on ``axis`` (an
    indicator panel's, ``panel_axis(i)``); returns its trace index."""
    colour = _PALETTE[(len(fig.data) - len(TRACES)) % len(_PALETTE)]
    fig.add_trace(go.Scatter(name=name, mode="lines", x=np.empty(0, "datetime64[ns]"), y=[],
                             yaxis=axis, line={"width": 1.2, "color": colour},
                             connectgaps=False))
    return len(fig.data) - 1
