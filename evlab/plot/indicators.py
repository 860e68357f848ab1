"""How a strategy publishes the lines a chart draws over the candles (its indicators).

The convention: while handling a bar, emit ``SystemEvent(kind="indicator", data={"symbol":
..., "name": "sma_20", "value": x})`` (or ``data={"symbol": ..., "values": {"sma_20": x,
"sma_50": y}}`` for several at once). Built inside the bar's handler, the event takes the
bar's event time, so the point lands on its candle, live and in a replay. ``indicator_event``
builds it. A ``value`` of ``None`` or NaN (an indicator still warming up) leaves a gap.

``panel="rsi"`` (``data["panel"]``) draws the values in a panel of that name below the
candles (series of one panel share it), ``panel="price"`` on the candles. Without it the
chart decides by value range (``indicator_panel``): a series most of whose
values lie within the candles' range, widened by half its height or 10% of the price (an
SMA, a Bollinger band), stays on the candles; any other (an RSI at 0-100 against BTC at
40,000, a z-score around 0) gets a panel of its own, named after it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from evlab.events import SystemEvent

__all__ = ["INDICATOR", "PRICE", "indicator_event", "indicator_panel", "indicator_values"]

INDICATOR = "indicator"
PRICE = "price"  # the panel of the candles


def indicator_event(symbol: str, name: str | Mapping[str, float | None],
                    value: float | None = None, *, panel: str | None = None,
                    source: str = "") -> SystemEvent:
    """A ``SystemEvent(kind="indicator")`` with one value (``name, value``) or a mapping;
    ``panel`` names the chart panel it goes in (``"price"``: the candles; None: by range)."""
    if panel is not None and (not isinstance(panel, str) or not panel):
        raise ValueError(f"indicator_event.panel: must be a non-empty string or None, "
                         f"got {panel!r}")
    if isinstance(name, Mapping):
        data: dict[str, Any] = {"symbol": symbol, "values": dict(name)}
    else:
        data = {"symbol": symbol, "name": name, "value": value}
    if panel is not None:
        data["panel"] = panel
    return SystemEvent(INDICATOR, "", data, source=source)


def _number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def indicator_values(data: Any) -> tuple[str | None, dict[str, float], str | None]:
    """``(symbol, {name: value}, panel)`` from an indicator event's ``data`` (a dict or its
    JSON text, as a recording stores it); ``(None, {}, None)`` if it is not one."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            return None, {}, None
    if not isinstance(data, Mapping):
        return None, {}, None
    symbol = data.get("symbol")
    panel = data.get("panel")
    panel = panel if isinstance(panel, str) and panel else None
    if "values" in data and isinstance(data["values"], Mapping):
        return symbol, {str(k): _number(v) for k, v in data["values"].items()}, panel
    if "name" in data:
        return symbol, {str(data["name"]): _number(data.get("value"))}, panel
    return symbol, {}, panel


def indicator_panel(name: str, declared: str | None, values: Any, low: float, high: float
                    ) -> str | None:
    """The panel of the indicator ``name``: None for the candles' panel, else a panel name.

    ``declared`` (``indicator_event(..., panel=)``) wins (``"price"``: the candles). Without
    it: the candles if at least half of the finite ``values`` lie within the candles' range
    ``low``..``high`` widened on each side by half its height or 10% of the price, whichever
    is more; else a panel named ``name``. So an SMA or a band stays on the candles, an RSI
    (0-100) against BTC at 40,000 or a z-score around 0 gets a panel; an RSI against a $60
    stock would stay: declare its panel.
    """
    if declared is not None:
        return None if declared == PRICE else declared
    y = np.asarray(values, np.float64)
    y = y[np.isfinite(y)]
    if not len(y) or not (math.isfinite(low) and math.isfinite(high)) or high < low:
        return None
    half = max((high - low) / 2, 0.1 * max(abs(low), abs(high)))
    inside = np.count_nonzero((y >= low - half) & (y <= high + half))
    return None if 2 * inside >= len(y) else name
