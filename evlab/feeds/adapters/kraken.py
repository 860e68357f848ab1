"""Kraken spot WebSocket API v2 (wss://ws.kraken.com/v2): ``ohlc``, ``trade``, ``ticker``, ``book``.

Format (https://docs.kraken.com/api/docs/websocket-v2/ohlc, .../trade, .../status,
.../heartbeat): JSON objects ``{"channel", "type": "snapshot"|"update", "data": [...]}``;
prices and quantities are JSON *numbers*; times are RFC 3339 strings (nanoseconds allowed).

OHLC finality: Kraken sends the running candle again on every trade ("updates are generated
on trade events") and has no "closed" flag, so a candle is read as final (``BarEvent``) when

* the message's own ``timestamp`` is at or after ``interval_begin + interval`` (e.g. the
  snapshot's already-closed candles), or
* a candle with a later ``interval_begin`` arrives for the same symbol and interval: a trade
  in a later interval means the earlier candle can no longer change, so its last update is
  emitted again as the final ``BarEvent``.

Otherwise it is an in-progress ``BarUpdateEvent``. Candles already emitted as final are not
emitted again (a re-sent snapshot). The deprecated per-candle ``timestamp`` is ignored.

Trades: ``side`` is the taker side; ``timestamp`` is the trade time. ``heartbeat``, an
``online`` ``status`` and successful method responses (subscribe acks, pong) give [];
a ``status`` with another ``system`` state gives a ``SystemEvent``; ``success: false``
gives an ``ErrorEvent``.

Ticker (https://docs.kraken.com/api/docs/websocket-v2/ticker): ``bid``/``bid_qty``/``ask``/
``ask_qty`` -> ``QuoteEvent`` at ``timestamp`` where the message has one, else the receive
time (the documented example has none).

Book (https://docs.kraken.com/api/docs/websocket-v2/book and the checksum guide,
https://docs.kraken.com/api/docs/guides/spot-ws-book-v2): ``snapshot``/``update`` ->
``BookEvent`` (``qty`` 0 removes a level) at ``timestamp`` (receive time without one),
carrying Kraken's ``checksum``, a CRC32 of the top 10 levels (asks low to high, then bids
high to low, each price and qty as the wire writes them with ``.`` removed and leading zeros
stripped). The checksum formats each value at the pair's precision, but the wire carries JSON
numbers without trailing zeros (the checksum guide's example sends decimal strings: both are
read), so at each snapshot the adapter chooses the pair's (price, qty) decimals as those whose
checksum of the snapshot's book is the snapshot's (the longest fractions seen first, then
the nearest others up to 12 places), keeps them for the updates that follow, takes the
subscribed depth from the subscribe ack (else the snapshot's size), and names the rule
``"kraken:<price decimals>:<qty decimals>:<depth>"`` (registered in
:mod:`evlab.books.checksum`), which ``OrderBooks`` runs on its own book: a mismatch marks it
stale and publishes a ``book_gap``; resubscribing gives the new snapshot. Compiled, a book
update in Kraken's compact form is read in one pass over its text (:func:`book_update_levels`)
and the checksum's text written in C (:func:`_checksum_text`); anything else takes the JSON
decoder and the formatted values, with the same results.
"""

from __future__ import annotations

import itertools
import re
import time
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

if TYPE_CHECKING:  # its typed stand-in: mypy then keeps the decorated functions' signatures
    from evlab import _nocython as cython
else:
    try:
        import cython
    except ImportError:  # no Cython: the interpreted paths below are used
        from evlab import _nocython as cython

from evlab.books.book import OrderBook
from evlab.books.checksum import ChecksumRule, register_checksum
from evlab.events import Event, create_error_event, create_system_event

from . import _common as c
from .base import AdapterError, BookDataError, ExchangeAdapter, Subscribe, split_pair

INTERVALS_MIN = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
_CHANNELS = {"trade": "trades", "book": "books", "ticker": "quotes"}  # besides ohlc (bars)
BOOK_DEPTHS = (10, 25, 100, 500, 1000)  # the depths a book subscription may ask for
CHECKSUM_LEVELS = 10  # Kraken's checksum covers the top 10 levels a side, whatever the depth
_NS = 1_000_000_000
_FIELDS = ("price", "qty")
# The fraction digits of every price/qty a book message writes (number or decimal string).
_FRACTIONS = {key: (re.compile(rf'"{key}"\s*:\s*"?-?[0-9]+(?:\.([0-9]+))?'),
                    re.compile(rf'"{key}"\s*:\s*"?-?[0-9]+(?:\.([0-9]+))?'.encode()))
              for key in ("price", "qty")}


def _digits(value: float, decimals: int) -> str:
    """A price or qty as Kraken's checksum writes it: ``decimals`` places, no ``.``, no
    leading zeros (``0.05000`` -> ``5000``)."""
    return f"{value:.{decimals}f}".replace(".", "").lstrip("0")


def book_checksum(book: OrderBook, price_decimals: int, qty_decimals: int) -> int:
    """Kraken's CRC32 of ``book``: the top 10 asks (low to high) then the top 10 bids (high to
    low), each price then qty as :func:`_digits` writes them, concatenated."""
    text = "".join(_digits(p, price_decimals) + _digits(q, qty_decimals)
                   for p, q in book.asks(CHECKSUM_LEVELS) + book.bids(CHECKSUM_LEVELS))
    return zlib.crc32(text.encode())


if cython.compiled:  # the checksum's text written in C (_checksum_text; its C types: kraken.pxd)
    from cython.cimports.cpython.bytearray import PyByteArray_AS_STRING
    from cython.cimports.cpython.bytes import PyBytes_FromStringAndSize
    from cython.cimports.libc.math import fabs, llrint
    from cython.cimports.libc.string import memcpy

# the helpers of parse's book path: compiled, C calls into _common (its .pxd declares them),
# one per helper and book message or level; interpreted, module globals (not c.<name>)
if cython.compiled:
    from cython.cimports.evlab.feeds.adapters._common import book as _book
    from cython.cimports.evlab.feeds.adapters._common import get_int as _get_int
    from cython.cimports.evlab.feeds.adapters._common import get_list as _get_list
    from cython.cimports.evlab.feeds.adapters._common import get_str as _get_str
    from cython.cimports.evlab.feeds.adapters._common import get_time as _get_time
    from cython.cimports.evlab.feeds.adapters._common import level as _level
    from cython.cimports.evlab.feeds.adapters._common import loads as _loads
else:
    _book, _get_int, _get_list, _get_str = c.book, c.get_int, c.get_list, c.get_str
    _get_time, _level, _loads = c.get_time, c.level, c.loads
if cython.compiled:  # the readers of the book update scan (_update_scan): C calls
    from cython.cimports.cpython.unicode import PyUnicode_1BYTE_DATA
    from cython.cimports.evlab.feeds.adapters._common import (
        _ascii_at,
        _ascii_text,
        _decimal_in,
        _digits_end,
        _digits_value,
        _string_end,
        rfc3339_ns,
    )
_LIMIT = c.MAX_VALUE  # a C double compiled (kraken.pxd): the per-level checks'

#: the scaled values _checksum_text writes itself: below 2**50 (an ulp at most 1/4), within
#: 1/8 of a whole number; anything else goes to _digits
_EXACT_BELOW = 2.0 ** 50


@cython.annotation_typing(False)  # its C types: kraken.pxd
def _checksum_text(book: OrderBook, price_decimals: int, qty_decimals: int,
                   buf: bytearray) -> bytes | None:
    """Compiled only: the text Kraken's checksum is the CRC32 of, for ``book``'s top 10 asks
    then top 10 bids (read as C doubles, :meth:`~evlab.books.book._Side._top`), written in C
    into ``buf`` (704 bytes): each value times 10**decimals, a whole number below 2**50, as
    its digits (what :func:`_digits` writes: the exact value of the double is within 1/4 of
    that number, so rounding it to ``decimals`` places gives these digits). None if any value
    is not of that kind (more places than ``decimals``, huge, negative, more than 15
    decimals): the caller formats them then."""
    if price_decimals > 15 or qty_decimals > 15:
        return None
    values = cython.declare(cython.double[40])  # CHECKSUM_LEVELS (10) asks then bids: p, q
    n = book._asks._top(10, values)
    n = 2 * (n + book._bids._top(10, values + 2 * n))
    data = PyByteArray_AS_STRING(buf)  # 20 levels of two values of at most 16 digits
    tmp = cython.declare(cython.char[16])
    pscale, k = 1.0, price_decimals
    while k:
        pscale *= 10.0  # exact: powers of ten up to 1e22 are doubles
        k -= 1
    qscale, k = 1.0, qty_decimals
    while k:
        qscale *= 10.0
        k -= 1
    at = 0
    for i in range(n):
        scaled = values[i] * (pscale if i % 2 == 0 else qscale)
        if not 0.0 <= scaled < _EXACT_BELOW:
            return None
        u = llrint(scaled)  # the nearest whole number (below 2**50: exact)
        if fabs(scaled - u) >= 0.125:
            return None
        if u == 0:
            continue  # _digits strips every zero
        j = 16  # the digits, last first, two a step, into the end of tmp (16 at most)
        while u >= 100:
            t = u % 100
            u //= 100
            j -= 2
            tmp[j] = 48 + t // 10
            tmp[j + 1] = 48 + t % 10
        if u >= 10:
            j -= 2
            tmp[j] = 48 + u // 10
            tmp[j + 1] = 48 + u % 10
        else:
            j -= 1
            tmp[j] = 48 + u
        memcpy(data + at, tmp + j, 16 - j)
        at += 16 - j
    out: bytes = PyBytes_FromStringAndSize(data, at)
    return out


class _Checksum:
    """:func:`book_checksum`, fast: compiled, its text written in C (:func:`_checksum_text`);
    else (and for values that does not take) with each value's digits remembered (the top of
    a book repeats its prices and sizes from one update to the next, and formatting is the
    costly part)."""

    __slots__ = ("_buf", "_digits", "price", "qty")
    _LIMIT = 1 << 16  # remembered values, per rule, before starting afresh

    def __init__(self, price_decimals: int, qty_decimals: int) -> None:
        self.price, self.qty = price_decimals, qty_decimals
        self._digits: tuple[dict[float, str], dict[float, str]] = ({}, {})
        self._buf = bytearray(704)  # _checksum_text's

    def __call__(self, book: OrderBook) -> int:
        if cython.compiled:
            text = _checksum_text(book, self.price, self.qty, self._buf)
            if text is not None:
                return zlib.crc32(text)
        levels = book.asks(CHECKSUM_LEVELS) + book.bids(CHECKSUM_LEVELS)
        prices, qtys = self._digits
        if len(prices) + len(qtys) > self._LIMIT:
            prices.clear()
            qtys.clear()
        parts = []
        for p, q in levels:
            digits = prices.get(p)
            if digits is None:
                digits = prices[p] = _digits(p, self.price)
            parts.append(digits)
            digits = qtys.get(q)
            if digits is None:
                digits = qtys[q] = _digits(q, self.qty)
            parts.append(digits)
        return zlib.crc32("".join(parts).encode())


def checksum_factory(args: str) -> ChecksumRule:
    """The rule ``"kraken:<price decimals>:<qty decimals>:<depth>"`` names."""
    try:
        price, qty, depth = (int(a) for a in args.split(":"))
    except ValueError:
        raise ValueError(f"kraken checksum rule takes <price decimals>:<qty decimals>:<depth>, "
                         f"got {args!r}") from None
    if not (0 <= price <= 30 and 0 <= qty <= 30 and depth in BOOK_DEPTHS):
        raise ValueError(f"kraken checksum rule: decimals must be 0..30 and depth one of "
                         f"{BOOK_DEPTHS}, got {args!r}")
    return ChecksumRule(f"kraken:{args}", _Checksum(price, qty), depth)


register_checksum("kraken", checksum_factory)


def _decimals(payload: str | bytes, key: str) -> int:
    """The longest fraction any ``key`` field of ``payload`` writes (0 for whole numbers)."""
    pattern = _FRACTIONS[key][0 if isinstance(payload, str) else 1]
    return max((len(f) for f in pattern.findall(payload)), default=0)  # type: ignore[arg-type]


MAX_DECIMALS = 12  # the most places a pair's price or qty decimals are searched up to


@lru_cache(maxsize=64)
def _candidates(price: int, qty: int) -> tuple[tuple[int, int], ...]:
    """The (price, qty) decimals to try on a snapshot, most likely first: the longest
    fractions seen, then more places (a precision the wire's numbers hide by dropping
    trailing zeros) fewest extra first, then fewer places than seen (which would round what
    the wire wrote) last; each 0..``MAX_DECIMALS`` (or the fraction seen, if longer)."""
    top_p, top_q = max(price, MAX_DECIMALS), max(qty, MAX_DECIMALS)
    pairs = [(p, q) for p in range(top_p + 1) for q in range(top_q + 1)]
    return tuple(sorted(pairs, key=lambda pq: (pq[0] < price or pq[1] < qty,
                                               abs(pq[0] - price) + abs(pq[1] - qty), pq)))


def _book_levels(name: str, obj: Any, key: str) -> tuple[tuple[float, float], ...]:
    """``[{"price", "qty"}, ...]`` as ``(price, qty)`` floats: JSON numbers, as the channel
    documents them, or decimal strings, as the checksum guide's example writes them (each
    through the shared :func:`~evlab.feeds.adapters._common.level`)."""
    out = []
    for lv in _get_list(name, obj, key):
        if lv.__class__ is not dict or "price" not in lv or "qty" not in lv:
            raise c.bad_field(name, key, '{"price", "qty"} levels', obj, lv)
        out.append(_level(name, obj, key, lv["price"], lv["qty"], _FIELDS, True))
    return tuple(out)


def book_update_levels(payload: str | bytes) -> tuple | None:
    """``(symbol, bids, asks, checksum, time_ns)`` of a ``book`` update as Kraken sends it
    (``{"channel":"book","type":"update","data":[{"symbol":..,"bids":[{"price":P,"qty":Q},
    ..],"asks":[..],"checksum":N,"timestamp":".."}]}``, compact, keys in the documented
    order, one pair), read in one pass over its text where compiled (:func:`_update_scan`):
    what :func:`~evlab.feeds.adapters._common.loads` then the JSON path's readers give,
    without the JSON objects. None for any other message (and always interpreted): the
    caller then takes that path, whose errors name the fault."""
    if not cython.compiled:  # interpreted, a loop over characters costs more than orjson
        return None
    text = _ascii_text(payload)
    return None if text is None else _update_scan(text)


_UPDATE_HEAD = '{"channel":"book","type":"update","data":[{"symbol":"'


def _update_scan(text: str) -> tuple | None:  # (bare tuple: see kraken.pxd)
    """:func:`book_update_levels` of a ``str``: a strict subset of JSON (ASCII, no
    whitespace, no escapes, the symbol plain printable ASCII, each number plain digits with
    at most one "." and no leading zero, whose level :func:`~evlab.feeds.adapters._common.
    level` would take: the price positive, both below MAX_VALUE; the checksum 1 to 18 digits;
    an RFC 3339 time in range), else None."""
    if not (text.isascii() and _ascii_at(text, 0, _UPDATE_HEAD)):  # isascii: a flag, O(1)
        return None
    n = len(text)
    i = len(_UPDATE_HEAD)
    end = _string_end(text, i)
    if end <= i or not _ascii_at(text, end, '","bids":'):
        return None
    symbol = text[i:end]
    bids: list[tuple[float, float]] = []
    i = _levels_side(text, end + 9, bids)
    if i < 0 or not _ascii_at(text, i, ',"asks":'):
        return None
    asks: list[tuple[float, float]] = []
    i = _levels_side(text, i + 8, asks)
    if i < 0 or not _ascii_at(text, i, ',"checksum":'):
        return None
    i += 12
    end = _digits_end(text, i)
    if end < 0 or not _ascii_at(text, end, ',"timestamp":"'):
        return None
    checksum = _digits_value(text, i, end)
    i = end + 14
    end = _string_end(text, i)
    if end <= i or end != n - 4 or not _ascii_at(text, end, '"}]}'):
        return None
    try:
        when = rfc3339_ns(text[i:end])
    except ValueError:
        return None
    if not 0 <= when <= c.MAX_TIME_NS:
        return None
    return symbol, tuple(bids), tuple(asks), checksum, when


@cython.annotation_typing(False)  # its C types: kraken.pxd
def _levels_side(text: str, i: int, out: list) -> int:
    """Read one side's ``[{"price":P,"qty":Q},...]`` from ``text[i]`` into ``out``: the index
    after it, or -1 if it is not of that form (see :func:`_update_scan`)."""
    n = len(text)
    data = PyUnicode_1BYTE_DATA(text)
    if i >= n or data[i] != 91:  # "["
        return -1
    i += 1
    if i < n and data[i] == 93:  # "]": no levels
        return i + 1
    while True:
        if not _ascii_at(text, i, '{"price":'):
            return -1
        i += 9
        end = _number_end(text, i)
        if end < 0 or not _ascii_at(text, end, ',"qty":'):
            return -1
        p = _decimal_in(text, i, end)
        i = end + 7
        end = _number_end(text, i)
        if end < 0 or end + 1 >= n or data[end] != 125:  # "}"
            return -1
        q = _decimal_in(text, i, end)
        if not (0.0 < p < _LIMIT and 0.0 <= q < _LIMIT):
            return -1
        out.append((p, q))
        ch = data[end + 1]
        i = end + 2
        if ch == 93:  # "]": the side's end
            return i
        if ch != 44:  # ","
            return -1


@cython.annotation_typing(False)  # its C types: kraken.pxd
def _number_end(text: str, i: int) -> int:
    """The end of the JSON number at ``text[i]`` if it is plain digits with at most one "."
    and no leading zero (what _decimal_in then reads as orjson would), else -1."""
    n = len(text)
    data = PyUnicode_1BYTE_DATA(text)
    end = i
    while end < n and (48 <= data[end] <= 57 or data[end] == 46):
        end += 1
    if end == i or (data[i] == 48 and end - i > 1 and data[i + 1] != 46):
        return -1
    return end


def interval_minutes(interval_s: int) -> int:
    """Kraken's ``interval`` (minutes) for a bar length in seconds."""
    minutes, rest = divmod(interval_s, 60)
    if rest or minutes not in INTERVALS_MIN:
        raise ValueError(f"kraken has no ohlc interval of {interval_s} s "
                         f"(minutes: {', '.join(map(str, INTERVALS_MIN))})")
    return minutes


def _now() -> str:
    """The wall clock as Kraken writes ``time_in``/``time_out``: RFC 3339, microseconds."""
    return c.rfc3339(time.time_ns() // 1000 * 1000, 6)


class KrakenAdapter(ExchangeAdapter):
    """Kraken v2 ohlc/trade/ticker/book channels (see the module docstring)."""

    name = "kraken"

    def __init__(self) -> None:
        """A fresh adapter with no running candles."""
        self._closer = c.BarCloser()
        self._ids = itertools.count(1)
        self._connections = itertools.count(1)  # server side: the status greeting's ids
        self._depths: dict[str, int] = {}  # book depth per pair, from the subscribe acks
        self._decimals: dict[str, tuple[int, int]] = {}  # (price, qty) decimals per pair
        self._rules: dict[str, str] = {}  # the checksum rule per pair, once _rule settled it

    def reset(self) -> None:
        """Forget the running candles."""
        self._closer.reset()

    def repeated_bars(self) -> int:
        """Bars re-sent after they were final (a reconnect's snapshot), dropped by parse."""
        return self._closer.repeated

    # --- client side ----------------------------------------------------------------------
    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one v2 channel message or method response."""
        n = self.name
        src = source or self.name  # the events' source: the feed's, else the venue's
        if cython.compiled:  # a book update in Kraken's compact form: one pass, no JSON objects
            fast = book_update_levels(payload)
            if fast is not None:
                events = self._update(fast, payload, src)
                if events is not None:
                    return events
        obj = _loads(n, payload)  # the events' source: the feed's, else the venue's
        if not isinstance(obj, dict):
            raise AdapterError(f"{n}: expected a JSON object, got {c.excerpt(obj)!r}")
        channel = obj.get("channel")
        if channel == "ohlc":
            return self._ohlc(obj, src)
        if channel == "trade":
            out: list[Event] = []
            for t in c.get_list(n, obj, "data"):
                out.append(c.tick(n, c.get_str(n, t, "symbol"), c.get_time(n, t, "timestamp"),
                                  c.get_num(n, t, "price"), c.get_num(n, t, "qty"),
                                  c.taker_side(n, t, "side"), str(c.get_int(n, t, "trade_id")),
                                  src, t))
            return out
        if channel == "book":
            return self._book(obj, payload, src)
        if channel == "ticker":
            out = []
            for t in c.get_list(n, obj, "data"):
                when = c.get_time(n, t, "timestamp") if "timestamp" in t else None
                out.append(c.quote(n, c.get_str(n, t, "symbol"), when, c.get_num(n, t, "bid"),
                                   c.get_num(n, t, "ask"), c.get_num(n, t, "bid_qty"),
                                   c.get_num(n, t, "ask_qty"), src, t))
            return out
        if channel == "heartbeat":
            return []
        if channel == "status":
            data = c.get_list(n, obj, "data")
            system = c.get_str(n, data[0], "system") if data else "online"
            if system == "online":
                return []
            text = f"kraken trading engine is {system}"
            return [create_system_event("exchange_status", text, data[0], source=src)]
        if channel is None and "method" in obj:
            if obj.get("success", True) is False:
                text = f"kraken {obj['method']} failed: {obj.get('error', '')}"
                return [create_error_event(text, error_type="ExchangeError", payload=payload,
                                           source=src)]
            result = obj.get("result")
            if obj["method"] == "subscribe" and isinstance(result, dict) \
                    and result.get("channel") == "book":  # the depth the checksum rule needs
                depth, symbol = result.get("depth", BOOK_DEPTHS[0]), result.get("symbol")
                if depth in BOOK_DEPTHS and isinstance(symbol, str):
                    self._depths[symbol] = depth
                    self._rules.pop(symbol, None)  # its depth changed: made again
            return []  # subscribe/unsubscribe ack, pong
        raise AdapterError(f"{n}: unknown channel {channel!r} in {c.excerpt(obj)!r}")

    def _book(self, obj: dict[str, Any], payload: str | bytes, src: str) -> list[Event]:
        n = self.name
        kind = obj.get("type")
        if kind not in ("snapshot", "update"):
            raise AdapterError(f"{n}: book 'type' must be \"snapshot\" or \"update\" in "
                               f"{c.excerpt(obj)!r}")
        snapshot = kind == "snapshot"
        out: list[Event] = []
        for d in _get_list(n, obj, "data"):
            symbol = _get_str(n, d, "symbol")
            try:
                bids, asks = _book_levels(n, d, "bids"), _book_levels(n, d, "asks")
                checksum = _get_int(n, d, "checksum")
                when = _get_time(n, d, "timestamp") if "timestamp" in d else None
                rule = self._rules.get(symbol) if not snapshot else None  # settled: hot path
                if rule is None:
                    rule = self._rule(symbol, payload, snapshot, bids, asks, checksum)
                out.append(_book(n, symbol, when, bids, asks, snapshot, None, None, src, d,
                                 checksum if rule is not None else None, rule))
            except AdapterError as exc:  # that book misses a change: it must go stale
                raise BookDataError(str(exc), symbol) from None
        return out

    def _update(self, fast: tuple, payload: str | bytes, src: str) -> list[Event] | None:
        """The event of a scanned book update (:func:`book_update_levels`), as :meth:`_book`
        makes it; None where that path has more to do (no rule settled yet) or would raise
        (it then says why)."""
        symbol, bids, asks, checksum, when = fast
        rule = self._rules.get(symbol)
        if rule is None:
            return None
        try:
            return [_book(self.name, symbol, when, bids, asks, False, None, None, src, payload,
                          checksum, rule)]
        except AdapterError:
            return None

    def _rule(self, symbol: str, payload: str | bytes, snapshot: bool,
              bids: tuple[tuple[float, float], ...], asks: tuple[tuple[float, float], ...],
              checksum: int) -> str | None:
        """The checksum rule of ``symbol``'s book (None before its first snapshot); the depth
        is the ack's or the first snapshot's. Decimals are chosen at each snapshot, the only
        place they are searched (updates reuse them: hot path): the first of
        :func:`_candidates` whose checksum of the snapshot's book is the snapshot's own. The
        wire writes numbers without trailing zeros, so a snapshot whose prices all end in 0
        shows fewer digits than the pair's precision; none matching keeps the longest
        fractions seen, and ``OrderBooks`` finds the mismatch (a gap, as for a bad book)."""
        depth = self._depths.get(symbol)
        if depth is None:
            depth = next((d for d in BOOK_DEPTHS if d >= max(len(bids), len(asks))),
                         BOOK_DEPTHS[-1])
            if snapshot:
                self._depths[symbol] = depth
        known = self._decimals.get(symbol)
        if not snapshot:
            if known is None:
                return None
            price, qty = known  # an update's few values add nothing: not scanned (hot path)
        else:
            price, qty = _decimals(payload, "price"), _decimals(payload, "qty")
            if known is not None:
                price, qty = max(price, known[0]), max(qty, known[1])
            book = OrderBook(symbol)
            book.replace(bids, asks)
            book.truncate(depth)  # what OrderBooks checks: the snapshot's book at the depth
            price, qty = next((pq for pq in _candidates(price, qty)
                               if book_checksum(book, *pq) == checksum), (price, qty))
            self._decimals[symbol] = (price, qty)
        rule = self._rules[symbol] = f"kraken:{price}:{qty}:{depth}"
        return rule

    def _ohlc(self, obj: dict[str, Any], src: str) -> list[Event]:
        n = self.name
        now = c.get_time(n, obj, "timestamp")
        out: list[Event] = []
        for k in c.get_list(n, obj, "data"):
            minutes = c.get_int(n, k, "interval")
            if minutes <= 0:
                raise AdapterError(f"{n}: field 'interval' must be positive in {c.excerpt(k)!r}")
            vals = (c.get_num(n, k, "open"), c.get_num(n, k, "high"), c.get_num(n, k, "low"),
                    c.get_num(n, k, "close"), c.get_num(n, k, "volume"))
            out.extend(self._closer.push(n, minutes * 60 * _NS, now, c.get_str(n, k, "symbol"),
                                         c.get_time(n, k, "interval_begin"), vals, src, k))
        return out

    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """One ``subscribe`` per channel: ``ohlc`` (with ``interval``) and/or ``trade``."""
        chans = self._channels(channels)
        syms = list(self._symbols(symbols))
        out = []
        if "bars" in chans:
            out.append(c.dumps({"method": "subscribe", "params": {
                "channel": "ohlc", "symbol": syms, "interval": interval_minutes(interval_s)},
                "req_id": next(self._ids)}))
        if "trades" in chans:
            out.append(c.dumps({"method": "subscribe", "params": {
                "channel": "trade", "symbol": syms}, "req_id": next(self._ids)}))
        return out

    def resync_messages(self, symbol: str, subscriptions: Sequence[str | bytes]
                        ) -> list[str | bytes]:
        """``unsubscribe`` then ``subscribe`` of ``symbol``'s ``book`` at the depth it was
        subscribed with (Kraken sends a new snapshot on subscribing: the v2 book page); [] if
        no ``book`` subscription in ``subscriptions`` names ``symbol``."""
        for frame in subscriptions:
            obj = c.request(frame)
            params = None if obj is None else obj.get("params")
            if obj is None or obj.get("method") != "subscribe" or not isinstance(params, dict) \
                    or params.get("channel") != "book":
                continue
            symbols = params.get("symbol")
            if not isinstance(symbols, list) or symbol not in symbols:
                continue
            unsub: dict[str, Any] = {"channel": "book", "symbol": [symbol]}
            if "depth" in params:
                unsub["depth"] = params["depth"]
            sub = {**params, "symbol": [symbol], "snapshot": True}  # the snapshot is the point
            return [c.dumps({"method": "unsubscribe", "params": unsub, "req_id": next(self._ids)}),
                    c.dumps({"method": "subscribe", "params": sub, "req_id": next(self._ids)})]
        return []

    # --- server side ----------------------------------------------------------------------
    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """A v2 ``subscribe`` or ``unsubscribe``: its channel (``ohlc`` bars, ``trade`` trades,
        ``book`` books, ``ticker`` quotes) and symbols; streams ``"ohlc:<symbol>:<minutes>"``,
        ``"<channel>:<symbol>"``. Another channel, interval or depth refuses the whole request
        (AdapterError); None for other methods (ping)."""
        n = self.name
        obj = c.loads(n, payload)
        if not isinstance(obj, dict) or obj.get("method") not in ("subscribe", "unsubscribe"):
            return None
        params = c.field(n, obj, "params")
        channel = c.get_str(n, params, "channel")
        symbols = c.get_list(n, params, "symbol")
        if not symbols or not all(isinstance(s, str) and s for s in symbols):
            raise AdapterError(f"{n}: 'symbol' must list currency pairs in {c.excerpt(obj)!r}")
        req_id, off = obj.get("req_id"), obj["method"] == "unsubscribe"
        if channel == "ohlc":
            minutes = params.get("interval", 1)
            if type(minutes) is not int or minutes not in INTERVALS_MIN:
                raise AdapterError(f"{n}: unsupported ohlc interval {minutes!r}")
            return Subscribe(tuple(symbols), ("bars",), req_id, minutes * 60,
                             tuple(f"ohlc:{s}:{minutes}" for s in symbols), off)
        if channel == "book":
            depth = params.get("depth", 10)
            if type(depth) is not int or depth not in BOOK_DEPTHS:
                raise AdapterError(f"{n}: unsupported book depth {depth!r}")
        if channel in _CHANNELS:
            return Subscribe(tuple(symbols), (_CHANNELS[channel],), req_id, None,
                             tuple(f"{channel}:{s}" for s in symbols), off)
        raise AdapterError(f"{n}: unsupported channel {channel!r} in {c.excerpt(obj)!r}")

    def subscribe_ack(self, request: Subscribe) -> list[str]:
        """One acknowledgement per symbol and channel, as Kraken sends (``method`` the
        request's: ``subscribe`` or ``unsubscribe``)."""
        now = _now()
        asked = [s.split(":") for s in request.streams] or [
            ["ohlc" if ch == "bars" else "trade", sym, str((request.interval_s or 60) // 60)]
            for ch in request.channels for sym in request.symbols]
        out = []
        for channel, sym, *minutes in asked:
            result: dict[str, Any] = {"channel": channel}
            if channel == "ohlc":
                result["interval"] = int(minutes[0]) if minutes else (request.interval_s or 60
                                                                       ) // 60
            if not request.unsubscribe:
                result["snapshot"] = channel in ("ohlc", "book", "ticker")
            result["symbol"] = sym
            msg: dict[str, Any] = {"method": "unsubscribe" if request.unsubscribe else
                                   "subscribe", "result": result, "success": True,
                                   "time_in": now, "time_out": now}
            if request.req_id is not None:
                msg["req_id"] = request.req_id
            out.append(c.dumps(msg))
        return out

    def capture_streams(self, payload: str | bytes) -> list[tuple[str, str, str | bytes]]:
        """A recorded v2 ``ohlc``/``trade``/``book``/``ticker`` message's stream, named for its
        first item's symbol (and ``ohlc`` interval), as recorded (verbatim); status,
        heartbeats and acks: []."""
        text = payload.decode() if isinstance(payload, bytes) else payload
        obj = c.request(text)
        channel = None if obj is None else obj.get("channel")
        if obj is None or (channel not in _CHANNELS and channel != "ohlc"):
            return []
        data = c.get_list(self.name, obj, "data")
        if not data:
            return []
        symbol = c.get_str(self.name, data[0], "symbol")
        stream = (f"ohlc:{symbol}:{c.get_int(self.name, data[0], 'interval')}"
                  if channel == "ohlc" else f"{channel}:{symbol}")
        return [(stream, stream, text)]

    def capture_symbols(self, streams: Sequence[str]) -> list[tuple[str, str]]:
        """The pairs of streams such as ``ohlc:BTC/USD:1`` (``BTC/USD`` is ``BTC-USD``)."""
        out = dict.fromkeys(s.split(":")[1] for s in streams if ":" in s)
        return [(p, f"{pair[0]}-{pair[1]}") for p in out if (pair := split_pair(p)) is not None]

    def capture_client(self, streams: Sequence[str]) -> tuple[str, list[str | bytes]]:
        """``/v2`` and one v2 ``subscribe`` per channel (and ``ohlc`` interval) naming the
        symbols of ``streams`` (``ohlc:BTC/USD:1``, ``book:BTC/USD``, ``trade:BTC/USD``)."""
        if not streams:
            raise ValueError(f"{self.name}: no streams to subscribe to")
        groups: dict[tuple[str, int | None], list[str]] = {}
        for stream in streams:
            channel, _, rest = stream.partition(":")
            if channel == "ohlc":
                symbol, _, interval = rest.rpartition(":")
                groups.setdefault((channel, int(interval)), []).append(symbol)
            else:
                groups.setdefault((channel, None), []).append(rest)
        frames: list[str | bytes] = []
        for (channel, minutes), symbols in groups.items():
            params: dict[str, Any] = {"channel": channel, "symbol": symbols}
            if minutes is not None:
                params["interval"] = minutes
            frames.append(c.dumps({"method": "subscribe", "params": params,
                                   "req_id": next(self._ids)}))
        return "/v2", frames

    def welcome(self) -> list[str]:
        """The v2 ``status`` update Kraken greets every connection with."""
        return [c.dumps({"channel": "status", "type": "update", "data": [{
            "api_version": "v2", "connection_id": next(self._connections), "system": "online",
            "version": "2.0.0"}]})]

    def control_reply(self, payload: str | bytes) -> list[str]:
        """``pong`` to a ``ping`` (echoing its ``req_id``)."""
        obj = c.request(payload)
        if obj is None or obj.get("method") != "ping":
            return []
        now = _now()
        msg: dict[str, Any] = {"method": "pong", "time_in": now, "time_out": now}
        if "req_id" in obj:
            msg["req_id"] = obj["req_id"]
        return [c.dumps(msg)]

    def error_frame(self, message: str, req_id: int | str | None = None) -> str:
        """A failed ``subscribe`` method response (``success: false``)."""
        now = _now()
        msg: dict[str, Any] = {"method": "subscribe", "success": False, "error": message,
                               "time_in": now, "time_out": now}
        if req_id is not None:
            msg["req_id"] = req_id
        return c.dumps(msg)

    def rest_reply(self, path: str, symbols: Sequence[tuple[str, str]]) -> str | None:
        """``/0/public/AssetPairs`` and ``/0/public/Assets`` for the served pairs (what ccxt's
        ``load_markets`` reads), ``/0/public/Time``; other paths: None. Kraken's REST names
        bitcoin ``XBT``; the v2 socket names the pair ``BTC/USD``."""
        route = urlsplit(path).path.rstrip("/")
        if route == "/0/public/Time":
            now = time.time()
            return c.dumps({"error": [], "result": {"unixtime": int(now),
                                                    "rfc1123": time.strftime(
                                                        "%a, %d %b %y %H:%M:%S +0000",
                                                        time.gmtime(now))}})
        pairs = [(wire, p) for wire, symbol in symbols if (p := split_pair(symbol))]
        if route == "/0/public/Assets":
            codes = dict.fromkeys(_rest_asset(a) for _, p in pairs for a in p)
            return c.dumps({"error": [], "result": {
                code: {"aclass": "currency", "altname": code, "decimals": 10,
                       "display_decimals": 5, "status": "enabled"} for code in codes}})
        if route != "/0/public/AssetPairs":
            return None
        result = {}
        for wire, (base, quote) in pairs:
            b, q = _rest_asset(base), _rest_asset(quote)
            result[b + q] = {
                "altname": b + q, "wsname": wire, "aclass_base": "currency", "base": b,
                "aclass_quote": "currency", "quote": q, "lot": "unit", "cost_decimals": 5,
                "pair_decimals": 8, "lot_decimals": 8, "lot_multiplier": 1,
                "leverage_buy": [], "leverage_sell": [], "fees": [[0, 0.26]],
                "fees_maker": [[0, 0.16]], "fee_volume_currency": "ZUSD", "margin_call": 80,
                "margin_stop": 40, "ordermin": "0.0001", "costmin": "0.5",
                "tick_size": "0.00000001", "status": "online"}
        return c.dumps({"error": [], "result": result})

    @classmethod
    def wire_symbol(cls, symbol: str) -> str:
        """``BTC-USD`` is ``BTC/USD`` (v2 writes pairs with a slash)."""
        pair = split_pair(symbol)
        return symbol if pair is None else f"{pair[0]}/{pair[1]}"

    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes:
        """An ``ohlc`` update; a final bar is stamped at its end, an open one at its start."""
        minutes = interval_minutes(interval_s)
        end = time_ns + interval_s * _NS
        candle = {"symbol": symbol, "open": float(open), "high": float(high),
                  "low": float(low), "close": float(close), "trades": 0,
                  "volume": float(volume), "vwap": float(close),
                  "interval_begin": c.rfc3339(time_ns, 9), "interval": minutes,
                  "timestamp": c.rfc3339(end, 6)}
        return orjson.dumps({"channel": "ohlc", "type": "update",
                             "timestamp": c.rfc3339(end if final else time_ns, 9),
                             "data": [candle]})



def _rest_asset(code: str) -> str:
    """Kraken's REST asset code: ``XBT`` for bitcoin, other codes as they are."""
    return "XBT" if code == "BTC" else code
