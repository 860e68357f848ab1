"""The recorder's in-memory table: where each event's values go, and the table as Arrow.

Every row has the shared columns (seq, event time, emit time, cause, class code, symbol code,
source code). A class's own fields go to its *group* of columns, chosen once per class from
the dataclass fields: ``float`` -> f8, ``int`` -> i8, ``bool``, ``str`` -> dictionary strings
(ids and messages -> text), ``str | bytes`` -> raw, anything else -> JSON text (the kinds are
in ``columns.py``). A field named ``symbol`` goes to the shared symbol column. A field whose
name is taken by a column of another kind gets the column ``<ClassName>_<field>``.

An *appender* is a function ``put(event)`` generated once per class from its field names (see
``make_appender``), calling the bound ``append`` methods of its columns: recording one event is
a straight run of C calls. It is the one definition of a row. Compiled, a class whose fields
are all slots (and none raw) also gets a *row plan* (``make_plan``): the recorder
takes its events off the bus's tape in bulk (``evlab._core.tape_rows``) and reads each row
at the slots' offsets in C, for the values the appender's unchecked appends take; any other
row goes through ``put``. ``tests/test_record_tape.py`` holds the two to the same frame.

``EventTable.to_arrow(lo, hi)`` gives rows as one Arrow table, whose columns are, in order:
``seq`` (int64), ``type`` (dictionary), ``event_time`` and ``emit_time`` (timestamp[ns,
UTC]), ``source`` (dictionary), ``cause`` (int64, null for none), ``symbol`` (dictionary),
then every field column of the recorded classes (in the order they were first seen; see
``columns.arrow_types``), then ``event_class`` (dictionary of ``module:qualname``). Rows are
in ``seq`` order. Saved files hold the same table (``storage.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import keyword
import math
import re
import typing
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evlab._accel import core
from evlab.events import BarEvent, BarUpdateEvent, Event
from evlab.recording.columns import (
    INT64,
    Bool,
    Cat,
    Column,
    Float,
    Int,
    Json,
    NumpyColumn,
    Strings,
    Text,
    arrow_types,
    dict_array,
    make_column,
)

__all__ = ["SHARED", "TIMESTAMP", "EventTable", "Group", "Shared", "base_schema", "class_name",
           "describe", "field_kind", "value_counts"]

TIMESTAMP = pa.timestamp("ns", tz="UTC")
_DICT = pa.dictionary(pa.int32(), pa.string())

SHARED = ("seq", "type", "event_time", "emit_time", "source", "cause", "symbol")
RESERVED = frozenset({*SHARED, "event_class", "session", "time_ns"})
TEXT_FIELDS = frozenset({"trade_id", "order_id", "message"})  # mostly unique: no dictionary
#: what a float column stores as is (``Float.put`` would too); numpy's float64 is common:
#: prices from a DataFrame, and the arithmetic done on them
EXACT_NUMBERS = frozenset({float, int, np.float64})


def class_name(cls: type) -> str:
    """``module:qualname``: how a recording names an event class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _type_names(annotation: Any) -> set[str]:
    if isinstance(annotation, str):
        text = re.sub(r"\b(typing\.)?Optional\[(.*)\]", r"\2", annotation.strip())
        names = {p.strip().removeprefix("typing.") for p in text.split("|")}
    else:
        args = typing.get_args(annotation) or (annotation,)
        names = {getattr(a, "__name__", str(a)) for a in args}
    return names - {"None", "NoneType"}


def field_kind(f: dataclasses.Field[Any]) -> str:
    """The column kind for a dataclass field, from its annotation."""
    names = _type_names(f.type)
    if names and names <= {"int", "float"} and "float" in names:
        return "f8"
    if names == {"int"}:
        return "i8"
    if names == {"bool"}:
        return "bool"
    if names == {"str"}:
        return "text" if f.name in TEXT_FIELDS else "cat"
    if names and names <= {"str", "bytes"}:
        return "raw"
    return "json"


class Shared:
    """The columns every row has: int64 stamps and times, int16/int32 codes (-1: none)."""

    def __init__(self) -> None:
        self.seq = NumpyColumn("seq", "i8")
        self.time = NumpyColumn("event_time", "i8")
        self.emit = NumpyColumn("emit_time", "i8")
        self.cause = NumpyColumn("cause", "i8")  # -1: no cause
        self.cls = NumpyColumn("event_class", "i2")  # the event class's code (a Group)
        self.symbol = NumpyColumn("symbol", "i4")  # -1: no symbol
        self.source = NumpyColumn("source", "i4")
        self.symbols = Strings()
        self.sources = Strings()

    def columns(self) -> list[NumpyColumn]:
        return [self.seq, self.time, self.emit, self.cause, self.cls, self.symbol, self.source]


@dataclasses.dataclass(eq=False)
class Group:
    """One recorded event class: its code, its type, and where each field goes."""

    cls: type[Event]
    code: int
    type: str
    fields: dict[str, str]  # field -> column name ("symbol" -> the shared column)
    columns: list[Column]  # the group's own columns, in field order (not symbol)

    @property
    def name(self) -> str:
        return class_name(self.cls)


def make_group(cls: type[Event], code: int, kinds: dict[str, str],
               strings: dict[str, Strings]) -> Group:
    """The column group of ``cls``; registers new columns' kinds in ``kinds``."""
    fields: dict[str, str] = {}
    columns: list[Column] = []
    for f in dataclasses.fields(typing.cast(Any, cls)):  # every Event class is a dataclass
        if f.name.startswith("_") or f.name in ("time_ns", "source"):
            continue
        if f.name == "symbol":
            fields["symbol"] = "symbol"
            continue
        kind = field_kind(f)
        column = f.name
        if column in RESERVED or kinds.get(column, kind) != kind:
            column = f"{cls.__name__}_{f.name}"
        n = 2
        while kinds.get(column, kind) != kind or column in fields.values():
            column, n = f"{cls.__name__}_{f.name}{n}", n + 1
        kinds.setdefault(column, kind)
        fields[f.name] = column
        shared = strings.setdefault(column, Strings()) if kind == "cat" else None
        columns.append(make_column(column, kind, shared))
    return Group(cls, code, str(cls.type), fields, columns)


def make_appender(shared: Shared, group: Group) -> Callable[[Event], None]:
    """``put(event)``: append one row for an event of ``group.cls``.

    The function is generated once per class, one straight line per field, so recording an
    event is a run of local C calls with no loop, zip or tuple. Exact floats, ints, bools,
    known category strings, str text and None take the column's unchecked append (None as
    ``put`` stores it: NaN in a float column); anything else its checked ``put`` (the same
    values either way).
    """
    env: dict[str, Any] = {}
    for i, stamp in enumerate(shared.columns()):
        env[f"s{i}"] = stamp.fast
    env.update(src_get=shared.sources.index.get, src_add=shared.sources.add,
               sym_get=shared.symbols.index.get, sym_add=shared.symbols.add,
               code=group.code, float=float, str=str, bool=bool, int=int, type=type,
               nan=math.nan, lo=INT64[0], hi=INT64[1], numbers=EXACT_NUMBERS)
    lines = ["def put(e):",
             " s0(e._seq)", " s1(e.time_ns)", " s2(e._emit_ns)",
             " x = e._cause", " s3(-1 if x is None else x)", " s4(code)",
             " x = e.source", " k = src_get(x)", " s6(src_add(x) if k is None else k)"]
    if "symbol" in group.fields:
        lines += [" x = e.symbol", " if x is None:", "  s5(-1)", " else:",
                  "  k = sym_get(x)", "  s5(sym_add(x) if k is None else k)"]
    else:
        lines.append(" s5(-1)")
    bars = group.cls in (BarEvent, BarUpdateEvent)  # validated floats: no check needed
    names = [f for f in group.fields if f != "symbol"]
    for i, (name, column) in enumerate(zip(names, group.columns, strict=True)):
        # Safety: the only text spliced into the code is the event dataclass's own field
        # names, each checked to be a plain identifier; values never become code.
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"{class_name(group.cls)}: field {name!r} is not an identifier")
        env[f"f{i}"], env[f"p{i}"] = column.fast, column.put
        kind = type(column)
        if bars:
            lines.append(f" f{i}(e.{name})")
        elif kind is Float:  # None: NaN, as ``put`` stores it (optional prices are common)
            lines += [f" x = e.{name}",
                      f" f{i}(x) if type(x) in numbers else f{i}(nan) if x is None"
                      f" else p{i}(x)"]
        elif kind is Cat:
            env[f"g{i}"] = typing.cast(Cat, column).strings.index.get
            lines += [f" x = e.{name}",
                      f" k = g{i}(x) if type(x) is str else None",
                      f" f{i}(k) if k is not None or x is None else p{i}(x)"]
        elif kind is Int:
            lines += [f" x = e.{name}", f" f{i}(x) if x is None or (type(x) is int"
                      f" and lo <= x < hi) else p{i}(x)"]
        elif kind in (Text, Bool):  # not Json (a subclass of Text): that one encodes
            exact = "str" if kind is Text else "bool"
            lines += [f" x = e.{name}", f" f{i}(x) if type(x) is {exact} or x is None"
                      f" else p{i}(x)"]
        elif kind is Json:
            lines += [f" x = e.{name}", f" f{i}(None) if x is None else p{i}(x)"]
        else:
            lines.append(f" p{i}(e.{name})")
    exec("\n".join(lines), env)  # code made from validated field names only
    put: Callable[[Event], None] = env["put"]
    put.__qualname__ = f"put_{group.cls.__name__}"
    return put


#: the row-plan kind of each column class (see ``evlab._core.row_plan``); Raw has none: its
#: rows always take ``put``
_PLAN_KINDS: dict[type, str] = {Float: "F", Int: "N", Text: "T", Bool: "B", Cat: "G",
                                Json: "J"}


def make_plan(shared: Shared, group: Group) -> Any:
    """The compiled row plan of ``group.cls`` (``evlab._core.row_plan``): the same row as
    ``make_appender``'s ``put`` for the values its unchecked appends take (and JSON text by
    the same ``Json.encode``); None where there is none (interpreted, a field of a raw
    column, a class without slots)."""
    cls: Any = group.cls
    # the class's own descriptors (a subclass may declare a field again: a slot of its own)
    descriptors: list[Any] = [getattr(cls, n, None) for n in ("_seq", "time_ns", "_emit_ns",
                                                               "_cause")]
    descriptors += [None, getattr(cls, "source", None)]
    kinds = "AAACKS"
    targets: list[Any] = [c.stage for c in (shared.seq, shared.time, shared.emit, shared.cause,
                                            shared.cls, shared.source)]
    aux: list[Any] = [None, None, None, None, group.code, shared.sources.index]
    if "symbol" in group.fields:
        descriptors.append(getattr(cls, "symbol", None))
        kinds += "Y"
        aux.append(shared.symbols.index)
    else:
        descriptors.append(None)
        kinds += "K"
        aux.append(-1)
    targets.append(shared.symbol.stage)
    names = [f for f in group.fields if f != "symbol"]
    for name, column in zip(names, group.columns, strict=True):
        kind = _PLAN_KINDS.get(type(column))
        if kind is None:
            return None
        descriptors.append(getattr(cls, name, None))
        kinds += kind
        targets.append(column.stage)
        aux.append(math.nan if kind == "F" else typing.cast(Cat, column).strings.index
                   if kind == "G" else Json.encode if kind == "J" else None)
    return core.row_plan(descriptors, kinds, tuple(targets), tuple(aux), np.float64)


# --- the table ----------------------------------------------------------------------------

class EventTable:
    """Every recorded row: the shared columns plus one column group per recorded event class."""

    def __init__(self) -> None:
        self.shared = Shared()
        self.groups: list[Group] = []  # index == the class code in ``shared.cls``
        self.by_cls: dict[type[Event], Group] = {}
        self.kinds: dict[str, str] = {}  # field column -> kind, in first-seen order
        self.strings: dict[str, Strings] = {}  # dictionary of each ``cat`` column

    @property
    def stage(self) -> Any:
        """The staged seq values (a ``Stage``): its length is the number of rows not yet
        committed."""
        return self.shared.seq.stage

    def __len__(self) -> int:
        return len(self.shared.seq)

    def appender(self, cls: type[Event]) -> Callable[[Event], None]:
        """``put(event)`` for events of ``cls`` (a new column group the first time)."""
        group = self.by_cls.get(cls)
        if group is None:
            group = make_group(cls, len(self.groups), self.kinds, self.strings)
            self.groups.append(group)
            self.by_cls[cls] = group
        return make_appender(self.shared, group)

    def plan(self, cls: type[Event]) -> tuple[Any, Callable[[Event], None]]:
        """``(row plan or None, put)`` for events of ``cls``: what ``evlab._core.tape_rows``
        takes (a new column group the first time)."""
        put = self.appender(cls)
        return make_plan(self.shared, self.by_cls[cls]), put

    def columns(self) -> list[Column]:
        return [*self.shared.columns(), *(c for g in self.groups for c in g.columns)]

    def commit(self) -> int:
        """Commit every staged row; returns the number of rows held."""
        for column in self.columns():
            column.commit()
        return self.shared.seq.committed

    def repair(self) -> None:
        """Undo a partly appended row (a value of the wrong type, or an interrupt)."""
        columns = self.shared.columns()
        rows = min(len(c) for c in columns)
        cls = self.shared.cls
        while True:
            staged = Counter(cls.staged()[:rows - cls.committed].tolist())
            if all(len(c) >= c.committed + staged[g.code] for g in self.groups
                   for c in g.columns):
                break
            rows -= 1
        for c in columns:
            c.truncate(rows)
        for g in self.groups:
            for field in g.columns:
                field.truncate(field.committed + staged[g.code])

    def drop_oldest(self, k: int) -> None:
        """Forget the ``k`` oldest (committed) rows."""
        counts = np.bincount(self.shared.cls.values(0, k), minlength=max(len(self.groups), 1))
        for column in self.shared.columns():
            column.drop(k)
        for g in self.groups:
            for field in g.columns:
                field.drop(int(counts[g.code]))

    def reset(self) -> None:
        """Forget every row (the classes and string tables stay)."""
        for column in self.columns():
            column.reset()

    def nbytes(self) -> int:
        """Bytes held by the chunks and the stages (lists, and the typed stages' buffers)."""
        return sum(c.nbytes() for c in self.columns())

    def classes(self) -> dict[str, Any]:
        """``{module:qualname: {"type": ..., "fields": {field: column}}}`` for the metadata."""
        return {g.name: {"type": g.type, "fields": g.fields} for g in self.groups}

    def to_arrow(self, lo: int, hi: int) -> pa.Table:
        """Committed rows ``[lo, hi)`` as an Arrow table (the layout in the module doc)."""
        shared, groups, kinds = self.shared, self.groups, self.kinds
        ncls = max(len(groups), 1)
        codes = shared.cls.values(0, hi)
        before = np.bincount(codes[:lo], minlength=ncls)
        codes = codes[lo:hi]
        inside = np.bincount(codes, minlength=ncls)
        n = hi - lo
        seq = shared.seq.pieces(lo, hi)
        types = sorted({g.type for g in groups})
        type_of = np.array([types.index(g.type) for g in groups] or [0], dtype="i4")
        cols: dict[str, pa.Array | pa.ChunkedArray] = {
            "seq": _chunked(seq, pa.int64()),
            "type": dict_array(type_of[codes], types),
            "event_time": _chunked(shared.time.pieces(lo, hi), TIMESTAMP),
            "emit_time": _chunked(shared.emit.pieces(lo, hi), TIMESTAMP),
            "source": dict_array(shared.source.values(lo, hi), shared.sources.values),
            "cause": _chunked(shared.cause.pieces(lo, hi), pa.int64(), nulls=True),
            "symbol": dict_array(shared.symbol.values(lo, hi), shared.symbols.values),
        }
        pieces: dict[str, list[tuple[int, pa.ChunkedArray]]] = {}
        for g in groups:
            start = int(before[g.code])
            for column in g.columns:
                for name, arr in column.arrays(start, start + int(inside[g.code])):
                    pieces.setdefault(name, []).append((g.code, arr))
        where: dict[int, np.ndarray] = {}
        for field, kind in kinds.items():
            for name, type in arrow_types(field, kind):
                parts = pieces.get(name, [])
                if len(parts) == 1 and len(parts[0][1]) == n:
                    cols[name] = parts[0][1]
                    continue
                take = np.full(n, -1, dtype="i8")
                offset = 0
                for code, arr in parts:
                    if code not in where:
                        where[code] = np.flatnonzero(codes == code)
                    take[where[code]] = np.arange(offset, offset + len(arr))
                    offset += len(arr)
                chunks = [c for _, arr in parts for c in arr.chunks]
                merged = pa.concat_arrays(chunks) if chunks else pa.nulls(0, type)
                cols[name] = merged.take(_masked(take, take < 0))
        cols["event_class"] = dict_array(codes.astype("i4"), [g.name for g in groups])
        table = pa.table(cols)
        if not _increasing(seq):  # emits from several threads interleaved
            table = table.take(np.argsort(np.concatenate(seq), kind="stable"))
        return table


def base_schema() -> list[tuple[str, pa.DataType]]:
    """The columns every recording has (before the field columns), and ``event_class``."""
    return [("seq", pa.int64()), ("type", _DICT), ("event_time", TIMESTAMP),
            ("emit_time", TIMESTAMP), ("source", _DICT), ("cause", pa.int64()),
            ("symbol", _DICT), ("event_class", _DICT)]


def _masked(values: np.ndarray, missing: np.ndarray, type: pa.DataType | None = None) -> pa.Array:
    return pa.array(values, type=type, mask=missing if missing.any() else None)


def _chunked(pieces: list[np.ndarray], type: pa.DataType, nulls: bool = False) -> pa.ChunkedArray:
    """int64 pieces as Arrow chunks without copying (-1 as null if ``nulls``)."""
    arrays = [(_masked(p, p < 0) if nulls else pa.array(p)).view(type) for p in pieces]
    return pa.chunked_array(arrays, type=type)


def _increasing(pieces: list[np.ndarray]) -> bool:
    last = None
    for p in pieces:
        if len(p) and ((last is not None and p[0] <= last) or not bool(np.all(p[1:] > p[:-1]))):
            return False
        last = p[-1] if len(p) else last
    return True

# --- summaries of a recording table (the recorder's, or one read from files) --------------

def value_counts(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """``{value: rows}`` of a (dictionary) string column, most frequent first, nulls left out."""
    counts = pc.value_counts(column)
    pairs = zip(counts.field(0).to_pylist(), counts.field(1).to_pylist(), strict=True)
    return dict(sorted(((v, n) for v, n in pairs if v is not None), key=lambda p: -p[1]))


def describe(table: pa.Table) -> dict[str, Any]:
    """Rows, time span, symbols, sources and counts per type of a recording table."""
    span = pc.min_max(table["event_time"].cast(pa.int64()))
    lo, hi = span["min"].as_py(), span["max"].as_py()
    return {
        "rows": table.num_rows,
        "start": None if lo is None else _ns_iso(lo),
        "end": None if hi is None else _ns_iso(hi),
        "start_ns": lo,
        "end_ns": hi,
        "symbols": sorted(value_counts(table["symbol"])),
        "sources": sorted(value_counts(table["source"])),
        "counts": value_counts(table["type"]),
    }


def _ns_iso(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest:09d}+00:00"
