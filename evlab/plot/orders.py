"""Working orders as price levels over time, for the live chart and the chart of a recording.

``OrderLevels`` is fed the order events in the order the bus dispatched them (live) or by
sequence number (a recording) and keeps, per order, a *segment*: the order's level from
the moment it works (``ACCEPTED``) to the moment it stops working (``FILLED``,
``CANCELED``, ``EXPIRED``, ``REJECTED``). A ``REPLACED`` order ends its segment and starts
one at its new level (the prices come from the ``ReplaceEvent``, the update's cause); a
stop-limit draws its stop level until ``TRIGGERED``, then its limit level. Each segment has
a kind: ``limit`` or ``stop`` for a strategy's order, ``take_profit`` / ``stop_loss`` for a
bracket's children (orders with a ``parent_id``); a fill of a bracket child is classed the
same way (``fill_role``), so the chart marks take-profit and stop-loss exits apart.

Market orders have no level. A trailing stop is drawn from the broker's ``TRAILED``
updates, which carry its level (``stop_price``) each time it moves: a new segment per
move, never a trail recomputed here. Updates are matched to their order by the update's
``cause`` (the order's sequence number: an order emitted without an ``order_id`` gets its id
from the broker), in either arrival order: on a live bus the broker, at a higher priority, accepts
an order before the chart's own handler sees it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import NamedTuple, TypeVar

import numpy as np

__all__ = ["FILL_ROLES", "KINDS", "OrderLevels", "Segment", "segment_arrays"]

#: segment kinds, in the order of their traces
KINDS = ("limit", "stop", "take_profit", "stop_loss")
#: the fills marked apart: those of a bracket's take-profit and stop-loss children
FILL_ROLES = ("take_profit", "stop_loss")
_DONE = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})
_LEVELLED = frozenset({"LIMIT", "STOP", "STOP_LIMIT", "TRAILING_STOP"})
_NAN = float("nan")
_V = TypeVar("_V")


class Segment(NamedTuple):
    """One level of one order, from ``start_ns`` to ``end_ns`` (None: still working)."""

    start_ns: int
    end_ns: int | None
    level: float
    kind: str
    text: str


class _Working:
    """An order that is working: what it is and its current prices."""

    __slots__ = ("limit", "order_id", "order_type", "quantity", "role", "side", "start",
                 "stop", "triggered")

    def __init__(self, order_id: str, order_type: str, side: str, quantity: float,
                 limit: float | None, stop: float | None, role: str | None) -> None:
        self.order_id, self.order_type, self.side = order_id, order_type, side
        self.quantity, self.limit, self.stop, self.role = quantity, limit, stop, role
        self.start = 0
        self.triggered = False

    def level(self) -> tuple[float, str] | None:
        """The price drawn now and its kind (None: no price)."""
        if self.order_type == "LIMIT" or (self.order_type == "STOP_LIMIT" and self.triggered):
            price, kind = self.limit, "limit"
        else:
            price, kind = self.stop, "stop"
        if price is None:
            return None
        return price, self.role or kind

    def segment(self, end: int | None) -> Segment | None:
        now = self.level()
        if now is None:
            return None
        price, kind = now
        name = kind.replace("_", "-")
        return Segment(self.start, end, price, kind,
                       f"{name} {self.side} {self.quantity:g} @ {price:.6g}<br>{self.order_id}")


class _Bounded(OrderedDict[int, _V]):
    """A dict that forgets its oldest entries beyond ``size`` (requests never answered)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.dropped = 0

    def put(self, key: int, value: _V) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
            self.dropped += 1


class OrderLevels:
    """The segments of the working orders of one symbol (see the module doc); keeps the last
    ``keep`` finished segments and at most ``keep`` requests waiting for their update."""

    def __init__(self, keep: int = 2000) -> None:
        self.keep = int(keep)
        self.done: deque[Segment] = deque(maxlen=self.keep)
        self.working: dict[str, _Working] = {}
        # order seq -> the order until its first update (None: an order with no level)
        self._orders: _Bounded[_Working | None] = _Bounded(self.keep)
        # replace seq -> its (limit, stop) until the broker answers
        self._replaces: _Bounded[tuple[float | None, float | None]] = _Bounded(self.keep)
        # request seq -> (time, order_id, status) of an update that came before its request
        self._early: _Bounded[tuple[int, str, str]] = _Bounded(self.keep)
        # order seq -> a trailing stop's first level, published before the order came
        self._early_stops: _Bounded[float] = _Bounded(self.keep)
        self._roles: OrderedDict[str, str] = OrderedDict()  # bracket child id -> role

    @property
    def dropped(self) -> int:
        """Requests forgotten because no update answered them within ``keep`` others."""
        return (self._orders.dropped + self._replaces.dropped + self._early.dropped
                + self._early_stops.dropped)

    def clear(self) -> None:
        """Forget everything (the live chart's ``clear()``)."""
        self.done.clear()
        self.working.clear()
        for pending in (self._orders, self._replaces, self._early, self._early_stops):
            pending.clear()
        self._roles.clear()

    # --- what comes from the bus ---------------------------------------------------------
    def order(self, seq: int | None, order_id: str, order_type: str, side: str,
              quantity: float, limit: float | None, stop: float | None,
              parent_id: str = "") -> None:
        """An ``OrderEvent`` (sequence number ``seq``): remembered until accepted."""
        if seq is None:
            return
        o = None
        if order_type in _LEVELLED:
            role = None
            if parent_id:
                role = "take_profit" if order_type == "LIMIT" else "stop_loss"
            o = _Working(order_id, order_type, side, float(quantity), _price(limit),
                         _price(stop), role)
        early = self._early.pop(seq, None)
        if early is None:
            self._orders.put(seq, o)
        elif o is not None and early[2] == "ACCEPTED":
            o.order_id = early[1]
            stop = self._early_stops.pop(seq, None)
            if stop is not None:
                o.stop = stop
            self._open(o, early[0])

    def replace(self, seq: int | None, limit: float | None, stop: float | None) -> None:
        """A ``ReplaceEvent``: its prices, remembered until the broker answers ``REPLACED``."""
        if seq is None:
            return
        early = self._early.pop(seq, None)
        if early is None:
            self._replaces.put(seq, (_price(limit), _price(stop)))
        else:
            self._replaced(early[1], early[0], _price(limit), _price(stop))

    def update(self, time_ns: int, order_id: str, status: str, cause: int | None,
               stop: float | None = None) -> None:
        """An ``OrderUpdateEvent`` at ``time_ns``, ``cause`` the seq of what it answers
        (``stop``: a ``TRAILED`` update's new level)."""
        if status == "ACCEPTED" or (status == "REJECTED" and order_id not in self.working):
            if cause is None:
                return
            if cause not in self._orders:  # the order's own handler has not run yet
                self._early.put(cause, (time_ns, order_id, status))
                return
            o = self._orders.pop(cause)
            if o is not None and status == "ACCEPTED":
                o.order_id = order_id  # the broker names an order sent without an id
                self._open(o, time_ns)
            return
        o = self.working.get(order_id)
        if o is None:
            stop = _price(stop)
            if status == "TRAILED" and cause is not None and cause in self._early \
                    and stop is not None:  # accepted and trailed before its order came
                self._early_stops.put(cause, stop)
            return
        if status in _DONE:
            self._close(o, time_ns)
            del self.working[order_id]
        elif status == "REPLACED":
            if cause is None:
                return
            prices = self._replaces.pop(cause, None)
            if prices is None:
                self._early.put(cause, (time_ns, order_id, status))
                return
            self._replaced(order_id, time_ns, *prices)
        elif status == "TRAILED":
            stop = _price(stop)
            if stop is not None:
                self._replaced(order_id, time_ns, None, stop)
        elif status == "TRIGGERED" and o.order_type == "STOP_LIMIT" and not o.triggered:
            self._close(o, time_ns)
            o.triggered = True
            o.start = time_ns

    def fill_role(self, order_id: str) -> str | None:
        """``take_profit`` / ``stop_loss`` for a fill of a bracket's child, else None."""
        return self._roles.get(order_id)

    # --- what the chart draws ------------------------------------------------------------
    def segments(self) -> list[Segment]:
        """Finished segments, then those still working (``end_ns`` None)."""
        out = list(self.done)
        for o in self.working.values():
            seg = o.segment(None)
            if seg is not None:
                out.append(seg)
        return out

    # --- internals -----------------------------------------------------------------------
    def _open(self, o: _Working, time_ns: int) -> None:
        o.start = time_ns
        self.working[o.order_id] = o
        if o.role is not None:
            self._roles[o.order_id] = o.role
            if len(self._roles) > self.keep:
                self._roles.popitem(last=False)

    def _close(self, o: _Working, time_ns: int) -> None:
        seg = o.segment(time_ns)
        if seg is not None:
            self.done.append(seg)

    def _replaced(self, order_id: str, time_ns: int, limit: float | None,
                  stop: float | None) -> None:
        o = self.working.get(order_id)
        if o is None:
            return
        self._close(o, time_ns)
        if limit is not None:
            o.limit = limit
        if stop is not None:
            o.stop = stop
        o.start = time_ns


def _price(value: float | None) -> float | None:
    """A price column's value: None for a missing one (None or NaN in a recording)."""
    if value is None:
        return None
    value = float(value)
    return None if value != value else value


def segment_arrays(segments: list[Segment], end_ns: int | None, start_ns: int | None = None
                   ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per kind: times (ns), levels and hover texts of a line trace drawing ``segments``
    (``t0, t1, t1`` / ``L, L, NaN``: the NaN breaks the line). A working segment runs to
    ``end_ns`` (the last bar); segments that ended before ``start_ns`` are left out. Texts
    are a numpy array: plotly checks a list of them one by one."""
    out: dict[str, tuple[list[int], list[float], list[str]]] = {k: ([], [], []) for k in KINDS}
    for seg in segments:
        end = seg.end_ns if seg.end_ns is not None else end_ns
        if end is None:
            end = seg.start_ns
        end = max(end, seg.start_ns)
        if start_ns is not None and end < start_ns:
            continue
        begin = seg.start_ns if start_ns is None else max(seg.start_ns, start_ns)
        t, y, text = out[seg.kind]
        t += (begin, end, end)
        y += (seg.level, seg.level, _NAN)
        text += (seg.text, seg.text, "")
    return {k: (np.array(t, np.int64), np.array(y, np.float64), np.array(text, dtype=str))
            for k, (t, y, text) in out.items()}
