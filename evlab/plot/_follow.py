"""What every live view shares: its bus handlers, its redraw throttle, close and display.

``LiveChart`` and ``BookView`` each hold a ``Follower`` (composition): it subscribes the
view's handlers at low priority (trading logic runs first), owns the view's ``Coalescer``,
and ``close()`` stops both. Handlers are partials over the view, held strongly by the bus:
a view that is displayed but kept in no variable must go on following the bus.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from evlab.bus import EventBus, Subscription
from evlab.events import EventType
from evlab.plot.coalesce import Coalescer, Schedule

__all__ = ["Follower", "FullWidth", "mimebundle"]


class Follower:
    """The subscriptions of ``view`` (``(event type, function(view, event))`` pairs, named
    ``{label}.{function name without "_on_"}``) and the throttle of its ``redraw``."""

    def __init__(self, bus: EventBus, view: Any, label: str,
                 handlers: Iterable[tuple[EventType, Callable[[Any, Any], None]]],
                 redraw: Callable[[], Any], *, max_fps: float, clock: Callable[[], float],
                 schedule: Schedule | None) -> None:
        self.coalescer = Coalescer(redraw, max_fps, clock=clock, schedule=schedule)
        self.subs: list[Subscription] = [
            bus.subscribe(etype, functools.partial(func, view), priority=-10,
                          name=f"{label}.{func.__name__.removeprefix('_on_')}")
            for etype, func in handlers]

    @property
    def following(self) -> bool:
        """True until ``close()``."""
        return bool(self.subs)

    def close(self) -> None:
        """Stop the throttle (no pending redraw runs) and unsubscribe every handler."""
        self.coalescer.close()
        for sub in self.subs:
            sub.cancel()
        self.subs.clear()


def mimebundle(figure: Any, **kwargs: Any) -> Any:
    """How a view displays in Jupyter: as its figure widget."""
    return figure._repr_mimebundle_(**kwargs)


class FullWidth:
    """Makes a ``FigureWidget`` with no width of its own take its output area's width.

    The widget's front end (plotly 6+, an anywidget) draws the figure before its element is
    in the page, so plotly.js finds no width there and falls back to 700 px, and never
    measures again until the window is resized (plotly/plotly.py#5208; the layout delta it
    sends back goes to a trait the Python side does not have). A relayout of ``autosize``
    once the element is in place measures it. One is sent when the front end counts a new
    view (``_view_count``: the message arrives after the view has drawn into its element),
    and again at the owner's next redraw after that or after the figure was displayed
    (``arm()``; the owner calls ``fit()`` after each redraw). It is sent as is: the Python
    layout already says ``autosize=True``, so an assignment would send nothing. Window
    resizes afterwards are followed by plotly.js itself (``responsive``).
    """

    def __init__(self, figure: Any) -> None:
        self.figure = figure
        self.armed = True
        self.fits = 0
        figure.observe(self._on_views, names="_view_count")

    def arm(self) -> None:
        """The figure is being displayed: fit it at the next ``fit()``."""
        self.armed = True

    def fit(self) -> None:
        """Ask the front end to measure the output area again, once per display."""
        if self.armed:
            self.armed = False
            self.fits += 1
            self.figure._send_relayout_msg({"autosize": True})

    def _on_views(self, change: dict[str, Any]) -> None:
        if (change.get("new") or 0) > (change.get("old") or 0):
            self.armed = True
            self.fit()
            self.armed = True
