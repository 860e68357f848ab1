"""Exchange adapters: one module per exchange behind :class:`ExchangeAdapter`, each holding
the exchange's whole protocol (what a client sends and parses, what the feed server sends).

``get_adapter("binance")`` returns a new adapter (adapters keep per-connection state, such
as Kraken's running candles, so use one per connection). A new exchange is a new module
and one line in ``_REGISTRY`` below. ``_common``, binance, coinbase and kraken are compiled
with Cython where pip can (setup.py); ``EVLAB_PURE_PYTHON=1`` runs their sources instead.
"""

from __future__ import annotations

import os
from typing import Any

if os.environ.get("EVLAB_PURE_PYTHON"):  # their sources, not the Cython builds (setup.py)
    from evlab._accel import source_module

    for _name in ("_common", "binance", "coinbase", "kraken"):  # _common first: they import it
        source_module(f"{__name__}.{_name}")

from .alpaca import AlpacaAdapter
from .base import CHANNELS, AdapterError, BookDataError, ExchangeAdapter, Subscribe
from .binance import BinanceAdapter
from .coinbase import CoinbaseAdapter
from .kraken import KrakenAdapter
from .polygon import PolygonAdapter

__all__ = [
    "ADAPTERS", "CHANNELS", "AdapterError", "BookDataError", "ExchangeAdapter", "Subscribe",
    "adapter_class", "get_adapter",
    "AlpacaAdapter", "BinanceAdapter", "CoinbaseAdapter", "KrakenAdapter", "PolygonAdapter",
]

_REGISTRY: dict[str, type[ExchangeAdapter]] = {
    "binance": BinanceAdapter,
    "coinbase": CoinbaseAdapter,
    "kraken": KrakenAdapter,
    "alpaca": AlpacaAdapter,
    "polygon": PolygonAdapter,
}

#: The names ``get_adapter`` accepts.
ADAPTERS: tuple[str, ...] = tuple(_REGISTRY)


def adapter_class(name: str) -> type[ExchangeAdapter]:
    """The adapter class of exchange ``name`` (one of ADAPTERS, any case); else ValueError."""
    try:
        return _REGISTRY[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown exchange {name!r}: expected one of {', '.join(ADAPTERS)}"
                         ) from None


def get_adapter(name: str, **options: Any) -> ExchangeAdapter:
    """A new adapter for exchange ``name`` (one of ADAPTERS); ``options`` go to its constructor.

    Options: binance ``combined=True`` (wrap encoded messages as combined-stream payloads),
    coinbase ``candle_interval_s`` (candle length, default 300 s as Coinbase documents).
    """
    return adapter_class(name)(**options)
