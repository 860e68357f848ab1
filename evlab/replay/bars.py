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

from evlab import datasets
from evlab.events import BarEvent, Event, trusted

__all__ = ["BarColumns", "build", "check", "from_frame"]

VALUES = datasets.VALUE_COLUMNS


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
    (``where(position)``), the field and the value (the rules of ``datasets.as_bars``)."""
    good = np.array([isinstance(s, str) and bool(s.strip()) for s in bars.names] + [False])
    bad = datasets.bad_bar(bars.values, good[bars.codes])
    if bad is not None:
        position, field, why = bad
        code = int(bars.codes[position])
        name = None if code < 0 else bars.names[code]
        raise ValueError(f"{where(position)}: "
                         f"{datasets.bad_bar_message(bars.values, name, position, field, why)}")


def from_frame(frame: pd.DataFrame, *, symbol: str | None, source: str,
               label: str = "bars DataFrame",
               validate: bool = True) -> tuple[BarColumns, np.ndarray]:
    """Columns of a bars DataFrame read by ``datasets.as_bars`` (rows in frame order, those of
    ``symbol`` only if it has a symbol column) and its tie-break key (a ``seq`` column if it
    has one, else the row order); ValueError naming ``label`` and what is wrong."""
    try:
        bars = datasets.as_bars(frame, symbol, validate=validate)
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}") from exc
    symbols = bars["symbol"].array
    names = np.array(list(symbols.categories), dtype=object)
    values = {name: bars[name].to_numpy() for name in VALUES}
    seq = next((c for c in bars.columns if str(c).strip().lower() == "seq"), None)
    key = np.arange(len(bars), dtype=np.int64)
    if seq is not None and pd.api.types.is_integer_dtype(bars[seq]) and bars[seq].notna().all():
        key = bars[seq].to_numpy(dtype=np.int64)
    times = pd.DatetimeIndex(bars.index).asi8.copy()  # as_bars's index: already one
    columns = BarColumns(times, np.asarray(symbols.codes, dtype=np.int32),
                         names, values, source)
    return columns, key
