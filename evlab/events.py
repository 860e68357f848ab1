"""Event values: the types that travel on the bus, and the factories that build them.

Events are frozen dataclasses. The bus stamps each one once, when it is emitted, with a
sequence number, the emission time (wall clock) and the id of the event that was being
handled when it was emitted (its *cause*). The *event time* is the time the event is
about (a bar's open time, a signal's decision time): an event built without one while a
handler is handling event A takes A's event time, so a replay reproduces signals exactly.
"""

from __future__ import annotations

import copy as _copy
import datetime as _dt
import math
import numbers
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, ClassVar, Protocol, Self, TypeVar

from evlab._accel import builders as _builders
from evlab._accel import core as _core

__all__ = [
    "EventType",
    "Event",
    "BarEvent",
    "BarUpdateEvent",
    "TickEvent",
    "QuoteEvent",
    "BookEvent",
    "SignalEvent",
    "OrderEvent",
    "CancelEvent",
    "ReplaceEvent",
    "OrderUpdateEvent",
    "FillEvent",
    "PortfolioEvent",
    "WebSocketEvent",
    "RestResponseEvent",
    "ErrorEvent",
    "SystemEvent",
    "current_event",
    "to_ns",
    "create_bar_event",
    "create_bar_update_event",
    "create_tick_event",
    "create_quote_event",
    "create_book_event",
    "parsed_book_event",
    "book_quote_event",
    "parsed_quote_event",
    "create_signal_event",
    "create_order_event",
    "create_cancel_event",
    "create_replace_event",
    "create_order_update_event",
    "create_fill_event",
    "create_websocket_event",
    "create_rest_event",
    "create_error_event",
    "create_system_event",
    "trusted",
]

_current = _core.current  # the event being handled now: set by the dispatch core
_bar_ok = _core.bar_ok
E = TypeVar("E", bound="Event")
B = TypeVar("B", bound="BarEvent")


class EventType(StrEnum):
    """What an event is about. A ``str`` enum, so ``EventType.BAR == "bar"``."""

    BAR = "bar"
    BAR_UPDATE = "bar_update"
    TICK = "tick"
    QUOTE = "quote"
    BOOK = "book"
    SIGNAL = "signal"
    ORDER = "order"
    CANCEL = "cancel"
    REPLACE = "replace"
    ORDER_UPDATE = "order_update"
    FILL = "fill"
    PORTFOLIO = "portfolio"
    WEBSOCKET = "websocket"
    ERROR = "error"
    SYSTEM = "system"


def current_event() -> Event | None:
    """The event whose handlers are running right now (in this thread or task), if any."""
    return _current()  # type: ignore[no-any-return]


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_US = _dt.timedelta(microseconds=1)
_INF = math.inf


def to_ns(timestamp: Any) -> int:
    """Nanoseconds since the Unix epoch (UTC) for a datetime, pandas/numpy time, ISO string or int.

    Each library's own convention holds for naive values: a naive ``datetime`` is local time
    (as ``datetime.timestamp()`` has it), a naive pandas/numpy time or string is UTC.
    """
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return timestamp
    if hasattr(timestamp, "value") and hasattr(timestamp, "tz_localize"):  # pandas.Timestamp
        return int(timestamp.value)
    if isinstance(timestamp, _dt.datetime):
        if timestamp.tzinfo is None:
            return round(timestamp.timestamp() * 1_000_000) * 1000
        return (timestamp - _EPOCH) // _US * 1000
    if isinstance(timestamp, _dt.date):
        return to_ns(_dt.datetime(timestamp.year, timestamp.month, timestamp.day, tzinfo=_dt.UTC))
    if isinstance(timestamp, str) or type(timestamp).__name__ == "datetime64":
        import pandas as pd

        try:
            ts = pd.Timestamp(timestamp)
        except ValueError as exc:
            raise ValueError(f"timestamp: cannot parse {timestamp!r}") from exc
        return to_ns(ts)
    raise TypeError(f"timestamp: expected a datetime, pandas Timestamp, ISO string or int ns, "
                    f"got {type(timestamp).__name__} {timestamp!r}")


def _event_time(cls: type, time_ns: Any) -> int:
    """An event's time: ``time_ns`` checked, or, for None, the event time of the event being
    handled now (the wall clock outside handlers)."""
    if time_ns is None:
        cause = _current()
        return cause.time_ns if cause is not None else time.time_ns()
    if not isinstance(time_ns, int) or isinstance(time_ns, bool):
        raise _bad(cls, "time_ns", time_ns, "must be an int (ns since epoch)")
    return time_ns


def _from_ns(ns: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


def _bad(cls: type, name: str, value: Any, why: str) -> ValueError:
    return ValueError(f"{cls.__name__}.{name}: {why}, got {value!r}")


def _check_price(cls: type, name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _bad(cls, name, value, "must be a number")
    if not math.isfinite(value):
        raise _bad(cls, name, value, "must be finite")
    if value <= 0:
        raise _bad(cls, name, value, "must be positive")


def _check_amount(cls: type, name: str, value: Any, *, positive: bool = False) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _bad(cls, name, value, "must be a number")
    if not math.isfinite(value):
        raise _bad(cls, name, value, "must be finite")
    if value < 0 or (positive and value == 0):
        raise _bad(cls, name, value, "must be positive" if positive else "must not be negative")


def _plain_numbers(event: Event, names: tuple[str, ...]) -> None:
    """Store numpy's (and other libraries') real scalars in ``names`` as Python floats
    (None, ints and floats as they are).

    An event built from a numpy array or a DataFrame row holds ``numpy.float64``s (a float
    subclass, so the checks pass) or ``numpy.int64``/``float32``s (not Python numbers, which
    the checks would refuse): every sum and product a strategy, broker or portfolio then
    makes runs numpy's scalar arithmetic, several times slower than float's. Every event with
    numbers calls it first on the slow path of ``_validate``: Python floats never reach it.
    """
    for name in names:
        value = getattr(event, name)
        cls = value.__class__
        if cls is not float and cls is not int and cls is not bool \
                and isinstance(value, numbers.Real):
            object.__setattr__(event, name, float(value))


def _check_symbol(cls: type, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _bad(cls, "symbol", value, "must be a non-empty string")


def _check_choice(cls: type, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _bad(cls, name, value, f"must be one of {', '.join(choices)}")




@dataclass(frozen=True, slots=True, repr=False)
class Event:
    """Base of every event: the event time, the source, and the bus's stamp.

    ``time_ns`` is the event time in ns since the epoch (UTC); ``None`` at construction means
    "the event time of the event being handled now, or the wall clock outside any handler".
    """

    type: ClassVar[EventType | str] = EventType.SYSTEM

    time_ns: int | None = field(default=None, kw_only=True)
    source: str = field(default="", kw_only=True)
    # The bus's stamp, set once when the event is emitted. Separate slots rather than one
    # tuple: a tuple per emit would be an allocation the garbage collector has to track.
    _seq: int | None = field(default=None, init=False, repr=False, compare=False)
    _emit_ns: int | None = field(default=None, init=False, repr=False, compare=False)
    _cause: int | None = field(default=None, init=False, repr=False, compare=False)
    _bus: Any = field(default=None, init=False, repr=False, compare=False)  # who stamped it
    _depth: int | None = field(default=None, init=False, repr=False, compare=False)  # nesting

    def __post_init__(self) -> None:
        # evlab's own classes get an __init__ that does this inline (_fast_init); this is for
        # user subclasses built by dataclasses' own __init__. Their __init__ leaves the stamp
        # slots unset (a subclass declared without slots=True keeps no defaults for them):
        # set them here, so the bus and the recorder read None, as for evlab's classes.
        for name in _STAMPS:
            object.__setattr__(self, name, None)
        self._validate()
        object.__setattr__(self, "time_ns", _event_time(type(self), self.time_ns))

    def _validate(self) -> None:
        """Raise ValueError naming the field and the value if the event is malformed."""

    # --- the bus's stamp -------------------------------------------------------------
    @property
    def seq(self) -> int | None:
        """Sequence number assigned by the bus (None until emitted)."""
        return self._seq

    id = seq

    @property
    def emit_time_ns(self) -> int | None:
        """Wall-clock emission time in ns since the epoch (None until emitted)."""
        return self._emit_ns

    @property
    def cause(self) -> int | None:
        """Sequence number of the event being handled when this one was emitted."""
        return self._cause

    @property
    def timestamp(self) -> _dt.datetime:
        """Event time as a timezone-aware UTC datetime."""
        return _from_ns(self.time_ns)  # type: ignore[arg-type]

    @property
    def emit_time(self) -> _dt.datetime | None:
        """Emission time as a timezone-aware UTC datetime (None until emitted)."""
        ns = self.emit_time_ns
        return None if ns is None else _from_ns(ns)

    def get_type(self) -> EventType | str:
        return self.type

    def get_timestamp(self) -> _dt.datetime:
        return self.timestamp

    def get_source(self) -> str:
        return self.source

    def get_time_ns(self) -> int | None:
        return self.time_ns

    def copy(self, **changes: Any) -> Self:
        """A new, unstamped event with the same values (and any ``changes``, validated).

        Without changes it is a copy of the slots (the values were checked when this event
        was built), which is what the bus does to re-emit an event.
        """
        if changes:
            return replace(self, **changes)
        if type(self) not in _core.COPY_PLANS:
            if hasattr(self, "__dict__"):  # a user class without slots=True: no plan
                new = _copy.copy(self)
                for name in _STAMPS:
                    object.__setattr__(new, name, None)
                return new
            _core.COPY_PLANS[type(self)] = _copy_plan(type(self))
        return _core.clone(self)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """The event's fields and stamp as a plain dict."""
        out: dict[str, Any] = {"type": str(self.type), "seq": self.seq,
                               "cause": self.cause, "emit_time_ns": self.emit_time_ns}
        for f in fields(self):
            if not f.name.startswith("_"):
                out[f.name] = getattr(self, f.name)
        return out

    def __repr__(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                 if not f.name.startswith("_") and f.name not in ("time_ns", "source")]
        stamp = f"#{self._seq} " if self._seq is not None else ""
        src = f", source={self.source!r}" if self.source else ""
        return (f"{type(self).__name__}({stamp}{self.timestamp.isoformat()} "
                f"{', '.join(parts)}{src})")


_STAMPS = ("_seq", "_emit_ns", "_cause", "_bus", "_depth")


def _copy_plan(cls: type) -> tuple[Any, Any]:
    """How to copy a ``cls`` event: every field's slot, with the stamp slots left empty."""
    names = [f.name for f in fields(cls)]
    return (_core.slots([getattr(cls, n) for n in names if n not in _STAMPS]),
            _core.slots([getattr(cls, n) for n in _STAMPS]))


def _value_plan(cls: type[Event], order: Sequence[str] | None = None) -> Any:
    """The core's plan of ``cls``'s slots: its fields (stamps excluded) in ``fields()``
    order, or in ``order`` (which must name each of them once), then the stamps, which get
    no value (the core sets them to None)."""
    names = [f.name for f in fields(cls) if f.name not in _STAMPS]
    if order is not None:
        if sorted(order) != sorted(names):
            raise TypeError(f"{cls.__name__}: a plan must name each of its fields once "
                            f"({', '.join(names)}), got {', '.join(order)}")
        names = list(order)
    return _core.slots([getattr(cls, name) for name in names + list(_STAMPS)])


def _slot_function(cls: type[Event], params: str, values: dict[str, str], *,
                   trusted: bool) -> Callable[..., Any]:
    """Compile a function that sets every slot of a ``cls`` event in one call of the core's
    slot primitives (``evlab._core.fill`` / ``make``; a frozen dataclass would pay an
    ``object.__setattr__`` per field).

    ``values`` maps field names to the expressions that hold them; other fields take their
    defaults. ``trusted``: a generator of new events from rows (no checks); else an
    ``__init__`` that then validates. The source is made from this module's field names and
    expressions only, as dataclasses makes its own ``__init__``; nothing from outside reaches
    it. (The two events built on every book update have builders of their own, which can be
    compiled: :mod:`evlab._builders`.)
    """
    flds = [f for f in fields(cls) if f.name not in _STAMPS]
    namespace: dict[str, Any] = {
        "_fill": _core.fill, "_make": _core.make, "_cls": cls, "_event_time": _event_time,
        "_validate": cls._validate, "_plan": _value_plan(cls)}
    items = []
    for f in flds:
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
        if f.name in values:
            items.append(values[f.name])
        elif f.default is not MISSING:
            items.append(f"_default_{f.name}")
        else:
            raise TypeError(f"{cls.__name__}: no value for field {f.name!r}")
    row = f"({', '.join(items)},)"
    if trusted:
        source = (f"def _fn(rows):\n    for {params}, in rows:\n"
                  f"        yield _make(_cls, _plan, {row})\n")
    else:
        # __post_init__ inline: one frame less on every bar a feed builds.
        source = (f"def _fn(self, {params}):\n"
                  "    if time_ns is None or type(time_ns) is not int:\n"
                  "        time_ns = _event_time(_cls, time_ns)\n"
                  f"    _fill(self, _plan, {row})\n"
                  "    _validate(self)\n")
    exec(source, namespace)  # trusted: field names of this module only
    return namespace["_fn"]  # type: ignore[no-any-return]


def _fast_init(cls: type) -> None:
    """Give ``cls`` an ``__init__`` with the dataclass's signature that sets its slots in one
    call, then validates (what ``__post_init__`` does, inline)."""
    positional: list[str] = []
    keywords: list[str] = []
    for f in fields(cls):
        if f.init:
            param = f.name if f.default is MISSING else f"{f.name}=_default_{f.name}"
            (keywords if f.kw_only else positional).append(param)
    params = positional + (["*", *keywords] if keywords else [])
    init = _slot_function(cls, ", ".join(params),
                          {f.name: f.name for f in fields(cls) if f.init}, trusted=False)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = vars(cls)["__init__"].__doc__
    cls.__init__ = init  # type: ignore[misc]


_TRUSTED: dict[tuple[type, tuple[str, ...]], Callable[[Iterable[Sequence[Any]]], Any]] = {}


def trusted(cls: type[E], names: Sequence[str]) -> Callable[[Iterable[Sequence[Any]]],
                                                            Iterator[E]]:
    """A builder of unstamped ``cls`` events from rows of values already checked (a replay
    checks its columns at once, a recording was checked when recorded): ``names`` are the
    init fields each row holds, in order; other fields take their defaults. No validation:
    never feed it values from outside that were not checked.

    The builder is a generator, so a replay can emit each event right after making it.
    """
    key = (cls, tuple(names))
    build = _TRUSTED.get(key)
    if build is None:
        init = {f.name for f in fields(cls) if f.init}
        unknown = [n for n in names if n not in init]
        if unknown:
            raise TypeError(f"{cls.__name__} has no init field {', '.join(unknown)}")
        args = [f"_a{i}" for i in range(len(names))]
        build = _slot_function(cls, ", ".join(args), dict(zip(names, args, strict=True)),
                               trusted=True)
        _TRUSTED[key] = build
    return build


def _usual_bar(symbol: Any, o: Any, h: Any, low: Any, c: Any, v: Any) -> bool:
    """The usual bar, in one test: exact floats in order, finite (every comparison fails for
    NaN), a volume >= 0, a plain symbol. False means "look closer" (``BarEvent._validate``)."""
    return bool(_bar_ok(o, h, low, c, v) and symbol.__class__ is str and symbol
                and not symbol.isspace())


@dataclass(frozen=True, slots=True, repr=False)
class BarEvent(Event):
    """One OHLCV bar for ``symbol``; its event time is the bar's open time."""

    type: ClassVar[EventType] = EventType.BAR

    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float

    def get_symbol(self) -> str:
        return self.symbol

    def get_open(self) -> float:
        return self.open

    def get_high(self) -> float:
        return self.high

    def get_low(self) -> float:
        return self.low

    def get_close(self) -> float:
        return self.close

    def get_volume(self) -> float:
        return self.volume

    def _validate(self) -> None:
        # Fast path for the usual case (floats, in order, finite; every comparison fails for
        # NaN), checked in one call; anything else takes the checks that explain.
        if _usual_bar(self.symbol, self.open, self.high, self.low, self.close, self.volume):
            return
        _plain_numbers(self, ("open", "high", "low", "close", "volume"))
        if _usual_bar(self.symbol, self.open, self.high, self.low, self.close, self.volume):
            return
        cls = type(self)
        _check_symbol(cls, self.symbol)
        for name in ("open", "high", "low", "close"):
            _check_price(cls, name, getattr(self, name))
        _check_amount(cls, "volume", self.volume)
        if self.high < self.low:
            raise _bad(cls, "high", self.high, f"must be >= low ({self.low!r})")
        for name in ("open", "close"):
            value = getattr(self, name)
            if not self.low <= value <= self.high:
                raise _bad(cls, name, value, f"must lie in [low, high] = [{self.low}, {self.high}]")


@dataclass(frozen=True, slots=True, repr=False)
class BarUpdateEvent(BarEvent):
    """An in-progress (not yet final) bar: for live charts, never for strategies' bar logic."""

    type: ClassVar[EventType] = EventType.BAR_UPDATE



@dataclass(frozen=True, slots=True, repr=False)
class TickEvent(Event):
    """One trade (or quote) print for ``symbol``."""

    type: ClassVar[EventType] = EventType.TICK
    BUY: ClassVar[str] = "BUY"
    SELL: ClassVar[str] = "SELL"

    symbol: str
    price: float
    size: float
    side: str | None = None
    trade_id: str | None = None

    def get_symbol(self) -> str:
        return self.symbol

    def get_price(self) -> float:
        return self.price

    def get_size(self) -> float:
        return self.size

    def get_side(self) -> str | None:
        return self.side

    def get_trade_id(self) -> str | None:
        return self.trade_id

    def _validate(self) -> None:
        cls = type(self)
        if self.price.__class__ is not float or self.size.__class__ is not float:
            _plain_numbers(self, ("price", "size"))
        _check_symbol(cls, self.symbol)
        _check_price(cls, "price", self.price)
        _check_amount(cls, "size", self.size)
        if self.side is not None:
            _check_choice(cls, "side", self.side, (self.BUY, self.SELL))


@dataclass(frozen=True, slots=True, repr=False)
class QuoteEvent(Event):
    """The best bid and ask of ``symbol`` (a venue's quote, or the top of an order book).

    ``bid_size``/``ask_size`` are ``None`` where the venue quotes prices only (Coinbase
    Exchange's 2021 ``ticker``). ``bid`` or ``ask`` is ``None`` (with its size) when that
    side of the venue's book is empty (Alpaca sends a price of 0 then); ``mid`` and
    ``spread`` are then ``None``. ``bid == ask`` (a locked quote) is allowed, ``bid > ask``
    (a crossed one) is not.
    """

    type: ClassVar[EventType] = EventType.QUOTE

    symbol: str
    bid: float | None
    ask: float | None
    bid_size: float | None = None
    ask_size: float | None = None

    def get_symbol(self) -> str:
        return self.symbol

    def get_bid(self) -> float | None:
        return self.bid

    def get_ask(self) -> float | None:
        return self.ask

    def get_bid_size(self) -> float | None:
        return self.bid_size

    def get_ask_size(self) -> float | None:
        return self.ask_size

    @property
    def mid(self) -> float | None:
        """The mid price, ``(bid + ask) / 2``; None if a side is empty."""
        bid, ask = self.bid, self.ask
        return None if bid is None or ask is None else (bid + ask) / 2

    @property
    def spread(self) -> float | None:
        """``ask - bid``; None if a side is empty."""
        bid, ask = self.bid, self.ask
        return None if bid is None or ask is None else ask - bid

    def _validate(self) -> None:
        bid, ask, bs, az = self.bid, self.ask, self.bid_size, self.ask_size
        symbol = self.symbol
        # The usual case in one expression (every comparison fails for NaN).
        if (bid.__class__ is float and ask.__class__ is float and 0.0 < bid <= ask < _INF
                and (bs is None or (bs.__class__ is float and 0.0 <= bs < _INF))
                and (az is None or (az.__class__ is float and 0.0 <= az < _INF))
                and symbol.__class__ is str and symbol and not symbol.isspace()):
            return
        _plain_numbers(self, ("bid", "ask", "bid_size", "ask_size"))
        bid, ask, bs, az = self.bid, self.ask, self.bid_size, self.ask_size
        cls = type(self)
        _check_symbol(cls, symbol)
        if bid is None and ask is None:
            raise _bad(cls, "bid", bid, "and ask are both None: a quote needs a side")
        for side, price, size in (("bid", bid, bs), ("ask", ask, az)):
            if price is not None:
                _check_price(cls, side, price)
            elif size is not None:
                raise _bad(cls, f"{side}_size", size, f"must be None when {side} is (empty side)")
        for name in ("bid_size", "ask_size"):
            value = getattr(self, name)
            if value is not None:
                _check_amount(cls, name, value)
        if bid is not None and ask is not None and bid > ask:
            raise _bad(cls, "bid", bid, f"must not exceed ask ({ask!r}): a crossed quote")



@dataclass(frozen=True, slots=True, repr=False)
class BookEvent(Event):
    """Order-book levels of ``symbol``: a whole book (``snapshot=True``) or changed levels.

    ``bids``/``asks`` hold ``(price, size)`` pairs; in an update, size 0 deletes the level
    and any other size replaces it. ``first_update_id``/``last_update_id`` are the
    exchange's sequence ids where it sends them (Binance ``U``/``u``; a snapshot's
    ``lastUpdateId``), else None. A snapshot may not be crossed (best bid >= best ask).

    ``checksum`` is the exchange's checksum of its book once this event is applied (Kraken
    v2's CRC32), ``checksum_rule`` the name of the rule that computes it from a book, as
    registered in :mod:`evlab.books.checksum` (``"kraken:1:8:10"``): ``OrderBooks`` checks
    its own book against it. Both or neither.
    """

    type: ClassVar[EventType] = EventType.BOOK

    symbol: str
    bids: tuple[tuple[float, float], ...] = ()
    asks: tuple[tuple[float, float], ...] = ()
    snapshot: bool = False
    first_update_id: int | None = None
    last_update_id: int | None = None
    checksum: int | None = None
    checksum_rule: str | None = None

    def get_symbol(self) -> str:
        return self.symbol

    def get_bids(self) -> tuple[tuple[float, float], ...]:
        return self.bids

    def get_asks(self) -> tuple[tuple[float, float], ...]:
        return self.asks

    def get_snapshot(self) -> bool:
        return self.snapshot

    def get_first_update_id(self) -> int | None:
        return self.first_update_id

    def get_last_update_id(self) -> int | None:
        return self.last_update_id

    def _validate(self) -> None:
        _book_fields(self)
        _book_levels(self)
        if self.snapshot:
            _book_uncrossed(self)


def _book_fields(event: BookEvent) -> None:
    """Every check of a ``BookEvent`` but those of each level (``_book_levels``) and of a
    snapshot's crossing (``_book_uncrossed``)."""
    cls = type(event)
    symbol = event.symbol
    if not (symbol.__class__ is str and symbol and not symbol.isspace()):
        _check_symbol(cls, symbol)
    if event.bids.__class__ is not tuple:
        raise _bad(cls, "bids", event.bids, "must be a tuple of (price, size) tuples")
    if event.asks.__class__ is not tuple:
        raise _bad(cls, "asks", event.asks, "must be a tuple of (price, size) tuples")
    if event.snapshot.__class__ is not bool:
        raise _bad(cls, "snapshot", event.snapshot, "must be True or False")
    first, last = event.first_update_id, event.last_update_id
    if first is not None or last is not None:
        for name, value in (("first_update_id", first), ("last_update_id", last)):
            if value is not None and (value.__class__ is not int or value < 0):
                raise _bad(cls, name, value, "must be a non-negative int or None")
        if first is not None and last is not None and first > last:
            raise _bad(cls, "first_update_id", first,
                       f"must not exceed last_update_id ({last!r})")
    checksum, rule = event.checksum, event.checksum_rule
    if checksum is not None or rule is not None:
        if checksum.__class__ is not int or not 0 <= checksum < 1 << 63:  # int64 in files
            raise _bad(cls, "checksum", checksum, "must be a non-negative int below 2**63 "
                       "(with checksum_rule)")
        if rule.__class__ is not str or not rule:
            raise _bad(cls, "checksum_rule", rule, "must name a checksum rule (with "
                       "checksum)")


def _book_levels(event: BookEvent) -> None:
    """Each level of both sides: a ``(float, float)`` tuple, 0 < price < inf, 0 <= size < inf."""
    cls = type(event)
    for name, side in (("bids", event.bids), ("asks", event.asks)):
        for level in side:
            # the usual level in one expression; anything else is explained below
            if (level.__class__ is tuple and len(level) == 2
                    and level[0].__class__ is float and level[1].__class__ is float
                    and 0.0 < level[0] < _INF and 0.0 <= level[1] < _INF):
                continue
            _check_level(cls, name, level)


_PRICE = operator.itemgetter(0)  # a level's price


def _book_uncrossed(event: BookEvent) -> None:
    """A snapshot may not be crossed (its best bid >= its best ask)."""
    if not event.bids or not event.asks:
        return
    # a level of the highest bid price and one of the lowest ask price, in C (max/min by
    # price alone: comparing the tuples costs about three times as much): if both hold a
    # size, theirs are the best prices; else (a level of size 0 there, rare) the best among
    # the levels holding one, filtered in Python
    top_bid, top_ask = max(event.bids, key=_PRICE), min(event.asks, key=_PRICE)
    if top_bid[1] > 0 and top_ask[1] > 0:
        if top_bid[0] < top_ask[0]:
            return
        bids, asks = [top_bid[0]], [top_ask[0]]
    else:
        bids = [p for p, q in event.bids if q > 0]
        asks = [p for p, q in event.asks if q > 0]
    if bids and asks and max(bids) >= min(asks):
        raise _bad(type(event), "bids", max(bids),
                   f"best bid must be below the best ask ({min(asks)!r}): a crossed book")


def _parsed_book_checks(event: BookEvent) -> None:
    """What ``parsed_book_event`` checks: all but each level's type and sign."""
    _book_fields(event)
    if event.snapshot:
        _book_uncrossed(event)


def _check_level(cls: type, name: str, level: Any) -> None:
    """Explain what is wrong with one ``(price, size)`` level of a book side."""
    if not isinstance(level, tuple) or len(level) != 2:
        raise _bad(cls, name, level, "each level must be a (price, size) tuple")
    _check_price(cls, f"{name} price", level[0])
    _check_amount(cls, f"{name} size", level[1])


@dataclass(frozen=True, slots=True, repr=False)
class SignalEvent(Event):
    """A strategy's decision to buy, sell or exit ``symbol`` at about ``price``."""

    type: ClassVar[EventType] = EventType.SIGNAL
    BUY: ClassVar[str] = "BUY"
    SELL: ClassVar[str] = "SELL"
    EXIT: ClassVar[str] = "EXIT"
    SIGNAL_TYPES: ClassVar[tuple[str, ...]] = ("BUY", "SELL", "EXIT")

    signal_type: str
    price: float
    symbol: str
    strategy_id: str
    strength: float = 1.0

    def get_signal_type(self) -> str:
        return self.signal_type

    def get_price(self) -> float:
        return self.price

    def get_symbol(self) -> str:
        return self.symbol

    def get_strategy_id(self) -> str:
        return self.strategy_id

    def get_strength(self) -> float:
        return self.strength

    def _validate(self) -> None:
        # Fast path for the usual case (a float price and strength, finite: every comparison
        # fails for NaN); anything else takes the checks that explain.
        symbol, price, strength = self.symbol, self.price, self.strength
        if (price.__class__ is float and 0.0 < price < _INF and strength.__class__ is float
                and 0.0 <= strength < _INF and self.signal_type.__class__ is str
                and self.signal_type in _SIGNAL_TYPES
                and symbol.__class__ is str and symbol and not symbol.isspace()
                and self.strategy_id.__class__ is str):
            return
        _plain_numbers(self, ("price", "strength"))
        cls = type(self)
        _check_choice(cls, "signal_type", self.signal_type, self.SIGNAL_TYPES)
        _check_price(cls, "price", self.price)
        _check_symbol(cls, self.symbol)
        if not isinstance(self.strategy_id, str):
            raise _bad(cls, "strategy_id", self.strategy_id, "must be a string")
        _check_amount(cls, "strength", self.strength)


_SIGNAL_TYPES = frozenset(SignalEvent.SIGNAL_TYPES)
ORDER_TYPES = ("MARKET", "LIMIT", "STOP", "STOP_LIMIT", "TRAILING_STOP")
TIME_IN_FORCE = ("GTC", "DAY", "IOC", "FOK", "GTD")


def _check_optional_price(cls: type, name: str, value: Any) -> None:
    if value is not None:
        _check_price(cls, name, value)


def _check_order(order: OrderEvent) -> None:
    """Everything past the plain market order's fields: each price where its order type
    needs it (and nowhere else), the time in force, the bracket, the links. Raises
    ValueError naming the field."""
    cls = type(order)
    _plain_numbers(order, ("limit_price", "stop_price", "trail_amount", "trail_bps",
                           "take_profit", "stop_loss"))
    kind = order.order_type
    _check_choice(cls, "order_type", kind, ORDER_TYPES)
    for name, needed_by, what in (("limit_price", ("LIMIT", "STOP_LIMIT"), "limit price"),
                                  ("stop_price", ("STOP", "STOP_LIMIT"), "stop price")):
        value = getattr(order, name)
        if kind in needed_by:
            if value is None:
                raise _bad(cls, name, None, f"a {kind} order needs a {what}")
            _check_price(cls, name, value)
        elif value is not None:
            raise _bad(cls, name, value, f"a {kind} order has no {what}")
    if kind == "TRAILING_STOP":
        if (order.trail_amount is None) == (order.trail_bps is None):
            raise _bad(cls, "trail_amount", order.trail_amount,
                       "a TRAILING_STOP order needs exactly one of trail_amount and trail_bps")
        _check_optional_price(cls, "trail_amount", order.trail_amount)
        _check_optional_price(cls, "trail_bps", order.trail_bps)
    else:
        for name in ("trail_amount", "trail_bps"):
            if getattr(order, name) is not None:
                raise _bad(cls, name, getattr(order, name),
                           f"only a TRAILING_STOP order trails, not a {kind} order")
    _check_choice(cls, "time_in_force", order.time_in_force, TIME_IN_FORCE)
    if order.time_in_force == "GTD":
        if not isinstance(order.expire_time_ns, int) or isinstance(order.expire_time_ns, bool):
            raise _bad(cls, "expire_time_ns", order.expire_time_ns,
                       "a GTD order needs an expire time (int ns since epoch)")
    elif order.expire_time_ns is not None:
        raise _bad(cls, "expire_time_ns", order.expire_time_ns,
                   f"only a GTD order expires at a time, not a {order.time_in_force} one")
    _check_optional_price(cls, "take_profit", order.take_profit)
    _check_optional_price(cls, "stop_loss", order.stop_loss)
    _check_bracket(order)
    if order.oco_group is not None and (not isinstance(order.oco_group, str)
                                        or not order.oco_group):
        raise _bad(cls, "oco_group", order.oco_group, "must be a non-empty string or None")
    if not isinstance(order.reduce_only, bool):
        raise _bad(cls, "reduce_only", order.reduce_only, "must be True or False")
    if not isinstance(order.parent_id, str):
        raise _bad(cls, "parent_id", order.parent_id, "must be a string")


def _check_bracket(order: OrderEvent) -> None:
    """A bracket's stop-loss below and take-profit above a buy's entry (mirrored for a sell);
    the entry is the limit price, else the stop price (a market entry: the two against
    each other only)."""
    cls = type(order)
    sl, tp = order.stop_loss, order.take_profit
    if sl is None and tp is None:
        return
    if order.reduce_only:
        raise _bad(cls, "take_profit" if sl is None else "stop_loss", sl if tp is None else tp,
                   "a reduce-only order cannot open a bracket")
    buy = order.side == "BUY"
    entry = order.limit_price if order.limit_price is not None else order.stop_price
    if sl is not None and tp is not None and (sl >= tp if buy else sl <= tp):
        raise _bad(cls, "stop_loss", sl, f"must be {'below' if buy else 'above'} "
                   f"take_profit {tp!r} for a {order.side}")
    if entry is None:
        return
    if sl is not None and (sl >= entry if buy else sl <= entry):
        raise _bad(cls, "stop_loss", sl, f"must be {'below' if buy else 'above'} the entry "
                   f"price {entry!r} of a {order.side}")
    if tp is not None and (tp <= entry if buy else tp >= entry):
        raise _bad(cls, "take_profit", tp, f"must be {'above' if buy else 'below'} the entry "
                   f"price {entry!r} of a {order.side}")


@dataclass(frozen=True, slots=True, repr=False)
class OrderEvent(Event):
    """An order to trade ``quantity`` of ``symbol``.

    ``order_type``: ``MARKET`` (no prices), ``LIMIT`` (``limit_price``), ``STOP``
    (``stop_price``), ``STOP_LIMIT`` (both), ``TRAILING_STOP`` (``trail_amount`` in price
    units or ``trail_bps``). ``time_in_force``: ``GTC``, ``DAY``, ``IOC``, ``FOK`` or ``GTD``
    (until ``expire_time_ns``). ``take_profit`` / ``stop_loss`` make a bracket (the broker
    places them as exits when this order fills); ``oco_group`` links orders of which one
    filling cancels the others; ``reduce_only`` orders only shrink a position;
    ``parent_id`` names a bracket child's entry. How they fill: ``evlab.execution.fills``.
    """

    type: ClassVar[EventType] = EventType.ORDER
    BUY: ClassVar[str] = "BUY"
    SELL: ClassVar[str] = "SELL"
    MARKET: ClassVar[str] = "MARKET"
    LIMIT: ClassVar[str] = "LIMIT"
    STOP: ClassVar[str] = "STOP"
    STOP_LIMIT: ClassVar[str] = "STOP_LIMIT"
    TRAILING_STOP: ClassVar[str] = "TRAILING_STOP"
    ORDER_TYPES: ClassVar[tuple[str, ...]] = ORDER_TYPES
    TIME_IN_FORCE: ClassVar[tuple[str, ...]] = TIME_IN_FORCE

    symbol: str
    side: str
    quantity: float
    order_type: str = "MARKET"
    limit_price: float | None = None
    order_id: str = ""
    strategy_id: str = ""
    stop_price: float | None = None
    trail_amount: float | None = None
    trail_bps: float | None = None
    time_in_force: str = "GTC"
    expire_time_ns: int | None = None
    take_profit: float | None = None
    stop_loss: float | None = None
    oco_group: str | None = None
    reduce_only: bool = False
    parent_id: str = ""

    def get_symbol(self) -> str:
        return self.symbol

    def get_side(self) -> str:
        return self.side

    def get_quantity(self) -> float:
        return self.quantity

    def get_order_type(self) -> str:
        return self.order_type

    def get_limit_price(self) -> float | None:
        return self.limit_price

    def get_order_id(self) -> str:
        return self.order_id

    def get_strategy_id(self) -> str:
        return self.strategy_id

    @property
    def is_plain_market(self) -> bool:
        """A GTC market order with no stop, bracket or link (the broker's fast path)."""
        return (self.order_type == "MARKET" and self.limit_price is None
                and self.stop_price is None and self.time_in_force == "GTC"
                and self.take_profit is None and self.stop_loss is None
                and self.oco_group is None and self.trail_amount is None
                and self.trail_bps is None and self.expire_time_ns is None
                and self.reduce_only is False and self.parent_id == "")

    def _validate(self) -> None:
        cls = type(self)
        symbol, quantity = self.symbol, self.quantity
        # the usual symbol and quantity checked inline (every comparison fails for NaN)
        if not (symbol.__class__ is str and symbol and not symbol.isspace()):
            _check_symbol(cls, symbol)
        if self.side != "BUY" and self.side != "SELL":
            raise _bad(cls, "side", self.side, "must be one of BUY, SELL")
        if not (quantity.__class__ is float and 0.0 < quantity < _INF):
            _plain_numbers(self, ("quantity",))
            _check_amount(cls, "quantity", self.quantity, positive=True)
        if not isinstance(self.order_id, str):
            raise _bad(cls, "order_id", self.order_id, "must be a string")
        # The fast path: a plain market order (what every signal becomes) checks no more.
        if self.order_type == "MARKET" and self.limit_price is None \
                and self.stop_price is None and self.time_in_force == "GTC" \
                and self.take_profit is None and self.stop_loss is None \
                and self.oco_group is None and self.trail_amount is None \
                and self.trail_bps is None and self.expire_time_ns is None \
                and self.reduce_only is False and self.parent_id == "":
            return
        _check_order(self)


@dataclass(frozen=True, slots=True, repr=False)
class CancelEvent(Event):
    """A request to cancel the working order ``order_id`` (the broker answers with an
    ``OrderUpdateEvent``: ``CANCELED``, or an ``ErrorEvent`` if there is no such order)."""

    type: ClassVar[EventType] = EventType.CANCEL

    order_id: str
    strategy_id: str = ""

    def _validate(self) -> None:
        if not isinstance(self.order_id, str) or not self.order_id:
            raise _bad(type(self), "order_id", self.order_id, "must be a non-empty string")


@dataclass(frozen=True, slots=True, repr=False)
class ReplaceEvent(Event):
    """A request to change the working order ``order_id``: its quantity and/or prices
    (None keeps a value). The broker answers ``REPLACED`` or an ``ErrorEvent``."""

    type: ClassVar[EventType] = EventType.REPLACE

    order_id: str
    quantity: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    strategy_id: str = ""

    def _validate(self) -> None:
        cls = type(self)
        if not isinstance(self.order_id, str) or not self.order_id:
            raise _bad(cls, "order_id", self.order_id, "must be a non-empty string")
        _plain_numbers(self, ("quantity", "limit_price", "stop_price"))
        if self.quantity is None and self.limit_price is None and self.stop_price is None:
            raise _bad(cls, "quantity", None,
                       "a replace changes at least one of quantity, limit_price, stop_price")
        if self.quantity is not None:
            _check_amount(cls, "quantity", self.quantity, positive=True)
        _check_optional_price(cls, "limit_price", self.limit_price)
        _check_optional_price(cls, "stop_price", self.stop_price)


ORDER_STATUSES = ("ACCEPTED", "REJECTED", "TRIGGERED", "PARTIALLY_FILLED", "FILLED",
                  "CANCELED", "EXPIRED", "REPLACED", "TRAILED")
_ORDER_STATUSES = frozenset(ORDER_STATUSES)


@dataclass(frozen=True, slots=True, repr=False)
class OrderUpdateEvent(Event):
    """A step in an order's life, emitted by the broker with the order (or the cancel /
    replace request) as its cause: ``status`` one of ``ORDER_STATUSES``, with what is
    filled and left, the average fill price so far and, for a rejection, the reason.
    ``TRAILED``: a trailing stop's level moved to ``stop_price`` (the broker's own level,
    so a chart or a recording shows it without recomputing the trail)."""

    type: ClassVar[EventType] = EventType.ORDER_UPDATE
    STATUSES: ClassVar[tuple[str, ...]] = ORDER_STATUSES

    symbol: str
    order_id: str
    status: str
    filled_quantity: float = 0.0
    remaining_quantity: float = 0.0
    avg_price: float | None = None
    reason: str = ""
    stop_price: float | None = None

    def _validate(self) -> None:
        # Fast path for the usual case (float quantities, finite: every comparison fails for
        # NaN; no stop price); anything else takes the checks that explain.
        symbol, filled, left, avg = (self.symbol, self.filled_quantity,
                                     self.remaining_quantity, self.avg_price)
        if (filled.__class__ is float and 0.0 <= filled < _INF and left.__class__ is float
                and 0.0 <= left < _INF and self.status.__class__ is str
                and self.status in _ORDER_STATUSES
                and (avg is None or (avg.__class__ is float and 0.0 < avg < _INF))
                and self.stop_price is None
                and symbol.__class__ is str and symbol and not symbol.isspace()):
            return
        _plain_numbers(self, ("filled_quantity", "remaining_quantity", "avg_price", "stop_price"))
        cls = type(self)
        _check_symbol(cls, self.symbol)
        _check_choice(cls, "status", self.status, ORDER_STATUSES)
        _check_amount(cls, "filled_quantity", self.filled_quantity)
        _check_amount(cls, "remaining_quantity", self.remaining_quantity)
        _check_optional_price(cls, "avg_price", self.avg_price)
        _check_optional_price(cls, "stop_price", self.stop_price)


@dataclass(frozen=True, slots=True, repr=False)
class FillEvent(Event):
    """An executed trade: ``quantity`` of ``symbol`` at ``price``, with its commission."""

    type: ClassVar[EventType] = EventType.FILL
    BUY: ClassVar[str] = "BUY"
    SELL: ClassVar[str] = "SELL"

    symbol: str
    side: str
    quantity: float
    price: float
    commission: float = 0.0
    order_id: str = ""

    def get_symbol(self) -> str:
        return self.symbol

    def get_side(self) -> str:
        return self.side

    def get_quantity(self) -> float:
        return self.quantity

    def get_price(self) -> float:
        return self.price

    def get_commission(self) -> float:
        return self.commission

    def get_order_id(self) -> str:
        return self.order_id

    def _validate(self) -> None:
        # Fast path for the usual case (floats, finite: every comparison fails for NaN);
        # anything else takes the checks that explain.
        symbol, side, quantity, price, fee = (self.symbol, self.side, self.quantity, self.price,
                                              self.commission)
        if (quantity.__class__ is float and 0.0 < quantity < _INF and price.__class__ is float
                and 0.0 < price < _INF and fee.__class__ is float and 0.0 <= fee < _INF
                and (side == "BUY" or side == "SELL")
                and symbol.__class__ is str and symbol and not symbol.isspace()):
            return
        _plain_numbers(self, ("quantity", "price", "commission"))
        cls = type(self)
        _check_symbol(cls, self.symbol)
        _check_choice(cls, "side", self.side, (self.BUY, self.SELL))
        _check_amount(cls, "quantity", self.quantity, positive=True)
        _check_price(cls, "price", self.price)
        _check_amount(cls, "commission", self.commission)


@dataclass(frozen=True, slots=True, repr=False)
class PortfolioEvent(Event):
    """The portfolio after a change: cash, equity marked to the last prices, and P&L.

    ``positions`` holds ``(symbol, quantity, average_price)`` per open position (quantity
    negative when short), so a live chart can draw the equity curve and a recording holds it.
    """

    type: ClassVar[EventType] = EventType.PORTFOLIO

    cash: float
    equity: float
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    positions: tuple[tuple[str, float, float], ...] = ()

    def get_cash(self) -> float:
        return self.cash

    def get_equity(self) -> float:
        return self.equity

    def get_realized_pnl(self) -> float:
        return self.realized_pnl

    def get_unrealized_pnl(self) -> float:
        return self.unrealized_pnl

    def get_positions(self) -> tuple[tuple[str, float, float], ...]:
        return self.positions

    def _validate(self) -> None:
        # Fast path for the usual case (finite floats: every comparison fails for NaN);
        # anything else takes the checks that explain.
        cash, equity, realized, unrealized = (self.cash, self.equity, self.realized_pnl,
                                              self.unrealized_pnl)
        if (cash.__class__ is float and -_INF < cash < _INF and equity.__class__ is float
                and -_INF < equity < _INF and realized.__class__ is float
                and -_INF < realized < _INF and unrealized.__class__ is float
                and -_INF < unrealized < _INF and self.positions.__class__ is tuple):
            return
        _plain_numbers(self, ("cash", "equity", "realized_pnl", "unrealized_pnl"))
        cls = type(self)
        for name in ("cash", "equity", "realized_pnl", "unrealized_pnl"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value):
                raise _bad(cls, name, value, "must be a finite number")
        if not isinstance(self.positions, tuple):
            raise _bad(cls, "positions", self.positions,
                       "must be a tuple of (symbol, quantity, average_price)")


@dataclass(frozen=True, slots=True, repr=False)
class WebSocketEvent(Event):
    """One raw message as received from a WebSocket, before any decoding."""

    type: ClassVar[EventType] = EventType.WEBSOCKET

    payload: str | bytes
    received_ns: int = 0

    def get_payload(self) -> str | bytes:
        return self.payload

    def get_received_ns(self) -> int:
        return self.received_ns

    def _validate(self) -> None:
        if not isinstance(self.payload, (str, bytes)):
            raise _bad(type(self), "payload", self.payload, "must be str or bytes")


@dataclass(frozen=True, slots=True, repr=False)
class RestResponseEvent(WebSocketEvent):
    """The body of a REST response a feed needed (a Binance depth snapshot) and the ``url`` it
    answered, as received.

    Raw venue input like the socket's messages, so it is one of them: ``EventType.WEBSOCKET``,
    published in order with the messages. The guide's wiring (a ``WebSocketHandler`` on
    ``EventType.WEBSOCKET``) decodes it with the adapter's ``parse_rest``, a recorder keeps it
    and ``Replayer(..., what="raw")`` replays it. The URL is kept because a response may not
    say what it answers (a Binance depth snapshot names no symbol; its URL does).
    """

    url: str = ""

    def get_url(self) -> str:
        return self.url

    def _validate(self) -> None:
        WebSocketEvent._validate(self)
        if not isinstance(self.url, str) or not self.url:
            raise _bad(type(self), "url", self.url, "must be the request's URL (a string)")


@dataclass(frozen=True, slots=True, repr=False)
class ErrorEvent(Event):
    """Something went wrong: a handler raised, or a message could not be decoded.

    ``original_seq``/``original_type`` name the event being handled; ``payload`` keeps the
    raw input that could not be decoded, so nothing is lost.
    """

    type: ClassVar[EventType] = EventType.ERROR

    message: str
    error_type: str = "Error"
    handler: str | None = None
    original_seq: int | None = None
    original_type: str | None = None
    payload: str | bytes | None = None

    def get_message(self) -> str:
        return self.message

    def get_error_type(self) -> str:
        return self.error_type

    def get_handler(self) -> str | None:
        return self.handler

    def get_original_seq(self) -> int | None:
        return self.original_seq

    def get_original_type(self) -> str | None:
        return self.original_type

    def get_payload(self) -> str | bytes | None:
        return self.payload


@dataclass(frozen=True, slots=True, repr=False)
class SystemEvent(Event):
    """A change in the system itself: a connection opened or lost, a gap in a feed, ..."""

    type: ClassVar[EventType] = EventType.SYSTEM

    kind: str
    message: str = ""
    data: Any = field(default=None, compare=False)

    def get_kind(self) -> str:
        return self.kind

    def get_message(self) -> str:
        return self.message

    def get_data(self) -> Any:
        return self.data


for _cls in (BarEvent, BarUpdateEvent, TickEvent, QuoteEvent, BookEvent, SignalEvent,
             OrderEvent, CancelEvent, ReplaceEvent, OrderUpdateEvent, FillEvent, PortfolioEvent,
             WebSocketEvent, RestResponseEvent, ErrorEvent,
             SystemEvent):
    _fast_init(_cls)
_core.bind(Event, ErrorEvent)

#: ``parsed_book_event(symbol, bids, asks, snapshot, first_update_id, last_update_id,
#: checksum, checksum_rule, time_ns, source)``: a ``BookEvent`` of levels its caller already
#: checked, one by one, as ``BookEvent`` would (each a ``(float, float)`` tuple with
#: ``0 < price < inf`` and ``0 <= size < inf``: the exchange adapters' ``level``); every other
#: check still runs (``_parsed_book_checks``, skipped for the usual update: see
#: ``evlab._builders.BookBuilder``). Decoding is hot: this skips a second pass over levels
#: the adapter has just checked. ``create_book_event`` builds with it too.
parsed_book_event: Callable[..., BookEvent] = _builders.BookBuilder(
    BookEvent, _value_plan(BookEvent, _builders.BOOK_FIELDS), _core.make, _event_time,
    _parsed_book_checks).build


_QUOTES = _builders.QuoteBuilder(QuoteEvent, _value_plan(QuoteEvent, _builders.QUOTE_FIELDS),
                                 _core.make, _event_time)
#: ``book_quote_event(symbol, bid, ask, bid_size, ask_size, time_ns, source)``: the
#: ``QuoteEvent`` of the top of a book that ``OrderBooks`` keeps (both sides non-empty, not
#: crossed, every level checked when its ``BookEvent`` was made), so none of
#: ``QuoteEvent``'s checks could fail: they are skipped.
book_quote_event: Callable[..., QuoteEvent] = _QUOTES.build
#: ``parsed_quote_event(symbol, bid, ask, bid_size, ask_size, time_ns, source)``: a
#: ``QuoteEvent`` of an exchange's quote (the adapters' ``quote``), validated as
#: ``QuoteEvent`` validates: the usual quote accepted in one expression (compiled, in C),
#: anything else made by the class, whose checks name the fault.
parsed_quote_event: Callable[..., QuoteEvent] = _QUOTES.checked


# --- factories (the usage guide's signatures, plus keyword extras) --------------------

def _time(timestamp: Any) -> int | None:
    return None if timestamp is None else to_ns(timestamp)


assert [f.name for f in fields(BarUpdateEvent) if f.name not in _STAMPS] == [
    "time_ns", "source", "symbol", "open", "high", "low", "close", "volume"]


def _checked_bar(cls: type[B], symbol: str, timestamp: Any, o: float, h: float, low: float,
                 c: float, v: float, source: str) -> B:
    """A ``cls`` bar built by its ``__init__``: every check, each naming what is wrong."""
    return cls(symbol, o, h, low, c, v, time_ns=to_ns(timestamp), source=source)


class _BarMaker(Protocol):
    def __call__(self, cls: type[B], symbol: str, timestamp: Any, o: float, h: float,
                 low: float, c: float, v: float, source: str) -> B: ...


#: ``_new_bar(cls, symbol, timestamp, o, h, low, c, v, source)``: a validated ``cls`` bar
#: (``BarEvent`` or ``BarUpdateEvent``). The usual bar of a feed (int ns, floats in order, a
#: plain symbol) passes ``BarEvent._validate``'s fast test there and is built in one call of
#: the core, without the ``__init__`` frame; anything else by ``_checked_bar``. A feed builds
#: one per message: compiled (``evlab._builders.BarBuilder``), it is a C call.
_new_bar: _BarMaker = _builders.BarBuilder(
    BarEvent, _value_plan(BarEvent, _builders.BAR_FIELDS),
    BarUpdateEvent, _value_plan(BarUpdateEvent, _builders.BAR_FIELDS),
    _core.make, _core.bar_ok, _checked_bar).build


def create_bar_event(symbol: str, timestamp: Any, open: float, high: float, low: float,
                     close: float, volume: float, *, source: str = "") -> BarEvent:
    """A validated bar; ``timestamp`` is the bar's open time (datetime, Timestamp, ISO or ns)."""
    return _new_bar(BarEvent, symbol, timestamp, open, high, low, close, volume, source)


def create_bar_update_event(symbol: str, timestamp: Any, open: float, high: float, low: float,
                            close: float, volume: float, *, source: str = "") -> BarUpdateEvent:
    """An in-progress bar (the bar is not final yet)."""
    return _new_bar(BarUpdateEvent, symbol, timestamp, open, high, low, close, volume, source)


def create_tick_event(symbol: str, timestamp: Any, price: float, size: float, *,
                      side: str | None = None, trade_id: str | None = None,
                      source: str = "") -> TickEvent:
    """A validated trade print."""
    return TickEvent(symbol, price, size, side, trade_id, time_ns=to_ns(timestamp), source=source)


def create_quote_event(symbol: str, timestamp: Any, bid: float | None, ask: float | None,
                       bid_size: float | None = None, ask_size: float | None = None, *,
                       source: str = "") -> QuoteEvent:
    """A validated best bid/ask (a side None: that side is empty); ``timestamp`` None takes
    the event time of the event being handled (a quote decoded from a message that names no
    time takes its receive time)."""
    return QuoteEvent(symbol, bid, ask, bid_size, ask_size, time_ns=_time(timestamp),
                      source=source)


def create_book_event(symbol: str, timestamp: Any, bids: Iterable[Sequence[float]] = (),
                      asks: Iterable[Sequence[float]] = (), *, snapshot: bool = False,
                      first_update_id: int | None = None, last_update_id: int | None = None,
                      checksum: int | None = None, checksum_rule: str | None = None,
                      source: str = "", parsed: bool = False) -> BookEvent:
    """Validated book levels: ``bids``/``asks`` are ``(price, size)`` pairs (size 0 deletes
    a level of an update); ``snapshot=True`` for a whole book. ``timestamp`` as for quotes;
    ``checksum``/``checksum_rule``: the exchange's checksum of its book after this event.
    ``parsed=True``: the caller checked each level already (see :data:`parsed_book_event`),
    so only the other checks run."""
    if parsed:
        return parsed_book_event(symbol, _levels(bids), _levels(asks), snapshot,
                                 first_update_id, last_update_id, checksum, checksum_rule,
                                 _time(timestamp), source)
    return BookEvent(symbol, _levels(bids), _levels(asks), snapshot, first_update_id,
                     last_update_id, checksum, checksum_rule, time_ns=_time(timestamp),
                     source=source)


def _levels(side: Iterable[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    """Levels as a tuple of ``(float, float)``; ints become floats, anything else is left
    for ``BookEvent``'s checks to name."""
    if isinstance(side, (str, bytes)) or not isinstance(side, Iterable):
        return side  # BookEvent names the bad value
    out: list[Any] = []
    for level in side:
        if isinstance(level, (list, tuple)) and len(level) == 2:
            p, q = level
            out.append((float(p) if type(p) is int else p, float(q) if type(q) is int else q))
        else:
            out.append(level)
    return tuple(out)


def create_signal_event(signal_type: str, price: float, symbol: str, strategy_id: str, *,
                        strength: float = 1.0, timestamp: Any = None) -> SignalEvent:
    """A validated signal; without ``timestamp`` it takes the event time of the event being
    handled (the bar that caused it), so replays reproduce it exactly."""
    return SignalEvent(signal_type, price, symbol, strategy_id, strength,
                       time_ns=_time(timestamp), source=strategy_id)


def create_order_event(symbol: str, side: str, quantity: float, order_type: str = "MARKET",
                       limit_price: float | None = None, *, stop_price: float | None = None,
                       trail_amount: float | None = None, trail_bps: float | None = None,
                       time_in_force: str = "GTC", expire_time: Any = None,
                       take_profit: float | None = None, stop_loss: float | None = None,
                       oco_group: str | None = None, reduce_only: bool = False,
                       order_id: str = "", parent_id: str = "", strategy_id: str = "",
                       timestamp: Any = None, source: str = "") -> OrderEvent:
    """A validated order (see ``OrderEvent``); ``expire_time`` (a GTD order's end) takes any
    time ``to_ns`` reads. A bad combination raises ValueError naming the field."""
    return OrderEvent(symbol, side, quantity, order_type, limit_price, order_id, strategy_id,
                      stop_price, trail_amount, trail_bps, time_in_force,
                      None if expire_time is None else to_ns(expire_time), take_profit,
                      stop_loss, oco_group, reduce_only, parent_id,
                      time_ns=_time(timestamp), source=source)


def create_cancel_event(order_id: str, *, strategy_id: str = "", timestamp: Any = None,
                        source: str = "") -> CancelEvent:
    """A request to cancel the working order ``order_id``."""
    return CancelEvent(order_id, strategy_id, time_ns=_time(timestamp), source=source)


def create_replace_event(order_id: str, *, quantity: float | None = None,
                         limit_price: float | None = None, stop_price: float | None = None,
                         strategy_id: str = "", timestamp: Any = None,
                         source: str = "") -> ReplaceEvent:
    """A request to change the working order ``order_id`` (None keeps a value)."""
    return ReplaceEvent(order_id, quantity, limit_price, stop_price, strategy_id,
                        time_ns=_time(timestamp), source=source)


def create_order_update_event(symbol: str, order_id: str, status: str, *,
                              filled_quantity: float = 0.0, remaining_quantity: float = 0.0,
                              avg_price: float | None = None, reason: str = "",
                              stop_price: float | None = None, timestamp: Any = None,
                              source: str = "") -> OrderUpdateEvent:
    """A validated order status change (the broker emits these)."""
    return OrderUpdateEvent(symbol, order_id, status, filled_quantity, remaining_quantity,
                            avg_price, reason, stop_price, time_ns=_time(timestamp),
                            source=source)


def create_fill_event(symbol: str, side: str, quantity: float, price: float,
                      commission: float = 0.0, *, order_id: str = "", timestamp: Any = None,
                      source: str = "") -> FillEvent:
    """A validated fill."""
    return FillEvent(symbol, side, quantity, price, commission, order_id,
                     time_ns=_time(timestamp), source=source)


def create_websocket_event(source: str, payload: str | bytes,
                           received_ns: int | None = None) -> WebSocketEvent:
    """A raw WebSocket message; its event time is its receive time (default: now)."""
    return _new_websocket(source, payload, time.time_ns() if received_ns is None
                          else received_ns)


def _checked_websocket(source: str, payload: Any, received_ns: Any) -> WebSocketEvent:
    """A ``WebSocketEvent`` built by its ``__init__``: its check names what is wrong."""
    return WebSocketEvent(payload, received_ns, time_ns=received_ns, source=source)


#: ``_new_websocket(source, payload, received_ns)``: what ``create_websocket_event`` makes,
#: for a caller that has the receive time (a feed's reader, once per message: compiled,
#: ``evlab._builders.WebSocketBuilder`` is a C call). A str or bytes payload and an int time
#: (what ``WebSocketEvent`` checks) are built in one call of the core; anything else by
#: ``_checked_websocket``.
_new_websocket: Callable[[str, str | bytes, int], WebSocketEvent] = \
    _builders.WebSocketBuilder(WebSocketEvent,
                               _value_plan(WebSocketEvent, _builders.WEBSOCKET_FIELDS),
                               _core.make, _checked_websocket).build


def create_rest_event(source: str, url: str, body: str | bytes,
                      received_ns: int | None = None) -> RestResponseEvent:
    """A REST response's ``body`` as received for ``url``; its event time is its receive time."""
    now = time.time_ns() if received_ns is None else received_ns
    return RestResponseEvent(body, now, url, time_ns=now, source=source)


def create_error_event(message: str, *, error_type: str = "Error", handler: str | None = None,
                       original: Event | None = None, payload: str | bytes | None = None,
                       source: str = "") -> ErrorEvent:
    """An error about ``original`` (the event being handled, if any)."""
    return ErrorEvent(message, error_type, handler,
                      None if original is None else original.seq,
                      None if original is None else str(original.type), payload,
                      source=source)


def create_system_event(kind: str, message: str = "", data: Any = None, *,
                        source: str = "") -> SystemEvent:
    """A system notice (connection state, gaps, ...)."""
    return SystemEvent(kind, message, data, source=source)
