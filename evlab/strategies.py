"""Hot registration of strategies from notebook cells.

``book = Strategies(manager)`` and then, in a cell::

    @book("sma", on=EventType.BAR)
    def sma(bar):
        ...
        return create_signal_event(SignalEvent.BUY, bar.close, bar.symbol, "sma")

Re-running the cell replaces the strategy named "sma" atomically (the old handlers are gone
before the next event, no event reaches both, the old object is freed). A function strategy
returns the events to emit (an Event, an iterable of them, or None); a class is instantiated
without arguments and wired by its ``on_<type>`` methods, like any EventManager component.
An exception in a strategy is reported once per (strategy, exception type), not per event:
the feed keeps running and ``book.errors`` counts every occurrence.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evlab.events import ErrorEvent, Event, EventType
from evlab.manager import EventManager, handler_name

__all__ = ["Strategies", "FunctionStrategy"]

ErrorReporter = Callable[[str, ErrorEvent], None]
T = TypeVar("T")  # what the decorator is given, and returns unchanged


class FunctionStrategy:
    """Wraps ``fn(event)`` as a component: what ``fn`` returns is emitted on the bus."""

    # ``fn`` takes the event type it is registered for (``def sma(bar: BarEvent)``): Any, as
    # a Callable[[Event], ...] would reject every function typed for one event class.
    def __init__(self, name: str, fn: Callable[[Any], Any],
                 event_types: Iterable[EventType | str]) -> None:
        self.name = name
        self.fn = fn
        self.event_bus: Any = None
        is_async = inspect.iscoroutinefunction(fn)
        for etype in event_types:
            setattr(self, handler_name(etype), self._on_async if is_async else self._on)

    def set_event_bus(self, event_bus: Any) -> None:
        self.event_bus = event_bus

    def _on(self, event: Event) -> None:
        for out in _as_events(self.name, self.fn(event)):
            self.event_bus.emit(out)

    async def _on_async(self, event: Event) -> None:
        for out in _as_events(self.name, await self.fn(event)):
            await self.event_bus.emit_async(out)

    def __repr__(self) -> str:
        return f"<FunctionStrategy {self.name!r}: {getattr(self.fn, '__qualname__', self.fn)}>"


def _as_events(name: str, result: Any) -> Iterable[Event]:
    if result is None:
        return ()
    if isinstance(result, Event):
        return (result,)
    if isinstance(result, Iterable) and not isinstance(result, (str, bytes)):
        events = tuple(result)
        if all(isinstance(e, Event) for e in events):
            return events
    raise TypeError(f"strategy {name!r} must return an Event, a list of Events or None, "
                    f"got {type(result).__name__}")


@dataclass(eq=False)
class _Entry:
    strategy: Any
    event_types: tuple[EventType | str, ...]
    priority: int = 0
    enabled: bool = True
    errors: dict[str, int] = field(default_factory=dict)


def _print_once(name: str, error: ErrorEvent) -> None:
    print(f"evlab: strategy {name!r} raised {error.message} while handling "
          f"{error.original_type} #{error.original_seq}; the feed goes on "
          f"(shown once per error type; see .errors)", file=sys.stderr)


class Strategies:
    """Strategies by name on an EventManager: add, replace, disable, enable, remove."""

    def __init__(self, manager: EventManager, *, report: ErrorReporter = _print_once) -> None:
        self.manager = manager
        self.report = report
        self._entries: dict[str, _Entry] = {}
        manager.event_bus.subscribe(EventType.ERROR, self._on_error, weak=False,
                                    name="strategies.errors")

    def add(self, name: str, strategy: Any,
            on: EventType | str | Iterable[EventType | str] = EventType.BAR, *,
            priority: int = 0) -> Any:
        """Register ``strategy`` (a function, a class or an instance) as ``name``, replacing
        any strategy of that name; returns what was registered. A higher ``priority`` runs
        earlier (a portfolio and a broker before the strategies that trade through them)."""
        types = (on,) if isinstance(on, (str, EventType)) else tuple(on)
        if inspect.isclass(strategy):
            strategy = strategy()
        elif inspect.isfunction(strategy) or inspect.ismethod(strategy):
            strategy = FunctionStrategy(name, strategy, types)
        self.manager.register_component(name, strategy, types, priority=priority)
        self._entries[name] = _Entry(strategy, types, priority)
        return strategy

    def __call__(self, name: str, on: EventType | str | Iterable[EventType | str] = EventType.BAR,
                 *, priority: int = 0) -> Callable[[T], T]:
        """Decorator form of ``add``; returns the decorated function or class unchanged."""
        def decorate(obj: T) -> T:
            self.add(name, obj, on, priority=priority)
            return obj
        return decorate

    def disable(self, name: str) -> None:
        """Stop ``name`` receiving events, keeping it (and its state) for ``enable``."""
        entry = self._entry(name)
        if entry.enabled:
            self.manager.unregister_component(name)
            entry.enabled = False

    def enable(self, name: str) -> None:
        """Let a disabled strategy receive events again."""
        entry = self._entry(name)
        if not entry.enabled:
            self.manager.register_component(name, entry.strategy, entry.event_types,
                                            priority=entry.priority)
            entry.enabled = True

    def remove(self, name: str) -> None:
        """Unregister ``name`` and forget it."""
        self._entry(name)
        self.manager.unregister_component(name)
        del self._entries[name]

    def get(self, name: str) -> Any:
        """The registered strategy object (for a function: its FunctionStrategy wrapper)."""
        return self._entry(name).strategy

    @property
    def errors(self) -> dict[str, dict[str, int]]:
        """Per strategy, how many times each exception type was raised."""
        return {name: dict(e.errors) for name, e in self._entries.items() if e.errors}

    def list(self) -> list[dict[str, Any]]:
        """One row per strategy: name, what it is, event types, enabled, errors."""
        return [{"name": name, "strategy": type(e.strategy).__name__
                 if not isinstance(e.strategy, FunctionStrategy) else e.strategy.fn.__name__,
                 "event_types": [str(t) for t in e.event_types], "enabled": e.enabled,
                 "errors": sum(e.errors.values())} for name, e in self._entries.items()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Strategies {', '.join(self._entries) or 'none'}>"

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no strategy named {name!r}; have {sorted(self._entries)}") from None

    def _on_error(self, error: ErrorEvent) -> None:
        owner = (error.handler or "").split(".", 1)[0]
        entry = self._entries.get(owner)
        if entry is None:
            return
        first = error.error_type not in entry.errors
        entry.errors[error.error_type] = entry.errors.get(error.error_type, 0) + 1
        if first:
            self.report(owner, error)
