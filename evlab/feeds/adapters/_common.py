"""Helpers shared by the exchange adapters: JSON decoding, typed field access, time formats.

Every helper raises :class:`AdapterError` (never a bare KeyError/TypeError) so a caller
can turn any bad message into one ``ErrorEvent`` that keeps the raw payload.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
import operator
import re
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # its typed stand-in: mypy then keeps the decorated functions' signatures
    from evlab import _nocython as cython
else:
    try:
        import cython
    except ImportError:  # no Cython: the interpreted paths below are used
        from evlab import _nocython as cython

from evlab.events import (
    BarEvent,
    BarUpdateEvent,
    BookEvent,
    QuoteEvent,
    TickEvent,
    _check_level,
    _new_bar,
    create_bar_event,
    create_tick_event,
    parsed_book_event,
    parsed_quote_event,
)

from .base import AdapterError

if cython.compiled:  # a str's characters in place: a 1-byte string's are a C array
    from cython.cimports.cpython.unicode import (
        PyUnicode_1BYTE_DATA,
        PyUnicode_1BYTE_KIND,
        PyUnicode_KIND,
    )
    from cython.cimports.libc.string import memcmp, memcpy

EXCERPT = 120
_NS = 1_000_000_000
_NEVER = -(1 << 80)  # "no final bar yet": earlier than any time
_MS = 1_000_000
# Sane ranges, the same for every exchange: times from 1970 up to what int64 ns can hold
# (events carry int64 ns), and prices/sizes below 1e18 (no exchange quotes anything larger;
# "1e308" is an attack or a bug, not a price).
MAX_TIME_NS = (1 << 63) - 1
MAX_VALUE = 1e18
#: MAX_VALUE for the per-level checks: a C double compiled (_common.pxd), so that comparing a
#: level's values with it makes no float object (a module global would, twice a level)
_LIMIT = MAX_VALUE
_INF = math.inf  # (a C double compiled, as _LIMIT: the depth scans' "no ask yet")
# A bar opening more than this after the wall clock is a bogus timestamp, not news: taking it
# would mark every later real bar as already emitted (see BarCloser).
MAX_AHEAD_NS = 86_400 * _NS
# What every exchange documents for numbers sent as strings: plain ASCII decimals.
# Python's float()/int() also take Arabic-Indic and fullwidth digits, "1_0", " 10 ", "1e3".
_DECIMAL = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?\Z")
_UNSIGNED = re.compile(r"[0-9]{1,20}\Z")
_FIELDS = ("price", "size")  # level's names for a level's two values


def excerpt(payload: Any, limit: int = EXCERPT) -> str:
    """A short printable excerpt of ``payload`` for error messages."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        text = bytes(payload[: limit * 4]).decode("utf-8", "replace")
    elif isinstance(payload, str):
        text = payload
    else:
        try:
            text = orjson.dumps(payload).decode()
        except TypeError:
            text = repr(payload)
    return text if len(text) <= limit else text[:limit] + "..."


def loads(name: str, payload: str | bytes) -> Any:
    """Decode one WebSocket text frame with orjson, or raise AdapterError."""
    if not isinstance(payload, (str, bytes, bytearray, memoryview)):
        raise AdapterError(f"{name}: payload must be str or bytes, got {type(payload).__name__}")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(f"{name}: malformed JSON ({exc}) in {excerpt(payload)!r}") from None


def dumps(obj: Any) -> str:
    """JSON text for a control frame (a subscribe request, an ack, an error)."""
    return orjson.dumps(obj).decode()


def request(payload: str | bytes) -> dict[str, Any] | None:
    """A client's frame as a JSON object, or None (not JSON, not an object): for the control
    requests a feed server answers if it knows them and ignores otherwise."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def bad_field(name: str, key: str, want: str, obj: Any, value: Any) -> AdapterError:
    """The error for field ``key`` of ``obj``: it must be ``want``, and is ``value``."""
    got = f"{type(value).__name__} {excerpt(value, 40)}"
    return AdapterError(f"{name}: field {key!r} must be {want}, got {got} in {excerpt(obj)!r}")


def field(name: str, obj: Any, key: str) -> Any:
    """``obj[key]``, or AdapterError naming the missing field."""
    if not isinstance(obj, dict):
        raise AdapterError(f"{name}: expected a JSON object, got {excerpt(obj)!r}")
    try:
        return obj[key]
    except KeyError:
        raise AdapterError(f"{name}: missing field {key!r} in {excerpt(obj)!r}") from None


def get_str(name: str, obj: Any, key: str) -> str:
    """A required non-empty string field."""
    try:  # the fast path, for the messages that are fine; anything odd is judged below
        value = obj[key]
        if type(value) is str and value:
            return value
    except (KeyError, TypeError, IndexError):
        pass
    value = field(name, obj, key)
    if not isinstance(value, str) or not value:
        raise bad_field(name, key, "a non-empty string", obj, value)
    return value


def get_int(name: str, obj: Any, key: str) -> int:
    """A required integer field (JSON number without fraction)."""
    try:
        value = obj[key]
        if type(value) is int:
            return value
    except (KeyError, TypeError, IndexError):
        pass
    value = field(name, obj, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_field(name, key, "an integer", obj, value)
    return value


def _sane(name: str, obj: Any, key: str, value: Any, out: float) -> float:
    if not math.isfinite(out) or abs(out) >= MAX_VALUE:
        raise bad_field(name, key, f"finite and below {MAX_VALUE:g}", obj, value)
    return out


def get_num(name: str, obj: Any, key: str) -> float:
    """A required finite JSON number (as float), below :data:`MAX_VALUE` in magnitude."""
    value = field(name, obj, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_field(name, key, "a JSON number", obj, value)
    return _sane(name, obj, key, value, float(value))


def parse_decimal(text: str) -> float:
    """The strict decimal parser every adapter uses: ASCII ``-?digits[.digits]`` only."""
    if not _DECIMAL.match(text):
        raise ValueError(f"not an ASCII decimal: {text!r}")
    return float(text)


def get_dec(name: str, obj: Any, key: str) -> float:
    """A required decimal number sent as a JSON string (``"0.0010"``), as float.

    Only plain ASCII decimals below :data:`MAX_VALUE`, as the exchanges document them.
    """
    try:  # the fast path (decoding is hot): a plain decimal, no regex (a sign: below)
        value = obj[key]
        if value.__class__ is str:
            out = _plain_decimal(value)  # -1.0: not plain
            if 0.0 <= out < MAX_VALUE:
                return out
    except (KeyError, TypeError, IndexError):
        pass
    value = field(name, obj, key)
    if not isinstance(value, str):
        raise bad_field(name, key, "a decimal string", obj, value)
    try:
        out = parse_decimal(value)
    except ValueError:
        raise bad_field(name, key, "a decimal string of ASCII digits", obj, value) from None
    return _sane(name, obj, key, value, out)


def dec_fields(*keys: str) -> Callable[[str, Any], tuple[float, ...]]:
    """A reader of several decimal-string fields of one object (a bar's OHLCV), with exactly
    :func:`get_dec`'s result for each, in one call, because decoding is hot: each value
    through :func:`_plain_decimal` (one pass over its characters, no regex, in C where
    compiled). Anything else (a missing field, another type, a sign, a longer number, a value
    at or above :data:`MAX_VALUE`) is read field by field with :func:`get_dec`, whose error
    names the field."""
    if len(keys) < 2:
        raise ValueError("dec_fields: name two or more fields (get_dec reads one)")
    pick = operator.itemgetter(*keys)

    def read(name: str, obj: Any) -> tuple[float, ...]:
        try:
            out = _decimals(pick(obj))
            if out is not None:
                return out
        except (KeyError, TypeError, IndexError):
            pass
        return tuple(get_dec(name, obj, key) for key in keys)

    return read


def _decimals(values: tuple) -> tuple | None:  # (bare tuples: see _common.pxd)
    """The floats of ``values`` if each is a plain decimal string (see
    :func:`_plain_decimal`) below :data:`MAX_VALUE`, which is then :func:`get_dec`'s result
    for it; else None (:func:`dec_fields` looks closer)."""
    out = []
    for value in values:
        if value.__class__ is not str:
            return None
        x = _plain_decimal(value)  # -1.0: not plain
        if not 0.0 <= x < MAX_VALUE:
            return None
        out.append(x)
    return tuple(out)


def checked_ns(name: str, obj: Any, key: str, value: Any, time_ns: int) -> int:
    """``time_ns`` if it lies in 1970 .. int64 ns, else AdapterError naming the field."""
    if not 0 <= time_ns <= MAX_TIME_NS:
        raise bad_field(name, key, "a time from 1970 that fits int64 nanoseconds", obj, value)
    return time_ns


def get_time_ms(name: str, obj: Any, key: str) -> int:
    """A required time in integer milliseconds since the epoch, as ns (range-checked)."""
    value = get_int(name, obj, key)
    ns = value * _MS
    if 0 <= ns <= MAX_TIME_NS:
        return ns
    return checked_ns(name, obj, key, value, ns)


def get_time_us(name: str, obj: Any, key: str) -> int:
    """A required time in integer microseconds since the epoch, as ns (range-checked)."""
    value = get_int(name, obj, key)
    return checked_ns(name, obj, key, value, value * 1000)


def get_time_s_str(name: str, obj: Any, key: str) -> int:
    """A required time in UNIX seconds sent as an ASCII digit string, as ns (range-checked)."""
    try:  # the fast path: a candle's start in every message ([0-9]{1,20}, without the regex)
        value = obj[key]
        if cython.compiled and value.__class__ is str and 0 < len(value) <= 10:
            # compiled, today's ten digits read in C: at most 9_223_372_036 s fit int64 ns
            text = value
            secs = 0
            for ch in text:
                if not "0" <= ch <= "9":
                    secs = -1
                    break
                secs = secs * 10 + (ord(ch) - 48)
            if 0 <= secs <= 9_223_372_036:
                return secs * 1_000_000_000  # (_NS, as a C constant: no overflow here)
        elif value.__class__ is str and len(value) <= 20 and value.isascii() \
                and value.isdigit():
            ns = int(value) * _NS
            if ns <= MAX_TIME_NS:
                return ns
    except (KeyError, TypeError, IndexError):
        pass
    value = get_str(name, obj, key)
    if not _UNSIGNED.match(value):
        raise bad_field(name, key, "UNIX seconds as ASCII digits", obj, value)
    return checked_ns(name, obj, key, value, int(value) * _NS)


def candles_levels(payload: str | bytes) -> tuple | None:  # (bare tuple: see _common.pxd)
    """``(timestamp ns, sequence_num, candles)`` of a Coinbase Advanced Trade ``candles``
    message as Coinbase sends it (``{"channel":"candles","client_id":..,"timestamp":..,
    "sequence_num":..,"events":[{"type":..,"candles":[{"start":..,"high":..,"low":..,
    "open":..,"close":..,"volume":..,"product_id":..},...]},...]}``: compact, keys in the
    documented order), read in one pass over its text where compiled (:func:`_candles_scan`),
    each candle as ``(product_id, start ns, (open, high, low, close, volume), its text)``:
    what :func:`loads` then :func:`get_time`, :func:`get_time_s_str`, the OHLCV fields'
    :func:`get_dec` and :func:`get_str` give, without the JSON objects (the text is what
    :func:`excerpt` shows of the candle's object). None for any other message (and always
    interpreted): the caller then takes that general path, whose errors name the fault."""
    if not cython.compiled:  # interpreted, a loop over characters costs more than orjson
        return None
    if payload.__class__ is str:
        if not payload.startswith(_CANDLES_HEAD):  # (an l2update or another channel: no copy)
            return None
        return _candles_scan(payload)
    if payload.__class__ is bytes and payload.startswith(_CANDLES_HEAD_BYTES):
        text = _ascii_text(payload)
        return None if text is None else _candles_scan(text)
    return None


_CANDLES_HEAD = '{"channel":"candles","client_id":"'
_CANDLES_HEAD_BYTES = _CANDLES_HEAD.encode()
#: the keys after each of a candle's values, in Coinbase's order (start, then OHLCV's)
_CANDLE_KEYS = ('","high":"', '","low":"', '","open":"', '","close":"', '","volume":"',
                '","product_id":"')


@cython.annotation_typing(False)  # its C types: _common.pxd
def _ascii_at(text: str, i: int, lit: str) -> bool:
    """``text.startswith(lit, i)`` for an ASCII ``text`` and ``lit`` (compiled, one memcmp of
    their bytes in place: the scans check a key after every value)."""
    if cython.compiled:
        k = len(lit)
        return i + k <= len(text) and memcmp(
            PyUnicode_1BYTE_DATA(text) + i, PyUnicode_1BYTE_DATA(lit), k) == 0
    else:  # (an else: compiled, the branch is left out, not "unreachable code")
        return text.startswith(lit, i)


def _candles_scan(text: str) -> tuple | None:  # (bare tuple: see _common.pxd)
    """:func:`candles_levels` of a ``str``: a strict subset of JSON, as :func:`_update_scan`'s
    (strings plain printable ASCII, the product non-empty; ``sequence_num`` 1 to 18 digits
    without a leading zero; ``start`` 1 to 10 digits, as :func:`get_time_s_str`'s fast path;
    the timestamp what :func:`get_time` takes; each value what :func:`get_dec` takes, read by
    :func:`_decimal_in`; at least one event, each of at least one candle), else None.
    Compiled, its characters are read as a C array of bytes."""
    if not (text.isascii() and text.startswith(_CANDLES_HEAD)):  # isascii: a flag, O(1)
        return None
    data = PyUnicode_1BYTE_DATA(text) if cython.compiled else text.encode("ascii")
    n = len(text)
    i = _string_end(text, len(_CANDLES_HEAD))  # client_id
    if i < 0 or not _ascii_at(text, i, '","timestamp":"'):
        return None
    i += 15
    end = _string_end(text, i)
    if end <= i or not _ascii_at(text, end, '","sequence_num":'):
        return None
    try:
        now = rfc3339_ns(text[i:end])
    except ValueError:
        return None
    if not 0 <= now <= MAX_TIME_NS:
        return None
    i = end + 17
    end = _digits_end(text, i)
    if end < 0 or not _ascii_at(text, end, ',"events":['):
        return None
    seq = _digits_value(text, i, end)
    i = end + 11
    candles = []
    while True:  # {"type":"..","candles":[..]} then "," or "]"
        if not _ascii_at(text, i, '{"type":"'):
            return None
        end = _string_end(text, i + 9)
        if end < 0 or not _ascii_at(text, end, '","candles":['):
            return None
        i = end + 13
        while True:  # {"start":"..",...,"product_id":".."} then "," or "]"
            if not _ascii_at(text, i, '{"start":"'):
                return None
            i += 10
            begin = i - 10  # the candle's text, for excerpt
            secs = 0
            end = i
            while end < n and 48 <= data[end] <= 57 and end - i < 11:
                secs = secs * 10 + (data[end] - 48)
                end += 1
            if end == i or end - i > 10 or secs > 9_223_372_036 \
                    or not _ascii_at(text, end, _CANDLE_KEYS[0]):
                return None
            values = [0.0, 0.0, 0.0, 0.0, 0.0]  # high, low, open, close, volume
            for k in range(5):
                i = end + len(_CANDLE_KEYS[k])
                end = i
                while end < n and data[end] != 34:  # '"'
                    end += 1
                x = _decimal_in(text, i, end)  # -1.0: not plain
                if not 0.0 <= x < _LIMIT or not _ascii_at(text, end, _CANDLE_KEYS[k + 1]):
                    return None
                values[k] = x
            i = end + 16
            end = _string_end(text, i)
            if end <= i or end + 2 >= n or data[end + 1] != 125:  # '"}'
                return None
            candles.append((text[i:end], secs * 1_000_000_000,
                            (values[2], values[0], values[1], values[3], values[4]),
                            text[begin:end + 2]))
            ch = data[end + 2]
            i = end + 3
            if ch == 93:  # "]": the event's candles end
                break
            if ch != 44:  # ","
                return None
        if i + 1 >= n or data[i] != 125:  # "}": the event's end
            return None
        ch = data[i + 1]
        i += 2
        if ch == 93:  # "]": the events end
            break
        if ch != 44:
            return None
    if i != n - 1 or data[i] != 125:  # the message's "}"
        return None
    return now, seq, tuple(candles)


def get_list(name: str, obj: Any, key: str) -> list[Any]:
    """A required JSON array field."""
    try:  # the fast path: a message's list of events, of candles, of levels
        value = obj[key]
        if value.__class__ is list:
            return value
    except (KeyError, TypeError, IndexError):
        pass
    value = field(name, obj, key)
    if not isinstance(value, list):
        raise bad_field(name, key, "an array", obj, value)
    return value


def level(name: str, obj: Any, key: str, price: Any, size: Any,
          fields: tuple = _FIELDS, numbers: bool = False,  # (bare tuple: see _common.pxd)
          side: str = "") -> tuple[float, float]:
    """One book level's ``(price, size)`` as floats, the one check every venue's level
    parsing goes through: ASCII decimal strings (``numbers=True``: JSON numbers too, as
    Kraken v2 sends them) whose values are finite and below :data:`MAX_VALUE`, the price
    positive and the size not negative, as ``BookEvent`` requires (so :func:`book` need not
    check the levels again); anything else raises AdapterError naming the field
    (``fields``: the venue's names for the two, e.g. ``"price_level"``/``"new_quantity"``)
    or, for a sign, the book side (``side``, else ``key``: ``"b"`` is ``"bids"``)."""
    if price.__class__ is str and size.__class__ is str:  # the usual level: no regex
        p, q = _plain_decimal(price), _plain_decimal(size)  # -1.0: not plain, look closer
        if 0.0 < p < _LIMIT and 0.0 <= q < _LIMIT:
            return p, q
    elif numbers and price.__class__ is float and size.__class__ is float \
            and 0.0 < price < _LIMIT and 0.0 <= size < _LIMIT:
        return price, size
    p = _level_value(name, obj, key, fields[0], price, numbers)  # each checked by _DECIMAL
    q = _level_value(name, obj, key, fields[1], size, numbers)
    if not (p > 0.0 and q >= 0.0):  # BookEvent's own check names it
        try:
            _check_level(BookEvent, side or _SIDES.get(key, key), (p, q))
        except ValueError as exc:
            raise AdapterError(f"{name}: invalid book levels ({exc}) in "
                               f"{excerpt(obj)!r}") from None
    return p, q


def _plain_decimal(text: str) -> float:
    """``float(text)`` if ``text`` is a plain decimal of at most 30 characters (ASCII digits
    with at most one "." between two of them: exactly what :data:`_DECIMAL` takes there,
    bar the sign), else -1.0: :func:`level`'s fast path, one per price and size."""
    return _decimal_in(text, 0, len(text))


#: 1e0 .. 1e22, each exact (from the int: a correctly rounded conversion of a value a double
#: holds exactly): the scales by which :func:`_decimal_at` divides a mantissa; compiled, a C
#: array of doubles (_common.pxd)
_TEN_POW = [float(10 ** k) for k in range(23)]
if not cython.compiled:  # compiled, the C constants of _common.pxd (the same values)
    #: the byte order of a C uint64 load: :func:`_decimal_at` reads eight digits at a time
    #: in little-endian order (the first digit the lowest byte), else one at a time
    _LITTLE = sys.byteorder == "little"
    # the uint64 constants of that read (compiled, C macros: literals the C compiler folds
    # into the masks, not globals loaded per decimal): a 1 in each byte; the low byte of
    # each 32-bit half; the multipliers of the pairs of digits into a 32-bit value; the low
    # half; 2**53, the first integer a double does not hold exactly after it
    _ONES = 0x0101010101010101
    _LOW_BYTES = 0x000000FF000000FF
    _MUL_HIGH = 100 + (1_000_000 << 32)
    _MUL_LOW = 1 + (10_000 << 32)
    _LOW_HALF = 0xFFFFFFFF
    _EXACT = 1 << 53


@cython.annotation_typing(False)  # its C types: _common.pxd
def _decimal_in(text: str, start: int, end: int) -> float:
    """:func:`_plain_decimal` of ``text[start:end]``, read in place (compiled, no slice:
    :func:`_decimal_at`); a slice of a string holding any character past U+00FF is never
    plain here (no caller has one)."""
    if cython.compiled:
        n = end - start
        if n <= 0 or n > 30 or PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND:
            return -1.0
        value, stop = _decimal_at(text, PyUnicode_1BYTE_DATA(text), start, end)
        return value if stop == end else -1.0  # a character that is not part of it: not plain
    else:  # (an else: compiled, the branch is left out, not "unreachable code")
        text = text[start:end]
        try:
            out = float(text)
        except ValueError:
            return -1.0
        # float() also takes "1e5", "1_0", " 1", "+1", ".5", "5.", other scripts' digits and
        # "inf"/"nan"; what it takes that is ASCII, starts and ends with a digit and holds no "e",
        # "E" or "_" is digits with at most one "." inside
        if len(text) <= 30 and text.isascii() and "0" <= text[0] <= "9" \
                and "0" <= text[-1] <= "9" and "e" not in text and "E" not in text \
                and "_" not in text:
            return out
        return -1.0


@cython.annotation_typing(False)  # its C types: _common.pxd
@cython.cdivision(True)  # its one division's divisor is a power of ten: no zero check
def _decimal_at(text: str, data: Any, i: int, n: int) -> tuple[float, int]:
    """The run of digits and "." starting at ``data[i]`` (``data``: the characters of the
    1-byte ``text``, as bytes; the run read up to index ``n`` at most): ``(float(run), the
    index after it)`` if the run is a plain decimal (:func:`_plain_decimal`'s: at most 30
    characters), else ``(-1.0, an index)``. Its callers read the character after a decimal
    from that index (the depth scans: the closing quote), so the characters are read once.

    Compiled, the digits are summed into a 64-bit mantissa, the fraction's eight at a time
    where eight follow (one uint64 load: all digits in a few masks, their value in three
    multiplications), and the float is ``mantissa / 10**k``: exact operands (a mantissa below
    2**53 of at most 19 digits, a power of ten up to 1e22) make the quotient the correctly
    rounded value of the decimal, float(run) (Clinger's fast path); any other run is
    converted by float()."""
    if cython.compiled:
        start = i
        lim = min(n, i + 31)  # 31 characters of a run: too long to be plain
        mantissa = 0
        while i < lim:  # the integer part
            d = data[i] - 48  # unsigned: a character below "0" is above 9 too
            if d > 9:
                break
            mantissa = mantissa * 10 + d
            i += 1
        if i == start:
            return -1.0, i
        point = i
        frac = 0
        if i < lim and data[i] == 46:  # "."
            i += 1
            if _LITTLE:
                high = 0xF0 * _ONES  # the high nibble of each byte
                word = 0  # (set by each load)
                while lim - i >= 8:
                    memcpy(cython.address(word), data + i, 8)
                    # eight digits: every byte 0x30..0x39 (high nibble 3, and still 3 after
                    # adding 6, which carries out of any low nibble above 9)
                    if ((word & high) | (((word + 6 * _ONES) & high) >> 4)) != 0x33 * _ONES:
                        break
                    word -= 0x30 * _ONES  # each byte a digit's value, the first the lowest
                    word = word * 10 + (word >> 8)  # pairs of digits in every other byte
                    word = (((word & _LOW_BYTES) * _MUL_HIGH)
                            + (((word >> 16) & _LOW_BYTES) * _MUL_LOW)) >> 32
                    mantissa = mantissa * 100000000 + (word & _LOW_HALF)
                    i += 8
            while i < lim:
                d = data[i] - 48
                if d > 9:
                    break
                mantissa = mantissa * 10 + d
                i += 1
            frac = i - point - 1
            if frac == 0:  # "5.": no digit after the point
                return -1.0, i
        if i - start > 30 or (i < n and data[i] == 46):  # too long, or a second "."
            return -1.0, i
        digits = i - start - (1 if frac else 0)  # the mantissa wrapped if more than 19
        if digits > 19 or mantissa >= _EXACT:  # not exact as a double
            try:  # a run of digits: only a MemoryError (the general path then meets it too)
                return float(text[start:i]), i
            except Exception:  # (no exception leaves: compiled, its callers check none)
                return -1.0, i
        return mantissa / _TEN_POW[frac], i
    else:
        end = i
        while end < n and (48 <= data[end] <= 57 or data[end] == 46):
            end += 1
        return _decimal_in(text, i, end), end


_SIDES = {"b": "bids", "a": "asks"}  # Binance's keys for a depth update's sides


def _level_value(name: str, obj: Any, key: str, field_name: str, value: Any,
                 numbers: bool) -> float:
    """One value of a level that missed :func:`level`'s fast path, or the error naming it."""
    where = f"{key}[].{field_name}"
    if isinstance(value, str):
        if not _DECIMAL.match(value):
            raise bad_field(name, where, "a decimal string of ASCII digits", obj, value)
        out = float(value)
    elif numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        out = float(value)
    else:
        raise bad_field(name, where, "a JSON number or decimal string" if numbers
                        else "a decimal string", obj, value)
    if not math.isfinite(out) or abs(out) >= MAX_VALUE:
        raise bad_field(name, where, f"finite and below {MAX_VALUE:g}", obj, value)
    return out


def levels(name: str, obj: Any, key: str) -> tuple[tuple[float, float], ...]:
    """A required array of ``[price, size]`` decimal-string pairs, as ``(float, float)``
    tuples (each through :func:`level`)."""
    out = []
    for lv in get_list(name, obj, key):
        if lv.__class__ is not list or len(lv) != 2:
            raise bad_field(name, key, "[price, size] pairs of decimal strings", obj, lv)
        out.append(level(name, obj, key, lv[0], lv[1]))
    return tuple(out)


def depth_body_levels(body: str | bytes) -> tuple[int, tuple, tuple] | None:
    """``(lastUpdateId, bids, asks)`` of a depth snapshot body as Binance sends it
    (``{"lastUpdateId":N,"bids":[["p","q"],...],"asks":[...]}``, compact, keys in that
    order), read in one pass over its text (:func:`_depth_scan`) where compiled: exactly what
    :func:`loads` then :func:`get_int` and :func:`levels` give, without the JSON objects
    (a snapshot's thousands of levels are most of a Binance replay's cost), its levels not
    crossed (:func:`_depth_scan`: a snapshot :func:`book` may take with ``uncrossed=True``).
    None for any other body (and always interpreted): the caller then takes that general
    path, whose errors name the fault."""
    if not cython.compiled:  # interpreted, a loop over characters costs more than orjson
        return None
    text = _ascii_text(body)
    return None if text is None else _depth_scan(text)


def _ascii_text(payload: Any) -> str | None:
    """``payload`` (``str`` or ``bytes``) as a ``str`` if it is all ASCII bytes or a ``str``
    (whose ASCII-ness the scans check), else None: what the one-pass scans read."""
    if payload.__class__ is bytes:
        try:
            return payload.decode("ascii")
        except UnicodeDecodeError:
            return None
    return payload if payload.__class__ is str else None


_DEPTH_HEAD = '{"lastUpdateId":'


def _depth_scan(text: str) -> tuple | None:  # (bare tuple: see _common.pxd)
    """:func:`depth_body_levels` of a ``str``: a strict subset of JSON (ASCII, no whitespace,
    no escapes, the three keys in Binance's order, an id of 1 to 18 digits without a leading
    zero) whose levels :func:`level`'s fast path would take (each value through
    :func:`_decimal_in`, the price positive, both below :data:`MAX_VALUE`) and are not
    crossed (the highest bid price holding a size below the lowest ask price holding one,
    found as the levels are read); None otherwise (a crossed snapshot: the JSON path, whose
    check names it). So what it gives is a snapshot ``book(..., uncrossed=True)`` may build
    without walking its levels again. Compiled, its characters are read as a C array of
    bytes."""
    if not (text.isascii() and _ascii_at(text, 0, _DEPTH_HEAD)):  # isascii: a flag, O(1)
        return None
    n = len(text)
    start = len(_DEPTH_HEAD)
    end = _digits_end(text, start)
    if end < 0 or not _ascii_at(text, end, ',"bids":'):
        return None
    last = _digits_value(text, start, end)
    bids: list[tuple[float, float]] = []
    i = _depth_side(text, end + 8, bids, True)
    top = _side_best  # the highest bid price holding a size (0.0: none)
    if i < 0 or not _ascii_at(text, i, ',"asks":'):
        return None
    asks: list[tuple[float, float]] = []
    i = _depth_side(text, i + 8, asks, False)
    if i != n - 1 or text[i] != "}" or not top < _side_best:  # crossed: the JSON path's
        return None  # check names it
    return last, tuple(bids), tuple(asks)


def depth_update_levels(payload: str | bytes) -> tuple | None:
    """``(symbol, E, U, u, bids, asks)`` of a Binance ``depthUpdate`` message as Binance sends
    it (``{"e":"depthUpdate","E":..,"s":..,"U":..,"u":..,"b":[..],"a":[..]}``, compact, keys
    in that order, bare or in a combined stream's ``{"stream":..,"data":..}``), read in one
    pass over its text where compiled (:func:`_update_scan`): what :func:`loads` then
    :func:`get_str`, :func:`get_int` and :func:`levels` give, without the JSON objects. None
    for any other message (and always interpreted): the caller then takes that general
    path."""
    if not cython.compiled:  # interpreted, a loop over characters costs more than orjson
        return None
    text = _ascii_text(payload)
    return None if text is None else _update_scan(text)


_UPDATE_HEAD = '{"e":"depthUpdate","E":'


def _update_scan(text: str) -> tuple | None:  # (bare tuple: see _common.pxd)
    """:func:`depth_update_levels` of a ``str``: a strict subset of JSON, as
    :func:`_depth_scan`'s (the stream and symbol plain printable ASCII, non-empty), else
    None."""
    if not text.isascii():  # a flag, O(1)
        return None
    i, close = _envelope(text)  # where the depthUpdate object starts and must end
    if i < 0:
        return None
    if not _ascii_at(text, i, _UPDATE_HEAD):
        return None
    i += len(_UPDATE_HEAD)
    end = _digits_end(text, i)
    if end < 0 or not _ascii_at(text, end, ',"s":"'):
        return None
    when = _digits_value(text, i, end)
    i = end + 6
    end = _string_end(text, i)
    if end <= i or not _ascii_at(text, end + 1, ',"U":'):
        return None
    symbol = text[i:end]
    i = end + 6
    end = _digits_end(text, i)
    if end < 0 or not _ascii_at(text, end, ',"u":'):
        return None
    first = _digits_value(text, i, end)
    i = end + 5
    end = _digits_end(text, i)
    if end < 0 or not _ascii_at(text, end, ',"b":'):
        return None
    last = _digits_value(text, i, end)
    bids: list[tuple[float, float]] = []
    i = _depth_side(text, end + 5, bids, True)
    if i < 0 or not _ascii_at(text, i, ',"a":'):
        return None
    asks: list[tuple[float, float]] = []
    i = _depth_side(text, i + 5, asks, False)
    if i != close - 1 or text[i] != "}":
        return None
    return symbol, when, first, last, tuple(bids), tuple(asks)


def book_ticker_fields(payload: str | bytes) -> tuple | None:
    """``(symbol, b, B, a, A)`` of a Binance ``bookTicker`` message as Binance sends it
    (``{"u":..,"s":..,"b":"p","B":"q","a":"p","A":"q"}``, compact, keys in that order, bare or
    in a combined stream's ``{"stream":..,"data":..}``), read in one pass over its text where
    compiled (:func:`_ticker_scan`): what :func:`loads` then :func:`get_str` and
    :func:`get_dec` give, without the JSON objects. None for any other message (and always
    interpreted): the caller then takes that general path."""
    if not cython.compiled:  # interpreted, a loop over characters costs more than orjson
        return None
    text = _ascii_text(payload)
    return None if text is None else _ticker_scan(text)


def _ticker_scan(text: str) -> tuple | None:  # (bare tuple: see _common.pxd)
    """:func:`book_ticker_fields` of a ``str``: a strict subset of JSON, as
    :func:`_update_scan`'s (each value through :func:`_decimal_at`, the prices positive, all
    below :data:`MAX_VALUE`), else None."""
    if not text.isascii():  # a flag, O(1)
        return None
    data = PyUnicode_1BYTE_DATA(text) if cython.compiled else text.encode("ascii")
    n = len(text)
    i, close = _envelope(text)  # where the bookTicker object starts and must end
    if i < 0:
        return None
    if not _ascii_at(text, i, '{"u":'):
        return None
    end = _digits_end(text, i + 5)
    if end < 0 or not _ascii_at(text, end, ',"s":"'):
        return None
    i = end + 6
    end = _string_end(text, i)
    if end <= i or not _ascii_at(text, end + 1, ',"b":"'):
        return None
    symbol = text[i:end]
    bid, i = _decimal_at(text, data, end + 7, n)
    if not 0.0 < bid < _LIMIT or not _ascii_at(text, i, '","B":"'):
        return None
    bid_size, i = _decimal_at(text, data, i + 7, n)
    if not 0.0 <= bid_size < _LIMIT or not _ascii_at(text, i, '","a":"'):
        return None
    ask, i = _decimal_at(text, data, i + 7, n)
    if not 0.0 < ask < _LIMIT or not _ascii_at(text, i, '","A":"'):
        return None
    ask_size, i = _decimal_at(text, data, i + 7, n)
    if not 0.0 <= ask_size < _LIMIT or i != close - 2 or data[i] != 34 or data[i + 1] != 125:
        return None  # (34, 125: '"}')
    return symbol, bid, bid_size, ask, ask_size


@cython.annotation_typing(False)  # its C types: _common.pxd
def _envelope(text: str) -> tuple[int, int]:
    """Where a Binance message's object starts in ``text`` and the index it must end at (its
    closing "}" one before): (0, len) for a bare payload, inside a combined stream's
    ``{"stream":"..","data":..}`` for an envelope; (-1, -1) for a text that starts as an
    envelope but is not one (the scans then leave it to the JSON path)."""
    n = len(text)
    if not _ascii_at(text, 0, '{"stream":"'):
        return 0, n
    i = _string_end(text, 11)
    if i <= 11 or not _ascii_at(text, i + 1, ',"data":') or text[n - 1] != "}":
        return -1, -1
    return i + 9, n - 1


@cython.annotation_typing(False)  # its C types: _common.pxd
def _digits_end(text: str, i: int) -> int:
    """The end of the JSON unsigned integer at ``text[i]`` of an ASCII ``text`` (1 to 18
    digits, no leading zero), or -1. Compiled, its characters are read as bytes in place."""
    data = PyUnicode_1BYTE_DATA(text) if cython.compiled else text.encode("ascii")
    n = len(text)
    end = i
    while end < n and end - i < 19 and 48 <= data[end] <= 57:  # "0" to "9"
        end += 1
    if end == i or end - i > 18 or (end - i > 1 and data[i] == 48):
        return -1
    return end


@cython.annotation_typing(False)  # its C types: _common.pxd
def _digits_value(text: str, i: int, end: int) -> int:
    """The value of the digits ``text[i:end]`` of an ASCII ``text`` (checked by
    :func:`_digits_end`)."""
    data = PyUnicode_1BYTE_DATA(text) if cython.compiled else text.encode("ascii")
    value = 0
    for k in range(i, end):
        value = value * 10 + (data[k] - 48)
    return value


@cython.annotation_typing(False)  # its C types: _common.pxd
def _string_end(text: str, i: int) -> int:
    """The index of the ``"`` closing the JSON string whose characters start at ``text[i]``
    of an ASCII ``text`` if they are all printable ASCII other than a backslash (the string
    is then what they spell), else -1."""
    data = PyUnicode_1BYTE_DATA(text) if cython.compiled else text.encode("ascii")
    n = len(text)
    while i < n:
        ch = data[i]
        if ch == 34:  # '"'
            return i
        if not 32 <= ch <= 126 or ch == 92:  # " " to "~", not "\\"
            return -1
        i += 1
    return -1


if not cython.compiled:  # compiled, _common.pxd's: CPython's PyObject_GC_UnTrack
    def _untrack(obj: Any) -> None:
        """Take ``obj`` out of the cyclic collector's lists: what CPython does itself to a
        tuple of untracked objects (floats) at its first collection, done when the level is
        made, so that the collections a snapshot's thousands of levels set off do not walk
        them. Interpreted, nothing: the collector untracks them itself."""


#: the best price holding a size of the side :func:`_depth_side` read last (compiled, a C
#: double, _common.pxd): the highest for bids (0.0: none), the lowest for asks (inf: none)
_side_best = 0.0


@cython.annotation_typing(False)  # its C types: _common.pxd
def _depth_side(text: str, i: int, out: list, bid: bool) -> int:
    """Read one side's ``[["p","q"],...]`` from ``text[i]`` of an ASCII ``text`` into
    ``out`` (a new list, only the scan's: taken out of the cyclic collector's lists): the
    index after it, or -1 if it is not of that form (see :func:`_depth_scan`);
    :data:`_side_best` is then that side's best price holding a size (``bid``: the highest,
    else the lowest), which a snapshot's scan compares to tell it is not crossed."""
    global _side_best
    # compiled, the characters as bytes in place (a C array); interpreted, the same bytes
    data = PyUnicode_1BYTE_DATA(text) if cython.compiled else text.encode("ascii")
    n = len(text)
    if i >= n or data[i] != 91:  # "["
        return -1
    i += 1
    best = 0.0 if bid else _INF
    _side_best = best
    # ``out`` (the scan's own list, which holds only levels: no cycle through it) out of the
    # collector's lists too: else each collection a snapshot's levels set off walks it
    # (36k instructions a Binance replay)
    _untrack(out)
    if i < n and data[i] == 93:  # "]": no levels
        return i + 1
    while True:  # ["p","q"] then "," or "]"
        if i + 1 >= n or data[i] != 91 or data[i + 1] != 34:  # '["'
            return -1
        p, i = _decimal_at(text, data, i + 2, n)  # -1.0: not plain
        if not 0.0 < p < _LIMIT or i + 2 >= n or data[i] != 34 or data[i + 1] != 44 \
                or data[i + 2] != 34:  # '","'
            return -1
        q, i = _decimal_at(text, data, i + 3, n)
        if not 0.0 <= q < _LIMIT or i + 2 >= n or data[i] != 34 or data[i + 1] != 93:  # '"]'
            return -1
        level = (p, q)
        _untrack(level)  # two floats: no cycle through it (see _untrack)
        out.append(level)
        if q > 0.0 and (p > best if bid else p < best):
            best = p
        ch = data[i + 2]
        i += 3
        if ch == 93:  # "]": the side's end
            _side_best = best
            return i
        if ch != 44:  # ","
            return -1


def side_levels(name: str, obj: Any, key: str, sides: tuple  # (bare tuple: see _common.pxd)
                ) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    """A required array of ``[side, price, size]`` changes split into (bids, asks); ``sides``
    names the bid side and the ask side as the exchange spells them (``("buy", "sell")``)."""
    bids, asks = [], []
    bid, ask = sides
    for change in get_list(name, obj, key):
        if change.__class__ is list and len(change) == 3:
            side = change[0]
            if side == bid:
                bids.append(level(name, obj, key, change[1], change[2], _FIELDS, False, "bids"))
                continue
            if side == ask:
                asks.append(level(name, obj, key, change[1], change[2], _FIELDS, False, "asks"))
                continue
        raise bad_field(name, key, f"[{bid!r}|{ask!r}, price, size] changes", obj, change)
    return tuple(bids), tuple(asks)


def get_time(name: str, obj: Any, key: str) -> int:
    """A required RFC 3339 timestamp field, as ns since the epoch."""
    value = get_str(name, obj, key)
    try:
        ns = rfc3339_ns(value)
    except ValueError:
        raise bad_field(name, key, "an RFC 3339 timestamp", obj, value) from None
    if 0 <= ns <= MAX_TIME_NS:  # checked_ns inline (a time per message)
        return ns
    raise bad_field(name, key, "an RFC 3339 timestamp", obj, value)


# --- numbers out -----------------------------------------------------------------------

def dec(x: float) -> str:
    """Decimal-string form of a float that parses back to the same float (no exponent)."""
    s = repr(float(x))
    if "e" in s or "E" in s or s in ("nan", "inf", "-inf"):
        if not math.isfinite(float(x)):
            raise ValueError(f"cannot encode non-finite number {x!r}")
        s = format(Decimal(s), "f")
    return s


def num(x: float) -> int | float:
    """A JSON number for ``x``: an int when it is integral (as the docs show volumes)."""
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"cannot encode non-finite number {x!r}")
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def whole(time_ns: int, unit_ns: int, what: str) -> int:
    """``time_ns // unit_ns``, refusing times the wire format cannot carry exactly."""
    if not isinstance(time_ns, int) or isinstance(time_ns, bool):
        raise ValueError(f"{what}: time_ns must be an int, got {time_ns!r}")
    q, r = divmod(time_ns, unit_ns)
    if r:
        raise ValueError(f"{what}: time_ns {time_ns} is not a whole multiple of {unit_ns} ns")
    return q


# --- RFC 3339 ------------------------------------------------------------------------------

# The date and time of day (fixed width: the first 19 characters), then the fraction and
# offset: split so that the first part, which a feed's timestamps share for a whole second,
# is parsed and checked once per second (``_seconds``, cached) rather than once per message;
# and within it the date and hour, which a feed's timestamps share for an hour (a minute-bar
# stream's differ in every message), once per hour (``_hour_start``, cached).
# [0-9], not \d: \d also matches Arabic-Indic and other Unicode digits.
_RFC3339_HOUR = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2})\Z", re.ASCII)
_RFC3339_TAIL = re.compile(
    r"(?:\.([0-9]{1,9}))?([Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z", re.ASCII)


@lru_cache(maxsize=1024)
def _day_start(y: str, mo: str, d: str) -> int:
    """UNIX seconds at the start of a calendar day (validated: no February 30th); cached, as a
    feed's timestamps share their few days."""
    day = _dt.date(int(y), int(mo), int(d))
    return calendar.timegm((day.year, day.month, day.day, 0, 0, 0))


class _TimeOfDayError(ValueError):
    """An hour, minute or second out of range (``rfc3339_ns`` names the whole text)."""


@lru_cache(maxsize=1024)
def _hour_start(head: str) -> int | None:
    """UNIX seconds (UTC) of ``YYYY-MM-DDTHH``; None if it is not of that form (an hour out of
    range raises _TimeOfDayError, a bad date ValueError: neither is cached)."""
    m = _RFC3339_HOUR.match(head)
    if m is None:
        return None
    y, mo, d, hh = m.groups()
    h = int(hh)
    if h > 23:
        raise _TimeOfDayError
    return _day_start(y, mo, d) + h * 3600


@lru_cache(maxsize=4096)
def _seconds(head: str) -> int | None:
    """UNIX seconds (UTC) of ``YYYY-MM-DDTHH:MM:SS``; None if it is not of that form (a time of
    day out of range raises _TimeOfDayError, a bad date ValueError: neither is cached)."""
    if len(head) != 19 or head[13] != ":" or head[16] != ":":
        return None
    mm, ss = head[14:16], head[17:19]
    if not (mm.isascii() and ss.isascii() and mm.isdigit() and ss.isdigit()):  # [0-9]{2}
        return None
    hour = _hour_start(head[:13])
    if hour is None:
        return None
    mi, sec = int(mm), int(ss)
    if mi > 59 or sec > 59:
        raise _TimeOfDayError
    return hour + mi * 60 + sec


#: ns per unit of a fraction of n digits (``_SCALE[6]``: microseconds)
_SCALE: tuple[int, ...] = tuple(10 ** (9 - n) for n in range(10))


#: the last second parsed by the usual form, ``(its 19 characters, UNIX seconds)``: a feed's
#: timestamps share it for a whole second (one tuple, so threads never see half of it);
#: compiled, a C static (_common.pxd), as the next one: writing a module global once a message
#: would also void Cython's cached lookups of every other global of the module
_LAST_SECOND: tuple[str, int] = ("", 0)
#: the last hour parsed, ``(its 13 characters, UNIX seconds)``: a minute stream's timestamps
#: share it for an hour (each is a new second)
_LAST_HOUR: tuple[str, int] = ("", 0)


@cython.annotation_typing(False)  # its C types: _common.pxd
def _epoch_ns(secs: int, frac: int, digits: int) -> int:
    """``secs`` seconds and ``frac`` units of a fraction of ``digits`` digits since the epoch,
    as ns: :func:`rfc3339_ns`'s result (compiled, in C when it fits int64, as every time up to
    2262 does; else as a Python int, which the callers' range check refuses)."""
    if -9_223_372_035 <= secs <= 9_223_372_035:
        scale = _SCALE[digits]
        return secs * 1_000_000_000 + frac * scale
    return int(secs) * _NS + frac * _SCALE[digits]


def rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch for an RFC 3339 timestamp (up to 9 fraction digits)."""
    global _LAST_SECOND, _LAST_HOUR
    n = len(text)
    digits = n - 21
    frac = -1
    if n == 20 and text[19] == "Z":  # UTC without a fraction (Coinbase's candle stamps)
        frac = digits = 0
    elif 0 < digits < 10 and text[-1] == "Z" and text[19] == ".":
        # the usual form, one per book update (Coinbase: "2021-04-17T16:43:30.244075Z"):
        # UTC with a fraction; the same checks as below without the regex
        if cython.compiled:  # the fraction's digits read in C, no slice
            frac = 0
            for i in range(20, 20 + digits):
                ch = text[i]
                if not "0" <= ch <= "9":
                    frac = -1
                    break
                frac = frac * 10 + (ord(ch) - 48)
        else:
            part = text[20:-1]
            frac = int(part) if part.isdigit() and part.isascii() else -1
    if frac >= 0:
        last = _LAST_SECOND
        if text.startswith(last[0]) and last[0]:  # the second of the last timestamp
            return _epoch_ns(last[1], frac, digits)
        hour = _LAST_HOUR
        if text.startswith(hour[0]) and hour[0] and text[13] == ":" and text[16] == ":":
            # the hour of the last timestamp (a minute stream's): minutes and seconds read
            # here, [0-5][0-9] each (in C where compiled), no slice and no cache lookup
            m1, m2, s1, s2 = text[14], text[15], text[17], text[18]
            if "0" <= m1 <= "5" and "0" <= m2 <= "9" and "0" <= s1 <= "5" and "0" <= s2 <= "9":
                second = hour[1]  # (compiled, a C integer: the sum below in C)
                second += ((ord(m1) - 48) * 10 + ord(m2) - 48) * 60 + (ord(s1) - 48) * 10 \
                    + ord(s2) - 48
                _LAST_SECOND = (text[:19], second)
                return _epoch_ns(second, frac, digits)
        head = text[:19]
        try:
            secs = _seconds(head)
        except _TimeOfDayError:
            raise ValueError(f"time of day out of range in {text!r}") from None
        if secs is not None:
            _LAST_SECOND = (head, secs)
            _LAST_HOUR = (head[:13], secs - secs % 3600)
            return _epoch_ns(secs, frac, digits)
    m = _RFC3339_TAIL.match(text, 19)
    try:
        secs = _seconds(text[:19]) if m is not None else None
    except _TimeOfDayError:
        raise ValueError(f"time of day out of range in {text!r}") from None
    if secs is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    fraction, tz = m.groups()  # type: ignore[union-attr]
    if tz not in ("Z", "z"):
        off = int(tz[1:3]) * 3600 + int(tz[4:6]) * 60
        secs -= off if tz[0] == "+" else -off
    return secs * _NS + (int(fraction.ljust(9, "0")) if fraction else 0)


def rfc3339(time_ns: int, digits: int | None = 9) -> str:
    """RFC 3339 UTC text for ``time_ns``.

    ``digits`` fraction digits as the exchange documents them (widened to 9 rather than lose
    precision); ``None`` is Go's RFC3339Nano: trailing zeros and a zero fraction dropped.
    """
    secs, frac = divmod(time_ns, _NS)
    head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    nine = f"{frac:09d}"
    if digits is None:
        nine = nine.rstrip("0")
        return f"{head}.{nine}Z" if nine else f"{head}Z"
    if digits < 9 and nine[digits:].strip("0"):
        digits = 9
    return f"{head}.{nine[:digits]}Z" if digits else f"{head}Z"


# --- events ----------------------------------------------------------------------------------
# tick, book and quote: annotation_typing(False), so that compiled, their annotations (a
# ``tuple`` of levels, a ``float`` price) do not become C argument checks that raise
# TypeError before the event's own checks could make the AdapterError a caller expects.

@cython.annotation_typing(False)  # its C types: _common.pxd (what its annotations made)
def bar(name: str, final: bool, symbol: str, time_ns: int, o: float, h: float, low: float,
        c: float, v: float, source: str, raw: Any) -> BarEvent:
    """A validated BarEvent (final) or BarUpdateEvent; invalid values raise AdapterError.
    (``_new_bar`` is what ``create_bar_event`` and ``create_bar_update_event`` call: one
    Python frame less per message.)"""
    try:
        return _new_bar(BarEvent if final else BarUpdateEvent, symbol, time_ns, o, h, low, c, v,
                        source)
    except ValueError as exc:
        raise AdapterError(f"{name}: invalid bar ({exc}) in {excerpt(raw)!r}") from None


@cython.annotation_typing(False)
def tick(name: str, symbol: str, time_ns: int, price: float, size: float, side: str | None,
         trade_id: str | None, source: str, raw: Any) -> TickEvent:
    """A validated TickEvent; invalid values raise AdapterError."""
    try:
        return create_tick_event(symbol, time_ns, price, size, side=side, trade_id=trade_id,
                                 source=source)
    except ValueError as exc:
        raise AdapterError(f"{name}: invalid trade ({exc}) in {excerpt(raw)!r}") from None


@cython.annotation_typing(False)
def book(name: str, symbol: str, time_ns: int | None, bids: tuple[tuple[float, float], ...],
         asks: tuple[tuple[float, float], ...], snapshot: bool, first_id: int | None,
         last_id: int | None, source: str, raw: Any, checksum: int | None = None,
         checksum_rule: str | None = None, uncrossed: bool = False) -> BookEvent:
    """A validated BookEvent (``time_ns`` None: the receive time); else AdapterError. Its
    levels come from :func:`level`, which checked each: ``parsed_book_event`` does the rest.
    ``uncrossed=True``: a snapshot whose levels the caller found not crossed as it read them
    (:func:`depth_body_levels`'s), whose crossing is then not checked again."""
    try:
        if uncrossed is True:
            return parsed_book_event(symbol, bids, asks, snapshot, first_id, last_id,
                                     checksum, checksum_rule, time_ns, source, True)
        return parsed_book_event(symbol, bids, asks, snapshot, first_id, last_id, checksum,
                                 checksum_rule, time_ns, source)
    except ValueError as exc:
        raise AdapterError(f"{name}: invalid book levels ({exc}) in {excerpt(raw)!r}") from None


@cython.annotation_typing(False)
def quote(name: str, symbol: str, time_ns: int | None, bid: float | None, ask: float | None,
          bid_size: float | None, ask_size: float | None, source: str, raw: Any) -> QuoteEvent:
    """A validated QuoteEvent (``time_ns`` None: the receive time); else AdapterError. The
    usual quote is made without the class's interpreted checks (``parsed_quote_event``:
    the same checks, in C where compiled)."""
    try:
        return parsed_quote_event(symbol, bid, ask, bid_size, ask_size, time_ns, source)
    except ValueError as exc:
        raise AdapterError(f"{name}: invalid quote ({exc}) in {excerpt(raw)!r}") from None


def taker_side(name: str, obj: Any, key: str, *, maker: bool = False) -> str:
    """The aggressor side (``"BUY"``/``"SELL"``) from a ``"buy"``/``"sell"`` field.

    ``maker=True`` when the field names the resting (maker) order's side, as Coinbase's
    ``match`` does: the aggressor is then the other side.
    """
    value = field(name, obj, key)
    if value not in ("buy", "sell"):
        raise bad_field(name, key, '"buy" or "sell"', obj, value)
    buy = (value == "buy") != maker
    return "BUY" if buy else "SELL"


class BarCloser:
    """Final/in-progress decisions for feeds that re-send the running bar with no 'closed' flag.

    A bar is final once the message's own timestamp has reached the bar's end, or once a bar
    with a later start arrives for the same (symbol, interval): the feed only sends updates
    on trades, so a trade in a later interval means the earlier bar can no longer change.
    The last update seen for the earlier bar is then emitted again, as the final BarEvent.
    """

    __slots__ = ("_clock", "_keys", "repeated")

    def __init__(self) -> None:
        # per interval (ns), per symbol: [start of the latest final bar (_NEVER: none yet),
        # the running bar as (start, BarUpdateEvent) or None]. Nested plain-key dicts, not
        # one keyed by (symbol, interval) tuples: no tuple to build, hash and compare per bar.
        self._keys: dict[int, dict[str, list[Any]]] = {}
        self.repeated = 0  # bars dropped because they were already emitted as final
        self._clock = 0  # the wall clock as last read (ns): a bar not past it plus a day is
        # in time without reading the clock again (it only moves on)

    def reset(self) -> None:
        """Forget every open bar (e.g. after a reconnect)."""
        self._keys.clear()

    def push(self, name: str, interval_ns: int, now_ns: int, symbol: str, begin_ns: int,
             values: tuple[float, float, float, float, float], source: str,
             raw: Any) -> list[BarEvent]:
        """The events one received bar gives: [], [update], [final], or [earlier final, new]."""
        if begin_ns > self._clock + MAX_AHEAD_NS:  # not surely in time: read the clock
            self._clock = time.time_ns()
            if begin_ns > self._clock + MAX_AHEAD_NS:
                raise AdapterError(f"{name}: bar of {symbol!r} opens more than a day after the "
                                   f"clock ({rfc3339(begin_ns)}) in {excerpt(raw)!r}")
        o, h, low, c, v = values
        symbols = self._keys.get(interval_ns)
        state = None if symbols is None else symbols.get(symbol)
        done, pend = (_NEVER, None) if state is None else (state[0], state[1])
        if pend is None and begin_ns > done and now_ns >= begin_ns + interval_ns:
            # the usual message of a finished bar (a final candle stamped at its end): the
            # same outcome as below, without its bookkeeping
            usual = bar(name, True, symbol, begin_ns, o, h, low, c, v, source, raw)  # may raise
            if state is not None:
                state[0] = begin_ns
            elif symbols is not None:
                symbols[symbol] = [begin_ns, None]
            else:
                self._keys[interval_ns] = {symbol: [begin_ns, None]}
            return [usual]
        out: list[BarEvent] = []
        flush = pend is not None and pend[0] < begin_ns
        if pend is not None and flush:
            p = pend[1]
            out.append(create_bar_event(p.symbol, pend[0], p.open, p.high, p.low, p.close,
                                        p.volume, source=p.source))
            done = max(done, pend[0])
        ev: BarEvent | None = None
        if begin_ns > done:  # else: already emitted as final (e.g. a repeated snapshot)
            final = now_ns >= begin_ns + interval_ns or (pend is not None and begin_ns < pend[0])
            ev = bar(name, final, symbol, begin_ns, o, h, low, c, v, source, raw)  # may raise
            out.append(ev)
        else:  # a repeat is still validated: a corrupt one is an error, not a duplicate
            bar(name, True, symbol, begin_ns, o, h, low, c, v, source, raw)  # may raise
            self.repeated += 1
        # commit only once nothing can raise any more
        if flush:
            pend = None
        if ev is not None:
            if final:
                done = max(done, begin_ns)
                if pend is not None and pend[0] == begin_ns:
                    pend = None
            else:
                pend = (begin_ns, ev)
        if state is not None:
            state[0], state[1] = done, pend
        elif done != _NEVER or pend is not None:
            if symbols is None:
                symbols = self._keys[interval_ns] = {}
            symbols[symbol] = [done, pend]
        return out
