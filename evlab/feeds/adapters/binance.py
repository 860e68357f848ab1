"""Binance spot WebSocket market streams: klines, trades, depth (diff and partial), bookTicker.

Format (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams,
source https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md):

* raw streams send the event object; combined streams wrap it as
  ``{"stream": "<streamName>", "data": <rawPayload>}``; both are accepted;
* prices and quantities are decimal *strings*, times are integer *milliseconds*, or
  microseconds on a connection opened with ``timeUnit=MICROSECOND`` (build the adapter with
  ``time_unit="MICROSECOND"``, as Binance names it);
* kline ``k.x`` ("is this kline closed?"): ``true`` gives a final ``BarEvent``, ``false`` an
  in-progress ``BarUpdateEvent``; the event time is the kline start time ``k.t``;
* trade (and aggTrade) ``m`` is "is the buyer the market maker?": ``m=true`` means the
  aggressor sold, so ``side="SELL"``; the event time is the trade time ``T``;
* diff depth ``depthUpdate`` -> ``BookEvent`` (an update, ``first_update_id=U``,
  ``last_update_id=u``, event time ``E``); partial depth ``<symbol>@depth<N>`` (``lastUpdateId``,
  ``bids``, ``asks``: no symbol and no time in the payload, so only on a combined stream,
  whose stream name gives the symbol) -> a snapshot ``BookEvent`` at the receive time;
* the REST depth snapshot (``GET /api/v3/depth?symbol=...``) that diff depth needs is read
  by ``parse_rest(url, body)``: the symbol comes from the URL, as the body names none (its
  thousands of levels are most of a replay's decoding: where compiled, a body in Binance's
  compact form is read in one pass over its text, ``_common.depth_body_levels``);
* ``bookTicker`` (``u, s, b, B, a, A``, no event type and no time) -> ``QuoteEvent`` at the
  receive time;
* ``serverShutdown`` -> a SYSTEM event ``kind="server_shutdown"`` (Binance is about to close
  the connection: reconnect);
* ``{"result": null, "id": 1}`` (subscribe ack) gives []; ``{"code": .., "msg": ..}`` and
  ``{"error": {...}}`` give an ``ErrorEvent``.

Stream names use the lower-case symbol; payloads carry it upper-case in ``"s"``.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from evlab.events import BookEvent, Event, SystemEvent, create_error_event

from . import _common as c
from .base import AdapterError, BookDataError, ExchangeAdapter, Subscribe, split_pair

if TYPE_CHECKING:
    from evlab import _nocython as cython
else:
    try:
        import cython
    except ImportError:  # no Cython: the interpreted paths below are used
        from evlab import _nocython as cython

# the helpers of parse's depthUpdate and bookTicker paths (one message per book update or
# quote): compiled, C calls into _common (its .pxd declares them); interpreted, module globals
if cython.compiled:
    from cython.cimports.evlab.feeds.adapters._common import _ascii_text as _scan_text
    from cython.cimports.evlab.feeds.adapters._common import _ticker_scan, _update_scan
    from cython.cimports.evlab.feeds.adapters._common import book as _book
    from cython.cimports.evlab.feeds.adapters._common import get_dec as _get_dec
    from cython.cimports.evlab.feeds.adapters._common import get_int as _get_int
    from cython.cimports.evlab.feeds.adapters._common import get_str as _get_str
    from cython.cimports.evlab.feeds.adapters._common import get_time_ms as _get_time_ms
    from cython.cimports.evlab.feeds.adapters._common import get_time_us as _get_time_us
    from cython.cimports.evlab.feeds.adapters._common import levels as _levels
    from cython.cimports.evlab.feeds.adapters._common import loads as _loads
    from cython.cimports.evlab.feeds.adapters._common import quote as _quote
else:
    _book, _get_dec, _get_int, _get_str, _levels, _loads, _quote = (
        c.book, c.get_dec, c.get_int, c.get_str, c.levels, c.loads, c.quote)
    _get_time_ms, _get_time_us = c.get_time_ms, c.get_time_us
    _update_scan, _ticker_scan = c._update_scan, c._ticker_scan

    def _scan_text(payload: str | bytes) -> str | None:
        """Interpreted, no text for the one-pass scans: a loop over characters costs more
        than orjson (compiled, ``_common._ascii_text``: the payload as the scans read it)."""
        return None
#: how a bookTicker message starts, bare or in a combined stream's envelope (any other
#: message, a kline say, is not scanned for one)
_TICKER_HEADS = ('{"u":', '{"stream":"')

INTERVALS: dict[str, int] = {
    "1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600,
    "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400,
    "3d": 259200, "1w": 604800,
}
_NAMES = {v: k for k, v in INTERVALS.items()}
_MS = 1_000_000
_OHLCV = c.dec_fields("o", "h", "l", "c", "v")  # a kline's prices and volume
TIME_UNITS = ("MILLISECOND", "MICROSECOND")  # Binance's timeUnit values
_PARTIAL_DEPTH = re.compile(r"([a-z0-9]+)@depth(?:5|10|20)(?:@100ms|@1000ms)?\Z")


_ENVELOPE = re.compile(r'\{"stream":"([^"\\]+)","data":')


# Quote assets Binance spot symbols end in, longest first (USDT before USD-less BTC...).
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "GBP", "TRY",
           "BRL", "AUD", "DAI", "JPY")


# A stream name Binance has: <symbol>@<kind> or an all-market !<kind>@arr (web-socket-streams.md).
_STREAM = re.compile(
    r"^(?:([A-Za-z0-9]+)@(aggTrade|trade|kline_(?:1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|"
    r"1w|1M)(?:@[+-]\d{2}:\d{2})?|miniTicker|ticker|ticker_(?:1h|4h|1d)|bookTicker|avgPrice|"
    r"depth(?:5|10|20)?(?:@100ms|@1000ms)?)|!(miniTicker|ticker|ticker_(?:1h|4h|1d))@arr)\Z")
# evlab's channel of each stream kind (its name without digits and options); others: tickers
_CHANNEL = {"aggTrade": "trades", "trade": "trades", "depth": "books", "bookTicker": "quotes"}


def _stream_key(stream: str) -> str:
    """A stream name as subscriptions match it: lower-case, without the update speed
    (``BTCUSDT@depth@100ms`` and ``btcusdt@depth`` carry the same messages)."""
    name = stream.lower()
    for speed in ("@100ms", "@1000ms"):
        name = name.removesuffix(speed)
    return name


def interval_name(interval_s: int) -> str:
    """Binance's interval string (``"1m"``) for a bar length in seconds."""
    try:
        return _NAMES[interval_s]
    except KeyError:
        raise ValueError(f"binance has no kline interval of {interval_s} s "
                         f"(known: {', '.join(INTERVALS)})") from None


class BinanceAdapter(ExchangeAdapter):
    """Binance spot kline/trade streams (raw or combined)."""

    name = "binance"

    def __init__(self, *, combined: bool = False, time_unit: str = "MILLISECOND") -> None:
        """``combined=True`` makes ``encode_bar`` wrap messages as combined-stream payloads;
        ``time_unit``: ``"MILLISECOND"`` (Binance's default) or ``"MICROSECOND"`` (a
        connection opened with ``timeUnit=MICROSECOND``), any case."""
        unit = time_unit.upper() if isinstance(time_unit, str) else time_unit
        if unit not in TIME_UNITS:
            raise ValueError(f"time_unit must be one of {', '.join(TIME_UNITS)}, "
                             f"got {time_unit!r}")
        self.combined = combined
        self.time_unit = unit
        self._time = c.get_time_ms if unit == "MILLISECOND" else c.get_time_us
        self._micro = unit == "MICROSECOND"
        self._ids = itertools.count(1)

    # --- client side ----------------------------------------------------------------------
    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one raw or combined stream message (see the module docstring)."""
        n = self.name
        src = source or n  # the events' source: the feed's, else the venue's
        text = _scan_text(payload)  # compiled, the text of an ASCII message (decoded once)
        if text is not None:
            scanned = _update_scan(text)  # the usual depthUpdate in one pass
            if scanned is not None:
                update = _scanned_update(n, scanned, self._micro, src, payload)
                if update is not None:
                    return [update]
            elif text.startswith(_TICKER_HEADS):  # the usual bookTicker in one pass
                ticker = _ticker_scan(text)
                if ticker is not None:
                    quote = _scanned_ticker(n, ticker, src, payload)
                    if quote is not None:
                        return [quote]
        obj = _loads(n, payload)
        stream = None
        if isinstance(obj, dict) and "stream" in obj and "data" in obj:
            stream = _get_str(n, obj, "stream")
            obj = obj["data"]
        if obj.__class__ is dict:
            kind = obj.get("e")
            if kind == "depthUpdate":  # one per book update: here, C calls where compiled
                return [_depth_update(n, obj, self._micro, src)]
            if kind is None and "A" in obj and "u" in obj:  # bookTicker: no "e", no time
                return [_book_ticker(n, obj, src)]
            return self._one(obj, src, payload, stream)
        items = obj if isinstance(obj, list) else [obj]
        out: list[Event] = []
        for item in items:
            out.extend(self._one(item, src, payload, stream))
        return out

    def parse_rest(self, url: str, body: str | bytes, *, source: str = "") -> list[Event]:
        """Decode a REST response the book protocol needs: the depth snapshot of
        ``GET /api/v3/depth?symbol=<SYMBOL>`` (its ``lastUpdateId`` becomes the snapshot
        ``BookEvent``'s ``last_update_id``; the symbol is the URL's, the body names none).
        Other URLs raise AdapterError."""
        n = self.name
        parts = urlsplit(url)
        symbols = parse_qs(parts.query).get("symbol")
        if not parts.path.endswith("/depth") or not symbols:
            raise AdapterError(f"{n}: not a depth snapshot request: {c.excerpt(url)!r}")
        scanned = c.depth_body_levels(body)  # the usual body in one pass (compiled)
        if scanned is not None:
            last, bids, asks = scanned
            try:
                return [c.book(n, symbols[0], None, bids, asks, True, None, last,
                               source or n, body, None, None, True)]
            except AdapterError as exc:
                raise BookDataError(str(exc), symbols[0]) from None
        obj = c.loads(n, body)
        if not isinstance(obj, dict):
            raise AdapterError(f"{n}: expected a JSON object, got {c.excerpt(obj)!r}")
        if "code" in obj and "msg" in obj:
            return [create_error_event(f"binance error: {obj['msg']}", error_type="ExchangeError",
                                       payload=body, source=source or self.name)]
        return [self._depth_snapshot(obj, symbols[0], source or self.name)]

    def _depth_snapshot(self, obj: Any, symbol: str, src: str) -> BookEvent:
        n = self.name
        try:
            return c.book(n, symbol, None, c.levels(n, obj, "bids"), c.levels(n, obj, "asks"),
                          True, None, c.get_int(n, obj, "lastUpdateId"), src, obj)
        except AdapterError as exc:
            raise BookDataError(str(exc), symbol) from None

    def _one(self, obj: Any, src: str, payload: str | bytes, stream: str | None) -> list[Event]:
        n = self.name
        if not isinstance(obj, dict):
            raise AdapterError(f"{n}: expected a JSON object, got {c.excerpt(obj)!r}")
        etype = obj.get("e")
        if etype == "depthUpdate":
            return [_depth_update(n, obj, self._micro, src)]
        if etype is None and "A" in obj and "u" in obj:  # bookTicker: no "e", no time
            return [_book_ticker(n, obj, src)]
        if etype is None and "lastUpdateId" in obj:  # partial depth: the stream names it
            found = _PARTIAL_DEPTH.match(stream or "")
            if found is None:
                raise AdapterError(f"{n}: a partial depth payload names no symbol; read it on "
                                   f"a combined stream (/stream?streams=<symbol>@depth<N>), "
                                   f"got stream {stream!r} in {c.excerpt(obj)!r}")
            return [self._depth_snapshot(obj, found.group(1).upper(), src)]
        if etype == "kline":
            k = c.field(n, obj, "k")
            o, h, lo, cl, v = _OHLCV(n, k)
            closed = c.field(n, k, "x")
            if not isinstance(closed, bool):
                raise AdapterError(f"{n}: field 'x' must be true/false in {c.excerpt(obj)!r}")
            return [c.bar(n, closed, c.get_str(n, k, "s"), self._time(n, k, "t"), o, h, lo, cl, v,
                          src, obj)]
        if etype in ("trade", "aggTrade"):
            maker = c.field(n, obj, "m")
            if not isinstance(maker, bool):
                raise AdapterError(f"{n}: field 'm' must be true/false in {c.excerpt(obj)!r}")
            tid = c.get_int(n, obj, "t" if etype == "trade" else "a")
            return [c.tick(n, c.get_str(n, obj, "s"), self._time(n, obj, "T"),
                           c.get_dec(n, obj, "p"), c.get_dec(n, obj, "q"),
                           "SELL" if maker else "BUY", str(tid), src, obj)]
        if etype == "serverShutdown":
            return [SystemEvent("server_shutdown", "binance: the server is about to close the "
                                "connection (serverShutdown); reconnect", dict(obj),
                                time_ns=self._time(n, obj, "E"), source=src)]
        if etype is not None:
            raise AdapterError(f"{n}: unknown event type {etype!r} in {c.excerpt(obj)!r}")
        if "result" in obj and "id" in obj:
            return []  # response to SUBSCRIBE / UNSUBSCRIBE / property requests
        if "error" in obj or ("code" in obj and "msg" in obj):
            err = obj.get("error", obj)
            msg = err.get("msg", "") if isinstance(err, dict) else str(err)
            return [create_error_event(f"binance error: {msg}", error_type="ExchangeError",
                                       payload=payload, source=src)]
        raise AdapterError(f"{n}: unknown message type in {c.excerpt(obj)!r}")

    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """One ``SUBSCRIBE`` request for every symbol's kline and/or trade stream."""
        chans = self._channels(channels)
        iv = interval_name(interval_s)
        params = []
        for sym in self._symbols(symbols):
            low = sym.lower()
            if "bars" in chans:
                params.append(f"{low}@kline_{iv}")
            if "trades" in chans:
                params.append(f"{low}@trade")
        return [c.dumps({"method": "SUBSCRIBE", "params": params, "id": next(self._ids)})]

    # --- server side ----------------------------------------------------------------------
    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """A ``SUBSCRIBE`` or ``UNSUBSCRIBE`` request: its stream names (``params``), their
        symbols and evlab channels (``kline_<interval>`` bars, ``trade``/``aggTrade`` trades,
        ``depth*`` books, ``bookTicker`` quotes, the ticker streams tickers); None for other
        requests (``LIST_SUBSCRIPTIONS``, properties). A stream name Binance does not have
        refuses the whole request (AdapterError)."""
        n = self.name
        obj = c.loads(n, payload)
        if not isinstance(obj, dict) or obj.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return None
        symbols: dict[str, None] = {}
        chans: dict[str, None] = {}
        streams: list[str] = []
        interval = None
        bad = []
        for stream in c.get_list(n, obj, "params"):
            found = _STREAM.match(stream) if isinstance(stream, str) else None
            if found is None:
                bad.append(stream)
                continue
            streams.append(stream)
            sym, kind = found.group(1), found.group(2) or found.group(3)
            if kind.startswith("kline_"):
                chans["bars"] = None
                interval = INTERVALS.get(kind[6:].partition("@")[0], interval)
            else:
                chans[_CHANNEL.get(kind.partition("@")[0].rstrip("0123456789"), "tickers")] = None
            if sym is not None:
                symbols[sym.upper()] = None
        if bad:
            error = AdapterError(f"{n}: Invalid request: unknown stream name"
                                 f"{'s' if len(bad) > 1 else ''} "
                                 f"{', '.join(map(repr, bad[:10]))}"
                                 f"{f' and {len(bad) - 10:,} more' if len(bad) > 10 else ''}")
            error.req_id = obj.get("id")
            raise error
        return Subscribe(tuple(symbols), tuple(chans), obj.get("id"), interval, tuple(streams),
                         obj["method"] == "UNSUBSCRIBE")

    def subscribe_ack(self, request: Subscribe) -> list[str]:
        """``{"result": null, "id": <id>}``."""
        return [c.dumps({"result": None, "id": request.req_id})]

    def error_frame(self, message: str, req_id: int | str | None = None) -> str:
        """``{"code": 2, "msg": .., "id": ..}``, Binance's error response to a request."""
        return c.dumps({"code": 2, "msg": message, "id": req_id})

    def path_subscribe(self, path: str) -> tuple[str | None, dict[str, Any]]:
        """A raw stream URL ``/ws/<stream>[/<stream>]`` is the SUBSCRIBE it names (a path that
        names no stream, such as ccxt's ``/ws/0``, subscribes to nothing); a combined
        stream URL ``/stream[?streams=<a>/<b>]`` too, and every push on it is wrapped as
        ``{"stream", "data"}``, also for streams subscribed later by message."""
        head, _, query = path.partition("?")
        if head.startswith("/ws/") and len(head) > 4:
            streams, options = head[4:].split("/"), {}
        elif head.rstrip("/") == "/stream":
            found = re.search(r"(?:^|&)streams=([^&]+)", query)
            streams, options = (found.group(1).split("/") if found else []), {"combined": True}
        else:
            return None, {}
        # Only stream names count: ccxt opens /ws/0, /ws/1 ... (its own stream index) and
        # subscribes by message, as Binance lets a client.
        params = [s for s in streams if "@" in s]
        frame = c.dumps({"method": "SUBSCRIBE", "params": params, "id": None}) if params else None
        return frame, options

    # --- server side: a captured session ---------------------------------------------------
    def snapshot_requests(self, subscriptions: Sequence[str | bytes], path: str = "/"
                          ) -> list[tuple[str, str]]:
        """``(symbol, request)`` for each diff depth stream that ``subscriptions`` (SUBSCRIBE
        frames) or the URL ``path`` name: ``/api/v3/depth?symbol=<SYMBOL>&limit=1000``, the
        snapshot Binance's book rules need."""
        frames = list(subscriptions)
        by_path, _ = self.path_subscribe(path)
        if by_path is not None:
            frames.append(by_path)
        out: dict[str, str] = {}
        for frame in frames:
            obj = c.request(frame)
            params = obj.get("params") if obj is not None and obj.get("method") == \
                "SUBSCRIBE" else None
            for stream in params if isinstance(params, list) else ():
                if isinstance(stream, str) and _stream_key(stream).endswith("@depth"):
                    symbol = stream.partition("@")[0].upper()
                    out[symbol] = f"/api/v3/depth?symbol={symbol}&limit=1000"
        return list(out.items())

    def capture_streams(self, payload: str | bytes) -> list[tuple[str, str, str | bytes]]:
        """A combined-stream envelope gives its stream and its ``data`` (sliced verbatim); a
        bare payload's stream is named from its symbol and type; acks and errors: []."""
        text = payload.decode() if isinstance(payload, bytes) else payload
        found = _ENVELOPE.match(text)
        if found is not None and text.endswith("}"):
            stream = found.group(1)
            return [(_stream_key(stream), stream, text[found.end():-1])]
        obj = c.loads(self.name, text)
        if isinstance(obj, dict) and "stream" in obj and "data" in obj:
            stream = c.get_str(self.name, obj, "stream")
            return [(_stream_key(stream), stream, orjson.dumps(obj["data"]).decode())]
        if not isinstance(obj, dict) or "result" in obj or "code" in obj or "error" in obj:
            return []
        symbol = str(obj.get("s", "")).lower()
        kind = obj.get("e")
        if kind is None and "A" in obj:
            stream = f"{symbol}@bookTicker"
        elif kind == "depthUpdate":
            stream = f"{symbol}@depth"
        elif kind == "kline":
            stream = f"{symbol}@kline_{c.field(self.name, obj, 'k').get('i', '')}"
        elif kind in ("trade", "aggTrade"):
            stream = f"{symbol}@{kind}"
        else:
            return []
        return [(_stream_key(stream), stream, text)]

    def capture_frame(self, stream: str, bare: str | bytes, options: Mapping[str, Any]
                      ) -> str | bytes:
        """Wrapped as ``{"stream", "data"}`` on a combined-stream connection, else bare."""
        if not options.get("combined"):
            return bare
        data = bare.decode() if isinstance(bare, bytes) else bare
        return f'{{"stream":{orjson.dumps(stream).decode()},"data":{data}}}'

    def stream_key(self, stream: str) -> str:
        """Lower-case, without the update speed: ``btcusdt@depth@100ms`` is ``btcusdt@depth``'s
        messages (a capture holds one of them)."""
        return _stream_key(stream)

    def rest_key(self, url: str) -> str:
        """A depth request is answered by the captured depth of its symbol, whatever its
        ``limit`` (the capture holds the levels it holds)."""
        parts = urlsplit(url)
        symbols = parse_qs(parts.query).get("symbol")
        if parts.path.endswith("/depth") and symbols:
            return f"/api/v3/depth?symbol={symbols[0].upper()}"
        return super().rest_key(url)

    def capture_client(self, streams: Sequence[str]) -> tuple[str, list[str | bytes]]:
        """The combined stream ``/stream`` (each push names its stream, which a partial depth
        payload does not) and one ``SUBSCRIBE`` naming the ``streams``."""
        if not streams:
            raise ValueError(f"{self.name}: no streams to subscribe to")
        return "/stream", [c.dumps({"method": "SUBSCRIBE", "params": list(streams),
                                    "id": next(self._ids)})]

    def capture_symbols(self, streams: Sequence[str]) -> list[tuple[str, str]]:
        """The symbols of streams such as ``nknusdt@depth@100ms``, split at the quote asset
        they end in (Binance's symbols carry no separator: ``NKNUSDT`` is NKN/USDT)."""
        out: dict[str, str] = {}
        for stream in streams:
            symbol = stream.partition("@")[0].upper()
            quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)),
                         None)
            if quote is not None:
                out[symbol] = f"{symbol[:-len(quote)]}-{quote}"
        return list(out.items())

    def rest_reply(self, path: str, symbols: Sequence[tuple[str, str]]) -> str | None:
        """``/api/v3/exchangeInfo`` (the served pairs, as ccxt's ``load_markets`` reads them),
        ``/api/v3/ping`` and ``/api/v3/time``; other paths: None."""
        route = urlsplit(path).path.rstrip("/")
        if route == "/api/v3/ping":
            return "{}"
        now_ms = time.time_ns() // 1_000_000
        if route == "/api/v3/time":
            return c.dumps({"serverTime": now_ms})
        if route != "/api/v3/exchangeInfo":
            return None
        markets = []
        for wire, symbol in symbols:
            pair = split_pair(symbol)
            if pair is None or not wire.startswith(pair[0]):
                continue  # not a currency pair: Binance lists none such
            markets.append(_exchange_info_symbol(wire, pair[0], wire[len(pair[0]):]))
        return c.dumps({"timezone": "UTC", "serverTime": now_ms, "rateLimits": [],
                        "exchangeFilters": [], "symbols": markets})

    @classmethod
    def wire_symbol(cls, symbol: str) -> str:
        """``BTC-USD`` is ``BTCUSDT`` (Binance quotes dollars in USDT); ``ETH-BTC`` ``ETHBTC``."""
        pair = split_pair(symbol)
        if pair is None:
            return symbol
        base, quote = pair
        return base + ("USDT" if quote == "USD" else quote)

    def _wrap(self, stream: str, msg: dict[str, Any]) -> bytes:
        if self.combined:
            return orjson.dumps({"stream": stream, "data": msg})
        return orjson.dumps(msg)

    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes:
        """A kline event (``x`` = ``final``); prices as exact decimal strings."""
        iv = interval_name(interval_s)
        t = c.whole(time_ns, _MS, "binance kline")
        end = t + interval_s * 1000
        k = {"t": t, "T": end - 1, "s": symbol, "i": iv, "f": 0, "L": 0,
             "o": c.dec(open), "c": c.dec(close), "h": c.dec(high), "l": c.dec(low),
             "v": c.dec(volume), "n": 0, "x": bool(final), "q": "0", "V": "0", "Q": "0",
             "B": "0"}
        msg = {"e": "kline", "E": end if final else t, "s": symbol, "k": k}
        return self._wrap(f"{symbol.lower()}@kline_{iv}", msg)



def _depth_update(n: str, obj: dict[str, Any], micro: bool, src: str) -> BookEvent:
    """The ``BookEvent`` of a ``depthUpdate`` (``obj``): an update ``U..u`` at ``E``
    (microseconds if ``micro``); a fault raises BookDataError (that book misses a change: it
    must go stale)."""
    symbol = _get_str(n, obj, "s")
    try:
        event: BookEvent = _book(n, symbol, _get_time_us(n, obj, "E") if micro else
                                 _get_time_ms(n, obj, "E"), _levels(n, obj, "b"),
                                 _levels(n, obj, "a"), False, _get_int(n, obj, "U"),
                                 _get_int(n, obj, "u"), src, obj)
    except AdapterError as exc:
        raise BookDataError(str(exc), symbol) from None
    return event


def _scanned_update(n: str, scanned: tuple[Any, ...], micro: bool, src: str,
                    payload: str | bytes) -> BookEvent | None:
    """The ``BookEvent`` of a ``depthUpdate`` read in one pass (``scanned``:
    ``_common.depth_update_levels``'s), as :func:`_depth_update` makes it; None where that
    would raise (a time out of range, ids out of order): the general path then raises it,
    naming the fault as it does."""
    symbol, when, first, last, bids, asks = scanned
    time_ns = when * (1000 if micro else 1_000_000)
    if time_ns > c.MAX_TIME_NS:
        return None
    try:
        event: BookEvent = _book(n, symbol, time_ns, bids, asks, False, first, last, src,
                                 payload)
    except AdapterError:
        return None
    return event


def _scanned_ticker(n: str, scanned: tuple[Any, ...], src: str,
                    payload: str | bytes) -> Event | None:
    """The ``QuoteEvent`` of a ``bookTicker`` read in one pass (``scanned``:
    ``_common.book_ticker_fields``'s), as :func:`_book_ticker` makes it; None where that
    would raise (a crossed quote, a blank symbol): the general path then raises it, naming
    the fault as it does."""
    symbol, bid, bid_size, ask, ask_size = scanned
    try:
        event: Event = _quote(n, symbol, None, bid, ask, bid_size, ask_size, src, payload)
    except AdapterError:
        return None
    return event


def _book_ticker(n: str, obj: dict[str, Any], src: str) -> Event:
    """The ``QuoteEvent`` of a ``bookTicker`` (``obj``), at the receive time."""
    event: Event = _quote(n, _get_str(n, obj, "s"), None, _get_dec(n, obj, "b"),
                          _get_dec(n, obj, "a"), _get_dec(n, obj, "B"), _get_dec(n, obj, "A"),
                          src, obj)
    return event


def _exchange_info_symbol(symbol: str, base: str, quote: str) -> dict[str, Any]:
    """One ``symbols`` entry of ``exchangeInfo``: Binance's documented fields, with the filters
    of a spot pair quoted to 8 decimals (what the served bars need; nothing here trades)."""
    return {
        "symbol": symbol, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
        "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.00000001",
             "maxPrice": "1000000.00000000", "tickSize": "0.00000001"},
            {"filterType": "LOT_SIZE", "minQty": "0.00000001", "maxQty": "9000000.00000000",
             "stepSize": "0.00000001"},
            {"filterType": "NOTIONAL", "minNotional": "1.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False,
             "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]}
