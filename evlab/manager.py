"""EventManager: wires components to the bus by naming convention (``on_bar``, ``on_signal``...)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from evlab.bus import EventBus, Subscription, iter_types
from evlab.events import EventType

__all__ = ["EventManager"]


@dataclass(eq=False)
class _Entry:
    component: Any
    event_types: tuple[EventType | str, ...]
    subscriptions: tuple[Subscription, ...]


def handler_name(event_type: EventType | str) -> str:
    """The method a component needs to receive ``event_type``: ``on_<type>``."""
    return f"on_{event_type}"


class EventManager:
    """Registers components by name: each event type goes to the component's ``on_<type>``.

    Registering a name again replaces the old component atomically: an event emitted
    meanwhile on another thread reaches the old component or the new one, exactly once.
    The manager owns what it registers: it holds each component until
    ``unregister_component`` or its replacement (the usage guide's ``setup_async_system``
    keeps no other reference to its components), so its handlers are held strongly; an
    event still being dispatched to a replaced component keeps it alive until it is done,
    and then nothing does.
    """

    def __init__(self, event_bus: EventBus) -> None:
        if not isinstance(event_bus, EventBus):
            raise TypeError(f"EventManager needs an EventBus, got {type(event_bus).__name__}")
        self.event_bus = event_bus
        self._entries: dict[str, _Entry] = {}

    def register_component(self, name: str, component: Any,
                           event_types: Iterable[EventType | str], *, priority: int = 0) -> Any:
        """Call ``set_event_bus`` on ``component`` and route each type to its ``on_<type>``.

        Raises ``AttributeError`` at once if a needed ``on_<type>`` method is missing.
        Returns the component.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"component name must be a non-empty string, got {name!r}")
        if isinstance(event_types, (str, EventType)):
            event_types = [event_types]
        types = tuple(dict.fromkeys(iter_types(event_types)))
        if not types:
            raise ValueError(f"component {name!r}: give at least one event type")
        methods = {}
        for etype in types:
            method = getattr(component, handler_name(etype), None)
            if not callable(method):
                raise AttributeError(
                    f"component {name!r} ({type(component).__name__}) has no "
                    f"{handler_name(etype)}() method, needed to receive {etype!s} events")
            methods[etype] = method
        if callable(getattr(component, "set_event_bus", None)):
            component.set_event_bus(self.event_bus)
        with self.event_bus.batch():  # the old component's handlers go as the new ones come
            self.unregister_component(name)
            subs = tuple(self.event_bus.subscribe(etype, method, priority=priority, weak=False,
                                                  name=f"{name}.{handler_name(etype)}")
                         for etype, method in methods.items())
            self._entries[name] = _Entry(component, types, subs)
        return component

    def unregister_component(self, name: str) -> bool:
        """Remove the component registered as ``name``; True if there was one."""
        entry = self._entries.pop(name, None)
        if entry is None:
            return False
        for sub in entry.subscriptions:
            sub.cancel()
        return True

    def get_component(self, name: str) -> Any:
        """The live component registered as ``name`` (KeyError if none)."""
        entry = self._entries.get(name)
        if entry is None:
            raise KeyError(f"no component registered as {name!r}; have {sorted(self._entries)}")
        return entry.component

    @property
    def components(self) -> dict[str, tuple[str, ...]]:
        """Registered components: name -> the event types it receives."""
        return {name: tuple(str(t) for t in e.event_types) for name, e in self._entries.items()}

    def list_components(self) -> list[dict[str, Any]]:
        """One row per component: name, class, event types, handler errors."""
        return [{"name": name, "class": type(e.component).__name__,
                 "event_types": [str(t) for t in e.event_types],
                 "errors": sum(s.errors for s in e.subscriptions)}
                for name, e in self._entries.items()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<EventManager {', '.join(self.components) or 'no components'}>"
