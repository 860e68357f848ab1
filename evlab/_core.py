"""The dispatch core of the bus: stamping, the current event, sync and async dispatch.

One source, run two ways. Where a C compiler exists, ``pip install`` compiles this file with
Cython (pure-Python mode: the types are in ``_core.pxd``) into the extension ``evlab._core``;
elsewhere, or with ``EVLAB_PURE_PYTHON=1``, the same file runs interpreted. Only the
primitives at the top differ between the two: in C a thread-local pointer, slots written at
their offsets and ``PyIter_Send`` (``_cprims.pxd``); interpreted, a ``threading.local``, the
slots' descriptors and ``coroutine.send``. Everything below them is one text, and
``tests/test_dispatch_parity.py`` runs the same scenarios through both in one process.

The current event travels one way for sync, async and no-loop dispatch alike: a per-thread
slot that a handler's code runs under. Sync dispatch sets it around the handlers; async
dispatch steps each handler's coroutine by hand and sets it around every step, restoring it
whenever the coroutine suspends (so no context variable is set when no handler suspends).
"""

from __future__ import annotations

import functools
import operator
import struct
import sys
import threading
import time
import types
from itertools import count
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from evlab.events import Event

    E = TypeVar("E", bound=Event)

try:
    import cython
except ImportError:  # no Cython: the interpreted primitives below are used
    from evlab import _nocython as cython

__all__ = ["COPY_PLANS", "MAX_DEPTH", "Dispatcher", "Stage", "WeakCall", "bar_ok", "bind",
           "clone", "current", "fill", "make", "row_plan", "slots", "tape_rows"]

_DONE = object()  # what a coroutine step gives once the coroutine has returned

#: Emissions nested deeper than this (a handler emitting from a handler ...) are refused with
#: an ErrorEvent instead of dispatched, the same in C and in Python.
MAX_DEPTH = 1000

if cython.compiled:
    from cython.cimports.evlab._cprims import (  # C primitives: Cython only
        evlab_address,
        evlab_bar_ok,
        evlab_clone,
        evlab_fill,
        evlab_get_current,
        evlab_is,
        evlab_make,
        evlab_now,
        evlab_peek,
        evlab_put,
        evlab_row,
        evlab_send,
        evlab_set_current,
        evlab_slot_offset,
        evlab_stage_put,
        evlab_type_of,
    )

    def _plan(slots: list[Any]) -> Any:
        return b"".join(o.to_bytes(8, sys.byteorder, signed=True) for o in slots)
else:
    _state = threading.local()
    _state.current = None

    # C-level callables, so the interpreted hot path pays no extra Python frame for them.
    evlab_get_current = functools.partial(getattr, _state, "current", None)
    evlab_set_current = functools.partial(setattr, _state, "current")
    evlab_put = types.MemberDescriptorType.__set__  # (slot, obj, value)
    evlab_peek = types.MemberDescriptorType.__get__  # (slot, obj)

    def evlab_slot_offset(descr: Any) -> Any:
        """Where a slot lives: interpreted, its member descriptor itself."""
        if not isinstance(descr, types.MemberDescriptorType):
            raise TypeError("evlab: not a slot descriptor")
        return descr

    evlab_is = isinstance
    _INF = float("inf")

    def evlab_bar_ok(o: Any, h: Any, low: Any, c: Any, v: Any) -> bool:
        """The usual bar, checked in one go (see the C twin in _cprims.pxd)."""
        return (o.__class__ is h.__class__ is low.__class__ is c.__class__ is float
                and (v.__class__ is float or v.__class__ is int)
                and 0.0 < low <= o <= h < _INF and low <= c <= h and 0.0 <= v < _INF)
    evlab_type_of = operator.attrgetter("type")

    evlab_now = time.time_ns

    def _plan(slots: list[Any]) -> Any:
        return tuple(slots)

    def evlab_fill(obj: Any, plan: tuple[Any, ...], values: tuple[Any, ...]) -> None:
        """Write ``values`` into the slots of ``plan``; the slots beyond them get None."""
        if len(values) > len(plan):
            raise TypeError(f"evlab: {len(values)} values for {len(plan)} slots")
        for i, where in enumerate(plan):
            evlab_put(where, obj, values[i] if i < len(values) else None)

    def evlab_make(cls: type, plan: tuple[Any, ...], values: tuple[Any, ...]) -> Any:
        """A new ``cls`` instance without ``__init__``, filled as by ``evlab_fill``."""
        new: Any = object.__new__(cls)
        evlab_fill(new, plan, values)
        return new

    def evlab_clone(obj: Any, copied: tuple[Any, ...], cleared: tuple[Any, ...]) -> Any:
        """A copy of ``obj`` without ``__init__`` (see ``clone``)."""
        new = object.__new__(type(obj))
        for where in copied:
            evlab_put(where, new, evlab_peek(where, obj))
        for where in cleared:
            evlab_put(where, new, None)
        return new

    def evlab_row(plan: Any, event: Any) -> int:
        """Interpreted, ``row_plan`` makes no plan: the generated ``put`` does every row."""
        raise NotImplementedError

    _INT_RANGES = {ord("q"): (2**63, "int64"), ord("i"): (2**31, "int32"),
                   ord("h"): (2**15, "int16")}

    _PACKERS = {ord(c): struct.Struct(c) for c in "dqih"}

    def evlab_stage_put(buf: bytearray, code: int, i: int, value: Any) -> int:
        """Item ``i`` of a stage's buffer set to ``value`` (see the C twin in _cprims.pxd)."""
        packer = _PACKERS[code]
        if code == 100:  # "d"
            if value.__class__ is not float and not isinstance(value, float):
                if not isinstance(value, int):
                    raise TypeError(f"expected a float, got {type(value).__name__}")
                value = float(value)  # OverflowError for an int too large, as in C
        else:
            if value.__class__ is not int:
                value = operator.index(value)
            bound, name = _INT_RANGES[code]
            if not -bound <= value < bound:
                raise OverflowError(f"{value!r} does not fit in {name}")
        packer.pack_into(buf, i * packer.size, value)
        return 0

    def evlab_address(buf: bytearray) -> int:
        """Interpreted, nothing reads a stage's memory by its address."""
        return 0

    def evlab_send(coro: Any, arg: Any, done: Any) -> Any:
        """One step of ``coro``: what it yielded, or ``done`` once it returned."""
        try:
            return coro.send(arg)
        except StopIteration:
            return done


def current() -> Any:
    """The event whose handlers run now on this thread (or async step), or None."""
    return evlab_get_current()


# The slot primitives evlab.events builds, copies and makes trusted events with: it decides
# what goes in which slot; these only write them (in C: at their offsets, in one call).

def slots(descriptors: list[Any]) -> Any:
    """A plan of where the slots behind the member ``descriptors`` live, for the calls below."""
    return _plan([evlab_slot_offset(d) for d in descriptors])


def fill(obj: Any, plan: Any, values: tuple[Any, ...]) -> None:
    """Write ``values`` into the slots of ``plan`` of ``obj`` (a fast ``__init__``); the
    slots of the plan beyond the values are set to None (the stamps of a new event)."""
    evlab_fill(obj, plan, values)


def make(cls: type, plan: Any, values: tuple[Any, ...]) -> Any:
    """A new ``cls`` instance, without ``__init__``, its slots set as by :func:`fill`."""
    return evlab_make(cls, plan, values)


def bar_ok(o: Any, h: Any, low: Any, c: Any, v: Any) -> bool:
    """True for the usual bar (exact floats, 0 < low <= open, close <= high, finite, volume
    >= 0): the fast path of ``BarEvent``'s checks; False means "look closer"."""
    return bool(evlab_bar_ok(o, h, low, c, v))


#: class -> (slots a copy takes, slots it leaves None), registered by evlab.events.
COPY_PLANS: dict[type, tuple[Any, Any]] = {}


def clone(obj: Any) -> Any:
    """A copy of ``obj`` made by its class's plan in ``COPY_PLANS``, without ``__init__``."""
    copied, cleared = COPY_PLANS[type(obj)]
    return evlab_clone(obj, copied, cleared)


_BOUND: list[type] = []


def bind(event_cls: type, error_cls: type) -> None:
    """Tell the core which classes are events and errors (``evlab.events`` does, once)."""
    _BOUND[:] = [event_cls, error_cls]


def _throw(coro: Any, exc: BaseException) -> Any:
    try:
        return coro.throw(exc)
    except StopIteration:
        return _DONE


def _deep_enough() -> None:
    """Make room in the interpreter's recursion limit for MAX_DEPTH nested emissions (a few
    frames each); called once a chain of nested emissions gets long."""
    need = 4 * MAX_DEPTH + 1000
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)


class Dispatcher:
    """The part of an EventBus that every event goes through: stamping and dispatch.

    ``EventBus`` subclasses it and owns registration; it keeps ``_routes`` (event type ->
    ``(sync handlers, async handlers, (handler, is_async) in order, counter)``) up to date and
    provides ``_handler_failed``, ``_schedule_async`` and ``_too_deep``.
    """

    def __init__(self) -> None:
        if not _BOUND:
            raise RuntimeError("evlab._core: import evlab.events first (it binds the classes)")
        Event, ErrorEvent = _BOUND
        self._event_cls = Event
        self._error_cls = ErrorEvent
        self._routes: dict[Any, tuple[Any, ...]] = {}
        self._default_route: tuple[Any, ...] = ((), (), (), count())
        self._seqs = count(1)
        self._o_seq = evlab_slot_offset(Event._seq)  # type: ignore[attr-defined]
        self._o_emit = evlab_slot_offset(Event._emit_ns)  # type: ignore[attr-defined]
        self._o_cause = evlab_slot_offset(Event._cause)  # type: ignore[attr-defined]
        self._o_bus = evlab_slot_offset(Event._bus)  # type: ignore[attr-defined]
        self._o_depth = evlab_slot_offset(Event._depth)  # type: ignore[attr-defined]
        self.max_depth = MAX_DEPTH
        self._tape_init()

    def emit(self, event: E, *, cause: Event | None = None) -> E:
        """Dispatch ``event`` to its handlers now (depth-first); returns the stamped event.

        Safe from any thread: sync handlers run on the calling thread, async ones are
        scheduled (see ``evlab.bus``). An event that was emitted before is copied, so every
        emission has its own stamp. ``cause`` overrides the automatic cause (the event being
        handled), e.g. for a fill executed at a later bar than its order.
        """
        outer = evlab_get_current()
        stamped: Any = self._begin(event, cause, outer)
        if type(stamped) is _Refused:
            return self._refuse(cast("E", stamped.event))
        event = stamped
        route: tuple = self._routes.get(evlab_type_of(event), self._default_route)
        next(route[3])
        self._dispatch(route[0], route[1], event, outer)
        if self._tape is not None and len(self._tape) >= self._tape_limit:
            self._tape_full()
        return event

    def _dispatch(self, handlers: tuple, asyncs: tuple, event: Any, outer: Any) -> None:
        """Call the sync ``handlers`` of ``event`` as the current event, each error reported
        and the rest going on, then schedule the ``asyncs``; ``outer`` is restored. The
        event goes on the tape first, if there is one (see "The tape" below)."""
        if self._tape is not None:
            self._tape.append(event)
        evlab_set_current(event)
        try:
            for handler in handlers:
                try:
                    handler(event)
                except Exception as exc:
                    self._handler_failed(handler, event, exc)
            if asyncs:
                self._schedule_async(asyncs, event)
        finally:
            evlab_set_current(outer)

    async def emit_async(self, event: E, *, cause: Event | None = None) -> E:
        """Dispatch ``event`` to every handler in order, sync ones called and async ones
        awaited; returns the stamped event after the last one. ``cause`` as in ``emit``."""
        stamped: Any = self._begin(event, cause, evlab_get_current())
        if type(stamped) is _Refused:
            return self._refuse(cast("E", stamped.event))
        event = stamped
        route: tuple = self._routes.get(evlab_type_of(event), self._default_route)
        next(route[3])
        if self._tape is not None:
            self._tape.append(event)
        ordered: tuple = route[2]
        for handler, is_async in ordered:
            if is_async:
                pending = self._start(handler, event)
                if pending is not None:
                    await pending
                continue
            outer = evlab_get_current()
            evlab_set_current(event)
            try:
                handler(event)
            except Exception as exc:
                self._handler_failed(handler, event, exc)
            finally:
                evlab_set_current(outer)
        if self._tape is not None and len(self._tape) >= self._tape_limit:
            self._tape_full()
        return event

    def take(self, event: Any, func: Any, handler: Any) -> Any:
        """Stamp and count ``event`` as ``emit`` would, but dispatch it to no handler and put
        it on no tape: run ``func(event)`` instead, with ``event`` as the current event, and
        return its result (None if ``func`` raised, or ``event`` was nested too deep).
        ``event`` must be new (never emitted): it is stamped in place, so the caller can name
        it as the cause of what it emits for it.

        For a caller that knows ``handler`` (a handler of ``event``'s route) is the only one
        and there is no tape, and that does with ``func`` what ``handler`` would (a feed
        decoding its messages in place of its ``WebSocketHandler``: see
        ``evlab.feeds.emitter``); ``func``'s exceptions are reported as ``handler``'s."""
        if evlab_is(event, self._event_cls) and evlab_peek(self._o_seq, event) is not None:
            raise ValueError(f"take() stamps a new event in place: {event!r} was emitted "
                             f"before")
        outer = evlab_get_current()
        stamped: Any = self._begin(event, None, outer)
        if type(stamped) is _Refused:
            self._refuse(stamped.event)
            return None
        next(self._routes.get(evlab_type_of(event), self._default_route)[3])
        evlab_set_current(event)
        try:
            return func(event)
        except Exception as exc:
            self._handler_failed(handler, event, exc)
            return None
        finally:
            evlab_set_current(outer)

    async def _run_async(self, handlers: tuple, event: Any) -> None:
        """Run the async ``handlers`` of an event ``emit`` scheduled, in order."""
        for handler in handlers:
            pending = self._start(handler, event)
            if pending is not None:
                await pending

    def _begin(self, event: E, cause: Event | None, current: Any) -> E | _Refused:
        """Stamp ``event`` (a copy if it was emitted before): seq, emission time, cause, bus,
        nesting depth (``current``: the event being handled). An event nested too deep comes
        back wrapped in ``_Refused``: it is not dispatched."""
        if not evlab_is(event, self._event_cls):
            raise TypeError(f"emit() takes an Event, got {type(event).__name__}")
        if evlab_peek(self._o_seq, event) is not None:  # emitted before: emit a copy
            plan = COPY_PLANS.get(type(event))
            event = event.copy() if plan is None else evlab_clone(event, plan[0], plan[1])
        if cause is None:
            cause = current
        elif not evlab_is(cause, self._event_cls):
            raise TypeError(f"cause must be an Event, got {type(cause).__name__}")
        depth = 0
        refused = False
        if current is not None:
            depth = evlab_peek(self._o_depth, current) + 1
            if depth >= 64:
                if depth == 64:
                    _deep_enough()
                elif depth > self.max_depth:
                    refused = True
        evlab_put(self._o_seq, event, next(self._seqs))
        evlab_put(self._o_emit, event, evlab_now())
        evlab_put(self._o_bus, event, self)
        evlab_put(self._o_depth, event, depth)
        if cause is not None:
            evlab_put(self._o_cause, event, evlab_peek(self._o_seq, cause))
        if refused:
            next(self._routes.get(evlab_type_of(event), self._default_route)[3])  # counted
            return _Refused(event)
        return event

    def _refuse(self, event: E) -> E:
        """Do not dispatch an event nested too deep; ErrorEvents get a few more levels, so
        the report itself can be handled."""
        if isinstance(event, self._error_cls) and \
                evlab_peek(self._o_depth, event) <= self.max_depth + 8:
            route: tuple = self._routes.get(evlab_type_of(event), self._default_route)
            self._dispatch(route[0], (), event, evlab_get_current())
            return event
        self._too_deep(event)
        return event

    def _start(self, handler: Any, event: Any) -> Any:
        """Run async ``handler`` on ``event`` up to its first suspension, as the current
        event: None if it finished, else an awaitable that finishes it. Its errors are
        reported, not raised."""
        outer = evlab_get_current()
        evlab_set_current(event)
        try:
            coro = handler(event)
            yielded = evlab_send(coro, None, _DONE)
        except Exception as exc:
            self._handler_failed(handler, event, exc)
            return None
        finally:
            evlab_set_current(outer)
        if yielded is _DONE:
            return None
        return _Rest(self, handler, event, coro, yielded)

    # --- The tape ------------------------------------------------------------------------
    # A recorder does not subscribe: it sets a tape, and every event dispatched goes on it
    # (one list append, before any handler, whatever their priority), in dispatch order.
    # Once ``len(_tape) >= _tape_limit``, at the end of that event's ``emit`` (after its
    # handlers, never inside a stamping), ``_tape_full()`` is called; it takes the events
    # off the tape and records them in bulk (``evlab.recording.tape``). Owned by that
    # module: the core only appends and calls.

    def _tape_init(self) -> None:
        """No tape: ``_tape`` None (dispatch skips it), ``_tape_full`` never called."""
        self._tape = None
        self._tape_limit = 0
        self._tape_full = _no_tape

    # Provided by EventBus:
    def _handler_failed(self, handler: Any, event: Any, exc: Exception) -> None:
        raise NotImplementedError

    def _schedule_async(self, handlers: tuple, event: Any) -> None:
        raise NotImplementedError

    def _too_deep(self, event: Any) -> None:
        raise NotImplementedError


class WeakCall:
    """What dispatch calls for a sync bound method held weakly (``EventBus._hold``):
    ``func(obj, event)`` while ``ref`` (a weak reference to ``obj``) is alive, nothing once
    it is dead. A class of the core, so that compiled it is a C call, not a Python frame per
    dispatch (``bus.register(EventType.BAR, strategy.on_bar)``). ``name``: the handler's."""

    __slots__ = ("func", "name", "ref")

    def __init__(self, ref: Any, func: Any, name: str) -> None:
        self.ref = ref
        self.func = func
        self.name = name

    def __call__(self, event: Any) -> Any:
        target = self.ref()
        if target is None:  # the component is gone (the bus drops this subscription)
            return None
        return self.func(target, event)

    def __repr__(self) -> str:
        return f"<WeakCall {self.name}>"


def _no_tape() -> None:
    """The ``_tape_full`` of a bus without a tape (never called: ``_tape`` is None)."""


# --- The tape: the recorder's rows, made in bulk ------------------------------------------
# What a recorder does with the events it takes off a tape (evlab.recording.tape). Compiled,
# a class whose fields are all slots gets a *row plan* and its rows are read at the slots'
# offsets and appended in C (``evlab_row`` in _cprims.pxd), values of the usual types only;
# every other row, and every row interpreted, goes through the class's generated ``put``
# (evlab.recording.table.make_appender), the checked path and the one definition of a row.

def row_plan(descriptors: list[Any], kinds: str, targets: tuple, aux: tuple,
             float64: type) -> Any:
    """A row plan for ``tape_rows`` (None interpreted: the ``put`` is the primitive there):
    column i reads the slot behind ``descriptors[i]`` (None for a constant), appends to the
    list or ``Stage`` ``targets[i]`` as ``kinds[i]`` says (see ``evlab_row``; the plan holds
    the targets, so the stages it writes to in place live as long), ``aux[i]`` its constant,
    string table or NaN; ``float64`` is numpy's float64 type. None too if a descriptor is
    not a slot's (a class without ``slots=True``) or there are too many columns."""
    if not cython.compiled or len(kinds) > 64:
        return None
    offsets = []
    for d in descriptors:
        if d is None:
            offsets.append(0)
        elif isinstance(d, types.MemberDescriptorType):
            offsets.append(evlab_slot_offset(d))
        else:
            return None
    where = [w for target in targets for w in _stage_where(target)]
    return (_plan(offsets), kinds.encode("ascii"), targets, aux, float64, -1, _plan(where),
            [None] * (2 * len(kinds)))


def tape_rows(events: list, plans: dict, plan_for: Any, failed: Any) -> None:
    """Append the rows of ``events`` in order: ``plans`` maps a class to ``(row plan or
    None, put)`` (``plan_for(cls)`` makes a missing one and stores it); a row the plan
    cannot take goes through ``put``, and ``failed(event, exc)`` hears of each ``put`` that
    raised (its partial row is the caller's to undo)."""
    last: Any = None  # the class of the event before (runs of one class are common)
    plan: tuple = ()
    for event in events:
        cls = type(event)
        if cls is not last:
            found = plans.get(cls)
            plan = plan_for(cls) if found is None else found
            last = cls
        fast = plan[0]
        if fast is not None and evlab_row(fast, event):
            continue
        try:
            plan[1](event)
        except Exception as exc:
            failed(event, exc)


class Stage:
    """A recorder column's staged numbers (``evlab.recording.columns.NumpyColumn``): values
    of one C type, ``code`` "d" (float64), "q" (int64), "i" (int32) or "h" (int16), in one
    bytearray ``buf`` (``n`` of them), for ``numpy.frombuffer`` at commit.

    Why not a list: a list holds an object per value, to be converted at commit, and gives
    its memory back when cleared, to be regrown for the next chunk. A stage stores the
    number itself, and after a commit (``clear``) keeps its buffer: it only grows (doubling,
    in ``append``) while the first chunk is staged. Compiled, a row plan writes into it
    straight from C (``evlab_row``, at the addresses ``_stage_where`` gives); ``append`` is
    the checked path and the interpreted one: a float or int for "d", an int (or what has
    ``__index__``) within range for the others, else TypeError or OverflowError.
    """

    __slots__ = ("addr", "buf", "capacity", "code", "kind", "n", "size")

    def __init__(self, code: str, capacity: int = 256) -> None:
        if code not in ("d", "q", "i", "h"):
            raise ValueError(f"evlab: a stage holds d, q, i or h numbers, not {code!r}")
        self.code = code
        self.kind = ord(code)
        self.size = struct.calcsize(code)
        self.capacity = max(capacity, 1)
        self.buf = bytearray(self.capacity * self.size)
        self.addr = evlab_address(self.buf)
        self.n = 0

    def append(self, value: Any) -> None:
        """Stage one number (checked: TypeError or OverflowError if it does not fit)."""
        n = self.n
        if n >= self.capacity:
            self._grow()
        evlab_stage_put(self.buf, self.kind, n, value)
        self.n = n + 1

    def _grow(self) -> None:
        buf = bytearray(2 * self.capacity * self.size)
        buf[:self.n * self.size] = self.buf[:self.n * self.size]
        self.buf = buf  # a new buffer: the old one may still be viewed, so never resized
        self.addr = evlab_address(buf)
        self.capacity *= 2

    def __len__(self) -> int:
        return self.n

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` values (undoes a partial row)."""
        self.n = max(min(n, self.n), 0)

    def clear(self) -> None:
        """Forget the values; the buffer stays for the next ones."""
        self.n = 0

    def __repr__(self) -> str:
        return f"<Stage {self.code} {self.n}/{self.capacity}>"


def _stage_where(target: Any) -> tuple[int, int, int, int]:
    """For ``evlab_row``: a ``Stage`` target's addresses of its data pointer, count and
    capacity, and its type code; zeros for a list (compiled only)."""
    if type(target) is not Stage:
        return (0, 0, 0, 0)
    stage: Stage = cython.cast(Stage, target)
    return (cython.cast(cython.Py_ssize_t, cython.address(stage.addr)),
            cython.cast(cython.Py_ssize_t, cython.address(stage.n)),
            cython.cast(cython.Py_ssize_t, cython.address(stage.capacity)), stage.kind)


class _Refused:
    """An event ``_begin`` stamped but refused to dispatch (nested too deep)."""

    __slots__ = ("event",)

    def __init__(self, event: Any) -> None:
        self.event = event


class _Rest:
    """The rest of an async handler that suspended: every step runs with its event as the
    current event, and the event before it is restored whenever the handler suspends."""

    __slots__ = ("bus", "coro", "event", "handler", "yielded")

    def __init__(self, bus: Dispatcher, handler: Any, event: Any, coro: Any,
                 yielded: Any) -> None:
        self.bus, self.handler, self.event, self.coro, self.yielded = \
            bus, handler, event, coro, yielded

    def __await__(self) -> Any:
        coro, event, yielded = self.coro, self.event, self.yielded
        self.yielded = None
        while True:
            thrown = None
            sent = None
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and the like: the handler decides
                thrown = exc
            outer = evlab_get_current()
            evlab_set_current(event)
            try:
                yielded = evlab_send(coro, sent, _DONE) if thrown is None else _throw(coro, thrown)
            except Exception as exc:
                self.bus._handler_failed(self.handler, event, exc)
                return
            finally:
                evlab_set_current(outer)
            if yielded is _DONE:
                return
