"""Coinbase: the Exchange feed's trades, quotes and level2, and Advanced Trade's channels.

Trades (Coinbase Exchange, wss://ws-feed.exchange.coinbase.com,
https://docs.cdp.coinbase.com/exchange/websocket-feed/channels):

* ``match``/``last_match`` -> ``TickEvent``; ``side`` there is the *maker* order's side, so
  the aggressor is the other one (``"sell"`` -> ``"BUY"``);
* ``ticker`` -> ``TickEvent`` from ``price``/``last_size`` (its ``side`` is the taker side)
  and a ``QuoteEvent`` from ``best_bid``/``best_ask`` with ``best_bid_size``/``best_ask_size``;
  the ticker of 2021 (the shipped capture) sends no sizes: that quote's sizes are ``None``;
* ``level2``: ``snapshot`` (``bids``/``asks`` of ``[price, size]``, no time: the receive
  time) -> a snapshot ``BookEvent``; ``l2update`` (``changes`` of ``[side, price, size]``,
  ``"buy"`` a bid, size 0 removes the level) -> an update ``BookEvent`` at ``time``; the
  channel has no sequence ids, so updates apply in arrival order after the snapshot;
* prices/sizes are decimal strings, ``time`` is RFC 3339 with microseconds;
* ``subscriptions``, ``heartbeat`` and ``status`` give []; ``error`` gives an ``ErrorEvent``.

Advanced Trade (wss://advanced-trade-ws.coinbase.com, same channels page as the candles
below): every message is ``{"channel", "timestamp", "sequence_num", "events": [...]}``:

* ``l2_data`` (the ``level2`` channel): each event (``snapshot``/``update``, ``product_id``,
  ``updates`` of ``{side: "bid"|"offer", event_time, price_level, new_quantity}``,
  ``new_quantity`` "0" removing the level) -> a ``BookEvent``; a snapshot at the envelope
  ``timestamp`` (its levels' ``event_time`` is the epoch, as documented), an update at its last
  level's ``event_time`` (the matching engine's); no ids, so updates apply in arrival order.
  ``sequence_num`` counts a connection's messages of every channel: "greater than one integer
  value from the previous number indicate that a message has been dropped" (the WebSocket
  overview). Once a connection has carried ``l2_data``, such a jump makes ``parse`` put a
  SYSTEM ``book_error`` (``data["reason"] == "missed_messages"``) for each of its products
  before the message's own events: ``OrderBooks`` marks those books stale and resubscribes
  them. A number below the last one starts the count again (a new connection); a message
  that cannot be decoded counts as missed;
* ``market_trades``: each trade -> ``TickEvent`` at ``time``; its ``side`` is the *maker's*
  (the docs: "refers to the makers side"), so the aggressor is the other one;
* ``ticker``: each ticker -> ``QuoteEvent`` from ``best_bid``/``best_ask`` and their
  ``_quantity`` at the envelope ``timestamp``; its ``price`` is the last trade's, but the
  message carries no size or id of that trade, so no ``TickEvent`` comes of it;
  ``ticker_batch`` (no best bid/ask, as documented) gives [];
* ``heartbeats``, ``subscriptions`` and ``status`` (product listings) give [].

Bars: the Exchange feed has no bar channel, so bars use Coinbase's documented candle message,
the Advanced Trade ``candles`` channel (wss://advanced-trade-ws.coinbase.com,
https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels):
``start`` is UNIX seconds as a string, OHLCV are decimal strings, buckets are five minutes and
the running candle is re-sent every second with no "closed" flag. A candle is therefore final
(``BarEvent``) once the envelope ``timestamp`` reaches ``start + candle_interval_s`` or a later
candle for the product arrives; until then it is a ``BarUpdateEvent``. The message carries no
interval, so replays of other bar lengths set ``candle_interval_s`` (e.g. 60) on both ends.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from evlab.events import Event, create_error_event, create_system_event

from . import _common as c
from .base import AdapterError, BookDataError, ExchangeAdapter, Subscribe, split_pair

if TYPE_CHECKING:
    from evlab import _nocython as cython
else:
    try:
        import cython
    except ImportError:  # no Cython: the interpreted paths below are used
        from evlab import _nocython as cython

_NS = 1_000_000_000
_SEQUENCE_NUM = re.compile(r'"sequence_num"\s*:\s*-?\d+')  # an Advanced Trade envelope's
_OHLCV = c.dec_fields("open", "high", "low", "close", "volume")  # a candle's
_IGNORED = ("subscriptions", "heartbeat", "status")
_AT_IGNORED = ("subscriptions", "heartbeats", "status", "ticker_batch")
_MAKER = {"BUY": "SELL", "SELL": "BUY"}  # market_trades' side is the maker's
# The channels each API has (docs.cdp.coinbase.com exchange/websocket-feed/channels and
# advanced-trade-apis/websocket/websocket-channels), as evlab's channel names.
_EXCHANGE_CHANNELS = {"heartbeat": "heartbeat", "status": "status", "auctionfeed": "auction",
                      "matches": "trades", "rfq_matches": "trades", "ticker": "trades",
                      "ticker_batch": "trades", "level2": "books", "level2_batch": "books",
                      "level3": "orders", "full": "trades", "user": "user", "balance": "user"}
_AT_CHANNELS = {"heartbeats": "heartbeats", "candles": "bars", "status": "status",
                "ticker": "trades", "ticker_batch": "trades", "level2": "books",
                "market_trades": "trades", "user": "user", "futures_balance_summary": "user"}
# Advanced Trade's streams are named "advanced:<channel>[:<product id>]": both APIs have a
# level2 and a ticker channel, in different formats (capture serving).
_AT = "advanced:"
# Which Advanced Trade subscribe channel a message channel is, and where its products are.
_AT_CAPTURED = {"l2_data": ("level2", None), "market_trades": ("market_trades", "trades"),
                "ticker": ("ticker", "tickers"), "ticker_batch": ("ticker_batch", "tickers"),
                "candles": ("candles", "candles"), "heartbeats": ("heartbeats", "")}
# Which Exchange channel a captured message type belongs to (capture serving).
_CAPTURED = {"snapshot": "level2", "l2update": "level2", "match": "matches",
             "last_match": "matches", "ticker": "ticker", "heartbeat": "heartbeat"}


def _product(product_id: str, base: str, quote: str) -> dict[str, Any]:
    """One ``/products`` entry, with the Exchange REST API's fields."""
    return {"id": product_id, "base_currency": base, "quote_currency": quote,
            "quote_increment": "0.00000001", "base_increment": "0.00000001",
            "display_name": f"{base}/{quote}", "min_market_funds": "1",
            "margin_enabled": False, "post_only": False, "limit_only": False,
            "cancel_only": False, "trading_disabled": False, "status": "online",
            "status_message": "", "auction_mode": False}


def _currency(code: str) -> dict[str, Any]:
    """One ``/currencies`` entry, with the Exchange REST API's fields."""
    fiat = code in ("USD", "EUR", "GBP")
    return {"id": code, "name": code, "min_size": "0.00000001", "status": "online",
            "message": "", "max_precision": "0.00000001", "convertible_to": [],
            "details": {"type": "fiat" if fiat else "crypto", "symbol": None,
                        "sort_order": 0, "push_payment_methods": [], "group_types": []},
            "supported_networks": []}
# the helpers of parse's l2update and candles paths: compiled, C calls into _common (its .pxd
# declares them), one per helper and book update or candle; interpreted, module globals (not
# c.<name>)
if cython.compiled:
    from cython.cimports.evlab.feeds.adapters._common import book as _book
    from cython.cimports.evlab.feeds.adapters._common import candles_levels as _candles_levels
    from cython.cimports.evlab.feeds.adapters._common import get_list as _get_list
    from cython.cimports.evlab.feeds.adapters._common import get_str as _get_str
    from cython.cimports.evlab.feeds.adapters._common import get_time as _get_time
    from cython.cimports.evlab.feeds.adapters._common import get_time_s_str as _get_time_s_str
    from cython.cimports.evlab.feeds.adapters._common import loads as _loads
    from cython.cimports.evlab.feeds.adapters._common import side_levels as _side_levels
else:
    _loads, _get_str, _get_time, _side_levels, _book = (c.loads, c.get_str, c.get_time,
                                                        c.side_levels, c.book)
    _get_list, _get_time_s_str, _candles_levels = c.get_list, c.get_time_s_str, c.candles_levels
_L2_CHANNELS = ("level2", "level2_batch", "level2_50")  # Exchange: each sends a snapshot first
_L2_FIELDS = ("price_level", "new_quantity")  # Advanced Trade's names for a level's values


def _l2_levels(name: str, event: Any, updates: list[Any]
               ) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    """An ``l2_data`` event's ``updates`` split into (bids, asks) of ``(price, size)``."""
    bids: list[tuple[float, float]] = []
    asks: list[tuple[float, float]] = []
    level = c.level
    for u in updates:
        if u.__class__ is dict:
            side = u.get("side")
            if side == "bid" or side == "offer":
                bid = side == "bid"
                (bids if bid else asks).append(level(
                    name, event, "updates", u.get("price_level"), u.get("new_quantity"),
                    _L2_FIELDS, False, "bids" if bid else "asks"))
                continue
        raise c.bad_field(name, "updates", '{"side": "bid"|"offer", "price_level", "new_quantity"} '
                     "levels of decimal strings", event, u)
    return tuple(bids), tuple(asks)


class CoinbaseAdapter(ExchangeAdapter):
    """Coinbase Exchange and Advanced Trade market data (see the module docstring)."""

    name = "coinbase"

    def __init__(self, *, candle_interval_s: int = 300) -> None:
        """``candle_interval_s``: the candle bucket length (Coinbase documents 300 s)."""
        if candle_interval_s <= 0:
            raise ValueError(f"candle_interval_s must be positive, got {candle_interval_s!r}")
        self.candle_interval_s = candle_interval_s
        self._closer = c.BarCloser()
        self._seq = itertools.count()
        self._at_seq: int | None = None  # the last Advanced Trade sequence_num decoded
        self._at_books: list[str] = []  # products whose l2_data this connection carried

    def reset(self) -> None:
        """Forget the running candles and the Advanced Trade sequence (a new connection)."""
        self._closer.reset()
        self._at_seq = None
        self._at_books.clear()

    def repeated_bars(self) -> int:
        """Bars re-sent after they were final (a reconnect's snapshot), dropped by parse."""
        return self._closer.repeated

    # --- client side ----------------------------------------------------------------------
    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one Exchange feed message or Advanced Trade candles message."""
        n = self.name
        src = source or n  # self._source(source), inline: one per message
        scanned = _candles_levels(payload)  # compiled, a candles message read in one pass
        if scanned is not None:  # _advanced's outcome for it, here: one per bar message;
            # (timestamp ns, sequence_num, candles), each candle (product_id, start ns, OHLCV,
            # its text: what excerpt shows of its object, for push's errors)
            now, seq, candles = scanned
            last, known = self._at_seq, len(self._at_books)
            step = self.candle_interval_s * _NS
            push = self._closer.push
            if len(candles) == 1:  # the usual message: one candle
                product, start, values, raw = candles[0]
                events = push(n, step, now, product, start, values, src, raw)
            else:
                events = []
                for product, start, values, raw in candles:
                    events.extend(push(n, step, now, product, start, values, src, raw))
            return self._sequenced(seq, last, known, events, src)
        obj = _loads(n, payload)
        if not isinstance(obj, dict):
            raise AdapterError(f"{n}: expected a JSON object, got {c.excerpt(obj)!r}")
        kind = obj.get("type")
        if kind is None and "channel" in obj:
            return self._advanced(obj, src)
        if kind in ("match", "last_match"):
            side = c.taker_side(n, obj, "side", maker=True)
            return [c.tick(n, c.get_str(n, obj, "product_id"), c.get_time(n, obj, "time"),
                           c.get_dec(n, obj, "price"), c.get_dec(n, obj, "size"), side,
                           str(c.get_int(n, obj, "trade_id")), src, obj)]
        if kind == "l2update":  # one per book update: the helpers as globals, not c.<name>
            symbol = _get_str(n, obj, "product_id")
            try:
                bids, asks = _side_levels(n, obj, "changes", ("buy", "sell"))
                return [_book(n, symbol, _get_time(n, obj, "time"), bids, asks, False, None,
                              None, src, obj)]
            except AdapterError as exc:  # that book misses a change: it must go stale
                raise BookDataError(str(exc), symbol) from None
        if kind == "snapshot":
            symbol = c.get_str(n, obj, "product_id")
            try:
                return [c.book(n, symbol, None, c.levels(n, obj, "bids"),
                               c.levels(n, obj, "asks"), True, None, None, src, obj)]
            except AdapterError as exc:
                raise BookDataError(str(exc), symbol) from None
        if kind == "ticker":
            side = c.taker_side(n, obj, "side")
            symbol = c.get_str(n, obj, "product_id")
            when = c.get_time(n, obj, "time")
            bid_size = c.get_dec(n, obj, "best_bid_size") if "best_bid_size" in obj else None
            ask_size = c.get_dec(n, obj, "best_ask_size") if "best_ask_size" in obj else None
            return [c.tick(n, symbol, when, c.get_dec(n, obj, "price"),
                           c.get_dec(n, obj, "last_size"), side,
                           str(c.get_int(n, obj, "trade_id")), src, obj),
                    c.quote(n, symbol, when, c.get_dec(n, obj, "best_bid"),
                            c.get_dec(n, obj, "best_ask"), bid_size, ask_size, src, obj)]
        if kind in _IGNORED:
            return []
        if kind == "error":
            why = obj.get("reason") or ""
            text = f"coinbase error: {obj.get('message', '')}" + (f" ({why})" if why else "")
            return [create_error_event(text, error_type="ExchangeError", payload=payload,
                                       source=src)]
        raise AdapterError(f"{n}: unknown message type {kind!r} in {c.excerpt(obj)!r}")

    def _advanced(self, obj: dict[str, Any], src: str) -> list[Event]:
        """An Advanced Trade message's events, after a ``book_error`` per level2 product if
        ``sequence_num`` shows that messages were missed (see the module doc)."""
        seq = obj.get("sequence_num")
        if seq is None:  # every documented message has one; without it nothing is tracked
            return self._advanced_events(obj, src)
        if type(seq) is not int:
            raise c.bad_field(self.name, "sequence_num", "an integer", obj, seq)
        last, known = self._at_seq, len(self._at_books)
        return self._sequenced(seq, last, known, self._advanced_events(obj, src), src)

    def _sequenced(self, seq: int, last: int | None, known: int,
                   events: list[Any],  # (Any: a list of BarEvent or of Event)
                   src: str) -> list[Event]:
        """``events`` of a message numbered ``seq`` (``last``: the number before it,
        ``known``: how many level2 products there were then), after a ``book_error`` per
        level2 product if messages were missed; the count moves on to ``seq``."""
        self._at_seq = seq
        if last is None or seq <= last + 1 or not known:
            return events
        why = f"sequence_num {seq} after {last}: {seq - last - 1} message(s) missed"
        return [create_system_event(  # the books before this message (its own come after)
            "book_error", f"{symbol}: {why}",
            {"symbol": symbol, "error": why, "snapshot": False, "reason": "missed_messages"},
            source=src) for symbol in self._at_books[:known]] + events

    def _advanced_events(self, obj: dict[str, Any], src: str) -> list[Event]:
        n = self.name
        channel = obj["channel"]
        if channel == "candles":
            return self._candles(obj, src)
        if channel == "l2_data":
            return self._l2_data(obj, src)
        if channel == "market_trades":
            return self._market_trades(obj, src)
        if channel == "ticker":
            when = c.get_time(n, obj, "timestamp")
            return [c.quote(n, c.get_str(n, t, "product_id"), when, c.get_dec(n, t, "best_bid"),
                            c.get_dec(n, t, "best_ask"), c.get_dec(n, t, "best_bid_quantity"),
                            c.get_dec(n, t, "best_ask_quantity"), src, t)
                    for event in c.get_list(n, obj, "events")
                    for t in c.get_list(n, event, "tickers")]
        if channel in _AT_IGNORED:
            return []
        raise AdapterError(f"{n}: unknown channel {channel!r} in {c.excerpt(obj)!r}")

    def _candles(self, obj: dict[str, Any], src: str) -> list[Event]:
        n = self.name
        now = _get_time(n, obj, "timestamp")
        step = self.candle_interval_s * _NS
        out: list[Event] = []
        push = self._closer.push
        for event in _get_list(n, obj, "events"):
            for k in _get_list(n, event, "candles"):
                start = _get_time_s_str(n, k, "start")
                o, h, lo, cl, v = _OHLCV(n, k)
                out.extend(push(n, step, now, _get_str(n, k, "product_id"), start,
                                (o, h, lo, cl, v), src, k))
        return out

    def _l2_data(self, obj: dict[str, Any], src: str) -> list[Event]:
        n = self.name
        out: list[Event] = []
        for event in c.get_list(n, obj, "events"):
            kind = c.field(n, event, "type")
            if kind not in ("snapshot", "update"):
                raise c.bad_field(n, "type", '"snapshot" or "update"', event, kind)
            symbol = c.get_str(n, event, "product_id")
            if symbol not in self._at_books:
                self._at_books.append(symbol)
            try:
                updates = c.get_list(n, event, "updates")
                bids, asks = _l2_levels(n, event, updates)
                if kind == "snapshot" or not updates:
                    when = c.get_time(n, obj, "timestamp")
                else:
                    when = c.get_time(n, updates[-1], "event_time")
                out.append(c.book(n, symbol, when, bids, asks, kind == "snapshot", None, None,
                                  src, event))
            except AdapterError as exc:  # that book misses a change: it must go stale
                raise BookDataError(str(exc), symbol) from None
        return out

    def _market_trades(self, obj: dict[str, Any], src: str) -> list[Event]:
        n = self.name
        out: list[Event] = []
        for event in c.get_list(n, obj, "events"):
            for t in c.get_list(n, event, "trades"):
                maker = c.field(n, t, "side")
                side = _MAKER.get(maker) if isinstance(maker, str) else None
                if side is None:
                    raise c.bad_field(n, "side", '"BUY" or "SELL"', t, maker)
                out.append(c.tick(n, c.get_str(n, t, "product_id"), c.get_time(n, t, "time"),
                                  c.get_dec(n, t, "price"), c.get_dec(n, t, "size"), side,
                                  c.get_str(n, t, "trade_id"), src, t))
        return out

    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """``matches`` (Exchange feed) for trades, ``candles`` (Advanced Trade) for bars.

        Coinbase has no interval choice for candles: ``interval_s`` is ignored.
        """
        chans = self._channels(channels)
        ids = list(self._symbols(symbols))
        out = []
        if "bars" in chans:
            out.append(c.dumps({"type": "subscribe", "product_ids": ids, "channel": "candles"}))
        if "trades" in chans:
            out.append(c.dumps({"type": "subscribe", "product_ids": ids,
                                "channels": ["matches"]}))
        return out

    def resync_messages(self, symbol: str, subscriptions: Sequence[str | bytes]
                        ) -> list[str | bytes]:
        """``unsubscribe`` then ``subscribe`` of ``symbol``'s level2 channel, in the API the
        subscription used: Advanced Trade ``{"channel": "level2"}``, Exchange ``{"channels":
        ["level2"|"level2_batch"|"level2_50"]}`` (a subscribe sends the product's snapshot
        first, both APIs document); other fields of the subscription (``jwt``, signature) are
        sent again as they were. [] if no level2 subscription names ``symbol``."""
        for frame in subscriptions:
            obj = c.request(frame)
            if obj is None or obj.get("type") != "subscribe":
                continue
            ids = obj.get("product_ids") or []
            extra = {k: v for k, v in obj.items()
                     if k not in ("type", "product_ids", "channel", "channels")}
            if obj.get("channel") == "level2":  # Advanced Trade: one channel per message
                if symbol not in ids:
                    continue
                keep: dict[str, Any] = {"product_ids": [symbol], "channel": "level2", **extra}
            else:  # Exchange: channel names, or {"name", "product_ids"} objects
                names = []
                for ch in obj.get("channels") or []:
                    name = ch.get("name") if isinstance(ch, dict) else ch
                    listed = (ch.get("product_ids") or []) if isinstance(ch, dict) else []
                    if name in _L2_CHANNELS and (symbol in ids or symbol in listed):
                        names.append(name)
                if not names:
                    continue
                keep = {"product_ids": [symbol], "channels": names, **extra}
            return [c.dumps({"type": "unsubscribe", **keep}),
                    c.dumps({"type": "subscribe", **keep})]
        return []

    # --- server side ----------------------------------------------------------------------
    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """A ``subscribe`` or ``unsubscribe`` of either API: the Exchange feed's ``channels``
        (names, or ``{"name", "product_ids"}`` objects whose ids replace the root
        ``product_ids`` for that channel) or Advanced Trade's one ``channel``. Streams are
        ``"<channel>:<product id>"`` (a channel without products: its name alone; Advanced
        Trade's prefixed ``advanced:``, as its formats differ from the Exchange's); channels
        ``candles`` are evlab's bars, ``heartbeats`` heartbeats, ``level2``/``level2_batch``
        books, ``matches``/``ticker``/``market_trades`` trades. A channel the API does not
        have, or product ids that are not strings, refuse the whole request (AdapterError);
        None for other messages."""
        n = self.name
        obj = c.loads(n, payload)
        if not isinstance(obj, dict) or obj.get("type") not in ("subscribe", "unsubscribe"):
            return None
        root = obj.get("product_ids") or []
        prefix = ""
        if "channel" in obj:  # Advanced Trade: one channel per message
            asked, known, prefix = [(obj["channel"], root)], _AT_CHANNELS, _AT
        else:  # Exchange: names or {"name", "product_ids"}
            chans = obj.get("channels")
            if not isinstance(chans, list) or not chans:
                raise AdapterError(f"{n}: 'channels' must list channels in {c.excerpt(obj)!r}")
            asked = [(ch.get("name"), ch.get("product_ids") or root) if isinstance(ch, dict)
                     else (ch, root) for ch in chans]
            known = _EXCHANGE_CHANNELS
        symbols: dict[str, None] = {}
        channels: dict[str, None] = {}
        streams: dict[str, None] = {}
        for name, ids in asked:
            if not isinstance(name, str) or name not in known:
                raise AdapterError(f"{name!r} is not a valid channel")
            if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                raise AdapterError(f"{n}: product ids must be strings in {c.excerpt(obj)!r}")
            channels[known[name]] = None
            symbols.update(dict.fromkeys(ids))
            streams.update(dict.fromkeys([f"{prefix}{name}:{i}" for i in ids] if ids
                                         else [prefix + name]))
        interval = self.candle_interval_s if "bars" in channels else None
        return Subscribe(tuple(symbols), tuple(channels), None, interval, tuple(streams),
                         obj["type"] == "unsubscribe", "advanced" if prefix else "")

    #: Both APIs' ``subscriptions`` messages list everything the connection is subscribed to.
    acks_all = True

    def subscribe_ack(self, request: Subscribe) -> list[str]:
        """Advanced Trade's ``subscriptions`` message (``{"channel": "subscriptions", "events":
        [{"subscriptions": {<channel>: [<product id>...]}}]}``) for its streams, and for a
        feed server's candles and heartbeats; else the Exchange feed's ``{"type":
        "subscriptions", "channels": [{"name", "product_ids"}]}`` (``request.streams``: a
        server passes what the connection is subscribed to after the request, as Coinbase
        lists)."""
        ids = list(request.symbols)
        advanced = [s[len(_AT):] for s in request.streams if s.startswith(_AT)]
        if advanced or request.api == "advanced" or (not request.streams and (
                "bars" in request.channels or "heartbeats" in request.channels)):
            listed: dict[str, list[str]] = {}
            for stream in advanced:
                name, _, product = stream.partition(":")
                listed.setdefault(name, []).append(product or name)
            if not advanced and request.api != "advanced":  # a feed server's grant
                if "bars" in request.channels:
                    listed["candles"] = ids
                if "heartbeats" in request.channels:
                    listed["heartbeats"] = ["heartbeats"]
            return [c.dumps({
                "channel": "subscriptions", "client_id": "",
                "timestamp": c.rfc3339(time.time_ns(), None), "sequence_num": next(self._seq),
                "events": [{"subscriptions": listed}]})]
        listed = {}
        for stream in request.streams or [f"matches:{i}" for i in ids]:
            name, _, product = stream.partition(":")
            listed.setdefault(name, [])
            if product:
                listed[name].append(product)
        return [c.dumps({"type": "subscriptions", "channels": [
            {"name": name, "product_ids": products} for name, products in listed.items()]})]

    def capture_frame(self, stream: str, bare: str | bytes, options: Mapping[str, Any]
                      ) -> str | bytes:
        """A recorded Advanced Trade message numbered for this connection: Coinbase counts
        each connection's messages in ``sequence_num`` (its acks and heartbeats too), and a
        client reads a jump as dropped messages, so the recorded number (which counted the
        recording connection's messages, the streams not served here included) is replaced
        by this adapter's count (one adapter per connection); the rest stays verbatim.
        Exchange feed messages: as recorded."""
        if not stream.startswith(_AT):
            return bare
        text = bare.decode() if isinstance(bare, bytes) else bare
        return _SEQUENCE_NUM.sub(f'"sequence_num":{next(self._seq)}', text, count=1)

    def stream_key(self, stream: str) -> str:
        """``level2_batch`` carries ``level2``'s messages, in batches: one key for both."""
        return stream.replace("level2_batch:", "level2:", 1)

    def capture_streams(self, payload: str | bytes) -> list[tuple[str, str, str | bytes]]:
        """A recorded message's stream, verbatim: an Exchange feed message's is
        ``"<channel>:<product id>"`` (``snapshot`` and ``l2update`` are ``level2``'s,
        ``match``/``last_match`` ``matches``', ``ticker`` ``ticker``'s); an Advanced Trade
        message's ``"advanced:<subscribe channel>:<product id>"`` (``l2_data`` is
        ``level2``'s; ``market_trades``, ``ticker``, ``candles``; ``heartbeats`` has no
        product), a message whose events span several products split into one per product;
        acks, errors and ``status``: []."""
        text = payload.decode() if isinstance(payload, bytes) else payload
        obj = c.request(text)
        if obj is None:
            return []
        if "channel" in obj:
            return self._advanced_streams(obj, text)
        kind = obj.get("type")
        channel = _CAPTURED.get(kind) if isinstance(kind, str) else None
        if channel is None:
            return []
        stream = f"{channel}:{c.get_str(self.name, obj, 'product_id')}"
        return [(stream, stream, text)]

    def _advanced_streams(self, obj: dict[str, Any], text: str
                          ) -> list[tuple[str, str, str | bytes]]:
        n = self.name
        found = _AT_CAPTURED.get(obj["channel"])
        if found is None:
            return []
        channel, items = found
        if not items and items is not None:  # heartbeats: one stream, no products
            return [(_AT + channel, _AT + channel, text)]
        per: dict[str, list[Any]] = {}  # product -> its events (items filtered per product)
        for event in c.get_list(n, obj, "events"):
            if items is None:  # l2_data: one product per event
                per.setdefault(c.get_str(n, event, "product_id"), []).append(event)
                continue
            mine: dict[str, list[Any]] = {}
            for item in c.get_list(n, event, items):
                mine.setdefault(c.get_str(n, item, "product_id"), []).append(item)
            for product, got in mine.items():
                per.setdefault(product, []).append({**event, items: got})
        if len(per) == 1:
            [product] = per
            return [(f"{_AT}{channel}:{product}", f"{_AT}{channel}:{product}", text)]
        return [(f"{_AT}{channel}:{p}", f"{_AT}{channel}:{p}", c.dumps({**obj, "events": e}))
                for p, e in per.items()]

    def capture_client(self, streams: Sequence[str]) -> tuple[str, list[str | bytes]]:
        """The frames Coinbase's clients send for ``streams``: one Exchange ``subscribe``
        listing its channels with their products, and one Advanced Trade ``subscribe`` per
        channel (``{"type", "product_ids", "channel"}``; ``heartbeats`` too, as Coinbase
        recommends keeping it)."""
        if not streams:
            raise ValueError(f"{self.name}: no streams to subscribe to")
        exchange: dict[str, list[str]] = {}
        advanced: dict[str, list[str]] = {}
        for stream in streams:
            at = stream.startswith(_AT)
            name, _, product = stream[len(_AT) if at else 0:].partition(":")
            listed = (advanced if at else exchange).setdefault(name, [])
            if product:
                listed.append(product)
        frames: list[str | bytes] = []
        if exchange:
            frames.append(c.dumps({"type": "subscribe", "channels": [
                {"name": name, "product_ids": ids} if ids else name
                for name, ids in exchange.items()]}))
        frames += [c.dumps({"type": "subscribe", "product_ids": ids, "channel": name})
                   for name, ids in advanced.items()]
        return "/", frames

    def capture_symbols(self, streams: Sequence[str]) -> list[tuple[str, str]]:
        """The product ids of streams such as ``level2:SKL-USD`` (already ``BASE-QUOTE``)."""
        out = dict.fromkeys(s.rpartition(":")[2] for s in streams if ":" in s)
        return [(p, p) for p in out if split_pair(p) is not None]

    def rest_reply(self, path: str, symbols: Sequence[tuple[str, str]]) -> str | None:
        """The Exchange REST API's ``/products`` and ``/currencies`` for the served products
        (the fields ccxt's ``coinbaseexchange.load_markets`` reads: ids, currencies,
        increments, status), ``/time``; other paths: None. Increments are 8 decimals (what
        a served capture needs; nothing here trades)."""
        route = urlsplit(path).path.rstrip("/")
        if route == "/time":
            now = time.time_ns()
            return c.dumps({"iso": c.rfc3339(now, None), "epoch": now / _NS})
        pairs = [pair for _, symbol in symbols if (pair := split_pair(symbol)) is not None]
        if route == "/products":
            return c.dumps([_product(f"{b}-{q}", b, q) for b, q in pairs])
        if route == "/currencies":
            return c.dumps([_currency(code) for code in dict.fromkeys(x for p in pairs
                                                                          for x in p)])
        return None

    def heartbeat(self, counter: int) -> str:
        """An Advanced Trade ``heartbeats`` message (the counter is a string, as the official
        SDK types it; ``current_time`` in the Go format Coinbase prints)."""
        now = time.time_ns()
        secs, frac = divmod(now, _NS)
        go_time = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + f".{frac:09d} +0000 UTC"
        return c.dumps({"channel": "heartbeats", "client_id": "",
                        "timestamp": c.rfc3339(now, None), "sequence_num": next(self._seq),
                        "events": [{"current_time": go_time,
                                    "heartbeat_counter": str(counter)}]})

    def error_frame(self, message: str, req_id: int | str | None = None) -> str:
        """``{"type": "error", "message": "Failed to subscribe", "reason": ..}``, as Coinbase
        answers a subscribe it refuses (``"reason": "X-Y is not a valid product"``)."""
        return c.dumps({"type": "error", "message": "Failed to subscribe", "reason": message})

    @classmethod
    def server_options(cls, interval_s: int) -> dict[str, Any]:
        """``candle_interval_s``: a candle message does not say its length."""
        return {"candle_interval_s": interval_s}

    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes:
        """A ``candles`` message; a final bar is stamped at its end, an open one at its start.

        ``interval_s`` must equal ``candle_interval_s``: the message cannot carry it.
        """
        if interval_s != self.candle_interval_s:
            raise ValueError(
                f"coinbase candles carry no interval: this adapter decodes {self.candle_interval_s}"
                f" s candles; use get_adapter('coinbase', candle_interval_s={interval_s})")
        start = c.whole(time_ns, _NS, "coinbase candle")
        stamp = time_ns + interval_s * _NS if final else time_ns
        candle = {"start": str(start), "high": c.dec(high), "low": c.dec(low),
                  "open": c.dec(open), "close": c.dec(close), "volume": c.dec(volume),
                  "product_id": symbol}
        return orjson.dumps({"channel": "candles", "client_id": "",
                             "timestamp": c.rfc3339(stamp, None), "sequence_num": next(self._seq),
                             "events": [{"type": "update", "candles": [candle]}]})

