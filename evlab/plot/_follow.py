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

__all__ = ["Follower", "mimebundle"]


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
