"""``compare(a, b)``: where two recordings' events differ (e.g. a live session and its replay).

The events of each type are taken in their order of occurrence (seq order; rows in order
for frames) and compared on what they are about: symbol, event time and the type's value
fields (signals: signal_type, price, strategy_id, strength). Stamps (seq, emit time, cause,
session) legitimately differ between runs and are never compared. The two sequences are
aligned as ``difflib`` aligns lines, so one extra signal shows as one extra row rather than
shifting everything after it. The result has one row per difference:

* ``changed``: the ``k``-th aligned events differ in ``column`` (values ``a``, ``b``);
* ``only_a`` / ``only_b``: an event one side has and the other lacks (its values in the
  ``a`` or ``b`` column as ``field=value`` text).

It is empty when the recordings match. ``position_a``/``position_b`` are the events'
positions among the events of their type (0-based) on each side. When one side has no
events of a compared type that the other has (a replay that emitted no signal), a warning
names the side and the types: every row is then a difference for that reason alone.
"""

from __future__ import annotations

import difflib
import os
import sys
import types as _types
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["compare"]

FIELDS: dict[str, tuple[str, ...]] = {
    "bar": ("open", "high", "low", "close", "volume"),
    "bar_update": ("open", "high", "low", "close", "volume"),
    "tick": ("price", "size", "side", "trade_id"),
    "signal": ("signal_type", "price", "strategy_id", "strength"),
    "order": ("side", "quantity", "order_type", "limit_price", "order_id", "strategy_id"),
    "fill": ("side", "quantity", "price", "commission", "order_id"),
    "portfolio": ("cash", "equity", "realized_pnl", "unrealized_pnl", "positions"),
    "websocket": ("payload",),
    "error": ("message", "error_type", "handler", "original_type"),
    "system": ("kind", "message"),
}
IGNORED = frozenset({"seq", "type", "emit_time", "cause", "session", "original_seq",
                     "event_class", "source", "received_ns", "received_ns_is_text"})
KEYS = ("event_time", "symbol")
OUT = ("type", "status", "position_a", "position_b", "event_time", "symbol", "column", "a", "b")


def compare(a: Any, b: Any, types: str | Iterable[str] | None = ("signal",),
            columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The differences between the events of ``types`` in ``a`` and ``b`` (EventRecorders,
    Recordings, lazy recordings (``open_recording``: only the rows of ``types`` are read),
    recording paths, or frames: ``rec.to_frame()`` or views like ``rec.signals()``); an
    empty DataFrame when they match. ``types=None``: every type.
    ``columns``: compare these columns (plus event time and symbol) instead of the defaults.
    """
    if isinstance(types, str):
        types = (types,)
    (fa, held_a), (fb, held_b) = _frame(a, types), _frame(b, types)
    typed = "type" in fa.columns and "type" in fb.columns
    if types is None:
        wanted = sorted(set(_types_in(fa)) | set(_types_in(fb))) if typed else ["*"]
    else:
        wanted = [str(t) for t in types]
    rows: list[dict[str, Any]] = []
    empty: dict[str, list[str]] = {"a": [], "b": []}  # types one side lacks, the other has
    for kind in wanted:
        part_a, part_b = (_of_type(fa, kind), _of_type(fb, kind)) if typed else (fa, fb)
        if len(part_a) != len(part_b) and 0 in (len(part_a), len(part_b)):
            empty["a" if len(part_a) == 0 else "b"].append(
                f"{kind} ({len(part_a) or len(part_b):,} on the other side)")
        cols = _columns(kind, part_a, part_b, columns)
        rows.extend(_diff(kind, _keys(part_a, cols), _keys(part_b, cols), cols))
        if not typed:
            break
    for side, kinds in empty.items():
        if kinds:
            held = ", ".join(held_a if side == "a" else held_b) if typed else "nothing"
            warnings.warn(f"compare: {side} has no events of type {'; '.join(kinds)}; every "
                          f"one is reported as only_{'b' if side == 'a' else 'a'} ({side} holds: "
                          f"{held or 'no events'})", UserWarning, stacklevel=2)
    out = pd.DataFrame(rows, columns=list(OUT))
    for name in ("position_a", "position_b"):
        out[name] = out[name].astype("Int64")
    return out


def _frame(x: Any, types: Iterable[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """``x``'s frame and the types it holds. A lazy recording (or a path to a big one) loads
    only the rows of ``types`` (all for None): a signal comparison of a 50M-event session
    holds its signals, not its bars."""
    from evlab.recording import LazyRecording
    from evlab.replay.sources import STREAM_ROWS

    if isinstance(x, (str, os.PathLike)):
        from evlab.recording import open_recording

        lazy = open_recording(x)
        x = lazy if len(lazy) > STREAM_ROWS else lazy.load()
    if isinstance(x, LazyRecording):
        frame = x.load(None if types is None else [str(t) for t in types]).frame
        held = [t for t, n in x.metadata.get("counts", {}).items() if n]
    elif isinstance(x, pd.DataFrame):
        frame = x
    elif hasattr(x, "to_frame") and callable(x.to_frame):  # EventRecorder, Recording
        frame = x.to_frame()
    elif hasattr(x, "frame"):  # anything else that holds a recording's frame
        frame = x.frame
    else:
        raise TypeError(f"compare: expected a recording or a DataFrame, got {type(x).__name__}")
    if "event_time" not in frame.columns:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise ValueError("compare: a frame needs an event_time column or index")
        frame = frame.reset_index(names="event_time")
    if not isinstance(x, LazyRecording):
        held = _types_in(frame) if "type" in frame.columns else []
    return frame, held


def _types_in(frame: pd.DataFrame) -> list[str]:
    return [str(t) for t in pd.unique(frame["type"].astype(str))]


def _of_type(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    return frame.loc[(frame["type"].astype(str) == kind).to_numpy()]


def _columns(kind: str, a: pd.DataFrame, b: pd.DataFrame,
             columns: Sequence[str] | None) -> list[str]:
    present = set(a.columns) | set(b.columns)
    if columns is not None:
        unknown = [c for c in columns if c not in present]
        if unknown:
            raise ValueError(f"compare: no column(s) {', '.join(unknown)} in the {kind} events")
        chosen = list(columns)
    elif kind in FIELDS:
        chosen = [c for c in FIELDS[kind] if c in present]
    else:  # a user type: every column some of its events use, but the stamps
        chosen = [c for c in (*a.columns, *[c for c in b.columns if c not in a.columns])
                  if c not in IGNORED and c not in KEYS and _used(a, c) | _used(b, c)]
    return [*(k for k in KEYS if k in present and k not in chosen), *chosen]


def _used(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _plain(value: Any) -> Any:
    """A hashable, comparable value: missing values (None, NaN, NA, NaT) become None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, dict)):
        return repr(value)
    return value


def _keys(frame: pd.DataFrame, cols: list[str]) -> list[tuple[Any, ...]]:
    values = [frame[c].astype(object).tolist() if c in frame.columns else [None] * len(frame)
              for c in cols]
    return [tuple(_plain(v) for v in row) for row in zip(*values, strict=True)]


def _text(row: tuple[Any, ...], cols: list[str]) -> str:
    return ", ".join(f"{c}={v!r}" if isinstance(v, str) else f"{c}={v}"
                     for c, v in zip(cols, row, strict=True) if c not in KEYS)


def _diff(kind: str, ka: list[tuple[Any, ...]], kb: list[tuple[Any, ...]],
          cols: list[str]) -> list[dict[str, Any]]:
    if ka == kb:
        return []
    at = {c: i for i, c in enumerate(cols)}

    def row(status: str, i: int | None, j: int | None, src: tuple[Any, ...],
            column: str | None, va: Any, vb: Any) -> dict[str, Any]:
        return {"type": kind, "status": status, "position_a": i, "position_b": j,
                "event_time": src[at["event_time"]] if "event_time" in at else None,
                "symbol": src[at["symbol"]] if "symbol" in at else None,
                "column": column, "a": va, "b": vb}

    out: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            i, j = i1 + k, j1 + k
            for c, va, vb in zip(cols, ka[i], kb[j], strict=True):
                if va != vb:
                    out.append(row("changed", i, j, ka[i], c, va, vb))
        for i in range(i1 + paired, i2):
            out.append(row("only_a", i, None, ka[i], None, _text(ka[i], cols), None))
        for j in range(j1 + paired, j2):
            out.append(row("only_b", None, j, kb[j], None, None, _text(kb[j], cols)))
    return out


class _CallableModule(_types.ModuleType):
    """``evlab.compare`` is this module once imported: calling it calls ``compare``."""

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
