"""The tape of a bus: the events it dispatched that its recorders have not taken yet.

A recorder does not subscribe to its bus. It reads the bus's tape: the dispatch core
(``evlab/_core.py``, "The tape") appends every event it dispatches to one Python list
before any handler runs (one ``list.append`` in C), so recording costs the emitter almost
nothing per event. The rows are made in bulk when the tape is *drained*:

* by the core, once the tape holds ``bus._tape_limit`` events, at the end of that event's
  ``emit`` (after its handlers): the limit is ``TAPE_EVENTS`` or less, the smallest room any
  reader has before its stage is full or a flush or trim is due (``EventRecorder._room``);
* by a recorder before anything is read from it (``len()``, ``to_frame()``, ``save()``,
  ``metadata()`` ...) and before its state changes (pause, resume, clear, close).

Draining hands the same events to every reader (several recorders may record one bus),
in dispatch order, under the tape's lock, so chunks never overtake one another. Events
that a reader cannot record come back from it and are reported by it *after* the locks
are released (an ``ErrorEvent`` emitted on the bus, caused by the event that failed), so
a report goes out between events, never inside another event's stamping or handlers.

Lock order: the tape's lock, then a recorder's. A recorder never holds its own lock while
it calls into its tape.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evlab.bus import EventBus
    from evlab.events import Event
    from evlab.recording.recorder import EventRecorder

__all__ = ["TAPE_EVENTS", "Tape", "tape_of"]

#: the most events a tape holds before it is drained: few enough that they die young, so
#: the garbage collector does not carry them into its older generations (which it walks
#: again and again), many enough that a drain's fixed cost is nothing per event
TAPE_EVENTS = 1_024


def tape_of(bus: EventBus) -> Tape:
    """The tape of ``bus`` (made the first time a recorder reads the bus)."""
    tape: Tape | None = bus.__dict__.get("_evlab_tape")
    if tape is None:
        tape = bus.__dict__.setdefault("_evlab_tape", Tape(bus))
    return tape


class Tape:
    """The undrained events of one bus and the recorders (held weakly) that read them."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.events: list[Event] = []  # the list the core appends to (never replaced)
        self.readers: list[weakref.ref[EventRecorder]] = []
        self.lock = threading.RLock()

    def attach(self, recorder: EventRecorder) -> None:
        """Give ``recorder`` every event dispatched from now on (not those before)."""
        self.drain()
        with self.lock:
            failed = self.drain_locked()  # what came in meanwhile goes to the others
            if not any(r() is recorder for r in self.readers):
                self.readers.append(weakref.ref(recorder, self._gone))
            self._arm()
        self._report(failed)

    def detach(self, recorder: EventRecorder) -> None:
        """Stop giving events to ``recorder``, once it has those dispatched until now."""
        self.drain()
        with self.lock:
            failed = self.drain_locked()
            self.readers = [r for r in self.readers if r() not in (recorder, None)]
            self._arm()
        self._report(failed)
        self.drain()  # the reports, for the readers left

    def _gone(self, ref: weakref.ref[EventRecorder]) -> None:
        """A reader was garbage-collected: it reads nothing more."""
        with self.lock:
            self.readers = [r for r in self.readers if r is not ref and r() is not None]
            self._arm()

    def _arm(self) -> None:
        """Point the bus's core at the tape (or at none, with no reader left) and set the
        limit at which it drains."""
        live = [r for r in (ref() for ref in self.readers) if r is not None]
        bus: Any = self.bus
        if not live:
            bus._tape = None
            self.events.clear()  # nobody will read them
            return
        bus._tape_limit = max(1, min(TAPE_EVENTS, *(r._room() for r in live)))
        bus._tape_full = self.drain
        bus._tape = self.events

    def drain(self) -> None:
        """Record every event on the tape now (each reader takes them in bulk), then let the
        readers report what they could not record; repeated until no report is left (the
        reports are events too, recorded by the next round)."""
        while self._drain_once():
            pass

    def _drain_once(self) -> bool:
        with self.lock:
            failed = self.drain_locked()
        return self._report(failed)

    @staticmethod
    def _report(failed: list[tuple[EventRecorder, list[tuple[Event, BaseException]]]]
                ) -> bool:
        for recorder, bad in failed:
            recorder._report(bad)
        return bool(failed)

    def drain_locked(self) -> list[tuple[EventRecorder, list[tuple[Event, BaseException]]]]:
        """Hand the tape's events to every reader (the tape's lock held); returns, per
        reader, the events it could not record with why."""
        events = self.events
        n = len(events)
        failed = []
        if n:
            chunk = events[:n]
            del events[:n]  # only these: others may have been appended meanwhile
            for ref in list(self.readers):
                recorder = ref()
                if recorder is not None:
                    bad = recorder._take(chunk)
                    if bad:
                        failed.append((recorder, bad))
        self._arm()
        return failed
