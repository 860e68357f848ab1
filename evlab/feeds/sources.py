"""Which exchange adapter decodes the messages of which feed, by the feed's (source) name.

A :class:`~evlab.feeds.emitter.WebSocketEmitter` built with ``adapter=`` registers its adapter
under its own name, which is the ``source`` of every ``WebSocketEvent`` it publishes; a
:class:`~evlab.feeds.handler.WebSocketHandler` built without an adapter looks it up here.
A later emitter of the same name replaces the entry. A source named for an exchange
(``"binance"``, as :func:`evlab.load_capture` names a capture's events) that no emitter
registered is decoded by that exchange's adapter.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from evlab.feeds.adapters import ADAPTERS, ExchangeAdapter, get_adapter

__all__ = ["adapter_for_source", "register_source", "resolve_adapter", "validate_url"]

logger = logging.getLogger("evlab")

_SOURCES: dict[str, ExchangeAdapter] = {}
_LOCK = threading.Lock()


def resolve_adapter(adapter: str | ExchangeAdapter | None) -> ExchangeAdapter | None:
    """An adapter instance from a name (``"binance"``), an instance, or None."""
    if adapter is None or isinstance(adapter, ExchangeAdapter):
        return adapter
    if isinstance(adapter, str):
        return get_adapter(adapter)
    raise TypeError(f"adapter must be an exchange name or an ExchangeAdapter, "
                    f"got {type(adapter).__name__} {adapter!r}")


def register_source(source: str, adapter: ExchangeAdapter) -> None:
    """Record that messages from ``source`` are decoded by ``adapter``."""
    with _LOCK:
        old = _SOURCES.get(source)
        if old is not None and old is not adapter:
            logger.info("feed source %r: adapter %s replaces %s", source, adapter.name, old.name)
        _SOURCES[source] = adapter


def adapter_for_source(source: str) -> ExchangeAdapter | None:
    """The adapter registered for ``source`` (a feed's name); else, for a source named for an
    exchange (a loaded capture's ``"binance"``), that exchange's adapter, registered under
    the name from then on; else None."""
    with _LOCK:
        adapter = _SOURCES.get(source)
        if adapter is None and source in ADAPTERS:
            adapter = _SOURCES[source] = get_adapter(source)
        return adapter


def validate_url(url: str) -> str:
    """Return ``url`` if it is a ``ws://`` or ``wss://`` URL naming a host, else ValueError."""
    if not isinstance(url, str):
        raise ValueError(f"WebSocket URL must be a string, got {type(url).__name__} {url!r}")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"invalid WebSocket URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in ("ws", "wss"):
        raise ValueError(f"invalid WebSocket URL {url!r}: only ws:// and wss:// are accepted")
    if not host:
        raise ValueError(f"invalid WebSocket URL {url!r}: no host")
    return url.strip()
