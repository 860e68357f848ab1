"""Where each event class's values go: the shared columns, per-class column groups, appenders.

Every row has the shared columns (seq, event time, emit time, cause, class code, symbol code,
source code). A class's own fields go to its *group* of columns, chosen once per class from
the dataclass fields: ``float`` -> f8, ``int`` -> i8, ``bool``, ``str`` -> dictionary strings
(ids and messages -> text), ``str | bytes`` -> raw, anything else -> JSON text. A field named
``symbol`` goes to the shared symbol column. A field whose name is taken by a column of
another kind gets the column ``<ClassName>_<field>``.

An *appender* is a function ``put(event)`` made once per class, closing over the bound
``append`` methods of its columns, so recording one event is a handful of C calls.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from evlab.events import BarEvent, BarUpdateEvent, Event
from evlab.recording.columns import Column, NumpyColumn, Strings
from evlab.recording.kinds import make_column

__all__ = ["SHARED", "Group", "Shared", "class_name", "field_kind", "make_appender", "make_group"]

SHARED = ("seq", "type", "event_time", "emit_time", "source", "cause", "symbol")
RESERVED = frozenset({*SHARED, "event_class", "session", "time_ns"})
TEXT_FIELDS = frozenset({"trade_id", "order_id", "message"})  # mostly unique: no dictionary


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

    cls: type
    code: int
    type: str
    fields: dict[str, str]  # field -> column name ("symbol" -> the shared column)
    columns: list[Column]  # the group's own columns, in field order (not symbol)

    @property
    def name(self) -> str:
        return class_name(self.cls)


def make_group(cls: type, code: int, kinds: dict[str, str],
               strings: dict[str, Strings]) -> Group:
    """The column group of ``cls``; registers new columns' kinds in ``kinds``."""
    fields: dict[str, str] = {}
    columns: list[Column] = []
    for f in dataclasses.fields(cls):
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
    """``put(event)``: append one row for an event of ``group.cls``."""
    if group.cls in (BarEvent, BarUpdateEvent):
        return _bar_appender(shared, group)
    seq, tim, emi, cau, kls, sym, src = (c.fast for c in shared.columns())
    src_get, src_add = shared.sources.index.get, shared.sources.add
    sym_get, sym_add = shared.symbols.index.get, shared.symbols.add
    code = group.code
    has_symbol = "symbol" in group.fields
    names = [f for f in group.fields if f != "symbol"]
    getter = attrgetter(*names) if names else None
    one = len(names) == 1
    puts = [c.put for c in group.columns]

    def put(e: Any) -> None:
        seq(e._seq)
        tim(e.time_ns)
        emi(e._emit_ns)
        c = e._cause
        cau(-1 if c is None else c)
        kls(code)
        s = e.source
        k = src_get(s)
        src(src_add(s) if k is None else k)
        if has_symbol and (s := e.symbol) is not None:
            k = sym_get(s)
            sym(sym_add(s) if k is None else k)
        else:
            sym(-1)
        if getter is not None:
            values = (getter(e),) if one else getter(e)
            for p, v in zip(puts, values, strict=True):
                p(v)

    return put


def _bar_appender(shared: Shared, group: Group) -> Callable[[Event], None]:
    """The hot path: bars, with every append a local bound method."""
    seq, tim, emi, cau, kls, sym, src = (c.fast for c in shared.columns())
    src_get, src_add = shared.sources.index.get, shared.sources.add
    sym_get, sym_add = shared.symbols.index.get, shared.symbols.add
    o, h, lo, c, v = (col.fast for col in group.columns)  # type: ignore[attr-defined]
    code = group.code

    def put(e: Any) -> None:
        seq(e._seq)
        tim(e.time_ns)
        emi(e._emit_ns)
        x = e._cause
        cau(-1 if x is None else x)
        kls(code)
        s = e.source
        k = src_get(s)
        src(src_add(s) if k is None else k)
        s = e.symbol
        k = sym_get(s)
        sym(sym_add(s) if k is None else k)
        o(e.open)
        h(e.high)
        lo(e.low)
        c(e.close)
        v(e.volume)

    return put
