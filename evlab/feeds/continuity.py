"""Per-symbol bar continuity: duplicates, out-of-order bars and gaps in a live bar stream.

The tracker keeps the last final bar time of each symbol. A bar at the same time is a
*duplicate* (a reconnected feed re-sends its last bar), an earlier one is *stale*; both are
to be dropped. A later bar more than one interval after the last one reveals a *gap*: the
bars in ``[last + interval, time)`` are missing. The interval is given, or inferred per
symbol as the smallest step seen between consecutive bars (so a gap between a symbol's first
two bars cannot be seen).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Literal

__all__ = ["BarContinuity", "Gap", "interval_ns"]

_NS = 1_000_000_000

Verdict = Literal["new", "duplicate", "stale"]


def interval_ns(interval: float | _dt.timedelta | None) -> int | None:
    """A bar interval (seconds or timedelta) in ns; None stays None (infer it)."""
    if interval is None:
        return None
    if isinstance(interval, _dt.timedelta):
        out = interval // _dt.timedelta(microseconds=1) * 1000
    elif isinstance(interval, (int, float)) and not isinstance(interval, bool):
        out = round(interval * _NS)
    else:
        raise TypeError(f"bar_interval must be seconds or a timedelta, got {interval!r}")
    if out <= 0:
        raise ValueError(f"bar_interval must be positive, got {interval!r}")
    return out


@dataclass(frozen=True, slots=True)
class Gap:
    """Bars of ``symbol`` missing in ``[start_ns, end_ns)``: ``missing`` bars of ``interval_ns``."""

    symbol: str
    start_ns: int
    end_ns: int
    interval_ns: int
    missing: int

    def to_dict(self) -> dict[str, object]:
        """The gap as the ``data`` of a SYSTEM ``"gap"`` event (times as UTC datetimes too)."""
        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
        return {"symbol": self.symbol, "start_ns": self.start_ns, "end_ns": self.end_ns,
                "start": epoch + _dt.timedelta(microseconds=self.start_ns // 1000),
                "end": epoch + _dt.timedelta(microseconds=self.end_ns // 1000),
                "interval_s": self.interval_ns / _NS, "missing_bars": self.missing}


class BarContinuity:
    """Tracks the last bar time per symbol: classifies each new bar and finds gaps."""

    def __init__(self, interval: float | _dt.timedelta | None = None) -> None:
        """``interval``: the bar length (seconds or timedelta); None infers it per symbol."""
        self.interval_ns = interval_ns(interval)
        self._last: dict[str, int] = {}
        self._step: dict[str, int] = {}

    def check(self, symbol: str, time_ns: int) -> tuple[Verdict, Gap | None]:
        """Classify a final bar of ``symbol`` opening at ``time_ns`` and record it if new."""
        last = self._last.get(symbol)
        if last is not None and time_ns <= last:
            return ("duplicate" if time_ns == last else "stale"), None
        self._last[symbol] = time_ns
        if last is None:
            return "new", None
        step = time_ns - last
        interval = self.interval_ns
        if interval is None:
            known = self._step.get(symbol)
            if known is None or step < known:
                self._step[symbol] = step
                return "new", None
            interval = known
        if step <= interval:
            return "new", None
        missing = -(-step // interval) - 1  # whole intervals strictly between the two bars
        return "new", Gap(symbol, last + interval, time_ns, interval, missing)

    def last_time_ns(self, symbol: str) -> int | None:
        """The open time of the last final bar seen for ``symbol``."""
        return self._last.get(symbol)

    def reset(self) -> None:
        """Forget every symbol."""
        self._last.clear()
        self._step.clear()
