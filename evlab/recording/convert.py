"""Recording table -> pandas DataFrame, and -> evlab event objects again.

Both directions start from ``canonical(table)``: one chunk per column, and each dictionary
column's categories are the values present, sorted. A table read back from Parquet, or
gathered from many files, is therefore converted exactly as the recorder's own table.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from evlab import events as _events
from evlab.events import Event, trusted
from evlab.recording.columns import dict_array
from evlab.recording.errors import RecordingError
from evlab.recording.table import class_name

__all__ = ["canonical", "iter_events", "resolver", "to_frame"]

_STAMPED = ("time_ns", "source")  # rebuilt from the shared columns, not from ``fields``
_BUILTIN = {class_name(c): c for c in vars(_events).values()
            if isinstance(c, type) and issubclass(c, Event)}


def _sorted_dictionary(arr: pa.DictionaryArray) -> pa.DictionaryArray:
    idx = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype("i4", copy=False)
    values = arr.dictionary.to_pylist()
    used = np.flatnonzero(np.bincount(idx[idx >= 0], minlength=len(values)))
    present = sorted({values[i] for i in used})
    if present == values:
        return arr
    code = {v: i for i, v in enumerate(present)}
    remap = np.full(len(values) + 1, -1, dtype="i4")  # remap[-1]: missing stays missing
    for i in used:
        remap[i] = code[values[i]]
    return dict_array(remap[idx], present)


def canonical(table: pa.Table) -> pa.Table:
    """The same rows; dictionary columns in one chunk with sorted, present-only values."""
    table = table.unify_dictionaries()
    arrays = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
            column = pa.chunked_array([_sorted_dictionary(arr)])
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=table.column_names, metadata=table.schema.metadata)


def _nullable(column: pa.ChunkedArray) -> Any:
    """A pandas nullable (Int64 / boolean) array of an Arrow int64 / bool column."""
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    mask = arr.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_boolean(arr.type):
        values = arr.fill_null(False).to_numpy(zero_copy_only=False)
        return pd.arrays.BooleanArray(values, mask)
    return pd.arrays.IntegerArray(arr.fill_null(0).to_numpy(), mask)


def _raw_columns(table: pa.Table) -> list[str]:
    names = set(table.column_names)
    return [n for n in table.column_names if f"{n}_is_text" in names
            and pa.types.is_large_binary(table.schema.field(n).type)]


def _raw_values(data: Any, flags: Any) -> list[str | bytes | None]:
    return [v.decode("utf-8", "surrogatepass") if f else v
            for v, f in zip(data.to_pylist(), flags.to_pylist(), strict=True)]


def to_frame(table: pa.Table) -> pd.DataFrame:
    """One row per event: categoricals, UTC timestamps, nullable ints, exact raw payloads."""
    table = canonical(table)
    raw = _raw_columns(table)
    special = {f.name for f in table.schema if f.name != "seq"
               and (pa.types.is_int64(f.type) or pa.types.is_boolean(f.type))}
    special -= {f"{n}_is_text" for n in raw}
    flags = {f"{n}_is_text" for n in raw}
    frame: pd.DataFrame = table.drop_columns([*special, *raw, *flags]).to_pandas()
    for i, name in enumerate(n for n in table.column_names if n not in flags):
        if name in special:
            frame.insert(i, name, _nullable(table[name]))
        elif name in raw:
            values = np.empty(table.num_rows, dtype=object)
            values[:] = _raw_values(table[name], table[f"{name}_is_text"])
            frame.insert(i, name, pd.Series(values, index=frame.index, dtype=object))
    return frame


def resolver(classes: Mapping[str, type] | Iterable[type] = ()) -> Callable[[str], type]:
    """Name (``module:qualname``) -> event class: evlab's, ``classes``, or already imported.

    Nothing is imported on a file's say-so: a class must be evlab's, given, or importable
    from a module that is already loaded (a notebook's classes live in ``__main__``).
    """
    known = dict(_BUILTIN)
    if isinstance(classes, Mapping):
        known.update(classes)
    else:
        known.update((class_name(c), c) for c in classes)

    def resolve(name: str) -> type:
        if name in known:
            return known[name]
        module, _, qualname = name.partition(":")
        obj: Any = sys.modules.get(module)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and issubclass(obj, Event):
            return obj
        raise RecordingError(f"cannot rebuild events of class {name}: it is not loaded; "
                             "pass it with to_events(classes=[...])")

    return resolve


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """Python values of a column, through numpy where that is much faster than Arrow's."""
    if pa.types.is_dictionary(column.type):
        arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        lookup = np.array([*arr.dictionary.to_pylist(), None], dtype=object)
        values: list[Any] = lookup[arr.indices.fill_null(-1).to_numpy()].tolist()
    elif column.null_count == 0 and (pa.types.is_floating(column.type)
                                     or pa.types.is_integer(column.type)):
        values = column.to_numpy().tolist()
    else:
        values = column.to_pylist()
    return values


def _values(part: pa.Table, column: str, kind: str) -> list[Any]:
    if column not in part.column_names:
        return [None] * part.num_rows
    if kind == "raw":
        return _raw_values(part[column], part[f"{column}_is_text"])
    values = _pylist(part[column])
    if kind == "json":
        return [None if v is None else orjson.loads(v) for v in values]
    return values


def _as_tuple(value: Any) -> Any:
    """JSON arrays back to the tuples a field is declared with (``PortfolioEvent.positions``)."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list) else value


def _builder(cls: type, keys: list[str], validate: bool) -> Callable[[Iterable[tuple]], list]:
    """rows -> events of ``cls``: through the constructor (validated), or, for evlab's own
    classes and ``validate=False``, by ``evlab.events.trusted`` (several times faster)."""
    if validate or _BUILTIN.get(class_name(cls)) is not cls:
        def build(rows: Iterable[tuple]) -> list:
            return [cls(**dict(zip(keys, row, strict=True))) for row in rows]
        return build
    make = trusted(cls, keys)
    return lambda rows: list(make(rows))


def iter_events(table: pa.Table, classes: Mapping[str, Any], kinds: Mapping[str, str],
                resolve: Callable[[str], type], *, validate: bool = True,
                batch: int = 8_192) -> Iterator[Event]:
    """The events of a canonical table in row order, rebuilt unstamped, a batch at a time."""
    if table.num_rows == 0:
        return
    event_class = table["event_class"].chunk(0)
    names = event_class.dictionary.to_pylist()
    codes = event_class.indices.to_numpy()
    specs = []
    for name in names:
        cls = resolve(name)
        init = {f.name: f for f in dataclasses.fields(cls) if f.init}
        fields = {f: c for f, c in classes.get(name, {}).get("fields", {}).items() if f in init}
        unrecorded = [f for f, d in init.items() if f not in fields and f not in _STAMPED
                      and d.default is dataclasses.MISSING
                      and d.default_factory is dataclasses.MISSING]
        if unrecorded:
            raise RecordingError(f"cannot rebuild events of class {name}: its required "
                                 f"field(s) {', '.join(unrecorded)} are not in the "
                                 "recording's 'classes' metadata")
        tuples = {f for f, c in fields.items()
                  if kinds.get(c) == "json" and "tuple" in str(init[f].type)}
        specs.append((_builder(cls, ["time_ns", "source", *fields], validate), fields, tuples))
    for start in range(0, table.num_rows, batch):
        rows = table.slice(start, batch)
        here = codes[start:start + batch]
        made: dict[int, list[Event]] = {}
        for code in np.unique(here).tolist():
            build, fields, tuples = specs[code]
            part = rows if len(names) == 1 else rows.take(np.flatnonzero(here == code))
            columns = [_pylist(part["event_time"].cast(pa.int64())), _pylist(part["source"])]
            for field, column in fields.items():
                values = _values(part, column, kinds.get(column, ""))
                columns.append([_as_tuple(v) for v in values] if field in tuples else values)
            made[code] = build(zip(*columns, strict=True))
        if len(made) == 1:
            yield from next(iter(made.values()))
        else:
            iters = {code: iter(events) for code, events in made.items()}
            for code in here.tolist():
                yield next(iters[code])
