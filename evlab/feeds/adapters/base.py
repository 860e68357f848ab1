"""The one small interface every exchange adapter implements.

An adapter owns one exchange's whole WebSocket protocol, both sides of it:

* client side: ``parse`` (a received frame -> events) and ``subscribe_messages``;
* server side, for :class:`~evlab.feeds.server.FeedServer` replaying a dataset as that
  exchange: ``parse_subscribe``, ``subscribe_ack``, ``encode_bar``, ``error_frame`` (all
  required), and where the exchange has them, ``welcome`` (sent on connect),
  ``control_reply`` (auth, ping), ``path_subscribe`` (subscribing by URL path),
  ``wire_symbol`` (its spelling of ``BTC-USD``) and ``server_options`` (adapter options a
  server's bars need).

A new exchange is one module with one subclass, plus its line in the registry
(:data:`evlab.feeds.adapters.ADAPTERS`); the feed server asks the adapter, never the name.

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
  raises :class:`AdapterError`, and a malformed book message whose symbol is known raises
  :class:`BookDataError` (that symbol's book missed a change).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from evlab.events import Event

__all__ = ["AdapterError", "BookDataError", "Subscribe", "ExchangeAdapter", "CHANNELS",
           "split_pair", "split_batch"]

#: The channel names adapters understand: OHLCV bars and individual trades.
CHANNELS = ("bars", "trades")

_PAIR = re.compile(r"^([A-Za-z0-9]+)[-/_]([A-Za-z0-9]+)$")


def split_pair(symbol: str) -> tuple[str, str] | None:
    """``("BTC", "USD")`` for a currency pair ``BTC-USD``/``BTC/USD``/``btc_usd``; else None."""
    m = _PAIR.match(symbol)
    return None if m is None else (m.group(1).upper(), m.group(2).upper())


def split_batch(payload: str | bytes, items: Sequence[Any], stream_of: Callable[[Any], str | None],
                encode: Callable[[list[Any]], str | bytes]) -> list[tuple[str, str, str | bytes]]:
    """A captured frame batching data ``items`` (Alpaca's and Polygon's JSON arrays) as
    ``capture_streams`` gives it: the frame verbatim when its items are of one stream, else
    one frame per stream (``encode``: that stream's items, in order); items whose stream is
    None (status and control messages) are not served."""
    groups: dict[str, list[Any]] = {}
    skipped = 0
    for item in items:
        stream = stream_of(item)
        if stream is None:
            skipped += 1
        else:
            groups.setdefault(stream, []).append(item)
    if len(groups) == 1 and not skipped:
        [stream] = groups
        return [(stream, stream, payload)]
    return [(stream, stream, encode(group)) for stream, group in groups.items()]


class AdapterError(ValueError):
    """A message could not be decoded: malformed JSON, wrong types, missing fields, unknown type.

    The text names the problem and quotes a short excerpt of the payload. ``req_id``: the id
    of the client request it refuses, where the request has one (a server echoes it).
    """

    req_id: int | str | None = None


class BookDataError(AdapterError):
    """A book message of one symbol could not be decoded (a negative size, a bad level): that
    symbol's book has missed a change. ``symbol`` names it, so the ``WebSocketHandler`` can
    publish a SYSTEM ``book_error`` that makes ``OrderBooks`` mark the book stale."""

    def __init__(self, message: str, symbol: str) -> None:
        super().__init__(message)
        self.symbol = symbol


@dataclass(frozen=True, slots=True)
class Subscribe:
    """What a client's subscribe (or unsubscribe) message asks a server for: exchange symbols
    and evlab channel names (what :class:`~evlab.feeds.server.FeedServer` serves), and the
    exchange's stream names (what :class:`~evlab.feeds.capture_server.CaptureServer` serves,
    matched to captured messages by :meth:`ExchangeAdapter.stream_key`)."""

    symbols: tuple[str, ...]
    channels: tuple[str, ...]
    req_id: int | str | None = None  # echoed in the acknowledgement where the exchange does
    interval_s: int | None = None  # bar interval, when the request names one
    streams: tuple[str, ...] = ()  # the exchange's stream names, as the request spells them
    unsubscribe: bool = False  # an unsubscribe: stop these streams
    api: str = ""  # which of an exchange's APIs the request is in (Coinbase: "advanced")


class ExchangeAdapter(ABC):
    """Decode and encode one exchange's WebSocket messages (see the module docstring)."""

    name: str = ""
    #: Server side: ``encode_bar`` makes binary frames (Alpaca's MessagePack), not text.
    binary: bool = False

    def reset(self) -> None:  # noqa: B027 - optional hook: stateless adapters keep the no-op
        """Forget per-connection state (open bars); call after a reconnect."""

    def repeated_bars(self) -> int:
        """How many re-sent bars ``parse`` has dropped as already emitted (0: it drops none)."""
        return 0

    @abstractmethod
    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one WebSocket message into events ([] for control frames).

        Raises AdapterError on malformed input. ``source`` defaults to the adapter's name.
        """

    def parse_rest(self, url: str, body: str | bytes, *, source: str = "") -> list[Event]:
        """Decode a REST response the exchange's book protocol needs (Binance's depth
        snapshot), ``url`` being the request's; exchanges without one raise AdapterError."""
        raise AdapterError(f"{self.name}: no REST responses to decode (got one for "
                           f"{url[:120]!r})")

    def snapshot_requests(self, subscriptions: Sequence[str | bytes], path: str = "/"
                          ) -> list[tuple[str, str]]:
        """``(symbol, request)`` for each REST request (path and query) a client must make to
        keep the books that its ``subscriptions`` (the frames it sends) and URL ``path`` ask
        for (Binance diff depth needs a depth snapshot); by default none."""
        return []

    def resync_messages(self, symbol: str, subscriptions: Sequence[str | bytes]
                        ) -> list[str | bytes]:
        """The frames a live client sends to get ``symbol``'s book snapshot again over the
        socket, for venues that send it on subscribing (an unsubscribe and a subscribe of that
        book as ``subscriptions`` asked for it); [] when ``subscriptions`` keep no such book
        (by default: venues whose snapshot comes over REST, or none)."""
        return []

    @abstractmethod
    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """The JSON text frames a client sends to subscribe to ``channels`` for ``symbols``."""

    @abstractmethod
    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """Server side: the subscribe or unsubscribe request in a client frame (None: it is
        neither), for both servers. A malformed request raises AdapterError, answered with
        :meth:`error_frame` and nothing subscribed."""

    @abstractmethod
    def subscribe_ack(self, request: Subscribe) -> Sequence[str | bytes]:
        """Server side: the frames the exchange sends to acknowledge ``request`` (bytes: a
        binary frame, as with :attr:`binary`)."""

    @abstractmethod
    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes | str:
        """Server side: one message in the exchange's format carrying this bar.

        ``time_ns`` is the bar's open time. Raises ValueError when the format cannot carry
        the bar exactly (an interval or time resolution it has no field for).
        """

    @abstractmethod
    def error_frame(self, message: str, req_id: int | str | None = None) -> str | bytes:
        """Server side: an error in the exchange's own style, which ``parse`` reads back as an
        ``ErrorEvent`` (``req_id``: the request's id, echoed where the exchange does)."""

    def welcome(self) -> Sequence[str | bytes]:
        """Server side: what the exchange sends as soon as a client connects (default: none)."""
        return []

    def control_reply(self, payload: str | bytes) -> Sequence[str | bytes]:
        """Server side: replies to a non-subscribe request (auth, ping); [] if it has none."""
        return []

    def heartbeat(self, counter: int) -> str | bytes | None:
        """Server side: the ``counter``-th message of the exchange's heartbeats channel (sent
        once a second to a client that subscribed to ``"heartbeats"``); None: it has none."""
        return None

    def header_options(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """Server side: the adapter options a connection's handshake headers ask for (Alpaca:
        ``Content-Type: application/msgpack``); by default none."""
        return {}

    def path_subscribe(self, path: str) -> tuple[str | None, dict[str, Any]]:
        """Server side: what a connection's URL path means, for exchanges whose paths say
        something: the subscribe frame it stands for (or None) and the adapter options the
        connection's messages need ({}: the server's). By default, nothing."""
        return None, {}

    # --- server side, serving a captured session (evlab.feeds.capture_server) ------------
    #: Its subscription acks list every subscription of the connection, not only the
    #: request's (Coinbase, Alpaca): servers pass them all to :meth:`subscribe_ack`.
    acks_all: bool = False

    def capture_streams(self, payload: str | bytes) -> list[tuple[str, str, str | bytes]]:
        """Server side: a captured message as ``(stream key, stream name, bare payload)``
        (the key is what subscriptions are matched on): one entry whose payload is the
        message verbatim, or, for a frame batching several streams' data (Alpaca, Polygon),
        one frame per stream with that stream's items in order; [] for a control message (an
        ack) that is not served. Exchanges without capture serving raise ValueError."""
        raise ValueError(f"{self.name}: serving a captured session is not supported yet")

    def stream_wildcard(self, key: str) -> str | None:
        """Server side: the prefix of the stream keys a wildcard stream stands for (Alpaca
        ``quotes:*``, Polygon ``T.*``); None: ``key`` is no wildcard (by default none is)."""
        return None

    def authenticates(self, payload: str | bytes) -> bool:
        """Server side: ``payload`` is the auth request a subscribe must follow (a local
        server accepts any key); False for exchanges whose market data needs none."""
        return False

    def header_auth(self, headers: Mapping[str, str]) -> Sequence[str | bytes] | None:
        """Server side: where the exchange lets a handshake's headers authenticate (Alpaca's
        ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY``), the frames it sends after its greeting
        for headers that do; None: these headers do not authenticate."""
        return None

    def unauthenticated_frame(self) -> str | bytes | None:
        """Server side: the exchange's answer to a subscribe sent before authenticating;
        None where its market data needs no auth."""
        return None

    def rest_error(self, message: str) -> str:
        """Server side: the JSON body of a 404 answering a REST request not served (an HTTP
        error body, not a WebSocket error frame)."""
        return orjson.dumps({"error": "Not Found", "message": message}).decode()

    def capture_frame(self, stream: str, bare: str | bytes, options: Mapping[str, Any]
                      ) -> str | bytes:
        """Server side: a captured message as the connection's endpoint (``options``, from
        ``path_subscribe``) sends it; by default as captured."""
        return bare

    def stream_key(self, stream: str) -> str:
        """Server side: what a subscribed stream name (``Subscribe.streams``) is matched on, the
        key :meth:`capture_streams` gives the messages of that stream; by default the name."""
        return stream

    def capture_client(self, streams: Sequence[str]) -> tuple[str, list[str | bytes]]:
        """Client side of a served capture: the URL path a client connects to and the frames
        it sends to get the captured ``streams`` (what ``Lab.connect`` does with a
        ``CaptureServer``)."""
        raise ValueError(f"{self.name}: serving a captured session is not supported yet")

    def rest_reply(self, path: str, symbols: Sequence[tuple[str, str]]) -> str | None:
        """Server side: the body answering a REST request for ``path`` (path and query) that
        clients make beside the socket (market lists, server time), for the served
        ``symbols`` as (exchange spelling, dataset symbol) pairs; None: not served (404)."""
        return None

    def capture_symbols(self, streams: Sequence[str]) -> list[tuple[str, str]]:
        """Server side: the (exchange spelling, ``BASE-QUOTE``) pairs a served capture's
        ``streams`` are of, for :meth:`rest_reply`'s market lists (default: none known)."""
        return []

    def rest_key(self, url: str) -> str:
        """Server side: which captured REST response answers a request for ``url`` (a path
        and query, or a full URL): by default the same path and query."""
        parts = urlsplit(url)
        return f"{parts.path}?{'&'.join(sorted(parts.query.split('&')))}"

    @classmethod
    def wire_symbol(cls, symbol: str) -> str:
        """The exchange's spelling of a dataset symbol: a pair ``BTC-USD`` (or ``BTC/USD``,
        ``btc_usd``) as ``BASE-QUOTE`` by default; a stock ticker stays as it is."""
        pair = split_pair(symbol)
        return symbol if pair is None else f"{pair[0]}-{pair[1]}"

    @classmethod
    def server_options(cls, interval_s: int) -> dict[str, Any]:
        """The constructor options of the adapter that encodes and decodes a feed server's
        ``interval_s`` bars, where the messages cannot say it (default: none)."""
        return {}

    # --- shared helpers -------------------------------------------------------------------
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
