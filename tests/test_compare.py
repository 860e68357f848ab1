"""evlab.compare: empty for equal sessions, the differing rows otherwise, both ways."""

from __future__ import annotations

import warnings
from collections import deque

import pandas as pd
import pytest

import evlab.compare as compare_module
from evlab.bus import EventBus
from evlab.compare import compare
from evlab.events import BarEvent, EventType, create_order_event, create_signal_event
from evlab.recording import EventRecorder, record
from evlab.replay import Replayer

COLUMNS = ["type", "status", "position_a", "position_b", "event_time", "symbol", "column",
           "a", "b"]


class Sma:
    """SMA crossover; ``extra_at`` emits one more signal at that bar (a perturbation)."""

    def __init__(self, bus: EventBus, fast: int = 3, slow: int = 10, *,
                 extra_at: int | None = None, skip_at: int | None = None) -> None:
        self.bus, self.fast, self.slow = bus, fast, slow
        self.extra_at, self.skip_at = extra_at, skip_at
        self.closes: deque[float] = deque(maxlen=slow)
        self.above: bool | None = None
        self.count = 0
        bus.subscribe(EventType.BAR, self.on_bar, weak=False)

    def on_bar(self, bar: BarEvent) -> None:
        self.count += 1
        if self.count == self.extra_at:
            self.bus.emit(create_signal_event("EXIT", bar.close, bar.symbol, "sma"))
        self.closes.append(bar.close)
        if len(self.closes) < self.slow:
            return
        closes = list(self.closes)
        above = sum(closes[-self.fast:]) / self.fast > sum(closes) / self.slow
        if self.above is not None and above != self.above and self.count != self.skip_at:
            self.bus.emit(create_signal_event("BUY" if above else "SELL", bar.close,
                                              bar.symbol, "sma"))
        self.above = above


def session(**strategy) -> EventRecorder:
    bus = EventBus()
    Sma(bus, **{k: v for k, v in strategy.items() if k in ("fast", "slow")},
        **{k: v for k, v in strategy.items() if k in ("extra_at", "skip_at")})
    rec = EventRecorder(bus)
    Replayer("stocks_daily", bus, symbols="AAPL", end="2002-01-01").run()
    return rec


@pytest.fixture(scope="module")
def base() -> EventRecorder:
    return session()


def signal_bars(rec: EventRecorder) -> list[int]:
    """Bar counts (1-based) at which ``rec``'s signals were made."""
    frame = rec.to_frame()
    bars = frame.loc[frame["type"] == "bar", "seq"].tolist()
    return [bars.index(c) + 1 for c in frame.loc[frame["type"] == "signal", "cause"]]


def test_equal_sessions_compare_empty(base):
    other = session()
    assert len(base.signals()) > 5
    diff = compare(base, other)
    assert diff.empty and list(diff.columns) == COLUMNS
    assert compare(other, base, types=None).empty  # every type, the other way round
    assert compare(base.snapshot(), other.to_frame(), types=("bar", "signal")).empty
    assert compare(base.signals(), other.signals()).empty  # typed views work too


def test_perturbed_strategy_shows_the_differing_rows(base):
    other = session(fast=4)
    diff = compare(base, other)
    assert not diff.empty and set(diff["type"]) == {"signal"}
    assert set(diff["column"].dropna()) <= {"event_time", "price", "signal_type", "symbol"}
    changed = diff[diff["status"] == "changed"]
    row = changed.iloc[0]
    a = base.signals().iloc[int(row["position_a"])]
    b = other.signals().iloc[int(row["position_b"])]
    column = row["column"]
    values = {"event_time": (base.signals().index[int(row["position_a"])],
                             other.signals().index[int(row["position_b"])])}
    want = values.get(column, (a.get(column), b.get(column)))
    assert (row["a"], row["b"]) == want and row["a"] != row["b"]
    reverse = compare(other, base)  # both ways: the same rows, sides swapped
    assert len(reverse) == len(diff)
    assert list(reverse["a"]) == list(diff["b"]) and list(reverse["b"]) == list(diff["a"])


def test_one_extra_signal_is_one_row_not_a_cascade(base):
    at = signal_bars(base)[2]
    other = session(extra_at=at)  # an EXIT before the third signal, same bar
    diff = compare(base, other)
    assert list(diff["status"]) == ["only_b"]
    row = diff.iloc[0]
    assert pd.isna(row["position_a"]) and row["position_b"] == 2
    assert "signal_type='EXIT'" in row["b"] and pd.isna(row["a"])
    assert row["event_time"] == other.signals().index[2] and row["symbol"] == "AAPL"
    assert list(compare(other, base)["status"]) == ["only_a"]


def test_a_missing_signal_is_only_in_a(base):
    at = signal_bars(base)[4]
    diff = compare(base, session(skip_at=at))
    assert list(diff["status"]) == ["only_a"] and diff["position_a"].tolist() == [4]


def test_columns_option_and_bad_columns(base):
    other = session(fast=4)
    only_types = compare(base, other, columns=["signal_type"])
    assert set(only_types["column"].dropna()) <= {"signal_type", "event_time", "symbol"}
    with pytest.raises(ValueError, match="no column"):
        compare(base, other, columns=["nope"])


def test_missing_values_compare_equal_and_types_as_a_string():
    recs = []
    for _ in range(2):
        bus = EventBus()
        with record(bus) as rec:
            bus.emit(create_order_event("AAPL", "BUY", 10, timestamp=5))  # limit_price None
        recs.append(rec)
    assert compare(*recs, types="order").empty
    with pytest.warns(UserWarning, match=r"compare: b has no events of type order"):
        assert len(compare(recs[0], EventRecorder(), types="order")) == 1  # only_a


def test_paths_and_bad_inputs(base, tmp_path):
    path = base.save(tmp_path / "a.parquet")
    assert compare(path, base).empty
    assert compare(str(path), base.snapshot()).empty
    with pytest.raises(TypeError, match="expected a recording"):
        compare(42, base)
    with pytest.raises(ValueError, match="event_time"):
        compare(pd.DataFrame({"price": [1.0]}), base)


def test_module_is_callable_like_the_function(base):
    assert compare_module(base, session()).empty


def test_a_side_without_the_compared_events_is_warned_about_naming_side_and_types(base):
    bus = EventBus()  # the same bars replayed with no strategy: no signal at all
    rec = EventRecorder(bus)
    Replayer("stocks_daily", bus, symbols="AAPL", end="2002-01-01").run()
    signals = len(base.signals())
    assert signals > 0
    with pytest.warns(UserWarning, match=rf"compare: b has no events of type signal "
                                         rf"\({signals} on the other side\); every one is "
                                         r"reported as only_a \(b holds: bar\)"):
        diff = compare(base, rec)
    assert (diff["status"] == "only_a").sum() == signals
    with pytest.warns(UserWarning, match=rf"compare: a has no events of type signal "
                                         rf"\({signals} on the other side\); every one is "
                                         r"reported as only_b"):
        compare(rec, base, types=["signal", "bar"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both sides have bars: nothing to warn about
        assert compare(rec, base, types="bar").empty
