"""evlab.examples.SmaCross, the crossover notebooks 03 and 04 share, on hand-made closes."""

import datetime as dt
from typing import Any

import numpy as np
import pytest

from evlab import EventBus, EventManager, EventType, create_bar_event
from evlab.examples import SmaCross

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def signals_for(closes: list[float], strategy: SmaCross) -> list[tuple[int, str]]:
    """(bar index, signal type) of each signal ``strategy`` emits on bars with ``closes``."""
    bus = EventBus()
    EventManager(bus).register_component("sma", strategy, [EventType.BAR])
    seen: list[Any] = []  # SignalEvents
    bus.register(EventType.SIGNAL, seen.append)
    index: dict[int | None, int] = {}
    for i, close in enumerate(closes):
        bar = bus.emit(create_bar_event("X", T0 + dt.timedelta(minutes=i), close, close, close,
                                        close, 1.0))
        index[bar.seq] = i
    assert all(s.strategy_id == "sma" and s.symbol == "X" for s in seen)
    return [(index[s.cause], s.signal_type) for s in seen]


def test_buy_on_the_cross_up_exit_on_the_cross_down_nothing_while_warming_up() -> None:
    closes = [10.0] * 4 + [11.0, 12.0, 13.0] + [9.0, 8.0, 7.0]
    # bar 3 fills the slow window (equal averages: not above); bar 4 crosses up, bar 7 down
    assert signals_for(closes, SmaCross(fast=2, slow=4)) == [(4, "BUY"), (7, "EXIT")]


def test_a_trend_without_a_cross_makes_no_signal() -> None:
    closes = [float(i) for i in range(1, 30)]
    assert signals_for(closes, SmaCross(fast=3, slow=5)) == []


def test_each_instance_starts_fresh_and_bad_windows_are_refused() -> None:
    used = SmaCross(fast=2, slow=4)
    signals_for([10.0] * 10, used)
    assert used.above is False and len(used.closes) == 4
    fresh = SmaCross(fast=2, slow=4)
    assert fresh.above is None and not fresh.closes
    with pytest.raises(ValueError, match="0 < fast < slow"):
        SmaCross(fast=50, slow=20)
    with pytest.raises(RuntimeError, match="no bus"):
        fresh.on_bar(create_bar_event("X", T0, 1.0, 1.0, 1.0, 1.0, 1.0))


def test_numpy_integers_are_windows_and_other_types_are_refused() -> None:
    strategy = SmaCross(fast=np.int64(2), slow=np.int32(4))  # as read back from a DataFrame
    assert (strategy.fast, strategy.slow) == (2, 4) and type(strategy.fast) is int
    assert signals_for([1.0, 1.0, 1.0, 1.0, 5.0, 9.0], strategy) == [(4, "BUY")]
    for bad in (2.5, "2", True, None):
        with pytest.raises(TypeError, match="fast must be a whole number of bars"):
            SmaCross(fast=bad, slow=4)
