"""Bars as columns: read from a DataFrame, validated once (vectorised), built in chunks.

A replay of bars never goes through ``BarEvent.__init__`` (about 1 us a bar with its
checks): the columns are checked once for everything the constructor checks, then the
events are made by ``evlab.events.trusted`` from Python lists made a chunk at a time.
``pump`` makes each bar right before emitting it, so a bar is freed as
soon as its handlers are done with it: the garbage collector never sees a pile of young
bars (building a chunk first and then emitting it is about 1.5x slower, mostly in gen-0
collections).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from evlab.events import BarEvent, Event, trusted

__all__ = ["BarColumns", "build", "check", "from_frame"]

PRICES = ("open", "high", "low", "close")
VALUES = (*PRICES, "volume")
_TIME_COLUMNS = ("time", "timestamp", "event_time", "date", "datetime")
_SYMBOL_COLUMNS = ("symbol", "ticker")


@dataclass
class BarColumns:
    """Bars in replay order: times (int64 ns), symbol codes into ``names``, OHLCV floats,
    and a source (one string, or codes into ``source_names``)."""

    times: np.ndarray
    codes: np.ndarray
    names: np.ndarray  # object array of symbol strings
    values: dict[str, np.ndarray]
    source: str = ""
    source_codes: np.ndarray | None = None
    source_names: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.times)

    def take(self, order: np.ndarray) -> BarColumns:
        """The same bars in the order ``order`` (positions)."""
        return BarColumns(self.times[order], self.codes[order], self.names,
                          {k: v[order] for k, v in self.values.items()}, self.source,
                          None if self.source_codes is None else self.source_codes[order],
                          self.source_names)

    def _columns(self, lo: int, hi: int) -> list[Any]:
        v = self.values
        if self.source_codes is None:
            sources: Any = repeat(self.source)
        else:
            sources = self.source_names[self.source_codes[lo:hi]].tolist()  # type: ignore[index]
        return [self.times[lo:hi].tolist(), self.names[self.codes[lo:hi]].tolist(),
                *(v[k][lo:hi].tolist() for k in VALUES), sources]

    def chunk(self, lo: int, hi: int) -> list[BarEvent]:
        """Fresh, unstamped BarEvents for positions ``[lo, hi)``."""
        return build(*self._columns(lo, hi))

    def pump(self, lo: int, hi: int, emit: Callable[[Event], Any], interrupt: list[Any],
             done: list[int]) -> None:
        """Build and ``emit`` the bars ``[lo, hi)`` one at a time until ``interrupt`` is
        non-empty; ``done[0]``: how many were emitted (set even if a handler raises)."""
        k = 0
        try:
            for e in _BUILD(zip(*self._columns(lo, hi), strict=False)):
                if interrupt:
                    break
                emit(e)
                k += 1
        finally:
            done[0] = k


# Columns in the order ``_columns`` gives them; checked by ``check`` before any is built.
_BUILD = trusted(BarEvent, ("time_ns", "symbol", *VALUES, "source"))


def build(times: list[int], symbols: list[str], opens: list[float], highs: list[float],
          lows: list[float], closes: list[float], volumes: list[float],
          sources: object) -> list[BarEvent]:
    """Unstamped BarEvents from checked values (``evlab.events.trusted``: no checks)."""
    return list(_BUILD(zip(times, symbols, opens, highs, lows, closes, volumes,
                           sources, strict=False)))  # type: ignore[call-overload]  # repeat()


def check(bars: BarColumns, where: Callable[[int], str]) -> None:
    """Raise ValueError for the first bar ``BarEvent`` would refuse, naming its row
    (``where(position)``), the field and the value."""
    v = bars.values
    tests: list[tuple[str, np.ndarray, str]] = [
        ("symbol", ~_good_names(bars.names)[bars.codes] | (bars.codes < 0),
         "must be a non-empty string"),
    ]
    for name in PRICES:
        tests.append((name, ~(np.isfinite(v[name]) & (v[name] > 0)), "must be finite and > 0"))
    tests.append(("volume", ~(np.isfinite(v["volume"]) & (v["volume"] >= 0)),
                  "must be finite and >= 0"))
    with np.errstate(invalid="ignore"):
        tests.append(("high", v["high"] < v["low"], "must be >= low"))
        for name in ("open", "close"):
            tests.append((name, (v[name] < v["low"]) | (v[name] > v["high"]),
                          "must lie in [low, high]"))
    first, failed = len(bars), None
    for name, bad, why in tests:
        hits = np.flatnonzero(bad[:first])
        if len(hits):
            first, failed = int(hits[0]), (name, why)
    if failed is None:
        return
    name, why = failed
    if name == "symbol":
        value = None if bars.codes[first] < 0 else bars.names[bars.codes[first]]
    else:
        value = float(v[name][first])
    context = "" if name in ("symbol", "volume") else (
        f" (low={float(v['low'][first])!r}, high={float(v['high'][first])!r})")
    raise ValueError(f"{where(first)}: {name} {why}, got {value!r}{context}")


def _good_names(names: np.ndarray) -> np.ndarray:
    return np.array([isinstance(s, str) and bool(s.strip()) for s in names], dtype=bool)


def from_frame(frame: pd.DataFrame, *, symbol: str | None, source: str,
               label: str = "bars DataFrame") -> tuple[BarColumns, np.ndarray]:
    """Columns of a bars DataFrame (rows in frame order) and its tie-break key (a ``seq``
    column if it has one, else the row number); ValueError naming what is wrong."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a DataFrame of bars, got {type(frame).__name__}")
    lower = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in VALUES if c not in lower]
    time_col = next((lower[c] for c in _TIME_COLUMNS if c in lower), None)
    if time_col is None and not isinstance(frame.index, pd.DatetimeIndex):
        missing.insert(0, "a DatetimeIndex or a time column")
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise ValueError(f"{label}: missing {', '.join(missing)} (has columns: {found})")
    raw_times = frame.index if time_col is None else frame[time_col]
    try:
        times = pd.DatetimeIndex(pd.to_datetime(raw_times, utc=True)).as_unit("ns")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{label}: cannot read its times: {exc}") from exc
    if times.hasnans:
        row = int(np.flatnonzero(times.isna())[0])
        raise ValueError(f"{label}: row {row}: time is missing")
    values = {}
    for name in VALUES:
        try:
            values[name] = pd.to_numeric(frame[lower[name]]).to_numpy(dtype="float64",
                                                                      na_value=np.nan)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{label}: column {name!r} is not numeric: {exc}") from exc
    codes, names = _symbols(frame, lower, symbol, label)
    seq = lower.get("seq")
    key = np.arange(len(frame), dtype=np.int64)
    if seq is not None and pd.api.types.is_integer_dtype(frame[seq]) and frame[seq].notna().all():
        key = frame[seq].to_numpy(dtype=np.int64)
    bars = BarColumns(times.asi8.copy(), codes, names, values, source)
    return bars, key


def _symbols(frame: pd.DataFrame, lower: dict[str, object], symbol: str | None,
             label: str) -> tuple[np.ndarray, np.ndarray]:
    """Symbol codes (-1: missing) and names; ``symbol`` names a frame without a column."""
    column = next((lower[c] for c in _SYMBOL_COLUMNS if c in lower), None)
    if column is None:
        if symbol is None:
            raise ValueError(f"{label}: no symbol column; pass symbol='...' to name its symbol")
        return np.zeros(len(frame), dtype=np.int32), np.array([symbol], dtype=object)
    cat = pd.Categorical(frame[column])
    names = np.array([str(c) if not isinstance(c, str) else c for c in cat.categories],
                     dtype=object)
    return np.asarray(cat.codes, dtype=np.int32), names
