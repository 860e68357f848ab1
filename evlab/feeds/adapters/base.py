"""The one small interface every exchange adapter implements.

An adapter translates between one exchange's documented WebSocket messages and evlab
events, in both directions:

* client side: ``parse`` (a received frame -> events) and ``subscribe_messages``;
* server side, for a local feed server replaying a dataset in the exchange's format:
  ``parse_subscribe``, ``subscribe_ack``, ``encode_bar`` and ``encode_trade``.

Conventions shared by all adapters:

* symbols are the exchange's own (``"BTCUSDT"``, ``"BTC-USD"``, ``"BTC/USD"``, ``"AAPL"``);
  parsed events carry the symbol exactly as the payload writes it;
* the event time is the bar's open time or the trade's time taken from the message, never
  the wall clock (exchange errors and notices carry no time: they take the bus's current
  event time, as any evlab event built without one);
* ``TickEvent.side`` is the aggressor (taker) side, ``"BUY"``/``"SELL"``, or ``None`` when
  the feed does not say;
* control frames (subscription acks, heartbeats, status) give ``[]``; errors the exchange
  reports give an ``ErrorEvent`` keeping the raw payload; anything malformed or unknown
  raises :class:`AdapterError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from evlab.events import Event

__all__ = ["AdapterError", "Subscribe", "ExchangeAdapter", "CHANNELS"]

#: The channel names adapters understand: OHLCV bars and individual trades.
CHANNELS = ("bars", "trades")


class AdapterError(ValueError):
    """A message could not be decoded: malformed JSON, wrong types, missing fields, unknown type.

    The text names the problem and quotes a short excerpt of the payload.
    """


@dataclass(frozen=True, slots=True)
class Subscribe:
    """What a client asked a feed server for: exchange symbols and evlab channel names."""

    symbols: tuple[str, ...]
    channels: tuple[str, ...]
    req_id: int | str | None = None  # echoed in the acknowledgement where the exchange does
    interval_s: int | None = None  # bar interval, when the request names one


class ExchangeAdapter(ABC):
    """Decode and encode one exchange's WebSocket messages (see the module docstring)."""

    name: str = ""

    def reset(self) -> None:  # noqa: B027 - optional hook: stateless adapters keep the no-op
        """Forget per-connection state (open bars); call after a reconnect."""

    @abstractmethod
    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one WebSocket message into events ([] for control frames).

        Raises AdapterError on malformed input. ``source`` defaults to the adapter's name.
        """

    @abstractmethod
    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """The JSON text frames a client sends to subscribe to ``channels`` for ``symbols``."""

    @abstractmethod
    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """Server side: the request in a client frame, or None if it is not a subscribe."""

    @abstractmethod
    def subscribe_ack(self, request: Subscribe) -> list[str]:
        """Server side: the frames the exchange sends to acknowledge ``request``."""

    @abstractmethod
    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes | str:
        """Server side: one message in the exchange's format carrying this bar.

        ``time_ns`` is the bar's open time. Raises ValueError when the format cannot carry
        the bar exactly (an interval or time resolution it has no field for).
        """

    @abstractmethod
    def encode_trade(self, symbol: str, time_ns: int, price: float, size: float, *,
                     side: str | None = None, trade_id: str | int | None = None) -> bytes | str:
        """Server side: one message in the exchange's format carrying this trade.

        ``side`` is the aggressor side ("BUY"/"SELL"); feeds that always carry a side encode
        ``None`` as "BUY", feeds without one drop it. A missing ``trade_id`` is numbered by the
        adapter; formats with integer ids need an integer-like ``trade_id``.
        """

    # --- shared helpers -------------------------------------------------------------------
    def _source(self, source: str) -> str:
        return source or self.name

    @staticmethod
    def _channels(channels: Sequence[str]) -> tuple[str, ...]:
        if isinstance(channels, str):
            channels = (channels,)
        out = tuple(dict.fromkeys(channels))
        for ch in out:
            if ch not in CHANNELS:
                raise ValueError(f"unknown channel {ch!r}: expected one of {', '.join(CHANNELS)}")
        if not out:
            raise ValueError("no channels given")
        return out

    @staticmethod
    def _symbols(symbols: Sequence[str]) -> tuple[str, ...]:
        if isinstance(symbols, str):
            symbols = (symbols,)
        out = tuple(dict.fromkeys(symbols))
        if not out or not all(isinstance(s, str) and s for s in out):
            raise ValueError(f"symbols must be non-empty strings, got {symbols!r}")
        return out
