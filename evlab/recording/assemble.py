"""Buffers -> one Arrow table (a row slice of a recorder), and a table's summary.

The table's columns, in order: ``seq`` (int64), ``type`` (dictionary), ``event_time`` and
``emit_time`` (timestamp[ns, UTC]), ``source`` (dictionary), ``cause`` (int64, null for
none), ``symbol`` (dictionary), then every field column of the recorded classes (in the
order they were first seen; see ``columns.arrow_types``), then ``event_class``
(dictionary of ``module:qualname``). Rows are in ``seq`` order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evlab.recording.columns import dict_array
from evlab.recording.kinds import arrow_types
from evlab.recording.layout import Group, Shared

__all__ = ["TIMESTAMP", "base_schema", "build_table", "describe", "value_counts"]

TIMESTAMP = pa.timestamp("ns", tz="UTC")
_DICT = pa.dictionary(pa.int32(), pa.string())


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


def build_table(shared: Shared, groups: Sequence[Group], kinds: dict[str, str],
                lo: int, hi: int) -> pa.Table:
    """Committed rows ``[lo, hi)`` as a table (holding the recorder's lock)."""
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
