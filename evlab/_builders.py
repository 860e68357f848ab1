"""The builders of the events a feed makes per message: ``parsed_book_event`` (an adapter's
``BookEvent``) and ``book_quote_event`` (the ``QuoteEvent`` of a book's new top), made on
every book update, ``_new_bar`` (every bar: ``create_bar_event``, the adapters' bars) and
``_new_websocket`` (every raw message a feed receives: ``create_websocket_event``).

``evlab.events`` makes one ``BarBuilder``, one ``BookBuilder`` and one ``QuoteBuilder``
here, filled in with its event classes, the slot plans (in the order these builders pass the
values), its core's ``make`` and its checks, and exports their methods under those names: so
the classes, fields and checks stay evlab.events' (one place builds events), and a second
``evlab.events`` (as ``evlab._accel.interpreted_copy`` loads) makes builders of its own. What
lives here is the per-event code only, so that it can be compiled: pip compiles this file
with Cython (setup.py; ``_builders.pxd`` makes the builders extension types), where it is
about a fifth of the instructions of the same code interpreted; ``EVLAB_PURE_PYTHON=1`` runs
it interpreted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evlab import _nocython as cython
else:
    try:
        import cython
    except ImportError:  # no Cython: interpreted
        from evlab import _nocython as cython

if cython.compiled:  # the compiled core's make, as a C call (its plans are bytes of offsets)
    from cython.cimports.evlab._cprims import evlab_bar_ok, evlab_make

_INF = float("inf")
_CHECKSUM_END = 1 << 63  # a checksum is stored as an int64 (events.py's check)

__all__ = ["BAR_FIELDS", "BOOK_FIELDS", "QUOTE_FIELDS", "WEBSOCKET_FIELDS", "BarBuilder",
           "BookBuilder", "QuoteBuilder", "WebSocketBuilder"]

#: the fields of ``BarEvent`` and ``BarUpdateEvent`` in the order ``BarBuilder.build`` passes
#: them to ``make``
BAR_FIELDS = ("time_ns", "source", "symbol", "open", "high", "low", "close", "volume")

#: the fields of ``BookEvent`` in the order ``BookBuilder.build`` passes them to ``make``
BOOK_FIELDS = ("symbol", "bids", "asks", "snapshot", "first_update_id", "last_update_id",
               "checksum", "checksum_rule", "time_ns", "source")
#: the fields of ``QuoteEvent`` in the order ``QuoteBuilder.build`` passes them to ``make``
QUOTE_FIELDS = ("symbol", "bid", "ask", "bid_size", "ask_size", "time_ns", "source")


class BookBuilder:
    """``build(symbol, bids, asks, snapshot, first_update_id, last_update_id, checksum,
    checksum_rule, time_ns, source, uncrossed=False)``: a new ``cls`` (``BookEvent``) of
    levels its caller checked one by one, as ``BookEvent`` would; ``check(event)`` (the
    event's other checks) runs unless the values are the usual ones, accepted here in one
    expression. ``uncrossed=True``: the caller also found the snapshot's levels not crossed
    as it read them (the Binance depth scan, which compares each side's best price as it
    goes), so the crossing pass over its levels (:func:`_uncrossed`) is not repeated; every
    other check is as without it.

    ``plan``: the slots of ``cls`` in ``BOOK_FIELDS`` order, then its stamps; ``make(cls,
    plan, values)``: the core's, which sets them; ``event_time(cls, time_ns)``: the event
    time for a ``time_ns`` that is not an int (None: now, or the event being handled's)."""

    __slots__ = ("check", "cls", "event_time", "make", "plan")

    def __init__(self, cls: type, plan: Any, make: Callable[[type, Any, tuple[Any, ...]], Any],
                 event_time: Callable[[type, Any], int], check: Callable[[Any], None]) -> None:
        self.cls = cls
        self.plan = plan
        self.make = make
        self.event_time = event_time
        self.check = check

    def build(self, symbol: Any, bids: Any, asks: Any, snapshot: Any, first_update_id: Any,
              last_update_id: Any, checksum: Any, checksum_rule: Any, time_ns: Any,
              source: Any, uncrossed: bool = False) -> Any:
        if time_ns is None or type(time_ns) is not int:
            time_ns = self.event_time(self.cls, time_ns)
        values = (symbol, bids, asks, snapshot, first_update_id, last_update_id, checksum,
                  checksum_rule, time_ns, source)
        plan = self.plan
        if cython.compiled and type(plan) is bytes:  # the compiled core's plan: its make in C
            event = evlab_make(self.cls, plan, values)
        else:
            event = self.make(self.cls, plan, values)
        # an update, or a snapshot not crossed, with no checksum or a checksum (an int below
        # 2**63) and its rule's name, its ids None or in order, for a named symbol: what the
        # check would accept, in one expression (else it runs, naming the fault); type(), not
        # .__class__: compiled, a pointer read rather than an attribute lookup
        if not (type(bids) is tuple and type(asks) is tuple
                and (snapshot is False or (snapshot is True and (uncrossed is True
                                                           or _uncrossed(bids, asks))))
                and ((checksum is None and checksum_rule is None)
                     or (type(checksum) is int and 0 <= checksum < _CHECKSUM_END
                         and type(checksum_rule) is str and checksum_rule))
                and type(symbol) is str and symbol and not symbol.isspace()
                and (first_update_id is None
                     or (type(first_update_id) is int and first_update_id >= 0))
                and (last_update_id is None
                     or (type(last_update_id) is int and last_update_id >= 0))
                and (first_update_id is None or last_update_id is None
                     or first_update_id <= last_update_id)):
            self.check(event)
        return event


def _uncrossed(bids: tuple[Any, ...], asks: tuple[Any, ...]) -> bool:
    """True if a snapshot's levels are not crossed: its highest bid price holding a size is
    below its lowest ask price holding one (or a side holds none), every level a ``(float,
    float)`` tuple of a finite positive price and a finite size that is not negative (what
    an adapter's ``level`` gives); False for anything else, crossed or not, so that the
    check (``_book_uncrossed``) runs and names the fault. One pass over each side, in C
    where compiled (a snapshot holds thousands of levels)."""
    top = 0.0  # the best bid holding a size so far (0.0, below every price: none yet)
    for level in bids:
        if type(level) is not tuple:
            return False
        lv = level  # compiled, a tuple: its length and items read in place
        if len(lv) != 2:
            return False
        price = lv[0]
        size = lv[1]
        if type(price) is not float or type(size) is not float:
            return False
        p = price
        q = size
        if not (0.0 < p < _INF and 0.0 <= q < _INF):
            return False
        if q > 0.0 and p > top:
            top = p
    low = _INF  # the best ask holding a size so far (inf, above every price: none yet)
    for level in asks:
        if type(level) is not tuple:
            return False
        lv = level  # compiled, a tuple: its length and items read in place
        if len(lv) != 2:
            return False
        price = lv[0]
        size = lv[1]
        if type(price) is not float or type(size) is not float:
            return False
        p = price
        q = size
        if not (0.0 < p < _INF and 0.0 <= q < _INF):
            return False
        if q > 0.0 and p < low:
            low = p
    return top < low


class QuoteBuilder:
    """``build(symbol, bid, ask, bid_size, ask_size, time_ns, source)``: a new ``cls``
    (``QuoteEvent``) of the top of a book that ``OrderBooks`` keeps (both sides non-empty,
    not crossed, every level checked when its ``BookEvent`` was made), so none of its checks
    could fail: none runs. ``checked(...)``, the same arguments: one of values from outside,
    validated. ``plan``, ``make``, ``event_time``: as ``BookBuilder``'s."""

    __slots__ = ("cls", "event_time", "make", "plan")

    def __init__(self, cls: type, plan: Any, make: Callable[[type, Any, tuple[Any, ...]], Any],
                 event_time: Callable[[type, Any], int]) -> None:
        self.cls = cls
        self.plan = plan
        self.make = make
        self.event_time = event_time

    def build(self, symbol: Any, bid: Any, ask: Any, bid_size: Any, ask_size: Any,
              time_ns: Any, source: Any) -> Any:
        if time_ns is None or type(time_ns) is not int:
            time_ns = self.event_time(self.cls, time_ns)
        values = (symbol, bid, ask, bid_size, ask_size, time_ns, source)
        plan = self.plan
        if cython.compiled and type(plan) is bytes:  # as BookBuilder.build
            return evlab_make(self.cls, plan, values)
        return self.make(self.cls, plan, values)

    def checked(self, symbol: Any, bid: Any, ask: Any, bid_size: Any, ask_size: Any,
                time_ns: Any, source: Any) -> Any:
        """A new ``cls`` of an exchange's quote (an adapter's: Binance's ``bookTicker``),
        validated as ``cls`` validates: the usual quote (float prices, ``0 < bid <= ask <
        inf``, each size None or a float in ``[0, inf)``, a named symbol, an int or None
        time: what ``QuoteEvent._validate`` accepts in its one expression) made by
        ``build``; anything else by ``cls`` itself, whose checks name the fault."""
        if type(bid) is float and type(ask) is float and type(symbol) is str and symbol \
                and not symbol.isspace() and (time_ns is None or type(time_ns) is int):
            b = bid
            a = ask
            x = 0.0  # a size None: as a size 0 here (either is accepted)
            y = 0.0
            sized = True
            if bid_size is not None:
                if type(bid_size) is float:
                    x = bid_size
                else:
                    sized = False
            if ask_size is not None:
                if type(ask_size) is float:
                    y = ask_size
                else:
                    sized = False
            if sized and 0.0 < b <= a < _INF and 0.0 <= x < _INF and 0.0 <= y < _INF:
                return self.build(symbol, bid, ask, bid_size, ask_size, time_ns, source)
        return self.cls(symbol, bid, ask, bid_size, ask_size, time_ns=time_ns, source=source)


class BarBuilder:
    """``build(cls, symbol, timestamp, o, h, low, c, v, source)``: a new bar of ``cls``
    (``final`` or ``update``: ``BarEvent``, ``BarUpdateEvent``). The usual bar of a feed (an
    int time, the values ``bar_ok`` accepts, a plain symbol: ``BarEvent``'s checks would pass)
    is made in one call of ``make``, without ``__init__``; anything else goes to ``slow(cls,
    symbol, timestamp, o, h, low, c, v, source)``, the class itself, whose checks say what is
    wrong. ``plan``/``update_plan``: the slots of each class in ``BAR_FIELDS`` order, then
    its stamps; ``make`` as ``BookBuilder``'s; ``bar_ok(o, h, low, c, v)``: the core's."""

    __slots__ = ("bar_ok", "final", "make", "plan", "slow", "update", "update_plan")

    def __init__(self, final: type, plan: Any, update: type, update_plan: Any,
                 make: Callable[[type, Any, tuple[Any, ...]], Any],
                 bar_ok: Callable[..., bool], slow: Callable[..., Any]) -> None:
        self.final = final
        self.plan = plan
        self.update = update
        self.update_plan = update_plan
        self.make = make
        self.bar_ok = bar_ok
        self.slow = slow

    def build(self, cls: Any, symbol: Any, timestamp: Any, o: Any, h: Any, low: Any, c: Any,
              v: Any, source: Any) -> Any:
        plan = self.plan if cls is self.final else self.update_plan if cls is self.update \
            else None
        if plan is not None and type(timestamp) is int and type(symbol) is str and symbol \
                and not symbol.isspace():
            values = (timestamp, source, symbol, o, h, low, c, v)
            if cython.compiled and type(plan) is bytes:  # the compiled core's: all in C
                if evlab_bar_ok(o, h, low, c, v):
                    return evlab_make(cls, plan, values)
            elif self.bar_ok(o, h, low, c, v):
                return self.make(cls, plan, values)
        return self.slow(cls, symbol, timestamp, o, h, low, c, v, source)


#: the fields of ``WebSocketEvent`` in the order ``WebSocketBuilder.build`` passes them to
#: ``make``
WEBSOCKET_FIELDS = ("time_ns", "source", "payload", "received_ns")


class WebSocketBuilder:
    """``build(source, payload, received_ns)``: a new ``cls`` (``WebSocketEvent``) of one raw
    message as received, its event time its receive time. The usual message (a ``str`` or
    ``bytes`` payload, an int time: what ``WebSocketEvent``'s check accepts) is made in one
    call of ``make``, without ``__init__``; anything else goes to ``slow(source, payload,
    received_ns)``, the class itself, whose check names the fault. A feed makes one per
    message (``evlab.feeds.emitter``'s reader): compiled, a C call. ``plan``: the slots of
    ``cls`` in ``WEBSOCKET_FIELDS`` order, then its stamps; ``make`` as ``BookBuilder``'s."""

    __slots__ = ("cls", "make", "plan", "slow")

    def __init__(self, cls: type, plan: Any, make: Callable[[type, Any, tuple[Any, ...]], Any],
                 slow: Callable[[Any, Any, Any], Any]) -> None:
        self.cls = cls
        self.plan = plan
        self.make = make
        self.slow = slow

    def build(self, source: Any, payload: Any, received_ns: Any) -> Any:
        if (type(payload) is str or type(payload) is bytes) and type(received_ns) is int:
            values = (received_ns, source, payload, received_ns)
            plan = self.plan
            if cython.compiled and type(plan) is bytes:  # as BookBuilder.build
                return evlab_make(self.cls, plan, values)
            return self.make(self.cls, plan, values)
        return self.slow(source, payload, received_ns)
