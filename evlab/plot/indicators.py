"""How a strategy publishes the lines a chart draws over the candles (its indicators).

The convention: while handling a bar, emit ``SystemEvent(kind="indicator", data={"symbol":
..., "name": "sma_20", "value": x})`` (or ``data={"symbol": ..., "values": {"sma_20": x,
"sma_50": y}}`` for several at once). Built inside the bar's handler, the event takes the
bar's event time, so the point lands on its candle, live and in a replay. ``indicator_event``
builds it. A ``value`` of ``None`` or NaN (an indicator still warming up) leaves a gap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from evlab.events import SystemEvent

__all__ = ["INDICATOR", "indicator_event", "indicator_values"]

INDICATOR = "indicator"


def indicator_event(symbol: str, name: str | Mapping[str, float | None],
                    value: float | None = None, *, source: str = "") -> SystemEvent:
    """A ``SystemEvent(kind="indicator")`` with one value (``name, value``) or a mapping."""
    if isinstance(name, Mapping):
        data: dict[str, Any] = {"symbol": symbol, "values": dict(name)}
    else:
        data = {"symbol": symbol, "name": name, "value": value}
    return SystemEvent(INDICATOR, "", data, source=source)


def _number(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def indicator_values(data: Any) -> tuple[str | None, dict[str, float]]:
    """``(symbol, {name: value})`` from an indicator event's ``data`` (a dict or its JSON
    text, as a recording stores it); ``(None, {})`` if it is not one."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            return None, {}
    if not isinstance(data, Mapping):
        return None, {}
    symbol = data.get("symbol")
    if "values" in data and isinstance(data["values"], Mapping):
        return symbol, {str(k): _number(v) for k, v in data["values"].items()}
    if "name" in data:
        return symbol, {str(data["name"]): _number(data.get("value"))}
    return symbol, {}
