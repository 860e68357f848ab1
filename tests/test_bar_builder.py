"""``_new_bar`` (``evlab._builders.BarBuilder``, compiled where a compiler exists): the usual
bar of a feed is made without ``__init__``; it must be the bar the class would build, and
every other bar must still meet the class's own checks, compiled and interpreted alike."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

import evlab.events
from evlab import _accel
from evlab.events import BarEvent, BarUpdateEvent

#: the interpreted builders, and the compiled ones where they were built
EVENTS = [pytest.param(_accel.interpreted_copy().events, id="interpreted")] + (
    [pytest.param(evlab.events, id="compiled")] if _accel.COMPILED else [])


def fields_of(bar: Any) -> tuple[Any, ...]:
    return (type(bar).__name__, bar.symbol, bar.time_ns, bar.open, bar.high, bar.low,
            bar.close, bar.volume, bar.source, bar.seq, bar.cause)


@pytest.mark.parametrize("events", EVENTS)
@pytest.mark.parametrize("final", [True, False])
def test_the_usual_bar_is_the_bar_its_class_builds(events: Any, final: bool) -> None:
    cls = events.BarEvent if final else events.BarUpdateEvent
    fast = events._new_bar(cls, "BTC-USD", 60_000_000_000, 1.0, 2.0, 0.5, 1.5, 3.0, "feed")
    slow = cls("BTC-USD", 1.0, 2.0, 0.5, 1.5, 3.0, time_ns=60_000_000_000, source="feed")
    assert type(fast) is cls and fields_of(fast) == fields_of(slow) and fast == slow
    assert events._new_bar(cls, "X", 5, 1.0, 1.0, 1.0, 1.0, 0, "").volume == 0  # int volume


@pytest.mark.parametrize("events", EVENTS)
@pytest.mark.parametrize(("args", "pattern"), [
    (("BTC", 1, 1.0, 2.0, 0.5, 3.0, 1.0), "close"),  # close above high
    (("BTC", 1, 1.0, 2.0, 0.5, 1.5, -1.0), "volume"),
    (("BTC", 1, math.nan, 2.0, 0.5, 1.5, 1.0), "open"),
    (("BTC", 1, 1.0, math.inf, 0.5, 1.5, 1.0), "high"),
    (("", 1, 1.0, 2.0, 0.5, 1.5, 1.0), "symbol"),
    ((" ", 1, 1.0, 2.0, 0.5, 1.5, 1.0), "symbol"),
    (("BTC", 1, "1", 2.0, 0.5, 1.5, 1.0), "open"),
    (("BTC", 1.5, 1.0, 2.0, 0.5, 1.5, 1.0), "timestamp"),
])
def test_anything_else_meets_the_classes_own_checks(events: Any, args: tuple[Any, ...],
                                                    pattern: str) -> None:
    for cls in (events.BarEvent, events.BarUpdateEvent):
        with pytest.raises((ValueError, TypeError), match=pattern):
            events._new_bar(cls, *args, "feed")


def test_other_values_and_times_go_through_the_class() -> None:
    _new_bar = evlab.events._new_bar
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    bar = _new_bar(BarEvent, "AAPL", when, 1, 2, 1, 2, 10, "")  # ints, a datetime: accepted
    assert bar.time_ns == 1_704_067_200 * 10**9 and bar.open == 1
    update = _new_bar(BarUpdateEvent, "AAPL", "2024-01-01T00:00:00Z", 1.0, 2.0, 1.0, 2.0,
                      10.0, "")
    assert type(update) is BarUpdateEvent and update.time_ns == bar.time_ns
