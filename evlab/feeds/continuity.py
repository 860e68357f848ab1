"""Per-symbol bar continuity: duplicates, out-of-order bars and gaps in a live bar stream.

The tracker keeps the last final bar time of each symbol. A bar at the same time is a
*duplicate* (a reconnected feed re-sends its last bar), an earlier one is *stale*; both are
to be dropped. A later bar more than one interval after the last one reveals a *gap*: the
bars in ``[last + interval, time)`` are missing. The interval is given, or inferred per
symbol as the greatest common divisor of the steps seen between consecutive bars. While it
is inferred, a step that shrinks it shows that earlier steps held holes too: those are
reported then, late but exact (their first :data:`HISTORY` steps are remembered for this),
with ``revised`` saying how many of their bars an earlier gap had already counted.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["BarContinuity", "Gap", "interval_ns"]

_NS = 1_000_000_000
HISTORY = 64  # steps per symbol remembered while the interval is inferred

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
    revised: int = 0  # bars of this range an earlier, coarser gap report already counted

    def to_dict(self) -> dict[str, object]:
        """The gap as the ``data`` of a SYSTEM ``"gap"`` event (times as UTC datetimes too)."""
        epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
        return {"symbol": self.symbol, "start_ns": self.start_ns, "end_ns": self.end_ns,
                "start": epoch + _dt.timedelta(microseconds=self.start_ns // 1000),
                "end": epoch + _dt.timedelta(microseconds=self.end_ns // 1000),
                "interval_s": self.interval_ns / _NS, "missing_bars": self.missing,
                "revised_bars": self.revised}


class BarContinuity:
    """Tracks the last bar time per symbol: classifies each new bar and finds gaps."""

    def __init__(self, interval: float | _dt.timedelta | None = None) -> None:
        """``interval``: the bar length (seconds or timedelta); None infers it per symbol."""
        self.interval_ns = interval_ns(interval)
        self._last: dict[str, int] = {}
        self._step: dict[str, int] = {}  # inferred interval per symbol
        # while inferring: the first steps (start, end, bars already reported missing)
        self._seen: dict[str, list[tuple[int, int, int]]] = {}
        # per symbol, the interval once nothing more is to be learnt from a regular step (given,
        # or inferred with its HISTORY full): what advance() compares with
        self._settled: dict[str, int] = {}

    def advance(self, symbol: str, time_ns: int) -> bool:
        """Record ``time_ns`` and return True if it is the usual next bar of ``symbol``: one
        settled interval after the last. False (nothing recorded): ask :meth:`check`. The
        live feed's hot path; ``check`` would say "new" with no gap for it, and learn nothing.
        """
        step = self._settled.get(symbol)
        if step is not None and time_ns - self._last[symbol] == step:
            self._last[symbol] = time_ns
            return True
        return False

    def check(self, symbol: str, time_ns: int) -> tuple[Verdict, list[Gap]]:
        """Classify a final bar of ``symbol`` opening at ``time_ns``, record it if new, and
        return the gaps it reveals (oldest first)."""
        last = self._last.get(symbol)
        if last is not None and time_ns <= last:
            return ("duplicate" if time_ns == last else "stale"), []
        self._last[symbol] = time_ns
        if last is None:
            return "new", []
        if self.interval_ns is not None:
            self._settled[symbol] = self.interval_ns
            gap = _gap(symbol, last, time_ns, self.interval_ns, 0)
            return "new", [] if gap is None else [gap]
        return "new", self._infer(symbol, last, time_ns)

    def _infer(self, symbol: str, last: int, time_ns: int) -> list[Gap]:
        old = self._step.get(symbol)
        step = math.gcd(old or 0, time_ns - last)
        self._step[symbol] = step
        seen = self._seen.setdefault(symbol, [])
        out: list[Gap] = []
        if old is not None and step < old:  # earlier steps held holes the old guess hid
            for i, (a, b, told) in enumerate(seen):
                gap = _gap(symbol, a, b, step, told)
                if gap is not None:
                    out.append(gap)
                    seen[i] = (a, b, gap.missing)
        first = old is not None  # the first step alone says nothing about holes
        gap = _gap(symbol, last, time_ns, step, 0) if first else None
        if gap is not None:
            out.append(gap)
        if len(seen) < HISTORY:
            seen.append((last, time_ns, 0 if gap is None else gap.missing))
        else:  # nothing left to revise: a step of exactly ``step`` teaches nothing
            self._settled[symbol] = step
        return out

    def last_time_ns(self, symbol: str) -> int | None:
        """The open time of the last final bar seen for ``symbol``."""
        return self._last.get(symbol)

    def reset(self) -> None:
        """Forget every symbol."""
        self._last.clear()
        self._step.clear()
        self._seen.clear()
        self._settled.clear()


def _gap(symbol: str, last: int, time_ns: int, interval: int, told: int) -> Gap | None:
    """The bars missing strictly between ``last`` and ``time_ns`` beyond ``told`` already
    reported, or None."""
    missing = -(-(time_ns - last) // interval) - 1  # whole intervals strictly between
    if missing <= told:
        return None
    return Gap(symbol, last + interval, time_ns, interval, missing, told)
