"""evlab.plot: the live chart, its redraw throttle, the chart of a recording, the flow view.

Time is fake wherever the throttle matters: ``FakeTime`` is the clock and the scheduler, and
the test moves it forward. Nothing here sleeps or measures time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import threading
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import evlab
from benchmarks import bench_live_chart
from evlab import (
    EventBus,
    EventType,
    PortfolioEvent,
    SignalEvent,
    create_bar_event,
    create_bar_update_event,
    create_fill_event,
    create_quote_event,
    create_signal_event,
    create_tick_event,
)
from evlab.events import QuoteEvent, trusted
from evlab.plot import Coalescer, LiveChart, chart, edges, flow, indicator_event
from evlab.plot import _figure as F
from evlab.plot._figure import TRACES
from evlab.plot.coalesce import loop_scheduler

T0 = pd.Timestamp("2024-03-01 14:30", tz="UTC").value  # ns
SEC = 1_000_000_000


class FakeTime:
    """A clock and a scheduler in one: callbacks run when ``advance`` passes their time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, object]] = []
        self._n = itertools.count()

    def __call__(self) -> float:
        return self.now

    def schedule(self, delay, fn) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._n), fn))

    def advance(self, to: float) -> None:
        while self._queue and self._queue[0][0] <= to:
            due, _, fn = heapq.heappop(self._queue)
            self.now = max(self.now, due)
            fn()
        self.now = max(self.now, to)


def bar(i: int, symbol: str = "BTC-USD", close: float | None = None):
    c = 100.0 + i * 0.01 if close is None else close
    return create_bar_event(symbol, T0 + i * SEC, c - 0.005, c + 0.02, c - 0.02, c, 1.0 + i)


def times(i0: int, n: int) -> np.ndarray:
    """Bar times as a static figure holds them (datetime64)."""
    return (T0 + np.arange(i0, i0 + n, dtype=np.int64) * SEC).view("datetime64[ns]")


def wtimes(i0: int, n: int) -> np.ndarray:
    """Bar times as the live widget sends them: ISO strings that keep plotly's axis a date."""
    return np.datetime_as_string(times(i0, n), unit="ms")


@pytest.fixture
def fake():
    return FakeTime()


@pytest.fixture
def bus():
    return EventBus()


def make_chart(bus, fake, **kw) -> LiveChart:
    return LiveChart(bus, "BTC-USD", clock=fake, schedule=fake.schedule, **kw)


# --- the live chart: what is in the figure ----------------------------------------------------

def test_candles_and_volume_equal_the_bars(bus, fake):
    c = make_chart(bus, fake)
    events = [bus.emit(bar(i)) for i in range(20)]
    c.flush()
    candles, volume = c.figure.data[0], c.figure.data[1]
    assert isinstance(c.figure, go.FigureWidget)
    np.testing.assert_array_equal(candles.x, wtimes(0, 20))
    np.testing.assert_array_equal(candles.close, [e.close for e in events])
    np.testing.assert_array_equal(candles.open, [e.open for e in events])
    np.testing.assert_array_equal(candles.high, [e.high for e in events])
    np.testing.assert_array_equal(candles.low, [e.low for e in events])
    np.testing.assert_array_equal(volume.y, [e.volume for e in events])
    assert c.figure.layout.yaxis2.visible is True
    assert (c.points, c.redraws) == (20, 1)


def test_other_symbols_are_not_drawn(bus, fake):
    c = make_chart(bus, fake)
    bus.emit(bar(0))
    bus.emit(bar(1, symbol="ETH-USD"))
    c.flush()
    assert len(c.figure.data[0].x) == 1


def test_the_window_keeps_the_last_n_bars(bus, fake):
    c = make_chart(bus, fake, window=50)
    for i in range(200):
        bus.emit(bar(i))
    c.flush()
    np.testing.assert_array_equal(c.figure.data[0].x, wtimes(150, 50))
    assert c.to_frame().index[0] == pd.Timestamp(T0 + 150 * SEC, tz="UTC")


def test_no_bar_in_the_window_is_skipped_between_redraws(bus, fake):
    c = make_chart(bus, fake, window=300)
    bus.emit(bar(0))
    fake.advance(0.0)  # the first redraw runs at once
    assert c.redraws == 1
    for i in range(1, 1000):  # all inside one throttle interval: no redraw meanwhile
        bus.emit(bar(i))
    assert c.redraws == 1
    fake.advance(0.1)
    assert c.redraws == 2
    np.testing.assert_array_equal(c.figure.data[0].x, wtimes(700, 300))


def test_volume_panel_can_be_off(bus, fake):
    c = make_chart(bus, fake, volume=False)
    bus.emit(bar(0))
    c.flush()
    assert c.figure.layout.yaxis2.visible is False
    assert len(c.figure.data[1].y) == 0


def test_forming_bar_shows_until_its_final_bar(bus, fake):
    c = make_chart(bus, fake)
    bus.emit(bar(0))
    bus.emit(create_bar_update_event("BTC-USD", T0 + SEC, 100, 101, 99, 100.5, 3))
    c.flush()
    assert list(c.figure.data[0].close) == [100.0, 100.5]
    bus.emit(create_bar_update_event("BTC-USD", T0 + SEC, 100, 102, 99, 101.5, 5))
    c.flush()
    assert list(c.figure.data[0].close) == [100.0, 101.5]
    bus.emit(bar(1, close=101.0))
    c.flush()
    assert list(c.figure.data[0].close) == [100.0, 101.0]
    assert c.stats["updates"] == 2


def test_late_and_corrected_bars_go_in_their_place(bus, fake):
    c = make_chart(bus, fake, window=5)
    for i in (0, 1, 3, 4):
        bus.emit(bar(i))
    bus.emit(bar(2))  # late
    bus.emit(bar(4, close=99.0))  # correction of the newest
    c.flush()
    np.testing.assert_array_equal(c.figure.data[0].x, wtimes(0, 5))
    assert c.figure.data[0].close[-1] == 99.0


# --- signals, fills, equity, overlays --------------------------------------------------------

def test_signals_are_markers_at_their_price(bus, fake):
    c = make_chart(bus, fake)

    def strategy(b):
        kind = {1: SignalEvent.BUY, 3: SignalEvent.SELL, 4: SignalEvent.EXIT}.get(
            (b.time_ns - T0) // SEC)
        if kind:
            bus.emit(create_signal_event(kind, b.close + 0.5, b.symbol, "sma"))

    bus.register(EventType.BAR, strategy)
    for i in range(6):
        bus.emit(bar(i))
    c.flush()
    buy, sell, exit_ = (c.figure.data[i] for i in (2, 3, 4))
    np.testing.assert_array_equal(buy.x, wtimes(1, 1))
    assert list(buy.y) == [bar(1).close + 0.5]
    assert list(sell.y) == [bar(3).close + 0.5] and list(exit_.y) == [bar(4).close + 0.5]
    assert buy.marker.symbol == "triangle-up"
    assert sell.marker.symbol == exit_.marker.symbol == "triangle-down"
    assert "sma" in buy.hovertext[0]


def test_marks_older_than_the_window_are_not_drawn(bus, fake):
    c = make_chart(bus, fake, window=3)
    bus.register(EventType.BAR, lambda b: bus.emit(
        create_signal_event("BUY", b.close, b.symbol, "s")))
    for i in range(10):
        bus.emit(bar(i))
    c.flush()
    np.testing.assert_array_equal(c.figure.data[2].x, wtimes(7, 3))


def test_fills_are_drawn_at_their_price(bus, fake):
    c = make_chart(bus, fake)
    bus.register(EventType.BAR, lambda b: bus.emit(
        create_fill_event(b.symbol, "BUY", 2, 100.25)))
    bus.emit(bar(0))
    c.flush()
    assert list(c.figure.data[5].y) == [100.25]


def test_equity_panel_appears_with_the_first_portfolio(bus, fake):
    c = make_chart(bus, fake)
    bus.emit(bar(0))
    c.flush()
    assert c.figure.layout.yaxis3.visible is False
    bus.register(EventType.BAR, lambda b: bus.emit(PortfolioEvent(500.0, 1000.0 + b.close)))
    for i in range(1, 4):
        bus.emit(bar(i))
    c.flush()
    assert c.figure.layout.yaxis3.visible is True
    # before the first portfolio: its starting cash (equity - realized - unrealized), from
    # the first bar on
    np.testing.assert_array_equal(c.figure.data[6].x, wtimes(0, 4))
    first = 1000.0 + bar(1).close
    assert list(c.figure.data[6].y) == [first] + [1000.0 + bar(i).close for i in range(1, 4)]


def test_the_equity_starts_at_the_first_bar_with_the_value_then_in_force(bus, fake):
    """A portfolio first seen after a fill (say registered for fills only): the curve
    starts at the first bar at its starting cash; a window that starts after a point starts
    at that point's value (the value in force), on the live and the static chart."""
    from evlab.recording import EventRecorder

    recorder = EventRecorder(bus)
    c, small = make_chart(bus, fake), make_chart(bus, fake, window=2)
    for i in range(6):
        held = (("BTC-USD", 1.0, 100.0),)
        if i == 2:  # bought 1 at 100, marked at 102: equity 1002, started with 1000
            bus.emit(PortfolioEvent(900.0, 1002.0, 0.0, 2.0, held, time_ns=T0 + i * SEC))
        if i == 3:  # sold at 105, flat
            bus.emit(PortfolioEvent(1005.0, 1005.0, 5.0, 0.0, time_ns=T0 + i * SEC))
        if i == 5:  # bought again, paying 1 of commission
            bus.emit(PortfolioEvent(904.0, 1004.0, 4.0, 0.0, held, time_ns=T0 + i * SEC))
        bus.emit(bar(i))
    c.flush()
    recorder.close()
    eq = c.figure.data[F.EQUITY]
    static = chart(recorder.to_frame(), "BTC-USD")
    for e in (eq, static.data[F.EQUITY]):
        assert [(int(t) - T0) // SEC for t in _ns_of(e.x)] == [0, 2, 3, 5]
        assert list(e.y) == [1000.0, 1002.0, 1005.0, 1004.0]
    window = chart(recorder.to_frame(), "BTC-USD", last=2).data[F.EQUITY]  # bars 4 and 5
    assert [(int(t) - T0) // SEC for t in _ns_of(window.x)] == [4, 5]
    assert list(window.y) == [1005.0, 1004.0]
    small.flush()  # the live window: the same
    assert [(int(t) - T0) // SEC for t in _ns_of(small.figure.data[F.EQUITY].x)] == [4, 5]
    assert list(small.figure.data[F.EQUITY].y) == [1005.0, 1004.0]


def test_a_chart_attached_after_the_portfolio_published_starts_its_curve_at_its_first_point(
        bus, fake):
    """Equity before the first PortfolioEvent a late chart (or a cleared one) sees is not
    the starting cash: trades came before it. Its curve starts at that event."""
    early = make_chart(bus, fake)
    for i in (0, 1):
        bus.emit(bar(i))
    bus.emit(PortfolioEvent(1005.0, 1005.0, 5.0, 0.0, time_ns=T0 + SEC))  # a round trip: +5
    late = make_chart(bus, fake)
    for i in (2, 3):
        bus.emit(bar(i))
    bus.emit(PortfolioEvent(1007.0, 1007.0, 7.0, 0.0, time_ns=T0 + 3 * SEC))
    late.flush()
    eq = late.figure.data[F.EQUITY]
    assert [(int(t) - T0) // SEC for t in _ns_of(eq.x)] == [3]
    assert list(eq.y) == [1007.0]
    early.flush()  # attached from the start: its curve starts at the first bar
    assert list(early.figure.data[F.EQUITY].y) == [1000.0, 1005.0, 1007.0]
    early.clear()  # cleared mid-session: late from then on
    bus.emit(bar(4))
    bus.emit(PortfolioEvent(1009.0, 1009.0, 9.0, 0.0, time_ns=T0 + 5 * SEC))
    bus.emit(bar(5))
    early.flush()
    assert list(early.figure.data[F.EQUITY].y) == [1009.0]


def test_equity_false_never_shows_equity(bus, fake):
    c = make_chart(bus, fake, equity=False)
    bus.emit(bar(0))
    bus.emit(PortfolioEvent(1.0, 2.0))
    c.flush()
    assert c.figure.layout.yaxis3.visible is False
    assert "LiveChart[BTC-USD].portfolio" not in bus.handlers(EventType.PORTFOLIO)


def test_indicator_overlays_land_on_their_bars(bus, fake):
    c = make_chart(bus, fake)

    def strategy(b):
        i = (b.time_ns - T0) // SEC
        bus.emit(indicator_event(b.symbol, "sma_2", None if i == 0 else b.close - 1))
        bus.emit(indicator_event(b.symbol, {"upper": b.high + 1, "lower": b.low - 1}))
        bus.emit(indicator_event("ETH-USD", "sma_2", 5.0))  # another symbol's line

    bus.register(EventType.BAR, strategy)
    for i in range(4):
        bus.emit(bar(i))
    c.flush()
    lines = {d.name: d for d in c.figure.data[len(TRACES):]}
    assert set(lines) == {"sma_2", "upper", "lower"}
    np.testing.assert_array_equal(lines["sma_2"].x, wtimes(0, 4))
    assert math.isnan(lines["sma_2"].y[0])  # warming up: a gap
    assert list(lines["sma_2"].y[1:]) == [bar(i).close - 1 for i in range(1, 4)]
    assert list(lines["upper"].y) == [bar(i).high + 1 for i in range(4)]


# --- the throttle ------------------------------------------------------------------------------

def test_a_thousand_bars_per_second_give_about_ten_redraws_per_second(bus, fake):
    c = make_chart(bus, fake, window=5000)
    stamps = []
    c.on_redraw.append(lambda chart: stamps.append(fake.now))
    n = 3000
    for i in range(n):  # 1,000 bars per (fake) second, for 3 seconds
        fake.advance(i / 1000)
        bus.emit(bar(i))
    fake.advance(n / 1000 + 1)
    per_second = Counter(int(t) for t in stamps)
    assert max(per_second.values()) <= 11
    assert 25 <= c.redraws <= 32
    np.testing.assert_array_equal(c.figure.data[0].x, wtimes(0, n))  # every bar is there


def test_coalescer_runs_the_first_request_at_once_and_merges_the_rest(fake):
    runs = []
    co = Coalescer(lambda: runs.append(fake.now), max_fps=10, clock=fake,
                   schedule=fake.schedule)
    co.request()
    fake.advance(0.0)
    for t in (0.01, 0.02, 0.05, 0.09):
        fake.advance(t)
        co.request()
    assert co.pending
    fake.advance(0.5)
    assert runs == [0.0, pytest.approx(0.1)]
    co.request()  # quiet for long enough: at once again
    fake.advance(0.5)
    assert runs[-1] == 0.5


def test_coalescer_flush_and_close(fake):
    runs = []
    co = Coalescer(lambda: runs.append(fake.now), max_fps=10, clock=fake,
                   schedule=fake.schedule)
    co.request()
    co.flush()  # runs now; the scheduled run is void
    fake.advance(1.0)
    assert runs == [0.0]
    co.request()
    co.close()
    fake.advance(2.0)
    co.request()
    fake.advance(3.0)
    assert runs == [0.0] and co.runs == 1
    with pytest.raises(ValueError, match="max_fps"):
        Coalescer(lambda: None, max_fps=0)


def test_a_failing_redraw_does_not_stop_the_throttle(fake):
    calls = []

    def action():
        calls.append(fake.now)
        if len(calls) == 1:
            raise RuntimeError("boom")

    co = Coalescer(action, clock=fake, schedule=fake.schedule)
    co.request()
    fake.advance(0.0)
    co.request()
    fake.advance(1.0)
    assert len(calls) == 2


async def test_loop_scheduler_runs_on_the_loop_for_requests_from_threads():
    loop = asyncio.get_running_loop()
    ran = asyncio.Event()
    where = []

    def action():
        where.append(threading.get_ident())
        ran.set()

    co = Coalescer(action, max_fps=1000, schedule=loop_scheduler(loop))
    thread = threading.Thread(target=co.request)
    thread.start()
    thread.join()
    await asyncio.wait_for(ran.wait(), 5)
    assert where == [threading.get_ident()]


# --- threads and the real loop -----------------------------------------------------------------

def test_bars_from_several_threads_all_land(bus, fake):
    c = make_chart(bus, fake, window=2000)
    threads = [threading.Thread(target=lambda k=k: [bus.emit(bar(i)) for i in range(k, 2000, 4)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.flush()
    np.testing.assert_array_equal(c.figure.data[0].x, wtimes(0, 2000))
    assert c.stats["bars"] == 2000


async def test_a_feed_thread_draws_through_the_running_loop(bus):
    c = LiveChart(bus, "BTC-USD", window=1000, max_fps=50)  # the running loop schedules
    redrawn = asyncio.Event()
    redraw_threads = set()
    c.on_redraw.append(lambda chart: (redraw_threads.add(threading.get_ident()), redrawn.set()))
    feed = threading.Thread(target=lambda: [bus.emit(bar(i)) for i in range(1000)])
    feed.start()
    feed.join()
    while c.points < 1000 or c.figure.data[0].x[-1] != wtimes(999, 1)[0]:
        redrawn.clear()
        await asyncio.wait_for(redrawn.wait(), 5)
    np.testing.assert_array_equal(c.figure.data[0].x, wtimes(0, 1000))
    assert redraw_threads == {threading.get_ident()}  # widgets are touched on the loop only
    c.close()


def test_close_unsubscribes(bus, fake):
    c = make_chart(bus, fake)
    assert any(name.startswith("LiveChart") for name in bus.handlers(EventType.BAR))
    bus.emit(bar(0))
    c.close()
    bus.emit(bar(1))
    c.flush()
    assert not any(name.startswith("LiveChart") for name in bus.handlers(EventType.BAR))
    assert len(c.figure.data[0].x) == 1
    assert "closed" in repr(c)


def test_the_chart_displays_as_its_widget(bus, fake):
    bundle = make_chart(bus, fake)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_chart_lives_while_only_the_bus_holds_it(fake):
    bus = EventBus(use_weak_refs=True)
    figure = make_chart(bus, fake).figure  # the LiveChart itself is not kept
    bus.emit(bar(0))
    fake.advance(1.0)
    assert len(figure.data[0].x) == 1


# --- the static chart of a recording ---------------------------------------------------------

def bars_frame(n: int = 10) -> pd.DataFrame:
    index = pd.date_range(pd.Timestamp(T0, tz="UTC"), periods=n, freq="s", name="time")
    close = 100 + np.arange(n, dtype=float)
    return pd.DataFrame({"open": close - 0.5, "high": close + 1, "low": close - 1,
                         "close": close, "volume": np.arange(n, dtype=float)}, index=index)


def test_static_chart_of_bars_and_signals():
    bars = bars_frame()
    signals = pd.DataFrame({"signal_type": ["BUY", "SELL", "EXIT"], "price": [101.5, 105, 107],
                            "strategy_id": "sma"}, index=bars.index[[1, 5, 7]])
    equity = pd.Series([1000.0, 1010.0], index=bars.index[[2, 6]])
    overlays = pd.DataFrame({"sma_3": bars["close"].rolling(3).mean()}, index=bars.index)
    fig = chart(bars, signals=signals, equity=equity, overlays=overlays, title="demo")
    assert type(fig) is go.Figure
    np.testing.assert_array_equal(fig.data[0].close, bars["close"])
    np.testing.assert_array_equal(fig.data[0].x, times(0, 10))
    np.testing.assert_array_equal(fig.data[1].y, bars["volume"])
    assert list(fig.data[2].y) == [101.5] and list(fig.data[3].y) == [105.0]
    np.testing.assert_array_equal(fig.data[4].x, times(7, 1))
    # the equity runs to the last bar: a Series says nothing of positions, so carried forward
    assert fig.layout.yaxis3.visible is True
    assert list(fig.data[6].y) == [1000.0, 1010.0, 1010.0, 1010.0, 1010.0]
    np.testing.assert_array_equal(fig.data[6].x, np.concatenate([times(2, 1), times(6, 4)]))
    assert fig.data[len(TRACES)].name == "sma_3"
    assert "<html>" in fig.to_html()[:200].lower()


def test_static_chart_last_n_bars():
    fig = chart(bars_frame(), last=4)
    np.testing.assert_array_equal(fig.data[0].x, times(6, 4))
    assert fig.layout.yaxis3.visible is False


def recording_frame() -> pd.DataFrame:
    """A recording's full frame, by hand: two bars, a signal, an order, a fill, a portfolio."""
    t = [pd.Timestamp(T0, tz="UTC"), pd.Timestamp(T0 + SEC, tz="UTC")]
    rows = [
        dict(seq=1, type="bar", event_time=t[0], symbol="AAPL", source="feed", cause=None,
             open=10.0, high=11.0, low=9.0, close=10.5, volume=100.0),
        dict(seq=2, type="system", event_time=t[0], symbol=None, source="sma", cause=1,
             kind="indicator", data='{"symbol": "AAPL", "name": "sma", "value": 10.2}'),
        dict(seq=3, type="signal", event_time=t[0], symbol="AAPL", source="sma", cause=1,
             signal_type="BUY", price=10.5, strategy_id="sma"),
        dict(seq=4, type="order", event_time=t[0], symbol="AAPL", source="broker", cause=3,
             side="BUY", quantity=10.0, order_type="MARKET", strategy_id="sma"),
        dict(seq=5, type="fill", event_time=t[0], symbol="AAPL", source="broker", cause=4,
             side="BUY", quantity=10.0, price=10.6),
        dict(seq=6, type="portfolio", event_time=t[0], symbol=None, source="broker", cause=5,
             cash=894.0, equity=1000.0, positions='[["AAPL", 10.0, 10.6]]'),
        dict(seq=7, type="bar", event_time=t[1], symbol="AAPL", source="feed", cause=None,
             open=10.5, high=12.0, low=10.0, close=11.5, volume=80.0),
        dict(seq=8, type="signal", event_time=t[1], symbol="AAPL", source="mom", cause=7,
             signal_type="EXIT", price=11.5, strategy_id="mom"),
    ]
    frame = pd.DataFrame(rows)
    frame["cause"] = frame["cause"].astype("Int64")
    return frame


class Recording:
    """What evlab's recording offers, duck-typed: bars(symbol), signals(), fills(), frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def _of(self, etype: str) -> pd.DataFrame:
        rows = self.frame[self.frame["type"] == etype]
        return rows.set_index("event_time").drop(columns="type")

    def bars(self, symbol: str) -> pd.DataFrame:
        bars = self._of("bar")
        return bars[bars["symbol"] == symbol]

    def signals(self) -> pd.DataFrame:
        return self._of("signal")

    def fills(self) -> pd.DataFrame:
        return self._of("fill")


@pytest.mark.parametrize("source", ["frame", "recording"])
def test_static_chart_of_a_recording(source):
    frame = recording_frame()
    fig = chart(frame if source == "frame" else Recording(frame), "AAPL")
    assert list(fig.data[0].close) == [10.5, 11.5]
    assert list(fig.data[2].y) == [10.5] and list(fig.data[4].y) == [11.5]
    assert list(fig.data[5].y) == [10.6]
    # run to the last bar, the 10 AAPL held marked from the close of 10.5 to 11.5
    assert list(fig.data[6].y) == [1000.0, 1010.0]
    last = chart(frame if source == "frame" else Recording(frame), "AAPL", last=1)
    assert list(last.data[6].y) == [1010.0]  # marked from the bar before the window too
    assert fig.data[len(TRACES)].name == "sma" and list(fig.data[len(TRACES)].y) == [10.2]
    assert chart(frame).data[0].name == "AAPL"  # the only symbol
    assert chart(Recording(frame)).data[0].name == "AAPL"


# --- the flow view -----------------------------------------------------------------------------

def test_flow_edges_follow_the_cause_chain():
    frame = recording_frame()
    assert edges(frame) == [(1, 3), (3, 4), (4, 5), (7, 8)]
    assert edges(frame, types=("bar", "fill")) == [(1, 5)]  # through signal and order


def test_flow_figure_has_lanes_per_type_and_strategy():
    fig = flow(recording_frame())
    assert isinstance(fig, go.Figure)
    assert list(fig.layout.yaxis.ticktext) == ["bar", "signal · mom", "signal · sma",
                                              "order · sma", "fill · sma"]
    markers = {d.name: d for d in fig.data if d.mode == "markers"}
    assert set(markers) == {"bar", "signal", "order", "fill"}
    assert list(markers["signal"].customdata) == [3, 8]
    chains = {d.name: [p for p in d.customdata if p is not None] for d in fig.data
              if d.mode == "lines"}
    assert chains == {"chain mom": [7, 8], "chain sma": [1, 3, 3, 4, 4, 5]}
    by_seq = flow(recording_frame(), x="seq", types=("bar", "signal"))
    assert list(by_seq.data[-1].x) == [3, 8] and by_seq.layout.xaxis.title.text == "seq"


# --- the benchmark still runs ------------------------------------------------------------------

def test_live_chart_benchmark_runs(capsys):
    result = bench_live_chart.run(seconds=0.3, rate=200, show=True, quotes=5, tick_window=50)
    assert {"bars", "redraws", "redraws_per_s", "max_redraws_in_1s", "window_complete",
            "chart_cpu_percent", "process_cpu_percent", "baseline_cpu_percent"} <= set(result)
    quotes = result["quotes"]
    assert quotes["quotes"] == 5 * result["bars"] and quotes["band_complete"] is True
    assert {"quotes_per_s", "redraws", "chart_cpu_percent"} <= set(quotes)
    orders = result["orders"]
    assert orders["orders_complete"] is True and orders["window_complete"] is True
    assert orders["segments"] > 0 and {"redraw_ms", "chart_cpu_percent"} <= set(orders)
    out = capsys.readouterr().out
    assert "redraws" in out and "the band holds the last 50 quotes at the end: yes" in out
    assert "the working orders drawn: yes" in out


def test_a_chart_of_a_symbol_the_bus_never_sees_names_the_symbols_it_has(bus, fake):
    c = make_chart(bus, fake)  # "BTC-USD", while the feed publishes Binance's names
    bus.emit(bar(0, symbol="BTCUSDT"))
    bus.emit(bar(0, symbol="ETHUSDT"))  # a multi-symbol feed: one bar each per interval
    assert c.hint is None
    with pytest.warns(UserWarning, match=r"LiveChart: no bars for 'BTC-USD'; the bus has bars "
                                         r"for: BTCUSDT, ETHUSDT"):
        bus.emit(bar(1, symbol="BTCUSDT"))
    (note,) = c.figure.layout.annotations
    assert note.text == c.hint and "BTCUSDT, ETHUSDT" in note.text
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: no second warning
        bus.emit(bar(2, symbol="BTCUSDT"))
        bus.emit(bar(3))  # the right symbol after all: the note goes
    assert c.hint is None and c.figure.layout.annotations == ()
    c.flush()
    assert len(c.figure.data[0].x) == 1


def test_a_multi_symbol_feed_gives_no_hint_when_the_symbol_comes(bus, fake):
    c = make_chart(bus, fake)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(5):
            bus.emit(bar(i, symbol="ETH-USD"))
            bus.emit(bar(i))
    assert c.hint is None


def test_lab_chart_of_an_unpublished_symbol_warns(tmp_path):
    with evlab.Lab(record=False) as lab:
        c = lab.chart("BTC-USD")
        lab.bus.emit(bar(0, symbol="BTCUSDT"))
        with pytest.warns(UserWarning, match=r"no bars for 'BTC-USD'.*BTCUSDT"):
            lab.bus.emit(bar(1, symbol="BTCUSDT"))
        assert "BTCUSDT" in c.hint


# --- the bid/ask band and the trades over the candles ------------------------------------------

def quote(i: int, bid: float = 100.0, spread: float = 0.02, *, source: str = "",
          symbol: str = "BTC-USD"):
    return create_quote_event(symbol, T0 + i * SEC, bid + i * 0.01, bid + i * 0.01 + spread,
                              1.0 + i, 2.0 + i, source=source)


def test_the_band_holds_the_quotes_and_shows_with_the_first_one(bus, fake):
    c = make_chart(bus, fake)  # quotes="auto"
    bid_trace, ask_trace = c.figure.data[F.BID], c.figure.data[F.ASK]
    assert bid_trace.visible is False and ask_trace.visible is False
    bus.emit(bar(0))
    c.flush()
    assert bid_trace.visible is False  # bars alone: no band
    quotes = [bus.emit(quote(i)) for i in range(5)]
    c.flush()
    assert bid_trace.visible is True and ask_trace.visible is True
    np.testing.assert_array_equal(bid_trace.x, wtimes(0, 5))
    np.testing.assert_array_equal(bid_trace.y, [q.bid for q in quotes])
    np.testing.assert_array_equal(ask_trace.y, [q.ask for q in quotes])
    np.testing.assert_array_equal(bid_trace.customdata, [q.bid_size for q in quotes])
    np.testing.assert_array_equal(ask_trace.customdata, [q.ask_size for q in quotes])
    assert ask_trace.fill == "tonexty" and bid_trace.line.shape == "hv"  # a band of steps
    assert c.stats["quotes"] == 5


def test_trades_are_markers_coloured_by_taker_side(bus, fake):
    c = make_chart(bus, fake)
    assert c.figure.data[F.TRADES].visible is False
    ticks = [bus.emit(create_tick_event("BTC-USD", T0 + i * SEC, 100.0 + i, 0.5, side=side))
             for i, side in enumerate(["BUY", "SELL", None])]
    bus.emit(create_tick_event("ETH-USD", T0, 5.0, 1.0, side="BUY"))  # another symbol
    c.flush()
    trades = c.figure.data[F.TRADES]
    assert trades.visible is True and trades.mode == "markers"
    np.testing.assert_array_equal(trades.y, [t.price for t in ticks])
    np.testing.assert_array_equal(trades.x, wtimes(0, 3))
    scale = dict((v, c) for v, c in trades.marker.colorscale)
    assert [scale[v] for v in trades.marker.color] == [F.UP, F.DOWN, F.TRADE_COLOUR[None]]
    assert list(trades.hovertext) == ["BUY 0.5 @ 100", "SELL 0.5 @ 101", "trade 0.5 @ 102"]
    assert c.figure.data[F.BID].visible is False  # trades only: no band


def test_quote_source_chooses_which_quotes_feed_the_band(bus, fake):
    c = make_chart(bus, fake, quote_source="orderbooks")
    bus.emit(quote(0, bid=100.0, source="feed"))  # the venue's bookTicker
    bus.emit(quote(1, bid=200.0, source="orderbooks"))  # the book's top
    bus.emit(quote(2, bid=300.0, source="feed"))
    c.flush()
    assert list(c.figure.data[F.BID].y) == [200.01]
    every = make_chart(bus, fake)  # None: every quote of the symbol
    bus.emit(quote(3, bid=400.0, source="feed"))
    every.flush()
    assert list(every.figure.data[F.BID].y) == [400.03]


def test_tick_window_bounds_the_quotes_and_trades_kept(bus, fake):
    c = make_chart(bus, fake, tick_window=10)
    for i in range(50):
        bus.emit(quote(i))
        bus.emit(create_tick_event("BTC-USD", T0 + i * SEC, 100.0 + i, 1.0))
    c.flush()
    assert len(c.data.quotes) == len(c.data.trades) == 10  # bounded deques
    np.testing.assert_array_equal(c.figure.data[F.BID].x, wtimes(40, 10))
    np.testing.assert_array_equal(c.figure.data[F.TRADES].y, 100.0 + np.arange(40, 50))
    assert c.stats["quotes"] == c.stats["trades"] == 50  # every one counted
    with pytest.raises(ValueError, match="tick_window"):
        make_chart(bus, fake, tick_window=0)


def test_an_empty_quote_side_is_a_gap_not_a_crash(bus, fake):
    """A venue side that is empty: bid (or ask) None, sizes None, as a recording may hold it
    (``trusted`` builds events from checked rows without the factory's checks)."""
    c = make_chart(bus, fake)
    one_sided = trusted(QuoteEvent, ["symbol", "bid", "ask", "bid_size", "ask_size", "time_ns"])
    bus.emit(quote(0))
    for e in one_sided([("BTC-USD", None, 101.0, None, 3.0, T0 + SEC),
                        ("BTC-USD", 99.0, None, 1.0, None, T0 + 2 * SEC)]):
        bus.emit(e)
    bus.emit(quote(3))
    c.flush()
    bid, ask = c.figure.data[F.BID], c.figure.data[F.ASK]
    np.testing.assert_array_equal(bid.y, [100.0, np.nan, 99.0, 100.03])
    np.testing.assert_array_equal(ask.y, [100.02, 101.0, np.nan, 100.05])
    np.testing.assert_array_equal(bid.customdata, [1.0, np.nan, 1.0, 4.0])
    assert bid.connectgaps is False and c.redraws == 1


def test_quotes_and_trades_can_be_on_from_the_start_or_off(bus, fake):
    on = make_chart(bus, fake, quotes=True, trades=True)
    assert on.figure.data[F.BID].visible is True and on.figure.data[F.TRADES].visible is True
    off = make_chart(bus, fake, quotes=False, trades=False)
    bus.emit(quote(0))
    bus.emit(create_tick_event("BTC-USD", T0, 100.0, 1.0))
    off.flush()
    assert off.figure.data[F.BID].visible is False and len(off.data.quotes) == 0
    assert off.figure.data[F.TRADES].visible is False and len(off.data.trades) == 0
    assert len(on._subs) - len(off._subs) == 2  # off: no quote or tick handler at all
    with pytest.raises(ValueError, match="quotes: must be True, False or 'auto'"):
        make_chart(bus, fake, quotes="yes")


def test_quotes_are_coalesced_with_the_candles(bus, fake):
    """A burst of quotes, trades and bars within one frame is one redraw holding them all."""
    c = make_chart(bus, fake, max_fps=10)
    bus.emit(bar(0))
    fake.advance(0.0)
    assert c.redraws == 1
    for i in range(200):
        bus.emit(quote(i % 50))
        bus.emit(create_tick_event("BTC-USD", T0 + i * SEC, 100.0, 1.0, side="BUY"))
    fake.advance(0.05)
    assert c.redraws == 1  # the frame is not over
    fake.advance(0.1)
    assert c.redraws == 2 and len(c.figure.data[F.BID].y) == 200
    assert len(c.figure.data[F.TRADES].y) == 200


def test_quotes_of_the_symbol_give_no_wrong_symbol_hint(bus, fake):
    c = make_chart(bus, fake)
    bus.emit(quote(0))  # the chart's symbol is on the bus, as quotes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bus.emit(bar(0, symbol="ETH-USD"))
        bus.emit(bar(1, symbol="ETH-USD"))
    assert c.hint is None


# --- orders, fills of brackets, panels, equity to the end, clear, width (issue 13 item 7) -----

def _bracket_session(tmp_path, fake):
    """A real bus, portfolio, broker and recorder; a script places, on bar 0: a bracket entry
    ``e`` (BUY LIMIT 99, take-profit 110, stop-loss 95), a limit ``l`` (BUY 90, replaced at
    92 on bar 2 and canceled on bar 3) and a stop ``s`` (BUY 120, never touched). Bar 1
    fills ``e`` at 99 (inside the bar: its children work from bar 2), bar 3 reaches 111:
    the take-profit fills at 110 and cancels the stop-loss. Returns the recording (saved
    and loaded) and the live chart that followed the bus."""
    from evlab.events import create_cancel_event, create_order_event, create_replace_event

    script = {  # built inside the bar's handler: each event takes the bar's time
        0: lambda: [create_order_event("AAPL", "BUY", 10, "LIMIT", 99.0, take_profit=110.0,
                               stop_loss=95.0, order_id="e"),
            create_order_event("AAPL", "BUY", 5, "LIMIT", 90.0, order_id="l"),
            create_order_event("AAPL", "BUY", 5, "STOP", stop_price=120.0, order_id="s")],
        2: lambda: [create_replace_event("l", limit_price=92.0)],
        3: lambda: [create_cancel_event("l")],
    }
    ohlc = [(100.0, 101.0, 99.5, 100.0), (100.0, 101.0, 98.5, 100.0),
            (100.0, 102.0, 99.0, 101.0), (101.0, 111.0, 100.0, 108.0),
            (108.0, 109.0, 107.0, 108.0)]
    return _broker_session(tmp_path / "bracket.parquet", fake, script, ohlc)


def _broker_session(path, fake, script, ohlc):
    """Bars ``ohlc`` through a real bus, portfolio, broker, recorder and live chart; on bar
    ``i`` the strategy emits ``script[i]()``. Returns (recording, live chart, portfolio)."""
    from evlab.execution import PaperBroker, Portfolio
    from evlab.manager import EventManager
    from evlab.recording import EventRecorder, load_recording

    bus = EventBus()
    recorder = EventRecorder(bus)
    manager = EventManager(bus)
    portfolio = Portfolio(100_000)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", PaperBroker(portfolio), PaperBroker.EVENTS,
                               priority=10)
    live = LiveChart(bus, "AAPL", clock=fake, schedule=fake.schedule)
    n = iter(range(99))

    def strategy(b):
        for e in script.get(next(n), list)():
            bus.emit(e)

    bus.register(EventType.BAR, strategy)
    for i, b in enumerate(ohlc):
        bus.emit(create_bar_event("AAPL", T0 + i * SEC, *b, 1e6))
    live.flush()
    recorder.close()
    return load_recording(recorder.save(path)), live, portfolio


def _ns_of(x) -> list[int]:
    return [int(v) for v in np.asarray(x, dtype="datetime64[ns]").view(np.int64)]


def _segments(fig, name):
    """A segment trace as (start, end, level) per segment: points t0, t1, t1 / L, L, NaN."""
    trace = fig.data[TRACES.index(name)]
    t, y = _ns_of(trace.x), list(trace.y)
    return [((t[i] - T0) // SEC, (t[i + 1] - T0) // SEC, y[i]) for i in range(0, len(t), 3)
            if not math.isnan(y[i]) and math.isnan(y[i + 2])]


def test_working_orders_are_segments_on_the_static_and_live_chart(tmp_path, fake):
    rec, live, _ = _bracket_session(tmp_path, fake)
    static = chart(rec)  # orders drawn by default
    for fig in (static, live.figure):
        assert sorted(_segments(fig, "limit")) == [(0, 1, 99.0), (0, 2, 90.0), (2, 3, 92.0)]
        assert _segments(fig, "stop") == [(0, 4, 120.0)]  # still working: to the last bar
        assert _segments(fig, "take_profit") == [(1, 3, 110.0)]
        assert _segments(fig, "stop_loss") == [(1, 3, 95.0)]
        # the entry's fill is a plain fill; the take-profit's is marked apart
        assert list(fig.data[F.FILL].y) == [99.0]
        assert list(fig.data[F.TAKE_PROFIT_FILL].y) == [110.0]
        assert _ns_of(fig.data[F.TAKE_PROFIT_FILL].x) == [T0 + 3 * SEC]
        assert len(fig.data[F.STOP_LOSS_FILL].y) == 0
        assert fig.data[F.TAKE_PROFIT_FILL].hovertext[0].startswith("take-profit SELL 10")
        assert fig.data[F.STOP_LOSS].line.color != fig.data[F.TAKE_PROFIT].line.color
    assert chart(rec, orders=False).data[F.LIMIT].y == ()


def test_the_equity_runs_to_the_last_bar(tmp_path, fake):
    rec, live, portfolio = _bracket_session(tmp_path, fake)
    last_event = rec.portfolio().index[-1]
    assert last_event < pd.Timestamp(T0 + 4 * SEC, tz="UTC")  # flat: bar 4 publishes nothing
    for fig in (chart(rec), live.figure):
        eq = fig.data[F.EQUITY]
        assert _ns_of(eq.x)[-1] == T0 + 4 * SEC
        assert eq.y[-1] == pytest.approx(portfolio.equity)  # flat: carried forward
        assert eq.line.shape == "hv"  # published on change: each value holds until the next
        assert portfolio.equity == pytest.approx(100_000 + 10 * (110 - 99))


def test_equity_is_marked_to_the_closes_after_the_last_portfolio_event():
    from evlab.plot.equity import held_quantity, run_to_end

    t = np.array([0, 2], np.int64)
    bar_t = np.arange(5, dtype=np.int64)
    close = np.array([10.0, 11.0, 12.0, 14.0, 9.0])
    assert held_quantity('[["AAPL", 3.0, 10.0]]', "AAPL") == 3.0
    assert held_quantity((("MSFT", 1.0, 5.0),), "AAPL") is None  # not on this chart
    assert held_quantity("[]", "AAPL") == 0.0
    tt, yy = run_to_end(t, np.array([100.0, 106.0]), 3.0, bar_t, close)
    assert list(tt) == [0, 2, 3, 4] and list(yy) == [100.0, 106.0, 112.0, 97.0]
    _, flat = run_to_end(t, np.array([100.0, 106.0]), None, bar_t, close)
    assert list(flat) == [100.0, 106.0, 106.0, 106.0]


def btc_bars(n: int = 30) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    close = 40_000 + 50 * np.sin(np.arange(n))
    return pd.DataFrame({"open": close - 5, "high": close + 20, "low": close - 20,
                         "close": close, "volume": 1.0}, index=index)


def test_indicators_far_from_the_price_get_their_own_panel():
    bars = btc_bars()
    overlays = pd.DataFrame({"sma": bars["close"].rolling(3).mean(),
                             "rsi": 50 + 20 * np.cos(np.arange(30)),
                             "z": np.sin(np.arange(30)),
                             "upper": bars["high"] + 300}, index=bars.index)
    fig = chart(bars, overlays=overlays, panels={"z": "osc"})
    axes = {d.name: d.yaxis for d in fig.data[len(TRACES):]}
    assert axes == {"sma": "y", "upper": "y", "rsi": "y4", "z": "y5"}
    assert fig.layout.yaxis4.title.text == "rsi" and fig.layout.yaxis5.title.text == "osc"
    # below the candles, above the volume; one shared x axis
    assert fig.layout.yaxis.domain[0] > fig.layout.yaxis4.domain[1]
    assert fig.layout.yaxis4.domain[0] > fig.layout.yaxis5.domain[1]
    assert fig.layout.yaxis5.domain[0] > fig.layout.yaxis2.domain[1]
    assert fig.layout.yaxis4.anchor == "x" and fig.data[len(TRACES) + 1].xaxis in (None, "x")


def test_a_declared_panel_from_a_recording_and_price_forced_on_the_candles():
    frame = recording_frame()
    extra = [dict(seq=20 + i, type="system", event_time=pd.Timestamp(T0, tz="UTC"),
                  symbol=None, source="s", cause=1, kind="indicator",
                  data=indicator_event("AAPL", values, panel=panel).data)
             for i, (values, panel) in enumerate([({"macd": 0.1, "signal": 0.2}, "macd"),
                                                  ({"far": 500.0}, "price")])]
    frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    frame["data"] = [d if not isinstance(d, dict) else __import__("json").dumps(d)
                     for d in frame["data"]]
    fig = chart(frame, "AAPL")
    axes = {d.name: d.yaxis for d in fig.data[len(TRACES):]}
    assert axes == {"sma": "y", "macd": "y4", "signal": "y4", "far": "y"}
    with pytest.raises(ValueError, match="panel"):
        indicator_event("AAPL", "x", 1.0, panel="")


def test_the_live_chart_adds_panels_as_indicators_come(bus, fake):
    c = make_chart(bus, fake)

    def strategy(b):
        i = (b.time_ns - T0) // SEC
        bus.emit(indicator_event(b.symbol, "sma", b.close))
        if i >= 2:
            bus.emit(indicator_event(b.symbol, "rsi", 40.0 + i, panel="rsi"))
        if i >= 4:
            bus.emit(indicator_event(b.symbol, "z", 0.5 - i / 10))  # by range: a panel

    bus.register(EventType.BAR, strategy)
    for i in range(3):
        bus.emit(bar(i))
    c.flush()
    axes = {d.name: d.yaxis for d in c.figure.data[len(TRACES):]}
    assert axes == {"sma": "y", "rsi": "y4"}
    assert c.figure.layout.yaxis4.title.text == "rsi"
    for i in range(3, 6):
        bus.emit(bar(i))
    c.flush()
    axes = {d.name: d.yaxis for d in c.figure.data[len(TRACES):]}
    assert axes == {"sma": "y", "rsi": "y4", "z": "y5"}
    assert list(c.figure.data[len(TRACES) + 1].y) == [42.0, 43.0, 44.0, 45.0]
    assert c.figure.layout.yaxis5.domain[1] < c.figure.layout.yaxis4.domain[0]
    assert c.redraws == 2  # panels are added inside the coalesced redraws


def test_clear_empties_the_chart_and_keeps_following(bus, fake):
    c = make_chart(bus, fake)
    bus.register(EventType.BAR, lambda b: bus.emit(indicator_event(b.symbol, "sma", b.close)))
    bus.register(EventType.BAR, lambda b: bus.emit(PortfolioEvent(500.0, 1000.0 + b.close)))
    subs = [s.name for s in c._subs]
    for i in range(3):
        bus.emit(bar(i))
    bus.emit(create_signal_event("BUY", 100.0, "BTC-USD", "s"))
    bus.emit(create_fill_event("BTC-USD", "BUY", 1.0, 100.0))
    c.flush()
    assert c.figure.layout.yaxis3.visible is True
    c.clear()
    assert c.to_frame().empty and c.points == 0
    assert all(len(d.x) == 0 for d in c.figure.data)
    assert c.figure.layout.yaxis3.visible is True  # the layout stays
    bus.emit(bar(5))
    c.flush()
    np.testing.assert_array_equal(c.figure.data[F.CANDLES].x, wtimes(5, 1))
    assert list(c.figure.data[len(TRACES)].y) == [bar(5).close]
    assert len(c.figure.data[F.BUY].x) == 0 and len(c.figure.data[F.FILL].x) == 0
    assert [s.name for s in c._subs] == subs and c.stats["bars"] == 4


def test_the_charts_take_the_output_width(bus, fake):
    c = make_chart(bus, fake)
    layout = c.figure.layout
    assert layout.autosize is True and layout.width is None
    assert c.figure._config["responsive"] is True
    static = chart(btc_bars())
    assert static.layout.autosize is True and static.layout.width is None
    # plotly's front end draws a new view before it is in the page (at 700 px): when it
    # counts the view, the chart asks it to measure again, once; and at the next redraw
    sent = []
    c.figure.observe(lambda ch: ch["new"] and sent.append(ch["new"]["relayout_data"]),
                     names="_py2js_relayout")
    for i in range(2):
        bus.emit(bar(i))
        c.flush()
        assert sent == [{"autosize": True}]  # armed when it was made: the first redraw
    c.figure._view_count = 1  # what the front end sends when a view appears
    assert sent == [{"autosize": True}] * 2
    for i in range(2, 4):
        bus.emit(bar(i))
        c.flush()
        assert sent == [{"autosize": True}] * 3 and c._width.fits == 3
    assert c.figure.layout.width is None


def test_order_levels_follow_each_step_of_an_order_in_either_arrival_order():
    """``OrderLevels`` fed by hand: a stop-limit draws its stop, then its limit once
    triggered; an order the broker names (sent without an id) and one whose update comes
    before the order itself (the broker runs first on a live bus) are drawn; an expired
    and a rejected order end their segment or never start one; unanswered requests are
    bounded and counted."""
    from evlab.plot.orders import OrderLevels

    levels = OrderLevels(keep=3)
    levels.order(1, "sl", "STOP_LIMIT", "BUY", 2, 101.0, 100.0)
    levels.update(10, "sl", "ACCEPTED", 1)
    levels.update(20, "sl", "TRIGGERED", 1)
    levels.update(30, "sl", "FILLED", 1)
    levels.order(2, "", "LIMIT", "SELL", 1, 105.0, None)  # no id: the broker names it
    levels.update(10, "broker-7", "ACCEPTED", 2)
    levels.update(40, "broker-7", "EXPIRED", 2)
    levels.update(15, "early", "ACCEPTED", 3)  # before its order (live dispatch)
    levels.order(3, "early", "STOP", "SELL", 1, None, 90.0, parent_id="entry")
    levels.order(4, "bad", "LIMIT", "BUY", 1, 95.0, None)
    levels.update(16, "bad", "REJECTED", 4)
    levels.order(5, "m", "MARKET", "BUY", 1, None, None)  # no level
    levels.update(16, "m", "ACCEPTED", 5)
    got = [(s.start_ns, s.end_ns, s.level, s.kind) for s in levels.segments()]
    assert got == [(10, 20, 100.0, "stop"), (20, 30, 101.0, "limit"),
                   (10, 40, 105.0, "limit"), (15, None, 90.0, "stop_loss")]
    assert levels.fill_role("early") == "stop_loss" and levels.fill_role("broker-7") is None
    assert levels.dropped == 0
    for seq in range(10, 15):  # orders no broker answers: the oldest are forgotten, counted
        levels.order(seq, f"x{seq}", "LIMIT", "BUY", 1, 1.0, None)
    assert levels.dropped == 2


def test_panels_declared_up_front_are_there_from_the_start(bus, fake):
    c = make_chart(bus, fake, panels={"rsi": "osc", "z": "osc", "sma": "price"})
    assert c.figure.layout.yaxis4.title.text == "osc"
    assert c.figure.layout.yaxis.domain[0] > c.figure.layout.yaxis4.domain[1]
    bus.register(EventType.BAR, lambda b: bus.emit(indicator_event(
        b.symbol, {"rsi": 55.0, "z": 0.5, "sma": b.close})))
    bus.emit(bar(0))
    c.flush()
    axes = {d.name: d.yaxis for d in c.figure.data[len(TRACES):]}
    assert axes == {"rsi": "y4", "z": "y4", "sma": "y"}


def test_a_trailing_stop_is_drawn_at_the_brokers_level_as_it_moves(tmp_path, fake):
    """The broker publishes each move of a trailing stop (``TRAILED`` with its
    ``stop_price``); both charts draw those levels, the static one from the recording."""
    from evlab.events import create_order_event

    script = {0: lambda: [
        create_order_event("AAPL", "BUY", 10, order_id="in"),
        create_order_event("AAPL", "SELL", 10, "TRAILING_STOP", trail_amount=2.0,
                           reduce_only=True, order_id="trail")]}
    # bar 0: accepted at 100 - 2 = 98; bar 1's high 105 moves it to 103 for bar 2, whose
    # low 102.5 fills it there
    ohlc = [(100.0, 101.0, 99.5, 100.0), (100.0, 105.0, 99.0, 104.0),
            (104.0, 104.0, 102.5, 103.0), (103.0, 104.0, 102.0, 103.0)]
    rec, live, _ = _broker_session(tmp_path / "trail.parquet", fake, script, ohlc)
    updates = rec.order_updates()
    trailed = updates[updates["status"] == "TRAILED"]
    assert trailed["stop_price"].tolist() == [98.0, 103.0]
    for fig in (chart(rec), live.figure):
        assert _segments(fig, "stop") == [(0, 2, 98.0), (2, 2, 103.0)]
        assert list(fig.data[F.FILL].y) == [100.0, 103.0]
