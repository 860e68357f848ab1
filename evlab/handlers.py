"""Composable handlers: FilterHandler passes events that match a predicate, ChainHandler runs
handlers in order and stops at the first that returns False."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from evlab.events import Event

__all__ = ["FilterHandler", "ChainHandler"]


class FilterHandler:
    """Calls ``handler(event)`` only for events where ``predicate(event)`` is true.

    ``handle`` returns False for a rejected event (so a chain stops there), else what the
    handler returns. ``passed`` and ``rejected`` count the outcomes.
    """

    held_strongly: ClassVar[bool] = True  # a wiring object: the bus keeps it (see EventBus)

    # Both take the events they are given (``def on_bar(bar: BarEvent)``): Any, as a
    # Callable[[Event], ...] would reject every function typed for one event class.
    def __init__(self, name: str, predicate: Callable[[Any], object],
                 handler: Callable[[Any], Any]) -> None:
        if not callable(predicate) or not callable(handler):
            raise TypeError(f"FilterHandler {name!r}: predicate and handler must be callable")
        self.name = name
        self.predicate = predicate
        self.handler = handler
        self.passed = 0
        self.rejected = 0

    def handle(self, event: Event) -> Any:
        """Run the handler if the predicate accepts ``event``; False if it does not."""
        if not self.predicate(event):
            self.rejected += 1
            return False
        self.passed += 1
        return self.handler(event)

    __call__ = handle

    def __repr__(self) -> str:
        return f"<FilterHandler {self.name!r}: {self.passed} passed, {self.rejected} rejected>"


class ChainHandler:
    """Passes each event through ``handlers`` in order; stops at the first returning False.

    A handler returning None (or anything but ``False``) lets the event go on. Items may be
    FilterHandlers, other ChainHandlers or plain callables.
    """

    held_strongly: ClassVar[bool] = True  # a wiring object: the bus keeps it (see EventBus)

    def __init__(self, name: str, handlers: Iterable[Any]) -> None:
        self.name = name
        self.handlers = list(handlers)
        self._calls = [getattr(h, "handle", h) for h in self.handlers]
        for h, call in zip(self.handlers, self._calls, strict=True):
            if not callable(call):
                raise TypeError(f"ChainHandler {name!r}: {h!r} is not a handler")
        self.completed = 0
        self.stopped = 0

    def handle(self, event: Event) -> bool:
        """True if the event went through every handler, False if one stopped it."""
        for call in self._calls:
            if call(event) is False:
                self.stopped += 1
                return False
        self.completed += 1
        return True

    __call__ = handle

    def __repr__(self) -> str:
        names = [getattr(h, "name", getattr(h, "__name__", "?")) for h in self.handlers]
        return f"<ChainHandler {self.name!r}: {' -> '.join(names)}>"
