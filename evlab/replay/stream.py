"""A replay streamed from a ``LazyRecording``: row groups read in order, in bounded memory.

Each session is a *stream*: its files' row groups in part order, rows in seq order (a row
whose seq is not above the one before is a ``RecordingError``: ``load_recording`` sorts in
memory, a stream never guesses). Each row group read is selected (``what``, ``symbols``,
``start``/``end``) by the in-memory replay's own ``select``, roots told by ``SeqRanges``.

``order="time"`` merges the streams by event time, ties by session order then seq (what
the in-memory replay of ``load_recording`` gives). A row is released once no row not read
yet can come before it: every row group's minimum event time is in its footer's
statistics, so the lowest next minimum over the streams is a floor for everything unread.
Rows above the floor wait. That is a k-way merge of the sessions and, within one file,
puts rows right whose event times go back (a live session's ``what="all"``: bars after the
messages they were decoded from) while holding only what has not been released; if more
than ``max_rows`` wait (event times far out of order, or many sessions overlapping in
time), a ``RecordingError`` says so and how to go on. ``order="recorded"``: sessions one
after the other, rows as read.

Released rows become a *window*: an ordinary ``Plan`` made by ``table_plan`` (the bars fast
path, ``convert.iter_events`` for the rest), so a streamed event is built exactly as a loaded
one. ``StreamPlan`` answers the replayer's calls over the windows it holds; ``stats`` counts
row groups read and the most rows held at once (waiting plus in windows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from evlab.events import Event
from evlab.recording.errors import RecordingError
from evlab.recording.lazy import LazyRecording, RowGroup, Session
from evlab.recording.table import value_counts
from evlab.replay.ahead import ReadAhead
from evlab.replay.roots import SeqRanges
from evlab.replay.sources import Plan, event_times, roots_of, select, table_plan

__all__ = ["StreamPlan", "stream_plan"]

_LOW = -(2**63)
_HIGH = 2**63 - 1
_SELECT = ("seq", "type", "event_time", "cause", "symbol", "event_class")


class _Stream:
    """One session's selected rows, in seq order, a row group at a time."""

    def __init__(self, lazy: LazyRecording, session: Session, rank: int, what: Any,
                 syms: list[str] | None, window: tuple[int | None, int | None],
                 substitute: bool, stats: dict[str, int]) -> None:
        self.lazy, self.session, self.rank = lazy, session, rank
        self.what, self.syms, self.window, self.substitute = what, syms, window, substitute
        self.stats = stats
        self.causes = any(g.causes for g in session.groups)
        self.ranges = SeqRanges() if what in ("roots", "raw") and self.causes else None
        self.next = 0
        self.last_seq: int | None = None
        self.last_time = _LOW  # the latest event time read (a floor without statistics)

    @property
    def done(self) -> bool:
        return self.next >= len(self.session.groups)

    def bound(self) -> tuple[int, int]:
        """(event time, rank): no row not read yet comes before it."""
        group = self.session.groups[self.next]
        return (group.min_time if group.min_time is not None else self.last_time, self.rank)

    def _outside(self, group: RowGroup) -> bool:
        lo, hi = self.window
        if group.min_time is None or group.max_time is None:
            return False
        return (lo is not None and group.max_time < lo) or (hi is not None
                                                           and group.min_time >= hi)

    def _whole(self, group: RowGroup) -> bool:
        """Every row of ``group`` is selected (no need to read it to count them)."""
        lo, hi = self.window
        inside = (lo is None or (group.min_time is not None and group.min_time >= lo)) and \
            (hi is None or (group.max_time is not None and group.max_time < hi))
        if not inside or self.syms is not None or self.substitute:
            return False
        if self.what == "all" or (self.what == "roots" and not self.causes):
            return True
        held = set(self.lazy.meta_of(group).get("counts", {}))  # the types of its file
        wanted = {"bar"} if self.what == "bars" else self.what
        return isinstance(wanted, (set, frozenset)) and bool(held) and held <= wanted

    def _check(self, group: RowGroup, seq: np.ndarray) -> None:
        if not len(seq):
            return
        before = self.last_seq
        bad = bool(np.any(seq[1:] <= seq[:-1])) or (before is not None and seq[0] <= before)
        if bad:
            prev = np.concatenate(([before if before is not None else _LOW], seq[:-1]))
            at = int(np.flatnonzero(seq <= prev)[0])
            raise RecordingError(
                f"{group.file}: rows are not in seq order (seq {int(seq[at]):,} after "
                f"{int(prev[at]):,}, row group {group.index + 1} of {group.of}): a streamed "
                "replay reads a session in seq order; load_recording(path) reads it into "
                "memory and sorts it")
        self.last_seq = int(seq[-1])

    def read(self, columns: list[str] | None = None) -> tuple[RowGroup, pa.Table | None]:
        """The next row group's selected rows (None: skipped by its statistics)."""
        group = self.session.groups[self.next]
        if self._outside(group):
            if self.ranges is not None:  # later causes may point into it
                seq = self.lazy.read(group, ["seq"])["seq"].to_numpy()
                self._check(group, seq)
                self.ranges.add(seq)
            self.next += 1
            return group, None
        table = self.lazy.read(group, columns)  # a RecordingError leaves ``next`` here
        self.stats["row_groups_read"] += 1
        seq = table["seq"].to_numpy()
        self._check(group, seq)
        self.next += 1
        if len(seq):
            self.last_time = max(self.last_time, int(event_times(table).max()))
        roots = None
        if self.what in ("roots", "raw"):
            if self.ranges is not None:
                self.ranges.add(seq)
            roots = roots_of(table, self.ranges if self.ranges is not None else SeqRanges())
        keep = select(table, self.what, self.syms, self.window, roots, self.substitute)
        return group, table if bool(keep.all()) else table.filter(keep)

    def scan(self) -> Iterator[tuple[RowGroup, pa.Table | None, int]]:
        """Each row group's selected rows (None: all of the group, not read) and count."""
        while not self.done:
            group = self.session.groups[self.next]
            if self._whole(group):
                self.next += 1
                yield group, None, group.rows
                continue
            group, table = self.read(list(_SELECT))
            yield group, table, 0 if table is None else table.num_rows


class _Merge:
    """The streams' selected rows as tables, in replay order (see the module docstring)."""

    def __init__(self, streams: list[_Stream], order: str, max_rows: int,
                 stats: dict[str, int]) -> None:
        self.streams, self.order, self.max_rows, self.stats = streams, order, max_rows, stats
        self.waiting: pa.Table | None = None
        self.keys: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.last: tuple[int, int, int] = (_LOW, -1, _LOW)  # the last key released
        self.held = 0  # rows waiting

    def tables(self) -> Iterator[pa.Table]:
        if self.order == "recorded":
            for stream in self.streams:
                while not stream.done:
                    _, table = stream.read()
                    if table is not None and table.num_rows:
                        self.held = table.num_rows
                        yield table
            return
        while True:
            live = [s for s in self.streams if not s.done]
            if not live:
                if self.waiting is not None and self.waiting.num_rows:
                    yield self._release((_HIGH, len(self.streams)))
                return
            stream = min(live, key=_Stream.bound)
            group, table = stream.read()
            if table is not None and table.num_rows:
                self._wait(stream, group, table)
            live = [s for s in self.streams if not s.done]
            floor = min((s.bound() for s in live), default=(_HIGH, len(self.streams)))
            if self.waiting is not None and self.waiting.num_rows:
                released = self._release(floor)
                if released.num_rows:
                    yield released

    def _wait(self, stream: _Stream, group: RowGroup, table: pa.Table) -> None:
        times, seq = event_times(table), table["seq"].to_numpy()
        rank = np.full(len(seq), stream.rank, dtype=np.int64)
        if self.waiting is None or self.keys is None or not self.waiting.num_rows:
            self.waiting, self.keys = table, (times, rank, seq)
        else:
            t, r, s = self.keys
            self.waiting = pa.concat_tables([self.waiting, table])
            self.keys = (np.concatenate((t, times)), np.concatenate((r, rank)),
                         np.concatenate((s, seq)))
        self.held = self.waiting.num_rows
        if self.held > self.max_rows:
            overlapping = sum(1 for s in self.streams if s.next and not s.done)
            raise RecordingError(
                f"{group.file}: replaying in event-time order would hold more than "
                f"{self.max_rows:,} rows at once (event times go back by more than that "
                f"within a session, or {overlapping} sessions overlap in time): "
                "order='recorded' replays each session in seq order, load_recording(path) "
                "sorts in memory, open_recording(path, max_rows=...) allows more")

    def _release(self, floor: tuple[int, int]) -> pa.Table:
        assert self.waiting is not None and self.keys is not None
        t, r, s = self.keys
        ahead = (t[1:] > t[:-1]) | ((t[1:] == t[:-1]) & (
            (r[1:] > r[:-1]) | ((r[1:] == r[:-1]) & (s[1:] > s[:-1]))))
        order = None if bool(ahead.all()) else np.lexsort((s, r, t))
        if order is not None:
            t, r, s = t[order], r[order], s[order]
        ft, fr = floor
        k = int(np.count_nonzero((t < ft) | ((t == ft) & (r <= fr))))
        if not k:
            if order is not None:
                self.waiting, self.keys = self.waiting.take(order), (t, r, s)
            return self.waiting.slice(0, 0)
        first = (int(t[0]), int(r[0]), int(s[0]))
        if first < self.last:
            files = self.streams[first[1]].session.files
            raise RecordingError(
                f"{files[0] if len(files) == 1 else files[0].parent}: its row groups' "
                f"statistics do not bound their event times (no min/max written?): seq "
                f"{first[2]} at {first[0]} comes after {self.last[0]}: replay with "
                "order='recorded', or load_recording(path) to sort in memory")
        self.last = (int(t[k - 1]), int(r[k - 1]), int(s[k - 1]))
        table = self.waiting
        released = table.slice(0, k) if order is None else table.take(order[:k])
        rest = table.slice(k) if order is None else table.take(order[k:])
        self.waiting, self.keys = rest, (t[k:], r[k:], s[k:])
        self.held = rest.num_rows
        return released


class StreamPlan:
    """The replayer's plan over a ``LazyRecording``: ``Plan``'s calls, answered from the
    windows it holds (positions only move forward, but for ``rewind``: a new stream)."""

    def __init__(self, name: str, lazy: LazyRecording, streams: Callable[[], list[_Stream]],
                 order: str, total: int, type_names: list[str], resolve: Callable[[str], type],
                 validate: bool, max_rows: int, stats: dict[str, int]) -> None:
        self.name, self.lazy, self._streams, self.order = name, lazy, streams, order
        self.total, self.type_names = total, type_names
        self._resolve, self._validate, self._max_rows = resolve, validate, max_rows
        self.stats = stats
        self._ahead: ReadAhead | None = None
        self._restart()

    def __len__(self) -> int:
        return self.total

    def _restart(self) -> None:
        self._reread()
        self._windows: list[tuple[int, Plan]] = []
        self._end = 0  # the position after the last window made

    def _reread(self, skip: int = 0) -> None:
        """Read the streams from their start again, the first ``skip`` rows dropped (the
        read-ahead thread starts when the first window is asked for)."""
        if self._ahead is not None:
            self._ahead.stop()
        self._ahead = None
        self._skip = skip
        self._merge = _Merge(self._streams(), self.order, self._max_rows, self.stats)

    def _plans(self, merge: _Merge, skip: int) -> Iterator[Plan]:
        """The windows, made on the read-ahead thread (holds no reference to ``self``)."""
        name, meta, resolve = self.name, self.lazy.metadata, self._resolve
        validate, type_names = self._validate, self.type_names
        return _windows(merge, skip, name, meta, resolve, validate, type_names)

    def _window(self) -> bool:
        ahead = self._ahead
        if ahead is None:
            ahead = self._ahead = ReadAhead(self._plans(self._merge, self._skip), count=len,
                                            name=f"evlab-stream-{self.name}")
        try:
            plan = ahead.next()
        except BaseException:
            # the windows made stay; a retry reads up to here again, then fails or goes on
            self._reread(self._end)
            raise
        if plan is None:
            if self._end != self.total:
                raise RecordingError(f"{self.lazy.path}: {self._end:,} events read, "
                                     f"{self.total:,} counted when the replay was made: "
                                     "was the recording changed meanwhile?")
            return False
        self._windows.append((self._end, plan))
        self._end += len(plan)
        held = self._merge.held + ahead.rows_ahead + sum(len(p) for _, p in self._windows)
        self.stats["max_rows_held"] = max(self.stats["max_rows_held"], held)
        if self._end >= self.total and ahead.next() is not None:  # the end: the thread ends
            raise RecordingError(f"{self.lazy.path}: more events than the {self.total:,} "
                                 "counted when the replay was made: was the recording "
                                 "changed meanwhile?")
        return True

    def _at(self, pos: int, keep: int) -> tuple[int, Plan]:
        """The window holding position ``pos``, made as needed; windows wholly before
        ``keep`` (where the current call began) are dropped."""
        windows = self._windows
        if (windows and keep < windows[0][0]) or (not windows and keep < self._end):
            self._restart()  # rewound: the stream starts over
            windows = self._windows
        while True:
            while windows and windows[0][0] + len(windows[0][1]) <= keep:
                windows.pop(0)
            for base, plan in windows:
                if base <= pos < base + len(plan):
                    return base, plan
            if not self._window():
                raise IndexError(f"{self.name}: position {pos} is past the end ({self.total})")

    def _parts(self, lo: int, hi: int) -> Iterator[tuple[Plan, int, int]]:
        """``(window, a, b)``: the windows' positions ``[a, b)`` covering ``[lo, hi)``, each
        window made only when the one before is used up."""
        pos = lo
        while pos < hi:
            base, plan = self._at(pos, lo)
            b = min(hi - base, len(plan))
            yield plan, pos - base, b
            pos = base + b

    def time_at(self, pos: int) -> int:
        base, plan = self._at(pos, pos)
        return plan.time_at(pos - base)

    def distinct_times(self) -> np.ndarray:
        """The distinct event times (ns, sorted) of the whole stream, read a window at a time
        (bounded memory but for the times themselves); the stream then starts over."""
        found: list[np.ndarray] = []
        pos = 0
        while pos < self.total:
            base, plan = self._at(pos, pos)
            found.append(plan.distinct_times())
            pos = base + len(plan)
        self._restart()
        return np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)

    def kind_codes(self, lo: int, hi: int) -> np.ndarray:
        parts = [plan.kind_codes(a, b) for plan, a, b in self._parts(lo, hi)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)

    def chunk(self, lo: int, hi: int) -> list[Event]:
        out: list[Event] = []
        for plan, a, b in self._parts(lo, hi):
            out.extend(plan.chunk(a, b))
        return out

    def pump(self, lo: int, hi: int, emit: Callable[[Event], Any], interrupt: list[Any],
             done: list[int]) -> None:
        """``Plan.pump`` window by window: a window is read only once the events before it
        are emitted, so an unreadable row group stops the run after them."""
        total = 0
        try:
            for plan, a, b in self._parts(lo, hi):
                done[0] = 0
                try:
                    plan.pump(a, b, emit, interrupt, done)
                finally:
                    total += done[0]
                if done[0] < b - a:
                    break
        finally:
            done[0] = total


def _windows(merge: _Merge, skip: int, name: str, meta: dict[str, Any],
             resolve: Callable[[str], type], validate: bool,
             type_names: list[str]) -> Iterator[Plan]:
    """Each table the merge releases as a window (``table_plan``), the first ``skip`` rows
    left out (a retry after an error starts where the replay is)."""
    for table in merge.tables():
        if skip:
            dropped = min(skip, table.num_rows)
            table, skip = table.slice(dropped), skip - dropped
        if table.num_rows:
            yield table_plan(name, table, None, meta, resolve, validate, type_names)


def stream_plan(lazy: LazyRecording, what: Any, syms: list[str] | None,
                window: tuple[int | None, int | None], order: str, validate: bool,
                resolve: Callable[[str], type], decodes: bool) -> StreamPlan:
    """The streamed plan of ``lazy`` (see the module docstring). Counts the events first
    (reading only the columns a selection needs, and nothing where the statistics say every
    row is selected) and resolves their classes, so errors come before the first event."""
    from evlab.replay.sources import _nothing, substitute_bars

    sids = [s.id for s in lazy.sessions]
    name = f"recording {sids[0]}" if len(sids) == 1 else "recording"
    counts = lazy.metadata.get("counts", {})
    substitute = what == "roots" and not decodes and substitute_bars(
        int(counts.get("websocket", 0)), int(counts.get("bar", 0)), name)
    stats = {"row_groups_read": 0, "max_rows_held": 0}

    def streams() -> list[_Stream]:
        return [_Stream(lazy, s, rank, what, syms, window, substitute, stats)
                for rank, s in enumerate(lazy.sessions)]

    total, types, classes = 0, set(), set()
    for stream in streams():
        for group, table, n in stream.scan():
            total += n
            if table is None:
                meta = lazy.meta_of(group)
                types |= set(meta.get("counts", {}))
                classes |= set(meta.get("classes", {}))
            elif n:
                types |= set(value_counts(table["type"]))
                classes |= set(value_counts(table["event_class"]))
    stats["row_groups_read"] = 0
    if not total:
        raise _nothing(name, what)
    for cls in sorted(classes):
        resolve(cls)  # fail now, naming the class, rather than mid-replay
    return StreamPlan(name, lazy, streams, order, total, sorted(types), resolve, validate,
                      lazy.max_rows, stats)
