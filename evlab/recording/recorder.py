"""``EventRecorder``: every event a bus emits, as columns, with optional crash-safe autosave.

See the package docstring (``evlab.recording``) for the design and its trade-offs.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from evlab._accel import core
from evlab.bus import EventBus, _exception_text
from evlab.events import ErrorEvent, Event, EventType, create_error_event
from evlab.recording.columns import CHUNK
from evlab.recording.convert import to_frame
from evlab.recording.recording import Recording
from evlab.recording.storage import FORMAT, remove_orphans, write_table
from evlab.recording.table import EventTable, describe
from evlab.recording.tape import TAPE_EVENTS, Tape, tape_of
from evlab.recording.views import Views, summary_html, summary_text

__all__ = ["RECORDER_PRIORITY", "EventRecorder", "record"]

#: kept for callers that pass it: a recorder reads the bus's tape, before every handler
#: whatever the priorities (see evlab.recording.tape)
RECORDER_PRIORITY = 1_000_000
logger = logging.getLogger("evlab")


def _skip(event: Event) -> None:
    """The appender of a class that is filtered out (or of every class while paused)."""


class EventRecorder:
    """Records every event ``bus`` emits, in emission order, into typed columns.

    ``types``: record only these event types. ``max_events``: keep only the newest rows
    (``dropped`` counts the others). ``autosave``: a folder that receives a Parquet part
    every ``flush_every`` rows and/or ``flush_interval`` seconds, and the last part on
    ``close()``. Without ``bus``, record by calling ``append(event)`` yourself.

    The recorder does not subscribe: it reads the bus's *tape* (``evlab.recording.tape``),
    which the dispatch core fills before any handler runs, whatever their ``priority``
    (the argument is accepted and has no effect), and turns it into rows in bulk: every
    16,384 events, when a flush or trim is due, and before anything is read from it. A
    value that cannot be stored (a str in a float field) is found then: that event's row
    is left out whole, counted in ``unrecorded``, and reported by an ``ErrorEvent`` (caused
    by the event, ``handler`` the recorder's name) emitted once the rows are made; every
    other row is kept.

    The same interface as ``Recording`` (``RecordedEvents``): ``to_frame()``, ``bars()``,
    ``signals()`` ... and ``to_events()`` show the rows recorded so far.
    """

    def __init__(self, bus: EventBus | None = None, *,
                 types: Iterable[EventType | str] | None = None,
                 max_events: int | None = None,
                 autosave: str | os.PathLike[str] | None = None,
                 flush_every: int | None = 10_000,
                 flush_interval: float | None = None,
                 name: str = "recorder", priority: int = RECORDER_PRIORITY) -> None:
        if max_events is not None and max_events < 1:
            raise ValueError(f"max_events: must be a positive number of rows, got {max_events!r}")
        if flush_every is not None and flush_every < 1:
            raise ValueError(f"flush_every: must be a positive number of rows, "
                             f"got {flush_every!r}")
        self.bus = bus
        self.name = name
        self.session = uuid.uuid4().hex[:12]
        self.types = None if types is None else frozenset(str(t) for t in types)
        self.max_events = max_events
        self._slack = 0 if max_events is None else max(max_events // 4, 16)
        # reentrant: a read inside the recorder's own bookkeeping must never deadlock
        self._lock = threading.RLock()
        self._table = EventTable()
        self._stage = self._table.stage  # staged rows (the stage is never replaced)
        self._plans: dict[type, tuple[Any, Any]] = {}  # class -> (row plan, put)
        self._paused = False
        self._closed = False
        self._own: list[Event] = []  # what ``append`` was given, not yet made into rows
        self._own_limit = 1  # held appends that are made into rows (kept by ``_take``)
        self._unrecorded = 0
        self._error_types: set[type] = set()
        self._trimmed = 0
        self.autosave = None if autosave is None else Path(autosave)
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self._flushed = 0  # rows of the buffer already written to a part
        self._last_flush = time.monotonic()
        self._part = 0
        self._exit_hook: Any = None
        if self.autosave is not None:
            self.autosave.mkdir(parents=True, exist_ok=True)
            remove_orphans(self.autosave)
            numbers = [int(p.stem.split("-")[-1]) for p in self.autosave.glob("part-*.parquet")
                       if p.stem.split("-")[-1].isdigit()]
            self._part = max(numbers, default=0)
            self._exit_hook = _exit_hook(weakref.ref(self))
            atexit.register(self._exit_hook)
        self._own_limit = min(TAPE_EVENTS, self._room())
        self._tape: Tape | None = None
        if bus is not None:
            # the tape holds the recorder weakly: the recorder going away stops it
            self._tape = tape_of(bus)
            self._tape.attach(self)

    # --- the record path -------------------------------------------------------------
    def append(self, event: Event) -> None:
        """Record one emitted (stamped) event, for a caller outside the bus (so the seq is
        checked first). Like the bus's, these events are made into rows in bulk (every
        ``TAPE_EVENTS``, when a flush or trim is due, and before any read); a value that
        cannot be stored is found then
        and treated as a bus's: its row left out, counted in ``unrecorded``, logged, and
        reported by an ``ErrorEvent`` if the recorder has a bus."""
        if event._seq is None:
            raise TypeError(f"EventRecorder records emitted events; {type(event).__name__} "
                            "has no seq (emit it on a bus first)")
        if self._paused:
            return
        own = self._own
        own.append(event)
        if len(own) >= self._own_limit:
            self._take_own()

    def _take_own(self) -> None:
        """Record the events ``append`` holds (only those: others may come meanwhile)."""
        own = self._own
        n = len(own)
        if n:
            events = own[:n]
            del own[:n]
            bad = self._take(events)
            if bad:
                self._report(bad)

    def _take(self, events: list[Event]) -> list[tuple[Event, BaseException]]:
        """Record ``events`` (from the tape, in dispatch order) in bulk; returns those that
        could not be, with why (their rows left out whole). Runs the flush/trim that is due."""
        with self._lock:
            if self._paused:
                return []
            bad: list[tuple[Event, BaseException]] = []
            repair = self._table.repair

            def failed(event: Event, exc: BaseException) -> None:
                repair()
                bad.append((event, exc))

            start, n = 0, len(events)
            try:
                while start < n:  # in pieces that end where a flush or trim is due
                    stop = min(start + self._room(), n)
                    core.tape_rows(events[start:stop] if start or stop < n else events,
                                   self._plans, self._plan_for, failed)
                    start = stop
                    self._overflow()
            except BaseException:
                self._table.repair()  # an interrupt mid-row: the row goes, the rest stays
                raise
            finally:
                self._unrecorded += len(bad)
                self._own_limit = min(TAPE_EVENTS, self._room())
            return bad

    def _report(self, bad: list[tuple[Event, BaseException]]) -> None:
        """Say why the ``bad`` events were not recorded: logged (a traceback once per
        exception type), then an ``ErrorEvent`` each on the bus, caused by the event (none
        about an ErrorEvent: that could loop). Called with no lock held."""
        for event, exc in bad:
            error = _why(event, exc)
            text = _exception_text(error)
            if type(exc) not in self._error_types:
                self._error_types.add(type(exc))
                logger.error("recorder %s cannot record %s #%s: %s (repeats are logged at "
                             "DEBUG and counted in unrecorded)", self.name, event.type,
                             event._seq, text, exc_info=exc)
            else:
                logger.debug("recorder %s cannot record %s #%s: %s", self.name, event.type,
                             event._seq, text)
            if self.bus is not None and not isinstance(event, ErrorEvent):
                self.bus.emit(create_error_event(text, error_type=type(error).__name__,
                                                 handler=self.name, original=event,
                                                 source=self.bus.name), cause=event)

    def _sync(self) -> None:
        """Record what the bus's tape and ``append`` hold now (before a read or a change of
        state)."""
        if self._tape is not None:
            self._tape.drain()
        if self._own:
            self._take_own()
            if self._tape is not None:
                self._tape.drain()  # the reports

    def _plan_for(self, cls: type[Event]) -> tuple[Any, Any]:
        """How rows of ``cls`` are made (``evlab._core.tape_rows``), made once per class."""
        if self.types is not None and str(cls.type) not in self.types:
            plan: tuple[Any, Any] = (None, _skip)
        else:
            plan = self._table.plan(cls)
        self._plans[cls] = plan
        return plan

    def _commit(self) -> int:
        return self._table.commit()

    def _room(self) -> int:
        """Events the tape may take before this recorder's stage is full or a flush or a
        trim is due (at least 1)."""
        rows, staged = len(self._table), len(self._stage)
        room = CHUNK - staged
        if self.max_events is not None:
            room = min(room, self.max_events + self._slack + 1 - rows)
        if self.autosave is not None:
            if self.flush_every is not None:
                room = min(room, self._flushed + self.flush_every - rows)
            if self.flush_interval is not None:
                room = 1  # look at the clock at every event
        return max(room, 1)

    def _overflow(self) -> None:
        rows = len(self._table)
        flush = self.autosave is not None and (
            (self.flush_every is not None and rows - self._flushed >= self.flush_every)
            or (self.flush_interval is not None
                and time.monotonic() - self._last_flush >= self.flush_interval))
        trim = self.max_events is not None and rows > self.max_events + self._slack
        if flush or trim or len(self._stage) >= CHUNK:
            self._table.commit()
        if flush:
            self._flush_locked()
        if trim:
            self._drop_oldest(rows - self.max_events)  # type: ignore[operator]

    def _drop_oldest(self, k: int) -> None:
        if self.autosave is not None and self._flushed < k:
            self._flush_locked()  # nothing leaves memory before it is on disk
        self._table.drop_oldest(k)
        self._flushed = max(self._flushed - k, 0)
        self._trimmed += k

    # --- state -----------------------------------------------------------------------
    def __len__(self) -> int:
        """Rows that ``to_frame()`` would return now."""
        self._sync()
        return self._len()

    def _len(self) -> int:
        """``len()`` without taking the tape first (for the recorder's own bookkeeping)."""
        rows = len(self._table)
        return rows if self.max_events is None else min(rows, self.max_events)

    def __bool__(self) -> bool:
        return True  # a recorder is a recorder even while empty (``if lab.recorder:``)

    @property
    def dropped(self) -> int:
        """Oldest rows dropped to keep within ``max_events``."""
        self._sync()
        return self._dropped()

    def _dropped(self) -> int:
        return self._trimmed + len(self._table) - self._len()

    @property
    def unrecorded(self) -> int:
        """Events that could not be recorded (a value their column cannot hold), each
        reported by an ``ErrorEvent``."""
        self._sync()
        return self._unrecorded

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and ``resume()``."""
        return self._paused

    @property
    def closed(self) -> bool:
        """True once ``close()`` has stopped the recorder reading its bus."""
        return self.bus is not None and self._closed

    @property
    def nbytes(self) -> int:
        """Bytes held by the column buffers (allocated capacity included)."""
        self._sync()
        with self._lock:
            return self._table.nbytes()

    def pause(self) -> None:
        """Stop recording until ``resume()`` (events emitted meanwhile are not recorded)."""
        self._sync()  # what came before is recorded
        if self._tape is not None and not self._paused and not self._closed:
            self._tape.detach(self)
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        """Record again after ``pause()``."""
        with self._lock:
            was = self._paused
            self._paused = False
        if self._tape is not None and was and not self._closed:
            self._tape.attach(self)  # from now on, not what came while paused

    def clear(self) -> None:
        """Forget the rows held in memory (autosave first writes them to a part)."""
        self._sync()
        with self._lock:
            if self.autosave is not None:
                self._flush_locked()
            self._table.reset()
            self._flushed = 0
        if self._tape is not None:
            self._tape.drain()  # re-arms the limit for the emptied stage

    def close(self) -> None:
        """Stop reading the bus and write the last autosave part; the rows stay here."""
        if self._tape is not None and not self._closed:
            if not self._paused:
                self._tape.detach(self)
            self._closed = True
        if self.autosave is not None:
            self.flush()
        if self._exit_hook is not None:
            atexit.unregister(self._exit_hook)
            self._exit_hook = None

    def __enter__(self) -> EventRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- output ----------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """The recorded rows as an Arrow table (see ``evlab.recording.table``)."""
        self._sync()
        with self._lock:
            rows = self._commit()
            return self._table.to_arrow(rows - self._len(), rows)

    def to_frame(self) -> pd.DataFrame:
        """One row per event, in seq order: seq, type, event_time, emit_time, source, cause,
        symbol, the fields of every recorded class (missing where they do not apply), and
        event_class. Categoricals, UTC timestamps, float64, nullable Int64."""
        return to_frame(self.to_arrow())

    def to_events(self, classes: Mapping[str, type] | Iterable[type] = (), *,
                  validate: bool = True) -> Iterator[Event]:
        """The events recorded so far rebuilt, unstamped (see ``Recording.to_events``)."""
        return self.snapshot().to_events(classes, validate=validate)

    # --- views (one implementation: ``Views``) -----------------------------------------
    def view(self, event_type: EventType | str, columns: tuple[str, ...] | None = None,
             symbol: str | None = None) -> pd.DataFrame:
        """Rows of ``event_type`` (one ``symbol`` if given), indexed by ``event_time``."""
        return Views(self.to_frame()).view(event_type, columns, symbol)

    def bars(self, symbol: str | None = None) -> pd.DataFrame:
        """OHLCV bars (of ``symbol``, or all with a ``symbol`` column), ready to plot."""
        return Views(self.to_frame()).bars(symbol)

    def ticks(self, symbol: str | None = None) -> pd.DataFrame:
        """Trade prints: price, size, side, trade id."""
        return Views(self.to_frame()).ticks(symbol)

    def signals(self, symbol: str | None = None) -> pd.DataFrame:
        """Strategy signals with their seq and cause (the bar that triggered them)."""
        return Views(self.to_frame()).signals(symbol)

    def orders(self, symbol: str | None = None) -> pd.DataFrame:
        """Orders with their seq and cause (the signal behind them)."""
        return Views(self.to_frame()).orders(symbol)

    def order_updates(self, symbol: str | None = None) -> pd.DataFrame:
        """Each order's lifecycle (accepted, filled, canceled ...) with its cause."""
        return Views(self.to_frame()).order_updates(symbol)

    def fills(self, symbol: str | None = None) -> pd.DataFrame:
        """Fills: quantity, price, commission, with their seq and cause (the order)."""
        return Views(self.to_frame()).fills(symbol)

    def portfolio(self) -> pd.DataFrame:
        """Portfolio updates: cash, equity, P&L and positions (JSON), e.g. an equity curve."""
        return Views(self.to_frame()).portfolio()

    def errors(self) -> pd.DataFrame:
        """Error events: message, failing handler, the event it failed on, raw payload."""
        return Views(self.to_frame()).errors()

    # --- snapshots and files ---------------------------------------------------------
    def metadata(self, table: pa.Table | None = None, part: int | None = None) -> dict[str, Any]:
        """What ``save()`` writes in the file's schema (``table``: the rows it describes)."""
        import evlab

        return {"format": FORMAT, "version": getattr(evlab, "__version__", None),
                "session": self.session, "name": self.name,
                "created": dt.datetime.now(dt.UTC).isoformat(),
                **describe(self.to_arrow() if table is None else table),
                "dropped": self._dropped(),
                "columns": dict(self._table.kinds),
                "classes": self._table.classes(),
                "bus": None if self.bus is None else self.bus.get_stats(),
                "part": part}

    def snapshot(self) -> Recording:
        """The rows recorded so far as a ``Recording`` (``frame``, views, ``to_events()``)."""
        table = self.to_arrow()
        return Recording(table, self.metadata(table))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the rows to one Parquet file (atomically); returns its path.

        With autosave, the pending rows are also written as a part first.
        """
        if self.autosave is not None:
            self.flush()
        table = self.to_arrow()
        return write_table(table, self.metadata(table), path)

    def flush(self) -> Path | None:
        """Write the rows not yet autosaved as the next part now (None if there are none)."""
        self._sync()
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> Path | None:
        rows = self._commit()
        self._last_flush = time.monotonic()
        if self.autosave is None or self._flushed >= rows:
            return None
        table = self._table.to_arrow(self._flushed, rows)
        self._part += 1
        path = self.autosave / f"part-{self._part:05d}.parquet"
        write_table(table, self.metadata(table, part=self._part), path)
        self._flushed = rows
        return path

    def _notes(self) -> list[str]:
        notes = [f"session {self.session}"]
        if self.paused:
            notes.append("paused")
        if self.closed:
            notes.append("closed")
        if self.dropped:
            notes.append(f"{self.dropped:,} dropped")
        if self._unrecorded:
            notes.append(f"{self._unrecorded:,} unrecorded")
        return notes

    def __repr__(self) -> str:
        return summary_text("EventRecorder", self.to_arrow(), self._notes())

    def _repr_html_(self) -> str:
        return summary_html("EventRecorder", self.to_arrow(), self._notes())


def _why(event: Event, exc: BaseException) -> BaseException:
    """The error that says why ``event`` was not recorded (a TypeError naming its class for
    a value that does not fit its column)."""
    if isinstance(exc, TypeError | ValueError | OverflowError):
        return TypeError(f"EventRecorder cannot record {type(event).__name__}: {exc}")
    return exc


def _exit_hook(ref: weakref.ref[EventRecorder]) -> Any:
    def flush_at_exit() -> None:
        recorder = ref()
        if recorder is not None:
            recorder.flush()
    return flush_at_exit


def record(bus: EventBus, **options: Any) -> EventRecorder:
    """Start recording ``bus``: ``with evlab.record(bus) as rec: ...`` (options as
    ``EventRecorder``); leaving the block closes the recorder and keeps its rows."""
    return EventRecorder(bus, **options)
