"""The event bus: handlers registered per event type, events dispatched to them.

Dispatch rules (the contract every other part of evlab relies on):

* Handlers of one event run in priority order (higher first), then registration order.
* **Depth-first**: an event emitted by a handler is dispatched at once, before the emitting
  handler returns. Its cause is the event being handled, and it inherits that event time.
* ``emit()`` runs sync handlers on the calling thread. Async handlers are *scheduled*: on the
  running loop of this thread if there is one (one task per loop drains them in order
  while there is work; ``await bus.drain()`` waits for it), else on the bus's home loop if
  that runs in another thread, else (plain synchronous code) they are run to completion
  before ``emit`` returns. ``await emit_async()`` runs every handler, sync and async, in
  order, and returns after the last one.
* A handler that raises never stops the others: the error is logged on the ``evlab`` logger,
  counted per handler, and published as an ``ErrorEvent`` (not for errors in ErrorEvent
  handlers, so an error can never loop).
* With ``use_weak_refs=True`` bound methods are held through a weak reference to their object:
  a deleted component stops receiving events at once. Plain functions, lambdas and objects
  that cannot be weakly referenced are held strongly, so they keep working.

The hot path (``emit``) reads one immutable route per type; all bookkeeping (ordering, weak
wrappers, merging "every type" subscribers) happens at registration time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

from evlab._accel import core

if TYPE_CHECKING:
    from evlab._core import Dispatcher, WeakCall
else:  # compiled or interpreted, as evlab._accel chose
    Dispatcher, WeakCall = core.Dispatcher, core.WeakCall
from evlab.events import ErrorEvent, Event, EventType, create_error_event, current_event

__all__ = ["EventBus", "Subscription", "current_bus"]

logger = logging.getLogger("evlab")


def current_bus() -> EventBus | None:
    """The bus that delivered the event being handled now (so a handler built without a bus,
    like the guide's WebSocketHandler, can emit on it); None outside handlers."""
    event = current_event()
    return None if event is None else event._bus

# A handler takes one event of the type it is registered for (``def on_bar(bar: BarEvent)``):
# the bus cannot know that type statically, so the parameter is Any, not Event (a
# Callable[[Event], ...] would reject every handler typed for a subclass: contravariance).
Handler = Callable[[Any], Any]
H = TypeVar("H", bound=Handler)  # register() returns the handler it was given, as typed


_COUNTER_READS = threading.Lock()  # every _Counter's reads
_EVENT_TYPES = frozenset(EventType)  # the types every route table holds


class _Counter:
    """A counter safe to bump from many threads without a lock.

    ``itertools.count.__next__`` is atomic under the GIL (``n += 1`` is not). Reading
    consumes one tick, which ``value`` subtracts again. Reads (``get_stats``) are rare: one
    lock serves every counter, so a bus, which makes one per event type, makes no locks.
    """

    __slots__ = ("_reads", "count")

    def __init__(self) -> None:
        self.count = itertools.count()  # dispatch advances it directly
        self._reads = 0

    def value(self) -> int:
        with _COUNTER_READS:
            n = next(self.count) - self._reads
            self._reads += 1
            return n


@dataclass(eq=False)
class Subscription:
    """One registered handler: what it listens to, how it is called, what it has done."""

    event_type: EventType | str | None  # None: every event type
    call: Handler  # what dispatch calls (the handler, or its weak wrapper)
    is_async: bool
    priority: int
    order: int
    name: str
    bus: EventBus = field(repr=False)
    errors: int = 0
    error_types: set[type] = field(default_factory=set, repr=False)
    calls: int = 0  # counted while the bus is profiling
    total_ns: int = 0
    max_ns: int = 0
    ref: weakref.ref[Any] | None = field(default=None, repr=False)  # weak target, if any
    func: Any = field(default=None, repr=False)  # the function called on ``ref()``
    target: Any = field(default=None, repr=False)  # the handler itself, if held strongly

    @property
    def alive(self) -> bool:
        """False once the component behind a weakly held bound method is gone."""
        return self.ref is None or self.ref() is not None

    def matches(self, handler: Any) -> bool:
        """True if ``handler`` is the callable this subscription was made for."""
        if self.ref is not None:
            obj = getattr(handler, "__self__", None)
            return obj is not None and obj is self.ref() and \
                getattr(handler, "__func__", None) is self.func
        return self.target is handler or self.target == handler

    def _timed(self) -> Handler:
        """``call`` wrapped to count calls and time them (used only while profiling)."""
        call, clock = self.call, time.perf_counter_ns

        def done(t0: int) -> None:
            took = clock() - t0
            self.calls += 1
            self.total_ns += took
            if took > self.max_ns:
                self.max_ns = took

        if self.is_async:
            async def timed_async(event: Event) -> Any:
                t0 = clock()
                try:
                    return await call(event)
                finally:
                    done(t0)
            return timed_async

        def timed(event: Event) -> Any:
            t0 = clock()
            try:
                return call(event)
            finally:
                done(t0)
        return timed

    def cancel(self) -> bool:
        """Unregister this handler; True if it was still registered."""
        return self.bus._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _describe(handler: Any) -> str:
    obj = getattr(handler, "__self__", None)
    func = getattr(handler, "__func__", None)
    if obj is not None and func is not None and not inspect.ismodule(obj):
        return f"{type(obj).__name__}.{func.__name__}"
    return getattr(handler, "__qualname__", None) or type(handler).__name__


def _is_async(handler: Any) -> bool:
    # A callable object counts when its class's __call__ is ``async def``.
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        type(handler).__call__)


class EventBus(Dispatcher):
    """Routes events to the handlers registered for their type.

    ``use_weak_refs=True`` (the default) holds bound methods weakly, so components that are
    deleted stop receiving events; functions and lambdas are always held strongly, and so
    are methods of wiring objects whose class says ``held_strongly = True`` (FilterHandler,
    ChainHandler, WebSocketHandler: the usage guide registers ``handler.handle`` and keeps
    nothing else, so inside a function they would be collected and every event lost).
    ``emit`` and ``emit_async`` come from the dispatch core (``evlab/_core.py``).
    """

    def __init__(self, use_weak_refs: bool = True, *, name: str = "bus",
                 async_backlog: int = 100_000, async_timeout: float = 60.0,
                 stuck_after: float = 5.0) -> None:
        """``async_backlog``: events waiting per async handler scheduled by ``emit()``; when
        full the oldest is dropped (counted, reported once). ``async_timeout``: how long
        ``emit()`` in plain synchronous code (no event loop) waits for an async handler
        before cancelling it with an ErrorEvent. ``stuck_after``: seconds one call may run
        before ``get_stats()["stuck_handlers"]`` names it."""
        Dispatcher.__init__(self)
        if async_backlog < 1:
            raise ValueError(f"async_backlog must be >= 1, got {async_backlog!r}")
        if not async_timeout > 0:
            raise ValueError(f"async_timeout must be > 0 seconds, got {async_timeout!r}")
        self.use_weak_refs = use_weak_refs
        self.name = name
        self.async_backlog = int(async_backlog)
        self.async_timeout = float(async_timeout)
        self.stuck_after = float(stuck_after)
        self._lock = threading.RLock()
        self._subs: list[Subscription] = []
        self._by_call: dict[int, Subscription] = {}  # id of what dispatch calls -> its sub
        self._profiling = False
        self._counters: dict[EventType | str, _Counter] = {}
        self._order = itertools.count()
        self._dead_cleaned = 0
        self._too_deep_count = 0
        self._batch_depth = 0  # > 0 inside batch(): route rebuilds wait for its end
        self._removed_errors = 0  # errors of handlers since removed, still in the totals
        self._other = _Counter()  # events of user-defined types nobody subscribed to
        self._loop: asyncio.AbstractEventLoop | None = None
        # Per loop, one lane per async handler: a handler that hangs holds up only itself.
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                               dict[int, _AsyncLane]] = \
            weakref.WeakKeyDictionary()
        self._rebuild()

    # --- registration ----------------------------------------------------------------
    @overload
    def register(self, event_type: EventType | str, handler: H, *, priority: int = 0,
                 name: str | None = None) -> H: ...
    @overload
    def register(self, event_type: EventType | str, handler: None = None, *, priority: int = 0,
                 name: str | None = None) -> Callable[[H], H]: ...
    def register(self, event_type: EventType | str, handler: Handler | None = None, *,
                 priority: int = 0, name: str | None = None) -> Any:
        """Call ``handler(event)`` for every event of ``event_type``; returns the handler.

        Async handlers (``async def``) are recognised and treated as by ``register_async``.
        Without ``handler`` it returns a decorator: ``@bus.register(EventType.BAR)``.
        """
        if handler is None:
            return lambda h: self.register(event_type, h, priority=priority, name=name)
        self.subscribe(event_type, handler, priority=priority, name=name)
        return handler

    @overload
    def register_async(self, event_type: EventType | str, handler: H, *, priority: int = 0,
                       name: str | None = None) -> H: ...
    @overload
    def register_async(self, event_type: EventType | str, handler: None = None, *,
                       priority: int = 0, name: str | None = None) -> Callable[[H], H]: ...
    def register_async(self, event_type: EventType | str, handler: Handler | None = None, *,
                       priority: int = 0, name: str | None = None) -> Any:
        """Register an ``async def`` handler for ``event_type``; returns the handler."""
        if handler is None:
            return lambda h: self.register_async(event_type, h, priority=priority, name=name)
        if not _is_async(handler):
            raise TypeError(f"register_async() needs an async handler, got {_describe(handler)} "
                            "(a plain function): use register() for it")
        self.subscribe(event_type, handler, priority=priority, name=name)
        return handler

    @overload
    def register_all(self, handler: H, *, priority: int = 0, name: str | None = None) -> H: ...
    @overload
    def register_all(self, handler: None = None, *, priority: int = 0,
                     name: str | None = None) -> Callable[[H], H]: ...
    def register_all(self, handler: Handler | None = None, *, priority: int = 0,
                     name: str | None = None) -> Any:
        """Call ``handler`` for every event of every type (recorders, loggers, monitors)."""
        if handler is None:
            return lambda h: self.register_all(h, priority=priority, name=name)
        self.subscribe(None, handler, priority=priority, name=name)
        return handler

    def subscribe(self, event_type: EventType | str | None, handler: Handler, *,
                  priority: int = 0, name: str | None = None,
                  weak: bool | None = None) -> Subscription:
        """Register ``handler`` and return its ``Subscription`` (``.cancel()``, or ``with``).

        ``event_type=None`` subscribes to every event type. ``weak`` overrides the bus's
        ``use_weak_refs`` for this handler (an owner that manages the component's lifetime
        itself, like EventManager, holds it strongly).
        """
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__} {handler!r}")
        etype = None if event_type is None else _event_type(event_type)
        is_async = _is_async(handler)
        with self._lock:
            sub = Subscription(etype, handler, is_async, int(priority), next(self._order),
                               self._unique_name(name or _describe(handler)), self)
            self._hold(sub, handler, self.use_weak_refs if weak is None else weak)
            self._subs.append(sub)
            self._rebuild()
        if is_async:
            self._remember_loop()
        return sub

    def unregister(self, event_type: EventType | str | None, handler: Handler) -> bool:
        """Remove ``handler`` from ``event_type`` (None: from "every type"); True if found."""
        etype = None if event_type is None else _event_type(event_type)
        with self._lock:
            for sub in self._subs:
                if sub.event_type == etype and sub.matches(handler):
                    return self._remove(sub)
        return False

    def cleanup(self) -> int:
        """Drop handlers whose component is gone; returns how many were dropped.

        Dead bound methods are normally dropped the moment their object is freed; this sweeps
        any left (objects in reference cycles die at the next ``gc.collect()``).
        """
        with self._lock:
            dead = [s for s in self._subs if not s.alive]
            for sub in dead:
                self._remove(sub, dead=True)
        return len(dead)

    @contextlib.contextmanager
    def batch(self) -> Iterator[EventBus]:
        """Make several registration changes take effect at once, for every emitter.

        Events emitted meanwhile (from other threads) see all the old handlers or all the
        new ones, never a mix: this is how a strategy is replaced atomically.
        """
        with self._lock:
            self._batch_depth += 1
            try:
                yield self
            finally:
                self._batch_depth -= 1
                self._rebuild()

    def clear(self) -> None:
        """Remove every handler."""
        with self._lock:
            self._subs.clear()
            self._rebuild()

    @property
    def subscriptions(self) -> list[Subscription]:
        """The live subscriptions, in dispatch order."""
        with self._lock:
            return sorted((s for s in self._subs if s.alive), key=_dispatch_key)

    def handlers(self, event_type: EventType | str) -> list[str]:
        """Names of the handlers an event of ``event_type`` reaches, in dispatch order."""
        etype = _event_type(event_type)
        return [s.name for s in self.subscriptions if s.event_type in (etype, None)]

    # --- emission (emit and emit_async: see evlab/_core.py) ---------------------------
    def emit_threadsafe(self, event: Event) -> None:
        """Hand ``emit(event)`` to the bus's home loop (for other threads and widget callbacks).

        Without a running home loop the event is emitted here and now.
        """
        loop = self._loop
        if loop is not None and loop.is_running() and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self.emit, event)
                return
        self.emit(event)

    async def drain(self, timeout: float | None = 60.0) -> None:
        """Wait until the async handlers scheduled by ``emit()`` on this loop have all run;
        TimeoutError naming the handlers still busy after ``timeout`` seconds (None: wait)."""
        lanes = list(self._lanes.get(asyncio.get_running_loop(), {}).values())
        try:
            async with asyncio.timeout(timeout):
                for lane in lanes:
                    await lane.drain()
        except TimeoutError:
            busy = sorted({lane.name for lane in lanes if lane.task is not None})
            raise TimeoutError(f"drain(): async handlers still busy after {timeout} s: "
                               f"{', '.join(busy)}") from None

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Make ``loop`` (default: the running one) the home loop for other threads' emits."""
        self._loop = loop or asyncio.get_running_loop()

    # --- statistics ------------------------------------------------------------------
    def profile(self, enabled: bool = True) -> None:
        """Count and time every handler call (see ``get_handler_stats``).

        Off by default: while off, dispatch calls the handlers themselves, at no cost.
        """
        with self._lock:
            self._profiling = bool(enabled)
            self._rebuild()

    @property
    def profiling(self) -> bool:
        """True while handler calls are counted and timed."""
        return self._profiling

    def get_handler_stats(self) -> list[dict[str, Any]]:
        """One row per live handler: type, name, errors and, while profiling, calls and
        mean/max latency in microseconds."""
        return [{"event_type": "*" if s.event_type is None else str(s.event_type),
                 "handler": s.name, "async": s.is_async, "priority": s.priority,
                 "errors": s.errors, "calls": s.calls,
                 "mean_us": s.total_ns / s.calls / 1e3 if s.calls else None,
                 "max_us": s.max_ns / 1e3 if s.calls else None}
                for s in self.subscriptions]

    def get_stats(self) -> dict[str, Any]:
        """Counts for monitoring: handlers, events per type, errors per handler, dead refs."""
        with self._lock:
            live = [s for s in self._subs if s.alive]
            per_type: dict[str, int] = {}
            for sub in live:
                key = "*" if sub.event_type is None else str(sub.event_type)
                per_type[key] = per_type.get(key, 0) + 1
            emitted = {str(t): c.value() for t, c in self._counters.items()}
            emitted["other"] = self._other.value()
            errors = {s.name: s.errors for s in self._subs if s.errors}
            return {
                "active_handlers": len(live),
                "handlers_by_type": per_type,
                "events_emitted": {t: n for t, n in emitted.items() if n},
                "total_events": sum(emitted.values()),
                "handler_errors": errors,
                "total_errors": sum(errors.values()) + self._removed_errors,
                "dead_refs_cleaned": self._dead_cleaned,
                "too_deep": self._too_deep_count,
                "pending_async": sum(len(lane.pending) for lane in self._all_lanes()),
                "async_dropped": {lane.name: lane.dropped for lane in self._all_lanes()
                                  if lane.dropped},
                "stuck_handlers": sorted({lane.name for lane in self._all_lanes()
                                          if lane.running_for() > self.stuck_after}),
            }

    def __repr__(self) -> str:
        stats = self.get_stats()
        return (f"<EventBus {self.name!r}: {stats['active_handlers']} handlers, "
                f"{stats['total_events']} events, {stats['total_errors']} errors>")

    # --- internals -------------------------------------------------------------------
    def _unique_name(self, name: str) -> str:
        taken = {s.name for s in self._subs}
        if name not in taken:
            return name
        for n in itertools.count(2):
            if f"{name}#{n}" not in taken:
                return f"{name}#{n}"
        raise AssertionError("unreachable")

    def _hold(self, sub: Subscription, handler: Any, weak: bool) -> None:
        """Decide how ``sub`` holds ``handler``: weakly for bound methods, else strongly."""
        obj = getattr(handler, "__self__", None)
        func = getattr(handler, "__func__", None)
        if not (weak and obj is not None and func is not None
                and not inspect.ismodule(obj) and not isinstance(obj, type)
                and not getattr(type(obj), "held_strongly", False)):
            sub.target = handler
            return
        try:
            ref = weakref.ref(obj, self._on_dead)
        except TypeError:  # e.g. a list's append: cannot be weakly referenced, keep it
            sub.target = handler
            return
        sub.ref, sub.func = ref, func
        if not sub.is_async:  # the usual case (strategy.on_bar): a C call where compiled
            sub.call = WeakCall(ref, func, sub.name)
            return

        async def call_async(event: Event) -> Any:
            target = ref()
            if target is not None:
                return await func(target, event)

        call_async.__qualname__ = sub.name
        sub.call = call_async

    def _on_dead(self, ref: weakref.ref[Any]) -> None:
        with self._lock:
            dead = [s for s in self._subs if s.ref is ref]
            for sub in dead:
                self._remove(sub, dead=True)

    def _remove(self, sub: Subscription, *, dead: bool = False) -> bool:
        with self._lock:
            if sub not in self._subs:
                return False
            self._subs.remove(sub)
            self._removed_errors += sub.errors
            if dead:
                self._dead_cleaned += 1
            self._rebuild()
            return True

    def _rebuild(self) -> None:
        """Recompute what dispatch reads, whole (copy-on-write: emitters never see a half-built
        route). One sort of the subscriptions; an event type nobody subscribed to by name
        shares the every-type handlers' tuples, with its own counter (get_stats counts every
        type): a bus is cheap to make and to register on (a replay or sweep makes many)."""
        if self._batch_depth:
            return
        subs = sorted(self._subs, key=_dispatch_key)  # dispatch order
        # What dispatch calls for each subscription: its handler, or a timing wrapper.
        calls = self._calls = {id(s): s._timed() if self._profiling else s.call for s in subs}
        self._by_call = {id(c): s for s in subs for c in (s.call, calls[id(s)])}
        everyone = _route_parts([s for s in subs if s.event_type is None], calls)
        named = {s.event_type for s in subs if s.event_type is not None}
        counters = self._counters
        routes = {}
        for etype in _EVENT_TYPES | named | counters.keys():
            counter = counters.get(etype) or counters.setdefault(etype, _Counter())
            parts = everyone if etype not in named else _route_parts(
                [s for s in subs if s.event_type is None or s.event_type == etype], calls)
            routes[etype] = (*parts, counter.count)
        # What the dispatch core reads: plain tuples, replaced whole.
        self._routes = routes
        self._default_route = (*everyone, self._other.count)

    def _handler_failed(self, handler: Handler, event: Event, exc: Exception) -> None:
        sub = self._by_call.get(id(handler))
        name = sub.name if sub is not None else _describe(handler)
        first = True
        if sub is not None:
            with self._lock:
                sub.errors += 1
                first = type(exc) not in sub.error_types
                sub.error_types.add(type(exc))
        text = _exception_text(exc)
        if first:  # a traceback once per handler and exception type, not one per event
            logger.error("handler %s failed on %s #%s: %s (repeats are logged at DEBUG and "
                         "counted in get_stats())", name, event.type, event.seq, text,
                         exc_info=exc)
        else:
            logger.debug("handler %s failed on %s #%s: %s", name, event.type, event.seq, text)
        if isinstance(event, ErrorEvent):
            return  # never publish errors about errors: that could loop
        self.emit(create_error_event(text, error_type=type(exc).__name__,
                                     handler=name, original=event, source=self.name))

    def _remember_loop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()

    def _schedule_async(self, handlers: tuple[Handler, ...], event: Event) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._enqueue(handlers, event, loop)
            return
        home = self._loop
        if home is not None and home.is_running() and not home.is_closed():
            home.call_soon_threadsafe(self._enqueue, handlers, event)
            return
        # Plain synchronous code, no loop anywhere: run them to completion right here, each
        # within async_timeout (so emit() returns even if a handler never does).
        asyncio.run(self._run_bounded(handlers, event))

    async def _run_bounded(self, handlers: tuple[Handler, ...], event: Event) -> None:
        for handler in handlers:
            try:
                async with asyncio.timeout(self.async_timeout):
                    await self._run_async((handler,), event)
            except TimeoutError:
                error = TimeoutError(f"async handler still running after {self.async_timeout}"
                                     " s in emit() with no event loop: cancelled")
                self._handler_failed(handler, event, error)

    def _enqueue(self, handlers: tuple[Handler, ...], event: Event,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        loop = loop or asyncio.get_running_loop()
        lanes = self._lanes.get(loop)
        if lanes is None:
            lanes = self._lanes[loop] = {}
        for handler in handlers:
            lane = lanes.get(id(handler))
            if lane is None or lane.handler is not handler:
                lane = lanes[id(handler)] = _AsyncLane(self, loop, handler)
            lane.push(event)

    def _all_lanes(self) -> list[_AsyncLane]:
        return [lane for lanes in list(self._lanes.values()) for lane in list(lanes.values())]

    def _too_deep(self, event: Event) -> None:
        """Report an emission nested deeper than ``evlab._core.MAX_DEPTH``: not dispatched."""
        with self._lock:
            self._too_deep_count += 1
            first = self._too_deep_count == 1
        message = (f"{event.type} #{event.seq} not dispatched: nested more than "
                   f"{core.MAX_DEPTH} emissions deep (a handler that emits the event it "
                   "handles, directly or not?)")
        if first:
            logger.error("%s", message)
        cause = current_event()
        if isinstance(cause, ErrorEvent):
            return  # never publish errors about errors
        self.emit(create_error_event(message, error_type="RecursionError", original=event,
                                     source=self.name))


class _AsyncLane:
    """The events ``emit()`` scheduled for one async handler on one loop, run in order by one
    task that exists only while there is work. At most ``bus.async_backlog`` wait: past
    that the oldest is dropped, counted, and the first drop reported as an ErrorEvent."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, handler: Handler
                 ) -> None:
        self.bus = bus
        self.loop = loop
        self.handler = handler
        sub = bus._by_call.get(id(handler))
        self.name = sub.name if sub is not None else _describe(handler)
        self.pending: deque[Event] = deque()
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.started = 0.0  # monotonic start of the call running now, 0 when idle

    def push(self, event: Event) -> None:
        if len(self.pending) >= self.bus.async_backlog:
            self.pending.popleft()
            self.dropped += 1
            if self.dropped == 1:
                self.bus._handler_failed(self.handler, event, OverflowError(
                    f"{self.bus.async_backlog} events waiting for this async handler: the "
                    "oldest are dropped (counted in get_stats()['async_dropped'])"))
        self.pending.append(event)
        if self.task is None:
            self.task = self.loop.create_task(self._run(),
                                              name=f"evlab:{self.bus.name}:{self.name}")

    def running_for(self) -> float:
        """Seconds the current call has run (0 when idle)."""
        return time.monotonic() - self.started if self.started else 0.0

    async def _run(self) -> None:
        handlers = (self.handler,)
        try:
            while self.pending:
                event = self.pending.popleft()
                self.started = time.monotonic()
                await self.bus._run_async(handlers, event)
                self.started = 0.0
        finally:
            self.started = 0.0
            self.task = None

    async def drain(self) -> None:
        while self.task is not None:
            await asyncio.wait({self.task})


def _exception_text(exc: BaseException) -> str:
    """``"Type: message"`` for an error report; never raises (a user's ``__str__`` may)."""
    name = type(exc).__name__
    try:
        return f"{name}: {exc}"
    except Exception:  # a broken __str__ must not break error reporting
        return f"{name}: <str() of the exception failed>"


def _dispatch_key(sub: Subscription) -> tuple[int, int]:
    return (-sub.priority, sub.order)


def _route_parts(subs: list[Subscription], calls: dict[int, Handler]
                 ) -> tuple[tuple[Handler, ...], tuple[Handler, ...],
                            tuple[tuple[Handler, bool], ...]]:
    """A route's handlers, from ``subs`` in dispatch order: (sync, async, every one in order
    with its is_async flag)."""
    return (tuple(calls[id(s)] for s in subs if not s.is_async),
            tuple(calls[id(s)] for s in subs if s.is_async),
            tuple((calls[id(s)], s.is_async) for s in subs))


def _event_type(value: EventType | str) -> EventType | str:
    if isinstance(value, EventType):
        return value
    if isinstance(value, str):
        try:
            return EventType(value)
        except ValueError:
            return value  # a user-defined event type
    raise TypeError(f"event_type must be an EventType or str, got {type(value).__name__} {value!r}")


def iter_types(types: Iterable[EventType | str]) -> list[EventType | str]:
    """Normalise a list of event types (used by the manager)."""
    return [_event_type(t) for t in types]
