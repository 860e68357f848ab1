"""``BusMonitor``: what a user looks at when a strategy is slow or silent.

A small ipywidgets panel: events per second by type, each handler's calls, calls per second,
mean and max latency and errors, and the feeds' counters (received, delivered, dropped,
reconnects, gaps, errors). Rates are deltas between two refreshes over the clock's delta.

Handler latency needs the bus's profiling: the monitor turns ``bus.profile()`` on when it
starts (``profile=True``) and, if it was the one to turn it on, off again on ``close()``.
Feed objects are duck-typed: anything with ``get_stats()`` (a ``WebSocketEmitter``, a
``WebSocketHandler``); missing counters show as a dash. Without feed objects, gaps and
reconnects are counted from the ``SystemEvent``s ("gap", "reconnecting") seen on the bus.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets

from evlab.bus import EventBus
from evlab.events import ErrorEvent, EventType, SystemEvent
from evlab.widgets._html import fmt, table

__all__ = ["BusMonitor"]

FEED_KEYS = ("received", "delivered", "dropped", "reconnects", "gaps", "duplicates", "errors")
_NAME = "BusMonitor"


class BusMonitor:
    """A live panel of ``bus`` statistics, refreshed every ``interval`` seconds on the running
    loop (if any) or by calling ``refresh()``; ``snapshot`` holds the numbers last shown."""

    def __init__(self, bus: EventBus, emitters: Iterable[Any] = (), handlers: Iterable[Any] = (),
                 interval: float = 1.0, *, clock: Callable[[], float] = time.monotonic,
                 profile: bool = True, autorefresh: bool = True, last_errors: int = 5) -> None:
        self.bus = bus
        self.feeds = [*emitters, *handlers]
        self.interval = interval
        self.clock = clock
        self.widget = ipywidgets.HTML()
        self.system: Counter[str] = Counter()  # SystemEvent kinds seen since the start
        self.errors: deque[str] = deque(maxlen=last_errors)
        self.snapshot: dict[str, Any] = {}
        #: called with each new snapshot after the panel is redrawn
        self.on_refresh: list[Callable[[dict[str, Any]], Any]] = []
        self._profiled = profile and not bus.profiling
        if self._profiled:
            bus.profile(True)
        cls = type(self)
        self._subs = [bus.subscribe(EventType.SYSTEM, functools.partial(cls._on_system, self),
                                    priority=-20, name=f"{_NAME}.system"),
                      bus.subscribe(EventType.ERROR, functools.partial(cls._on_error, self),
                                    priority=-20, name=f"{_NAME}.error")]
        self._time = clock()
        self._emitted = dict(bus.get_stats()["events_emitted"])
        self._calls = {h["handler"]: h["calls"] for h in bus.get_handler_stats()}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if autorefresh:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = None  # no loop (a script, a sync test): call refresh()
        self.refresh()

    def _on_system(self, event: SystemEvent) -> None:
        self.system[event.kind] += 1

    def _on_error(self, event: ErrorEvent) -> None:
        where = f" in {event.handler}" if event.handler else ""
        self.errors.append(f"#{event.seq}{where}: {event.error_type}: {event.message}")

    def refresh(self) -> dict[str, Any]:
        """Read the stats now, redraw the panel, and return the numbers shown."""
        now = self.clock()
        elapsed = now - self._time
        stats = self.bus.get_stats()
        emitted = stats["events_emitted"]

        def rate(n: float) -> float:
            return n / elapsed if elapsed > 0 else 0.0

        events = {t: {"total": n, "per_s": rate(n - self._emitted.get(t, 0))}
                  for t, n in sorted(emitted.items())}
        rows = []
        for h in self.bus.get_handler_stats():
            if h["handler"].startswith(_NAME + "."):
                continue
            rows.append({**h, "calls_per_s": rate(h["calls"] - self._calls.get(h["handler"], 0))})
        feeds = [self._feed(f) for f in self.feeds]
        self.snapshot = {
            "elapsed": elapsed, "events": events,
            "events_per_s": sum(e["per_s"] for e in events.values()),
            "total_events": stats["total_events"], "handlers": rows,
            "errors": stats["total_errors"], "handler_errors": dict(stats["handler_errors"]),
            "feeds": feeds, "system": dict(self.system), "last_errors": list(self.errors),
            "profiling": self.bus.profiling,
            "dropped": _total(feeds, "dropped", 0),
            "reconnects": _total(feeds, "reconnects", self.system["reconnecting"]),
            "gaps": _total(feeds, "gaps", self.system["gap"]),
            "stuck": list(stats.get("stuck_handlers", ())),
            "async_dropped": dict(stats.get("async_dropped", {})),
            "pending_async": stats.get("pending_async", 0),
        }
        self._time, self._emitted = now, dict(emitted)
        self._calls = {h["handler"]: h["calls"] for h in rows}
        self.widget.value = self._html(self.snapshot)
        self._schedule()
        for hook in self.on_refresh:
            hook(self.snapshot)
        return self.snapshot

    @staticmethod
    def _feed(feed: Any) -> dict[str, Any]:
        try:
            stats = feed.get_stats()
        except Exception as exc:  # a feed that cannot report must not break the panel
            stats = {"error": repr(exc)}
        name = getattr(feed, "name", None) or type(feed).__name__
        return {"name": str(name), **{k: stats.get(k) for k in FEED_KEYS},
                "connected": stats.get("connected")}

    def _html(self, s: dict[str, Any]) -> str:
        events = table(("type", "events/s", "total"),
                       [(t, fmt(e["per_s"], ",.1f"), fmt(e["total"])) for t, e in
                        s["events"].items()], numeric=(False, True, True),
                       title=f"events: {s['events_per_s']:,.1f}/s, {s['total_events']:,} in all")
        handlers = table(("type", "handler", "calls", "calls/s", "mean µs", "max µs", "errors"),
                         [(h["event_type"], h["handler"], fmt(h["calls"]),
                           fmt(h["calls_per_s"], ",.1f"), fmt(h["mean_us"], ",.1f"),
                           fmt(h["max_us"], ",.1f"), fmt(h["errors"])) for h in s["handlers"]],
                         numeric=(False, False, True, True, True, True, True),
                         title="handlers" + ("" if s["profiling"] else " (profiling off)"))
        parts = [events, handlers]
        if s["feeds"]:
            parts.append(table(("feed", *FEED_KEYS),
                               [(f["name"], *(fmt(f[k]) for k in FEED_KEYS)) for f in s["feeds"]],
                               numeric=(False, *[True] * len(FEED_KEYS)), title="feeds"))
        if s["stuck"] or s["async_dropped"]:
            names = sorted({*s["stuck"], *s["async_dropped"]})
            parts.append(table(("async handler", "state", "dropped"),
                               [(n, "stuck" if n in s["stuck"] else "",
                                 fmt(s["async_dropped"].get(n, 0))) for n in names],
                               numeric=(False, False, True),
                               title=f"async handlers behind: {s['pending_async']:,} waiting"))
        summary = (f"errors {s['errors']:,} · dropped {s['dropped']:,} · reconnects "
                   f"{s['reconnects']:,} · gaps {s['gaps']:,}")
        parts.append(table(("last errors",), [(e,) for e in s["last_errors"]] or [("none",)],
                           title=summary))
        return "<div>" + "".join(parts) + "</div>"

    def _schedule(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(self.interval, self.refresh)

    def close(self) -> None:
        """Stop refreshing, unsubscribe, and turn profiling off if the monitor turned it on."""
        if self._timer is not None:
            self._timer.cancel()
        self._loop = self._timer = None
        for sub in self._subs:
            sub.cancel()
        self._subs.clear()
        if self._profiled:
            self.bus.profile(False)
            self._profiled = False

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        s = self.snapshot
        return (f"<BusMonitor: {s.get('events_per_s', 0):,.1f} events/s, "
                f"{s.get('errors', 0)} errors, {len(s.get('handlers', ()))} handlers>")


def _total(feeds: list[dict[str, Any]], key: str, fallback: int) -> int:
    values = [f[key] for f in feeds if isinstance(f.get(key), (int, float))]
    return int(sum(values)) if values else int(fallback)
