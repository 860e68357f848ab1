"""The usage guide's import path: ``from evlab.core.events import EventBus, BarEvent, ...``.

Each name lives in a module of its own concern (``evlab.events``, ``evlab.bus``,
``evlab.manager``, ``evlab.handlers``); this module only gathers them.
"""

from evlab.bus import EventBus, Subscription
from evlab.events import (
    BarEvent,
    BarUpdateEvent,
    BookEvent,
    CancelEvent,
    ErrorEvent,
    Event,
    EventType,
    FillEvent,
    OrderEvent,
    OrderUpdateEvent,
    PortfolioEvent,
    QuoteEvent,
    ReplaceEvent,
    RestResponseEvent,
    SignalEvent,
    SystemEvent,
    TickEvent,
    WebSocketEvent,
    create_bar_event,
    create_bar_update_event,
    create_book_event,
    create_cancel_event,
    create_error_event,
    create_fill_event,
    create_order_event,
    create_order_update_event,
    create_quote_event,
    create_replace_event,
    create_rest_event,
    create_signal_event,
    create_system_event,
    create_tick_event,
    create_websocket_event,
    current_event,
    to_ns,
)
from evlab.handlers import ChainHandler, FilterHandler
from evlab.manager import EventManager

# Loaded on first use, so that `import evlab` does not pay for the websockets stack.
_FEEDS = {"WebSocketEmitter": "evlab.feeds.emitter", "WebSocketHandler": "evlab.feeds.handler"}


def __getattr__(name: str) -> object:
    if name in _FEEDS:
        import importlib

        return getattr(importlib.import_module(_FEEDS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # plus the lazily loaded WebSocketEmitter and WebSocketHandler
    "EventBus", "Subscription", "EventManager", "FilterHandler", "ChainHandler",
    "EventType", "Event", "BarEvent", "BarUpdateEvent", "TickEvent", "QuoteEvent", "BookEvent",
    "SignalEvent", "OrderEvent", "CancelEvent", "ReplaceEvent", "OrderUpdateEvent", "FillEvent",
    "PortfolioEvent", "WebSocketEvent",
    "RestResponseEvent", "ErrorEvent", "SystemEvent", "create_bar_event",
    "create_bar_update_event", "create_tick_event", "create_quote_event", "create_book_event",
    "create_signal_event", "create_order_event", "create_cancel_event", "create_replace_event",
    "create_order_update_event", "create_fill_event", "create_websocket_event",
    "create_rest_event", "create_error_event", "create_system_event", "current_event", "to_ns",
]
