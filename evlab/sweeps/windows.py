"""Walk-forward windows: consecutive (train, test) spans cut on a source's bar times.

Spans are time spans (``"365D"``, a ``Timedelta``) or counts of bar times (``250``: bars of
several symbols at one time count once). A window starts at a bar time; its training span
runs ``train`` from there, its test span ``test`` right after, and the next window starts
``step`` (default: ``test``) later, so test spans tile the data without overlapping. A span
fits if it ends by the end of the data (the last bar time plus one bar spacing); windows that
do not fit are not made, and if none fits, or a span holds no bar, the error says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Span", "Window", "cut", "span"]


@dataclass(frozen=True)
class Span:
    """A length in bar times (``bars``) or in time (``ns``)."""

    bars: int | None = None
    ns: int | None = None

    def advance(self, times: np.ndarray, end: int, pos: int, at: int) -> tuple[int, int, bool]:
        """From position ``pos`` (time ``at``): the position and time this span later, and
        whether that still lies within the data (``end``: its end time)."""
        if self.bars is not None:
            new = pos + self.bars
            return new, int(times[new]) if new < len(times) else end, new <= len(times)
        assert self.ns is not None
        at = at + self.ns
        return int(np.searchsorted(times, at, "left")), at, at <= end


def span(name: str, value: Any) -> Span:
    """``value`` (a positive number of bars, or a positive time span) as a Span."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: a number of bars or a time span such as '365D', got {value!r}")
    if isinstance(value, (int, np.integer)):
        if value < 1:
            raise ValueError(f"{name}: a positive number of bars, got {value}")
        return Span(bars=int(value))
    try:
        delta = pd.Timedelta(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: a number of bars or a time span such as '365D', got "
                         f"{value!r} ({exc})") from exc
    if pd.isna(delta) or delta.value <= 0:
        raise ValueError(f"{name}: a positive time span, got {value!r}")
    return Span(ns=int(delta.value))


@dataclass(frozen=True)
class Window:
    """One walk-forward window: ``[train_start, train_end)`` then ``[test_start, test_end)``,
    event times in ns; ``test_pos``: the position of the test's first bar time."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int
    test_pos: int


def cut(times: np.ndarray, train: Span, test: Span, step: Span, label: str) -> list[Window]:
    """The windows of ``train`` then ``test``, every ``step``, over ``times`` (distinct bar
    times, sorted, ns)."""
    if len(times) < 2:
        raise ValueError(f"walk_forward: {label} has {len(times)} bar time(s); windows need "
                         "more")
    end = int(times[-1] + (times[-1] - times[-2]))
    out: list[Window] = []
    pos, at = 0, int(times[0])
    while pos < len(times):
        train_pos, train_end, train_fits = train.advance(times, end, pos, at)
        test_pos, test_end, test_fits = test.advance(times, end, train_pos, train_end)
        if not (train_fits and test_fits):
            break
        if train_pos - pos < 2 or test_pos - train_pos < 1:
            raise ValueError(f"walk_forward: window {len(out)} of {label} "
                             f"({_ts(at)} .. {_ts(test_end)}) has {train_pos - pos} bar "
                             f"time(s) to train on and {test_pos - train_pos} to test on; "
                             "make train and test longer")
        if out and train_end < out[-1].test_end:
            raise ValueError(f"walk_forward: step is shorter than test, so test windows "
                             f"would overlap ({_ts(train_end)} < {_ts(out[-1].test_end)})")
        out.append(Window(at, train_end, train_end, test_end, train_pos))
        pos, at, _ = step.advance(times, end, pos, at)
        if pos < len(times) and step.bars is not None:
            at = int(times[pos])
    if not out:
        raise ValueError(f"walk_forward: no window fits: train and test together are longer "
                         f"than {label}, which has {len(times):,} bar times from "
                         f"{_ts(int(times[0]))} to {_ts(int(times[-1]))}")
    return out


def _ts(ns: int) -> str:
    return f"{pd.Timestamp(ns, tz='UTC'):%Y-%m-%d %H:%M}"
