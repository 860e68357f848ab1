"""Alpaca market data API v2 stream (wss://stream.data.alpaca.markets/v2/{iex|sip}).

Format (https://alpaca.markets/docs/api-references/market-data-api/stock-pricing-data/realtime/,
source github.com/alpacahq/alpaca-docs, content/api-references/market-data-api/
stock-pricing-data/realtime.md): every frame is a JSON *array* of objects tagged by ``"T"``;
prices/volumes are JSON numbers; ``t`` is RFC 3339 with up to nanosecond precision.

* ``"b"`` minute bar -> final ``BarEvent`` (Alpaca streams a minute bar once, after it closes);
  the event time is ``t``, the bar's start;
* ``"d"`` daily bar is documented as "a partial bar up to the current time": a
  ``BarUpdateEvent``; so is ``"u"`` (the ``updatedBars`` channel, which re-sends a minute bar
  corrected by late trades), so that a final bar is never emitted twice;
* ``"t"`` trade -> ``TickEvent``: stock trades carry no aggressor side (``side`` None); crypto
  trades (https://docs.alpaca.markets/docs/real-time-crypto-pricing-data) carry the taker side
  ``tks``, ``"B"`` (buyer) or ``"S"`` (seller), as ``"BUY"``/``"SELL"``;
* ``"q"`` quote -> ``QuoteEvent`` (``bp``/``bs``, ``ap``/``as``) at ``t``; a side Alpaca
  sends with price 0 (nothing quoted there) is None, with its size;
* ``"c"`` trade correction (SIP; fields as alpaca-py's ``TRADE_CORRECTION_MAPPING`` names them:
  ``oi``/``op``/``os``/``oc`` the original trade, ``ci``/``cp``/``cs``/``cc`` the corrected one)
  -> a SYSTEM event ``kind="trade_correction"`` whose ``data`` holds both trades as
  ``TickEvent``s (``"original"``, ``"corrected"``) and their conditions; a strategy that
  keeps trades replaces one by the other;
* ``"x"`` trade cancel/error (``i``, ``p``, ``s``, ``a``: ``"C"`` cancel, ``"E"`` error) -> a
  SYSTEM event ``kind="trade_cancel"`` whose ``data`` holds the trade (``"trade"``) and
  ``"action"``;
* ``"success"``/``"subscription"`` control messages give [];
  ``"s"`` (trading status, e.g. a halt) gives a ``SystemEvent``; ``"error"`` an ``ErrorEvent``.

The client must authenticate (``{"action": "auth", "key": .., "secret": ..}``) before its
subscribe frame; credentials are not this adapter's business.

**MessagePack.** A client that connects with ``Content-Type: application/msgpack`` (alpaca-py
does) gets every frame, both ways, as binary MessagePack instead of JSON text, with ``t`` as
a MessagePack Timestamp (extension -1) rather than an RFC 3339 string:
``AlpacaAdapter(msgpack=True)`` speaks it (the feed server picks it per connection from the
handshake's headers, :meth:`AlpacaAdapter.header_options`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgpack
import orjson

from evlab.events import Event, SystemEvent, TickEvent, create_error_event, create_system_event

from . import _common as c
from .base import AdapterError, ExchangeAdapter, Subscribe, split_batch, split_pair

_IGNORED = ("success", "subscription")
#: The subscribe keys of the stream (the stock and crypto pages), in the order acks list them.
_KEYS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds",
         "orderbooks")
_EVLAB = {"orderbooks": "books"}  # subscribe key -> evlab channel (others: the key itself)
#: Which subscribe key a data message ``T`` belongs to: corrections and cancel errors come
#: with the trades (Alpaca subscribes them with ``trades``; acks list them as such).
_STREAM_OF = {"t": "trades", "q": "quotes", "b": "bars", "u": "updatedBars", "d": "dailyBars",
              "s": "statuses", "l": "lulds", "o": "orderbooks", "c": "trades", "x": "trades"}
_TAKER = {"B": "BUY", "S": "SELL"}  # crypto trades' tks
_MSGPACK = "application/msgpack"


def _unpack(name: str, payload: str | bytes) -> Any:
    """One MessagePack frame, or AdapterError (unpackb bounds every length by the frame's, and
    websockets bounds the frame by ``max_size``; extension types other than -1 stay opaque)."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise AdapterError(f"{name}: a MessagePack frame must be bytes, got "
                           f"{type(payload).__name__}")
    try:
        return msgpack.unpackb(payload, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:  # ExtraData, FormatError
        raise AdapterError(f"{name}: malformed MessagePack ({type(exc).__name__}: {exc}) in "
                           f"{c.excerpt(payload)!r}") from None


def _taker(name: str, obj: dict[str, Any]) -> str | None:
    """A crypto trade's taker side (``tks``), or None for a stock trade (it has none)."""
    tks = obj.get("tks")
    if tks is None:
        return None
    side = _TAKER.get(tks) if isinstance(tks, str) else None
    if side is None:
        raise c.bad_field(name, "tks", '"B" or "S"', obj, tks)
    return side


class AlpacaAdapter(ExchangeAdapter):
    """Alpaca v2 stock (and crypto) stream: bars, trades, quotes, corrections and cancels."""

    name = "alpaca"

    def __init__(self, *, msgpack: bool = False) -> None:
        """``msgpack=True``: frames are MessagePack, as alpaca-py asks for (module doc)."""
        self.msgpack = msgpack
        self.binary = msgpack

    def _load(self, payload: str | bytes) -> Any:
        return _unpack(self.name, payload) if self.msgpack else c.loads(self.name, payload)

    def _dump(self, obj: Any) -> str | bytes:
        return msgpack.packb(obj) if self.msgpack else c.dumps(obj)

    def _time(self, obj: Any) -> int:
        """``t`` as ns: RFC 3339 text, or a MessagePack Timestamp in MessagePack frames."""
        value = obj.get("t") if isinstance(obj, dict) else None
        if self.msgpack and isinstance(value, msgpack.Timestamp):
            return c.checked_ns(self.name, obj, "t", value, value.to_unix_nano())
        return c.get_time(self.name, obj, "t")

    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one frame (an array of data points and control messages)."""
        n = self.name
        arr = self._load(payload)
        src = source or self.name  # the events' source: the feed's, else the venue's
        if not isinstance(arr, list):
            raise AdapterError(f"{n}: expected a JSON array of messages, got {c.excerpt(arr)!r}")
        out: list[Event] = []
        for obj in arr:
            kind = c.get_str(n, obj, "T")
            if kind in ("b", "d", "u"):
                out.append(c.bar(n, kind == "b", c.get_str(n, obj, "S"), self._time(obj),
                                 c.get_num(n, obj, "o"), c.get_num(n, obj, "h"),
                                 c.get_num(n, obj, "l"), c.get_num(n, obj, "c"),
                                 c.get_num(n, obj, "v"), src, obj))
            elif kind == "t":
                out.append(self._trade(obj, "i", "p", "s", src, _taker(n, obj)))
            elif kind == "q":
                bid, ask = c.get_num(n, obj, "bp"), c.get_num(n, obj, "ap")
                bs, az = c.get_num(n, obj, "bs"), c.get_num(n, obj, "as")
                out.append(c.quote(n, c.get_str(n, obj, "S"), self._time(obj),
                                   bid or None, ask or None, bs if bid else None,
                                   az if ask else None, src, obj))
            elif kind == "c":
                original = self._trade(obj, "oi", "op", "os", src)
                corrected = self._trade(obj, "ci", "cp", "cs", src)
                out.append(SystemEvent(
                    "trade_correction", f"{original.symbol}: trade {original.trade_id} "
                    f"({original.size:g} @ {original.price:g}) corrected to trade "
                    f"{corrected.trade_id} ({corrected.size:g} @ {corrected.price:g})",
                    {"original": original, "corrected": corrected,
                     "original_conditions": obj.get("oc"), "corrected_conditions": obj.get("cc"),
                     "exchange": obj.get("x"), "tape": obj.get("z")},
                    time_ns=original.time_ns, source=src))
            elif kind == "x":
                trade = self._trade(obj, "i", "p", "s", src)
                action = c.field(n, obj, "a")
                if action not in ("C", "E"):
                    raise c.bad_field(n, "a", '"C" (cancel) or "E" (error)', obj, action)
                what = "cancelled" if action == "C" else "an error"
                out.append(SystemEvent(
                    "trade_cancel", f"{trade.symbol}: trade {trade.trade_id} ({trade.size:g} @ "
                    f"{trade.price:g}) is {what}", {"trade": trade, "action": action,
                                                    "exchange": obj.get("x"),
                                                    "tape": obj.get("z")},
                    time_ns=trade.time_ns, source=src))
            elif kind in _IGNORED:
                continue
            elif kind == "s":
                text = f"{c.get_str(n, obj, 'S')}: {obj.get('sm', '')} {obj.get('rm', '')}"
                out.append(create_system_event("trading_status", text.strip(), obj, source=src))
            elif kind == "error":
                text = f"alpaca error {obj.get('code', '')}: {obj.get('msg', '')}"
                out.append(create_error_event(text, error_type="ExchangeError",
                                              payload=payload, source=src))
            else:
                raise AdapterError(f"{n}: unknown message type {kind!r} in {c.excerpt(obj)!r}")
        return out

    def _trade(self, obj: Any, tid: str, price: str, size: str, src: str,
               side: str | None = None) -> TickEvent:
        """The trade whose id, price and size are ``obj``'s fields ``tid``, ``price``, ``size``
        (a trade, or either side of a correction)."""
        n = self.name
        return c.tick(n, c.get_str(n, obj, "S"), self._time(obj), c.get_num(n, obj, price),
                      c.get_num(n, obj, size), side, str(c.get_int(n, obj, tid)), src, obj)

    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """One ``subscribe`` action listing ``bars`` and/or ``trades`` (minute bars only)."""
        if interval_s != 60:
            raise ValueError(f"alpaca streams minute bars only, not {interval_s} s bars")
        chans = self._channels(channels)
        syms = list(self._symbols(symbols))
        msg: dict[str, Any] = {"action": "subscribe"}
        if "trades" in chans:
            msg["trades"] = syms
        if "bars" in chans:
            msg["bars"] = syms
        return [c.dumps(msg)]

    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """A ``subscribe`` or ``unsubscribe`` action: its symbol lists (``trades``,
        ``quotes``, ``bars``, ``updatedBars``, ``dailyBars``, ``statuses``, ``lulds``,
        ``orderbooks``; other keys are not Alpaca's and are ignored, as Alpaca does), streams
        ``"<key>:<symbol>"``; None for auth and other actions."""
        n = self.name
        obj = self._load(payload)
        if not isinstance(obj, dict) or obj.get("action") not in ("subscribe", "unsubscribe"):
            return None
        symbols: dict[str, None] = {}
        chans: dict[str, None] = {}
        streams: dict[str, None] = {}
        for key in _KEYS:
            if key in obj:
                syms = c.get_list(n, obj, key)
                if not all(isinstance(s, str) and s for s in syms):
                    raise AdapterError(f"{n}: {key!r} must list symbols in {c.excerpt(obj)!r}")
                symbols.update(dict.fromkeys(syms))
                chans[_EVLAB.get(key, key)] = None
                streams.update(dict.fromkeys(f"{key}:{s}" for s in syms))
        return Subscribe(tuple(symbols), tuple(chans), None, 60 if "bars" in chans else None,
                         tuple(streams), obj["action"] == "unsubscribe")

    def subscribe_ack(self, request: Subscribe) -> list[str | bytes]:
        """The ``subscription`` control message listing the connection's subscriptions per
        key (``corrections`` and ``cancelErrors`` follow ``trades``), as documented."""
        lists: dict[str, list[str]] = {key: [] for key in _KEYS if key != "orderbooks"}
        if request.streams:
            for stream in request.streams:
                key, _, symbol = stream.partition(":")
                lists.setdefault(key, []).append(symbol)
        else:  # a feed server's grant: channels and symbols
            for channel in request.channels:
                if channel in lists:
                    lists[channel] = list(request.symbols)
        lists["corrections"] = lists["cancelErrors"] = list(lists["trades"])
        return [self._dump([{"T": "subscription", **lists}])]

    #: Alpaca's ``subscription`` message lists everything the connection is subscribed to.
    acks_all = True

    def capture_streams(self, payload: str | bytes) -> list[tuple[str, str, str | bytes]]:
        """A recorded frame's data points by stream ``"<key>:<symbol>"`` (``t`` trades, ``q``
        quotes, ``b`` bars ...; corrections and cancel errors are the trades'), verbatim when
        the frame holds one stream's (see ``split_batch``); control messages are not served.
        A recorded frame is JSON text or MessagePack bytes, as the session was."""
        packed = isinstance(payload, (bytes, bytearray))
        arr = _unpack(self.name, payload) if packed else c.loads(self.name, payload)
        if not isinstance(arr, list):
            return []

        def stream_of(obj: Any) -> str | None:
            kind = obj.get("T") if isinstance(obj, dict) else None
            key = _STREAM_OF.get(kind) if isinstance(kind, str) else None
            return None if key is None else f"{key}:{c.get_str(self.name, obj, 'S')}"

        encode = msgpack.packb if packed else c.dumps
        return split_batch(payload, arr, stream_of, encode)

    def capture_frame(self, stream: str, bare: str | bytes, options: Mapping[str, Any]
                      ) -> str | bytes:
        """A recorded frame in the encoding the connection asked for: verbatim when it is the
        recording's, else the same data points re-encoded (``t`` an RFC 3339 string in JSON,
        a MessagePack Timestamp in MessagePack, as Alpaca sends each)."""
        packed = isinstance(bare, (bytes, bytearray))
        if packed == bool(options.get("msgpack")):
            return bare
        arr = _unpack(self.name, bare) if packed else c.loads(self.name, bare)
        for obj in arr:
            t = obj.get("t") if isinstance(obj, dict) else None
            if packed and isinstance(t, msgpack.Timestamp):
                obj["t"] = c.rfc3339(t.to_unix_nano(), None)
            elif not packed and isinstance(t, str):
                obj["t"] = msgpack.Timestamp.from_unix_nano(c.rfc3339_ns(t))
        return c.dumps(arr) if packed else msgpack.packb(arr)

    def capture_client(self, streams: Sequence[str]) -> tuple[str, list[str | bytes]]:
        """The stock stream's path, an ``auth`` (any key: a local server) and one
        ``subscribe`` listing the ``streams``' symbols per key."""
        if not streams:
            raise ValueError(f"{self.name}: no streams to subscribe to")
        msg: dict[str, Any] = {"action": "subscribe"}
        for stream in streams:
            key, _, symbol = stream.partition(":")
            msg.setdefault(key, []).append(symbol)
        auth = {"action": "auth", "key": "evlab", "secret": "evlab"}
        return "/v2/iex", [self._dump(auth), self._dump(msg)]

    def stream_wildcard(self, key: str) -> str | None:
        """``quotes:*`` (``"quotes": ["*"]``) is every ``quotes:<symbol>``."""
        return key[:-1] if key.endswith(":*") else None

    def authenticates(self, payload: str | bytes) -> bool:
        """An ``auth`` action (a local server accepts any key)."""
        try:
            obj = self._load(payload)
        except AdapterError:
            return False
        return isinstance(obj, dict) and obj.get("action") == "auth"

    def header_auth(self, headers: Mapping[str, str]) -> list[str | bytes] | None:
        """``authenticated`` for a handshake carrying ``APCA-API-KEY-ID`` and
        ``APCA-API-SECRET-KEY`` (any key: a local server), Alpaca's other way to authenticate."""
        if not (headers.get("APCA-API-KEY-ID") and headers.get("APCA-API-SECRET-KEY")):
            return None
        return [self._dump([{"T": "success", "msg": "authenticated"}])]

    def unauthenticated_frame(self) -> str | bytes:
        """Error 401 ``not authenticated``: a subscribe before ``auth``, as documented."""
        # Checked against alpaca-py (alpacahq/alpaca-py @ bd1fa9e, alpaca/data/live/
        # websocket.py): its _auth raises on any {"T": "error"} reply with that frame's "msg"
        # and logs later errors as "msg (code)", so no code is hard-wired client-side. The
        # code is the documented table's (docs.alpaca.markets/docs/streaming-market-data:
        # 401 not authenticated; 402 auth failed; 406 connection limit exceeded, quoted
        # there verbatim as [{"T":"error","code":406,"msg":"connection limit exceeded"}]).
        return self._dump([{"T": "error", "code": 401, "msg": "not authenticated"}])

    def welcome(self) -> list[str | bytes]:
        """``[{"T": "success", "msg": "connected"}]``, sent on connect."""
        return [self._dump([{"T": "success", "msg": "connected"}])]

    def control_reply(self, payload: str | bytes) -> list[str | bytes]:
        """``authenticated`` to an ``auth`` action (a local server accepts any key)."""
        if not self.authenticates(payload):
            return []
        return [self._dump([{"T": "success", "msg": "authenticated"}])]

    def error_frame(self, message: str, req_id: int | str | None = None) -> str | bytes:
        """An ``error`` control message (code 400: invalid syntax)."""
        return self._dump([{"T": "error", "code": 400, "msg": message}])

    def header_options(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """``msgpack=True`` for a handshake with ``Content-Type: application/msgpack``."""
        kind = headers.get("Content-Type") or ""
        return {"msgpack": True} if kind.split(";")[0].strip().lower() == _MSGPACK else {}

    def rest_reply(self, path: str, symbols: Sequence[tuple[str, str]]) -> str | None:
        """``/v2/assets`` (the trading API's asset list, what ccxt's ``load_markets`` reads):
        the served pairs as active crypto assets; other paths: None."""
        if urlsplit(path).path.rstrip("/") != "/v2/assets":
            return None
        assets = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"evlab:{wire}")), "class": "crypto",
                   "exchange": "CRYPTO", "symbol": wire, "name": wire, "status": "active",
                   "tradable": True, "marginable": False, "maintenance_margin_requirement": 100,
                   "shortable": False, "easy_to_borrow": False, "fractionable": True,
                   "attributes": [], "min_order_size": "0.000000001",
                   "min_trade_increment": "0.000000001", "price_increment": "0.000000001"}
                  for wire, symbol in symbols if split_pair(symbol) is not None]
        return c.dumps(assets)

    @classmethod
    def wire_symbol(cls, symbol: str) -> str:
        """``BTC-USD`` is ``BTC/USD`` (Alpaca's crypto pairs); a stock ticker as it is."""
        pair = split_pair(symbol)
        return symbol if pair is None else f"{pair[0]}/{pair[1]}"

    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes:
        """A ``"b"`` minute bar (final), or a ``"d"`` partial daily bar (86400 s, not final)."""
        if (interval_s, final) == (60, True):
            kind = "b"
        elif (interval_s, final) == (86400, False):
            kind = "d"
        else:
            raise ValueError("alpaca streams final minute bars ('b') and partial daily bars "
                             f"('d'), not interval_s={interval_s} final={final}")
        # n (trades) and vw (VWAP) are in Alpaca's bar schema and alpaca-py's Bar requires
        # them; a dataset's bars know neither, so 0 and the close stand in (as Kraken's vwap).
        bar = {"T": kind, "S": symbol, "o": float(open), "h": float(high), "l": float(low),
               "c": float(close), "v": c.num(volume), "t": c.rfc3339(time_ns, None), "n": 0,
               "vw": float(close)}
        if self.msgpack:
            bar["t"] = msgpack.Timestamp.from_unix_nano(time_ns)
            return msgpack.packb([bar])
        return orjson.dumps([bar])

