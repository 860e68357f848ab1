"""What a replay emits: any source turned into a ``Plan`` (times, types, a chunk builder).

Sources: a ``Recording`` (or an ``EventRecorder``: its snapshot), a DataFrame of bars, a
path (an evlab recording file or folder, or a Parquet/CSV file of bars) or the name of a
shipped dataset. See the package docstring for the selection (``what``) and the order.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evlab.events import Event, EventType, to_ns
from evlab.recording import EventRecorder, Recording
from evlab.recording.convert import canonical, iter_events, resolver
from evlab.recording.lazy import LazyRecording, open_recording
from evlab.replay.bars import VALUES, BarColumns, check, from_frame
from evlab.replay.roots import SeqRanges

if TYPE_CHECKING:
    from evlab.replay.stream import StreamPlan

__all__ = ["Plan", "make_plan"]

WHAT = ("roots", "raw", "bars", "all")
STREAM_ROWS = 2_000_000  # a recording path with more rows is streamed, not loaded
ORDERS = ("time", "recorded")
_BAR_CLASS = "evlab.events:BarEvent"
_PARQUET = (".parquet", ".pq", ".parq")


@dataclass
class Plan:
    """Positions ``0 .. len-1`` in replay order: event times, type codes, and ``chunk(lo,
    hi)`` that builds fresh, unstamped events for positions ``[lo, hi)``."""

    name: str
    times: np.ndarray
    kinds: np.ndarray
    type_names: list[str]
    chunk: Callable[[int, int], list[Event]]
    fast: Callable[..., None] | None = None  # BarColumns.pump, for all-bar stretches
    is_bar: np.ndarray | None = None  # which positions ``fast`` can emit (None: all)

    def __len__(self) -> int:
        return len(self.times)

    def distinct_times(self) -> np.ndarray:
        """The distinct event times (ns, sorted) of the plan (walk-forward cuts windows on
        them)."""
        times: np.ndarray = np.unique(self.times)
        return times

    def time_at(self, pos: int) -> int:
        """The event time (ns) of position ``pos``."""
        return int(self.times[pos])

    def kind_codes(self, lo: int, hi: int) -> np.ndarray:
        """The type codes (into ``type_names``) of positions ``[lo, hi)``."""
        codes: np.ndarray = self.kinds[lo:hi]
        return codes

    def pump(self, lo: int, hi: int, emit: Callable[[Event], Any], interrupt: list[Any],
             done: list[int]) -> None:
        """Emit positions ``[lo, hi)`` until ``interrupt`` is non-empty; ``done[0]`` = how
        many were emitted (set even if a handler raises)."""
        if self.fast is not None and (self.is_bar is None or self.is_bar[lo:hi].all()):
            self.fast(lo, hi, emit, interrupt, done)
            return
        k = 0
        try:
            for e in self.chunk(lo, hi):
                if interrupt:
                    break
                emit(e)
                k += 1
        finally:
            done[0] = k


def make_plan(source: Any, *, what: str | Iterable[str] = "roots",
              symbols: str | Iterable[str] | None = None, start: Any = None, end: Any = None,
              order: str = "time", validate: bool = True, classes: Any = (),
              source_name: str | None = None, decodes: bool = True) -> Plan | StreamPlan:
    """The plan for ``source`` (see the package docstring for every option).

    ``decodes``: the bus has a WEBSOCKET handler; without one, ``what="roots"`` replays a
    live recording's decoded bars in place of its raw messages (with a warning).
    """
    if order not in ORDERS:
        raise ValueError(f"order: must be one of {', '.join(ORDERS)}, got {order!r}")
    wanted = _what(what)
    syms = None if symbols is None else (
        [symbols] if isinstance(symbols, str) else [str(s) for s in symbols])
    window = (None if start is None else to_ns(start), None if end is None else to_ns(end))
    if isinstance(source, EventRecorder):
        source = source.snapshot()
    if isinstance(source, (str, os.PathLike)):
        source = _load(source)
    if isinstance(source, LazyRecording):
        from evlab.replay.stream import stream_plan

        return stream_plan(source, wanted, syms, window, order, validate, resolver(classes),
                           decodes)
    if isinstance(source, Recording):
        return _recording_plan(source, wanted, syms, window, order, validate, classes,
                               decodes)
    if isinstance(source, _BarsFile):
        return _bars_plan(source.frame, source.label, source_name or source.source, wanted,
                          syms, window, order, validate)
    if isinstance(source, pd.DataFrame):
        if {"event_class", "seq", "type"} <= set(source.columns):
            raise ValueError("this DataFrame is a recording's frame: replay the Recording "
                             "itself (load_recording(...)) or its bars (rec.bars())")
        return _bars_plan(source, "bars DataFrame", source_name or "replay", wanted, syms,
                          window, order, validate)
    raise TypeError(f"Replayer: expected a Recording, EventRecorder, DataFrame of bars, path "
                    f"or dataset name, got {type(source).__name__}")


class _BarsFile(NamedTuple):
    frame: pd.DataFrame
    label: str  # for messages: the path, or "dataset 'name'"
    source: str  # the bars' source: the file's stem or the dataset's name


def _what(what: str | Iterable[str]) -> str | frozenset[str]:
    if isinstance(what, str):
        if what in WHAT:
            return what
        if what in set(EventType):
            return frozenset({str(what)})
        raise ValueError(f"what: must be one of {', '.join(WHAT)}, an event type or a list "
                         f"of event types, got {what!r}")
    types = frozenset(str(t) for t in what)
    if not types:
        raise ValueError("what: an empty list of event types selects nothing")
    return types


def _load(path: str | os.PathLike[str]) -> Any:
    """A Recording for an evlab recording (file or folder), else the bars it holds."""
    from evlab import datasets

    p = Path(path).expanduser()
    if p.is_dir():
        return _recording(p)
    if p.is_file() and _is_parquet(p):
        try:
            meta = pq.read_schema(p).metadata or {}
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{p}: not a readable Parquet file (corrupt or truncated?): "
                             f"{exc}") from exc
        if b"evlab" in meta:
            return _recording(p)
    bars = datasets.load(path)  # a file of bars or a dataset name; bad names raise here
    if p.exists() or not isinstance(path, str):
        return _BarsFile(bars, str(p), p.name.split(".")[0])
    return _BarsFile(bars, f"dataset {path!r}", path)


def _recording(p: Path) -> Recording | LazyRecording:
    """The recording at ``p``: streamed above ``STREAM_ROWS`` rows, else loaded."""
    lazy = open_recording(p)
    return lazy if len(lazy) > STREAM_ROWS else lazy.load()


def _is_parquet(p: Path) -> bool:
    if p.suffix.lower() in _PARQUET:
        return True
    with p.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _nothing(name: str, what: Any) -> ValueError:
    shown = sorted(what) if isinstance(what, frozenset) else what
    return ValueError(f"nothing to replay: {name} has no events for what={shown!r} "
                      "(and the symbols/start/end given)")


def _window(times: np.ndarray, window: tuple[int | None, int | None]) -> np.ndarray:
    lo, hi = window
    keep = np.ones(len(times), dtype=bool)
    if lo is not None:
        keep &= times >= lo
    if hi is not None:
        keep &= times < hi
    return keep


def _bars_plan(frame: pd.DataFrame, label: str, source: str, what: Any, syms: list[str] | None,
               window: tuple[int | None, int | None], order: str, validate: bool) -> Plan:
    if what == "raw":
        raise ValueError(f"what='raw': {label} holds bars, no raw WebSocketEvents")
    if isinstance(what, frozenset) and "bar" not in what:
        raise _nothing(label, what)
    naming = syms[0] if syms is not None and len(syms) == 1 else None
    bars, key = from_frame(frame, symbol=naming, source=source, label=label, validate=validate)
    keep = _window(bars.times, window)
    if syms is not None:
        unknown = sorted(set(syms) - set(bars.names.tolist()))
        if unknown:
            raise ValueError(f"{label}: unknown symbol(s) {', '.join(unknown)}; available: "
                             f"{', '.join(map(str, bars.names))}")
        keep &= np.isin(bars.names, syms)[bars.codes] & (bars.codes >= 0)
    rows = np.flatnonzero(keep)
    if order == "time":
        rows = rows[np.lexsort((key[rows], bars.times[rows]))]
    bars = bars.take(rows)
    if not len(bars):
        raise _nothing(label, what)
    # list is invariant, but the replayer only reads the events: list[BarEvent] is fine
    chunk = cast(Callable[[int, int], list[Event]], bars.chunk)
    return Plan(label, bars.times, np.zeros(len(bars), dtype=np.int8), ["bar"], chunk, bars.pump)


def _strings(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1: null) and values of a dictionary column of a canonical table."""
    arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    codes = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    return codes, np.array(arr.dictionary.to_pylist(), dtype=object)


def _types(table: pa.Table) -> np.ndarray:
    kinds, names = _strings(table["type"])
    return names[kinds] if len(names) else np.array([], dtype=object)


def event_times(table: pa.Table) -> np.ndarray:
    """The event times of a recording table's rows, int64 ns."""
    times: np.ndarray = table["event_time"].cast(pa.int64()).to_numpy()
    return times


def roots_of(table: pa.Table, ranges: SeqRanges | None) -> np.ndarray:
    """Rows whose cause is not an event of their session (none, or not recorded): causes
    looked up in ``ranges`` (the session's seqs), else in the table's own (per session)."""
    cause: np.ndarray = table["cause"].fill_null(-1).to_numpy()
    if ranges is not None or "session" not in table.column_names:
        seqs = ranges if ranges is not None else SeqRanges.of(table["seq"].to_numpy())
        found: np.ndarray = (cause < 0) | ~seqs.contains(cause)
        return found
    sessions, _ = _strings(table["session"])
    seq = table["seq"].to_numpy()
    roots: np.ndarray = cause < 0
    for s in np.unique(sessions):
        rows = sessions == s
        roots[rows] |= ~SeqRanges.of(seq[rows]).contains(cause[rows])
    return roots


def substitute_bars(raw: int, bars: int, name: str) -> bool:
    """For a bus that cannot decode raw messages (``raw`` root WebSocketEvents): replay the
    ``bars`` recorded bars in their place? Says so (nothing would turn the messages into
    bars, so nothing downstream would run again)."""
    if not raw:
        return False
    if not bars:
        warnings.warn(f"Replayer: {name}'s roots are {raw:,} raw WebSocket "
                      "messages and the bus has no WEBSOCKET handler to decode them: subscribe "
                      "a WebSocketHandler first, or nothing is decoded", UserWarning,
                      stacklevel=5)
        return False
    warnings.warn(f"Replayer: the bus has no WEBSOCKET handler to decode {name}'s "
                  f"{raw:,} raw messages: replaying its {bars:,} recorded "
                  "bars in their place (what='bars' says so explicitly; what='raw' with a "
                  "WebSocketHandler subscribed replays the messages)", UserWarning, stacklevel=5)
    return True


def select(table: pa.Table, what: Any, syms: list[str] | None,
           window: tuple[int | None, int | None], roots: np.ndarray | None,
           substitute: bool = False) -> np.ndarray:
    """The rows of a recording table that a replay of ``what`` emits (see the package
    docstring): ``roots`` from ``roots_of`` for "roots" and "raw"; ``substitute``: recorded
    bars in place of the raw messages (``substitute_bars``)."""
    kinds, names = _strings(table["type"])

    def of_type(*wanted: str) -> np.ndarray:  # on the codes: no string per row
        codes = [i for i, n in enumerate(names) if n in wanted]
        return np.isin(kinds, codes) if codes else np.zeros(len(kinds), dtype=bool)

    keep: np.ndarray
    if what == "roots":
        assert roots is not None
        keep = roots
        if substitute:
            keep = (roots & ~of_type("websocket")) | of_type("bar")
    elif what == "raw":
        assert roots is not None
        keep = roots & of_type("websocket")
    elif what == "bars":
        keep = of_type("bar")
    elif what == "all":
        keep = np.ones(table.num_rows, dtype=bool)
    else:
        keep = of_type(*what)
    if window != (None, None):
        keep &= _window(event_times(table), window)
    if syms is not None:
        sym_codes, sym_names = _strings(table["symbol"])
        keep &= (sym_codes < 0) | np.isin(sym_names, syms)[sym_codes]
    return keep


def _recording_plan(rec: Recording, what: Any, syms: list[str] | None,
                    window: tuple[int | None, int | None], order: str, validate: bool,
                    classes: Any, decodes: bool = True) -> Plan:
    table = rec.table
    name = f"recording {rec.sessions[0]}" if len(rec.sessions) == 1 else "recording"
    roots = roots_of(table, None) if what in ("roots", "raw") else None
    substitute = False
    if roots is not None and what == "roots" and not decodes:
        types = _types(table)
        substitute = substitute_bars(int((roots & (types == "websocket")).sum()),
                                     int((types == "bar").sum()), name)
    rows = np.flatnonzero(select(table, what, syms, window, roots, substitute))
    if order == "time":
        # stable: ties keep the rows' order (seq order; sessions one after the other)
        rows = rows[np.argsort(event_times(table)[rows], kind="stable")]
    if not len(rows):
        raise _nothing(name, what)
    resolve = resolver(classes)
    cls_codes, cls_names = _strings(table["event_class"])
    for code in np.unique(cls_codes[rows]).tolist():
        resolve(cls_names[code])  # fail now, naming the class, rather than mid-replay
    return table_plan(name, table, rows, rec.metadata, resolve, validate)


def table_plan(name: str, table: pa.Table, rows: np.ndarray | None, meta: dict[str, Any],
               resolve: Callable[[str], type], validate: bool,
               type_names: list[str] | None = None) -> Plan:
    """The plan of ``table``'s ``rows`` (positions, in replay order; None: every row as it
    is) of a recording table: bars by the fast path, other classes by
    ``convert.iter_events``. ``type_names``: number the types as in this list (a streamed
    replay's windows)."""
    pick: Any = slice(None) if rows is None else rows  # a view of every row, or a selection
    if rows is None:
        rows = np.arange(table.num_rows)
    seq = table["seq"].to_numpy()
    kinds, names = _strings(table["type"])
    if type_names is None:
        type_names = list(names)
    else:
        codes = {t: i for i, t in enumerate(type_names)}
        # a dictionary may hold types no row of the table has: those get -1, never used
        kinds = np.array([codes.get(t, -1) for t in names] + [-1], dtype=np.int32)[kinds]
    times = event_times(table)
    cls_codes, cls_names = _strings(table["event_class"])
    sym_codes, sym_names = _strings(table["symbol"])
    generic = _generic(table, rows, seq, meta, resolve, validate, name)
    is_bar = (cls_names == _BAR_CLASS)[cls_codes[pick]]
    every = bool(is_bar.all())
    bars = _recorded_bars(table, pick, meta, sym_codes, sym_names) if is_bar.any() else None
    if bars is not None and validate:
        at = np.flatnonzero(is_bar)
        check(bars if every else bars.take(at),
              lambda i: f"{name}: bar seq {int(seq[rows[at[i]]])}")

    def chunk(lo: int, hi: int) -> list[Event]:
        if bars is not None and (every or is_bar[lo:hi].all()):
            return bars.chunk(lo, hi)  # type: ignore[return-value]  # read only, as above
        return generic(lo, hi)

    return Plan(name, times[pick], kinds[pick], type_names, chunk,
                None if bars is None else bars.pump, None if every else is_bar)


def _recorded_bars(table: pa.Table, rows: Any, meta: dict[str, Any],
                   sym_codes: np.ndarray, sym_names: np.ndarray) -> BarColumns:
    fields = meta.get("classes", {}).get(_BAR_CLASS, {}).get("fields", {})
    values = {}
    for name in VALUES:
        column = fields.get(name, name)
        values[name] = table[column].to_numpy()[rows].astype("float64", copy=False)
    src_codes, src_names = _strings(table["source"])
    times = table["event_time"].cast(pa.int64()).to_numpy()[rows]
    return BarColumns(times, sym_codes[rows], sym_names, values, "",
                      src_codes[rows], np.append(src_names, "").astype(object))


def _generic(table: pa.Table, rows: np.ndarray, seq: np.ndarray, meta: dict[str, Any],
             resolve: Callable[[str], type], validate: bool, name: str
             ) -> Callable[[int, int], list[Event]]:
    classes, kinds = meta.get("classes", {}), meta.get("columns", {})

    def events(idx: np.ndarray) -> list[Event]:
        part = canonical(table.take(idx))
        return list(iter_events(part, classes, kinds, resolve, validate=validate,
                                batch=max(len(idx), 1)))

    def chunk(lo: int, hi: int) -> list[Event]:
        idx = rows[lo:hi]
        try:
            return events(idx)
        except (ValueError, TypeError) as exc:
            for i in idx.tolist():  # find the row to name
                try:
                    events(np.array([i]))
                except (ValueError, TypeError) as one:
                    raise ValueError(f"{name}: cannot rebuild the event seq {int(seq[i])}: "
                                     f"{one}") from one
            raise ValueError(f"{name}: cannot rebuild events: {exc}") from exc

    return chunk
