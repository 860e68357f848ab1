"""The equity curve of a chart, run to its last bar.

The portfolio publishes a ``PortfolioEvent`` only when something changes (a fill, a bar of
a held symbol), so its last event can come long before the data ends (a strategy that goes
flat in March of a year of bars). A chart draws the curve to its last bar: after the last
portfolio event, each bar of the chart's symbol gets a point, revalued at its close when
the last event's positions hold only that symbol (mark to market:
``equity + quantity * (close - mark)``, ``mark`` the close of the last bar at or before that
event, which is what the portfolio marked it at), else the last equity carried forward
(flat; or positions of other symbols, whose bars are not on this chart).

Before its first point the curve starts at the chart's first bar: a point there holds the
value then in force, the last earlier point's (a window that starts after it), else the
portfolio's starting cash (``initial``: ``equity - realized_pnl - unrealized_pnl`` of its
first ``PortfolioEvent``, the portfolio's own invariant), so the panel is never empty where
there are bars.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["from_start", "held_quantity", "run_to_end", "starting_cash"]


def held_quantity(positions: Any, symbol: str | None) -> float | None:
    """The quantity of ``symbol`` in a portfolio's ``positions`` (``(symbol, quantity,
    average)`` tuples, or their JSON text from a recording): 0.0 when flat, None when it
    also holds another symbol or the positions cannot be read."""
    if positions is None or (isinstance(positions, float) and positions != positions):
        return None
    if isinstance(positions, (str, bytes)):
        try:
            positions = json.loads(positions)
        except ValueError:
            return None
    quantity = 0.0
    try:
        for sym, q, *_ in positions:
            if sym != symbol:
                return None
            quantity += float(q)
    except (TypeError, ValueError):
        return None
    return quantity


def run_to_end(t: np.ndarray, y: np.ndarray, quantity: float | None, bar_t: np.ndarray,
               close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve ``t, y`` with a point at each bar after its end (see the module doc);
    ``quantity`` is what the last point holds of the chart's symbol (None: carry forward)."""
    if not len(t) or not len(bar_t) or bar_t[-1] <= t[-1]:
        return t, y
    after = np.searchsorted(bar_t, t[-1], side="right")
    extra_t = bar_t[after:]
    last = float(y[-1])
    if quantity and after > 0:
        mark = float(close[after - 1])
        extra_y = last + quantity * (close[after:] - mark)
    else:
        extra_y = np.full(len(extra_t), last)
    return np.concatenate([t, extra_t]), np.concatenate([y, extra_y])


def starting_cash(equity: float, realized_pnl: float, unrealized_pnl: float) -> float:
    """A portfolio's starting cash from any of its ``PortfolioEvent``s (the invariant
    ``equity == initial_cash + realized_pnl + unrealized_pnl``)."""
    return float(equity) - float(realized_pnl) - float(unrealized_pnl)


def from_start(t: np.ndarray, y: np.ndarray, start: int | None, initial: float | None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The curve from the first bar ``start`` on, with a point at ``start`` holding the
    value in force then (see the module doc); None or NaN ``initial``: not known, no point
    before the first one."""
    if start is None:
        return t, y
    i = int(np.searchsorted(t, start, side="left"))
    if i < len(t) and t[i] == start:
        return t[i:], y[i:]
    if i > 0:
        value = float(y[i - 1])
    elif initial is not None and initial == initial:
        value = float(initial)
    else:
        return t, y
    return (np.concatenate([np.array([start], np.int64), t[i:]]),
            np.concatenate([np.array([value], np.float64), y[i:]]))
