"""Plots of the event stream: a live chart, a chart of a recording, the event-flow view.

| name | module | what |
| --- | --- | --- |
| ``LiveChart`` | ``live`` | a ``FigureWidget`` following one symbol on the bus |
| ``BookView`` / ``depth_chart`` | ``book_view`` | a live / static depth view of an order book |
| ``chart`` | ``static`` | a ``go.Figure`` of a recording (or a bars DataFrame) |
| ``flow`` / ``edges`` | ``chains`` | the cause chains bar → signal → order → fill |
| ``Coalescer`` | ``coalesce`` | the redraw throttle (at most ``max_fps`` redraws a second) |
| ``indicator_event`` | ``indicators`` | how a strategy publishes a line (candles or a panel) |

Both charts draw through the same pieces: ``_figure`` (traces, panels, styles), ``orders``
(working orders as level segments, bracket fills told apart), ``equity`` (the curve run to
the last bar) and ``indicators`` (which panel a line goes in).

Names load on first use, so ``evlab.plot.indicators`` (used by strategies) and
``evlab.plot.coalesce`` do not import plotly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evlab.plot.book_view import BookView, depth_chart
    from evlab.plot.chains import edges, flow
    from evlab.plot.coalesce import Coalescer
    from evlab.plot.indicators import INDICATOR, indicator_event
    from evlab.plot.live import LiveChart
    from evlab.plot.static import chart

__all__ = ["INDICATOR", "BookView", "Coalescer", "LiveChart", "chart", "depth_chart", "edges",
           "flow", "indicator_event"]

_WHERE = {"LiveChart": "live", "chart": "static", "flow": "chains", "edges": "chains",
          "BookView": "book_view", "depth_chart": "book_view",
          "Coalescer": "coalesce", "indicator_event": "indicators", "INDICATOR": "indicators"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'evlab.plot' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"evlab.plot.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
