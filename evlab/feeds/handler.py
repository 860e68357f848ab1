"""WebSocketHandler: decodes raw ``WebSocketEvent``s into typed events and publishes them.

Wire it as the usage guide does: ``event_bus.register_async(EventType.WEBSOCKET,
ws_handler.handle)``. For each message ``handle``:

* picks the adapter: the one given (``adapter="binance"`` or an instance), else the one the
  ``WebSocketEmitter`` named like the event's ``source`` was built with
  (:func:`evlab.feeds.sources.adapter_for_source`); with neither it publishes an
  ``ErrorEvent`` "no adapter for source ..." (``error_type="NoAdapter"``);
* decodes it (``adapter.parse``; a ``RestResponseEvent``, the REST response a feed fetched,
  with ``adapter.parse_rest``) and publishes each event with ``await bus.emit_async``,
  so their cause is the ``WebSocketEvent``. A malformed or unknown message becomes an
  ``ErrorEvent`` carrying the raw payload (``error_type`` = the exception's class), is
  counted, and the feed goes on;
  a malformed book message of a known symbol (``BookDataError``) is also followed by a SYSTEM
  event ``kind="book_error"`` (``data={"symbol", "error", "snapshot"}``, ``snapshot`` True
  for a fetched REST snapshot; counted in ``book_errors``), on which ``OrderBooks`` marks
  that book stale and a feed's resync under way for it ends as failed;
* drops final bars that are not newer than the last bar of their symbol (duplicates after
  a reconnect, counted in ``duplicates``/``stale``) and, before a bar that follows a hole,
  publishes a SYSTEM event ``kind="gap"`` whose ``data`` names the symbol and the missing
  range ``[start, end)`` (see :mod:`evlab.feeds.continuity`);
* refuses a final bar opening more than ``max_bar_ahead`` (default one day) after the feed's
  clock (the later of the message's receive time and the wall clock): an ErrorEvent
  ``error_type="BarTimeAhead"``, counted in ``time_ahead``, and the tracker does not move, so
  one bogus timestamp cannot make every later real bar look stale.

Every message that publishes nothing is counted under one reason: ``control``,
``duplicates`` (bars the adapter or the tracker dropped as re-sent), ``stale``,
``decode_errors``, ``no_adapter`` or ``time_ahead``.

It publishes on ``event_bus`` if given, else on the bus delivering the event
(:func:`evlab.bus.current_bus`), which is why ``handle`` is async.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any, ClassVar

from evlab.bus import EventBus, current_bus
from evlab.events import (
    BarEvent,
    BarUpdateEvent,
    ErrorEvent,
    Event,
    RestResponseEvent,
    SystemEvent,
    WebSocketEvent,
    create_error_event,
)
from evlab.feeds.adapters import BookDataError, ExchangeAdapter
from evlab.feeds.continuity import BarContinuity, interval_ns
from evlab.feeds.sources import adapter_for_source, resolve_adapter

__all__ = ["WebSocketHandler"]


class WebSocketHandler:
    """Turns raw WebSocket messages into BarEvents, TickEvents, ... through an exchange adapter."""

    held_strongly: ClassVar[bool] = True  # a wiring object: the bus keeps it (see EventBus)

    def __init__(self, name: str, adapter: str | ExchangeAdapter | None = None, *,
                 event_bus: EventBus | None = None,
                 bar_interval: float | _dt.timedelta | None = None,
                 drop_duplicates: bool = True, detect_gaps: bool = True,
                 max_bar_ahead: float | _dt.timedelta = _dt.timedelta(days=1),
                 source: str | None = None) -> None:
        """``adapter``: exchange name or instance (None: the emitter's); ``bar_interval``: s;
        ``max_bar_ahead``: how far past the feed's clock a bar may open (seconds/timedelta);
        ``source``: decode only the messages of the emitter of that name (others are counted
        as ``ignored``), so that each of several feeds on one bus is decoded once."""
        self.name = name
        self.source = source
        self.adapter = resolve_adapter(adapter)
        self.event_bus = event_bus
        self.drop_duplicates = drop_duplicates
        self.detect_gaps = detect_gaps
        self.bars = BarContinuity(bar_interval)
        ahead = interval_ns(max_bar_ahead)
        assert ahead is not None  # only None maps to None
        self.max_bar_ahead_ns = ahead
        self._stats: dict[str, Any] = {
            "messages": 0, "events": 0, "control": 0, "errors": 0, "decode_errors": 0,
            "no_adapter": 0, "exchange_errors": 0, "duplicates": 0, "stale": 0, "gaps": 0,
            "time_ahead": 0, "ignored": 0, "book_errors": 0, "last_error": None}

    def set_event_bus(self, event_bus: EventBus) -> None:
        """Publish on ``event_bus`` (EventManager calls this for registered components)."""
        self.event_bus = event_bus

    def get_stats(self) -> dict[str, Any]:
        """Counters: messages, events published, errors (decode + no adapter), duplicates..."""
        return dict(self._stats)

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters (same as ``get_stats()``)."""
        return self.get_stats()

    def reset(self) -> None:
        """Forget the last bar time of every symbol (gap and duplicate tracking restart)."""
        self.bars.reset()

    async def handle(self, event: Event) -> None:
        """Decode one ``WebSocketEvent`` and publish the events it holds (other events: ignored).

        Raises RuntimeError if there is no bus to publish on (none given, none delivering).
        """
        if not isinstance(event, WebSocketEvent) or (
                self.source is not None and event.source != self.source):
            self._stats["ignored"] += 1
            return
        bus = self.event_bus or current_bus()
        if bus is None:
            raise RuntimeError(
                f"WebSocketHandler {self.name!r} has no bus to publish on: pass event_bus=, or "
                f"register handle with bus.register_async(EventType.WEBSOCKET, handler.handle)")
        emit = bus.emit_async
        for out in self.decode(event):
            await emit(out)

    def decode(self, event: WebSocketEvent) -> list[Event]:
        """The events ``handle`` publishes for ``event``, in order (its decoded events, each
        after the ``gap`` notice or error it gives rise to), counted in the stats as
        published. Called while ``event`` is the current event (the one being handled), as
        ``handle`` is, so that what it builds without a time takes ``event``'s; a
        ``WebSocketEmitter`` whose messages only this handler reads calls it directly (see
        :mod:`evlab.feeds.emitter`)."""
        stats = self._stats
        stats["messages"] += 1
        adapter = self.adapter or adapter_for_source(event.source)
        if adapter is None:
            stats["no_adapter"] += 1
            return [self._error(event, "NoAdapter",
                                f"no adapter for source {event.source!r}: build WebSocketHandler"
                                f"(..., adapter=...) or WebSocketEmitter(..., adapter=...)")]
        repeated = adapter.repeated_bars()
        try:
            if type(event) is RestResponseEvent:  # a snapshot the feed fetched
                events = adapter.parse_rest(event.url, event.payload,
                                            source=event.source or adapter.name)
            else:
                events = adapter.parse(event.payload, source=event.source or adapter.name)
        except Exception as exc:  # AdapterError; anything else is an adapter bug, same outcome
            stats["decode_errors"] += 1
            failed: list[Event] = [self._error(event, type(exc).__name__, str(exc))]
            if isinstance(exc, BookDataError):  # that book missed a change: OrderBooks hears it
                stats["book_errors"] += 1
                failed.append(SystemEvent(
                    "book_error", f"{exc.symbol}: a book message could not be decoded",
                    {"symbol": exc.symbol, "error": str(exc),
                     "snapshot": type(event) is RestResponseEvent},  # a fetched snapshot
                    time_ns=event.time_ns, source=event.source or self.name))
            return failed
        if not events:
            dropped = adapter.repeated_bars() - repeated
            if dropped:  # re-sent bars the adapter already emitted as final
                stats["duplicates"] += dropped
            else:
                stats["control"] += 1
            return events
        out: list[Event] = []
        advance, ahead = self.bars.advance, event.received_ns + self.max_bar_ahead_ns
        for ev in events:
            cls = type(ev)
            if type(ev) is BarEvent:  # the usual bar: not ahead of the clock, the next one
                t: int = ev.time_ns  # type: ignore[assignment]  # set: the adapter's time
                if not (t <= ahead and advance(ev.symbol, t)) \
                        and not self._check_bar(event, ev, out):
                    continue
            elif cls is not BarUpdateEvent and isinstance(ev, BarEvent):
                if not self._check_bar(event, ev, out):
                    continue
            elif isinstance(ev, ErrorEvent):
                stats["exchange_errors"] += 1
            out.append(ev)
            stats["events"] += 1
        return out

    def _check_bar(self, event: WebSocketEvent, bar: BarEvent, out: list[Event]) -> bool:
        """Track ``bar``; False if it is to be dropped. Adds to ``out`` the gap it reveals
        (or the error that drops it)."""
        clock = max(event.received_ns, time.time_ns())
        if bar.time_ns > clock + self.max_bar_ahead_ns:  # type: ignore[operator]
            self._stats["time_ahead"] += 1
            out.append(self._error(event, "BarTimeAhead",
                                   f"{bar.symbol}: bar opens at {bar.time_ns} ns, more than "
                                   f"{self.max_bar_ahead_ns / 1e9:g} s after the feed's clock "
                                   f"({clock} ns); dropped (max_bar_ahead=)"))
            return False
        verdict, gaps = self.bars.check(bar.symbol, bar.time_ns)  # type: ignore[arg-type]
        if verdict != "new":
            self._stats[verdict if verdict == "stale" else "duplicates"] += 1
            return not self.drop_duplicates
        for gap in gaps if self.detect_gaps else ():
            self._stats["gaps"] += 1
            data = gap.to_dict()
            out.append(SystemEvent(
                "gap", f"{gap.symbol}: {gap.missing} bar(s) missing from {data['start']} to "
                f"{data['end']}", data, time_ns=bar.time_ns, source=bar.source))
        return True

    def _error(self, event: WebSocketEvent, error_type: str, message: str) -> ErrorEvent:
        self._stats["errors"] += 1
        self._stats["last_error"] = message
        return create_error_event(message, error_type=error_type, handler=self.name,
                                  original=event, payload=event.payload,
                                  source=event.source or self.name)

    def __repr__(self) -> str:
        adapter = self.adapter.name if self.adapter is not None else "by source"
        return (f"<WebSocketHandler {self.name!r} ({adapter}): {self._stats['messages']} "
                f"messages, {self._stats['errors']} errors>")
