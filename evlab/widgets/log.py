"""``EventLog``: the last N events on the bus, newest first, as a live HTML table.

Its handler only appends the event to a bounded deque (safe from a feed thread); the table
is rebuilt by a ``Coalescer`` at most ``max_fps`` times a second, like the live chart.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets
import pandas as pd

from evlab.bus import EventBus
from evlab.events import Event, EventType
from evlab.plot.coalesce import Coalescer, Schedule
from evlab.plot.describe import summary
from evlab.widgets._html import table

__all__ = ["EventLog"]

COLUMNS = ("seq", "type", "time", "symbol", "summary", "cause", "source")


def event_row(event: Event) -> dict[str, Any]:
    """One log row: seq, type, event time (UTC, ms), symbol, summary, cause, source."""
    etype = str(event.type)
    return {"seq": event.seq, "type": etype,
            "time": event.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "symbol": getattr(event, "symbol", "") or "",
            "summary": summary(etype, event.to_dict()), "cause": event.cause,
            "source": event.source}


class EventLog:
    """A widget showing the last ``last`` events (of ``types``, default every type).

    Holds its handler strongly: it logs until ``close()``.
    """

    def __init__(self, bus: EventBus, last: int = 50, *,
                 types: Iterable[EventType | str] | None = None, max_fps: float = 4.0,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Schedule | None = None) -> None:
        if last < 1:
            raise ValueError(f"EventLog.last: must be at least 1, got {last!r}")
        self.bus = bus
        self.events: deque[Event] = deque(maxlen=last)
        self.widget = ipywidgets.HTML()
        self.renders = 0
        self._coalescer = Coalescer(self._render, max_fps, clock=clock, schedule=schedule)
        handler = functools.partial(type(self)._on_event, self)
        wanted: list[EventType | str | None] = [None] if types is None else list(types)
        # First of all handlers: it sees each event before anything it causes (seq order).
        self._subs = [bus.subscribe(t, handler, priority=1_000_000, name="EventLog")
                      for t in wanted]
        self._render()

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._coalescer.request()

    def rows(self) -> list[dict[str, Any]]:
        """The rows shown, newest first."""
        return [event_row(e) for e in reversed(list(self.events))]

    def to_frame(self) -> pd.DataFrame:
        """The rows shown as a DataFrame, newest first."""
        return pd.DataFrame(self.rows(), columns=list(COLUMNS))

    def _render(self) -> None:
        rows = self.rows()
        self.widget.value = table(
            COLUMNS, [["" if r[c] is None else r[c] for c in COLUMNS] for r in rows],
            numeric=(True, False, False, False, False, True, False),
            title=f"last {len(rows)} of {self.events.maxlen} events (newest first)")
        self.renders += 1

    def flush(self) -> None:
        """Redraw the table now."""
        self._coalescer.flush()

    def clear(self) -> None:
        """Forget the events shown."""
        self.events.clear()
        self.flush()

    def close(self) -> None:
        """Stop logging (the table keeps what it shows)."""
        self._coalescer.close()
        for sub in self._subs:
            sub.cancel()
        self._subs.clear()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<EventLog: {len(self.events)} of the last {self.events.maxlen} events>"
