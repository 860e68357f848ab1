"""Portfolio: average-cost accounting to the cent, equity marks, published states, bad fills."""

import math

import pandas as pd
import pytest

from evlab.core.events import (
    ErrorEvent,
    EventBus,
    EventManager,
    EventType,
    PortfolioEvent,
    create_bar_event,
    create_fill_event,
)
from evlab.execution import Portfolio

T0 = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday


def day(i: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=i)


def bar(symbol: str, i: int, close: float, open_: float | None = None):
    open_ = close if open_ is None else open_
    return create_bar_event(symbol, day(i), open_, max(open_, close), min(open_, close), close,
                            1_000)


def fill(symbol: str, i: int, side: str, quantity: float, price: float, commission: float = 0.0):
    return create_fill_event(symbol, side, quantity, price, commission, timestamp=day(i))


def setup(**kwargs):
    bus = EventBus()
    portfolio = Portfolio(100_000, **kwargs)
    EventManager(bus).register_component("portfolio", portfolio,
                                         [EventType.BAR, EventType.FILL], priority=20)
    log = []
    bus.register_all(log.append)
    return bus, portfolio, log


def states(log):
    return [e for e in log if isinstance(e, PortfolioEvent)]


def assert_identity(p: Portfolio) -> None:
    """equity == cash + marked positions == initial cash + realised + unrealised P&L."""
    assert p.equity == pytest.approx(p.initial_cash + p.realized_pnl + p.unrealized_pnl,
                                     abs=1e-9)


def test_long_then_partial_close_to_the_cent():
    bus, p, log = setup()
    bus.emit(bar("AAPL", 0, 100.0))
    assert [(s.cash, s.equity) for s in states(log)] == [(100_000.0, 100_000.0)]

    bus.emit(fill("AAPL", 1, "BUY", 10, 100.0, commission=1.0))  # before day 1's bar
    assert p.cash == pytest.approx(98_999.00, abs=1e-9)
    assert p.equity == pytest.approx(99_999.00, abs=1e-9)  # marked at the fill price
    assert (p.realized_pnl, p.unrealized_pnl) == (-1.0, 0.0)

    bus.emit(bar("AAPL", 1, 105.0))
    assert p.equity == pytest.approx(100_049.00, abs=1e-9)
    assert p.unrealized_pnl == pytest.approx(50.00, abs=1e-9)

    bus.emit(fill("AAPL", 2, "SELL", 4, 110.0, commission=1.0))
    assert p.cash == pytest.approx(99_438.00, abs=1e-9)  # 98,999 + 440 - 1
    assert p.realized_pnl == pytest.approx(38.00, abs=1e-9)  # -1 + 4 * (110 - 100) - 1
    assert p.positions["AAPL"].quantity == 6 and p.positions["AAPL"].avg_price == 100.0
    assert p.unrealized_pnl == pytest.approx(60.00, abs=1e-9)

    bus.emit(bar("AAPL", 2, 108.0))
    assert p.equity == pytest.approx(100_086.00, abs=1e-9)  # 99,438 + 6 * 108
    assert p.unrealized_pnl == pytest.approx(48.00, abs=1e-9)
    assert p.commission == 2.0
    assert_identity(p)

    last = states(log)[-1]
    assert (last.cash, last.equity, last.realized_pnl, last.unrealized_pnl) == (
        p.cash, p.equity, p.realized_pnl, p.unrealized_pnl)
    assert last.positions == (("AAPL", 6.0, 100.0),)
    assert last.timestamp == day(2)  # a state carries the time of the event that changed it


def test_a_fill_at_a_bars_open_keeps_that_bars_close_mark():
    bus, p, _ = setup()
    bus.emit(bar("AAPL", 0, 100.0))
    bus.emit(bar("AAPL", 1, 104.0, open_=101.0))
    bus.emit(fill("AAPL", 1, "BUY", 10, 101.0))  # executed at day 1's open, seen after it
    assert p.prices["AAPL"] == 104.0
    assert p.equity == pytest.approx(100_030.00, abs=1e-9)


def test_short_add_and_reversal_to_the_cent():
    bus, p, _ = setup(allow_short=True)
    bus.emit(bar("XYZ", 0, 50.0))
    bus.emit(fill("XYZ", 1, "SELL", 5, 50.0, commission=0.5))
    bus.emit(fill("XYZ", 1, "SELL", 5, 40.0, commission=0.5))
    assert p.positions["XYZ"].quantity == -10 and p.positions["XYZ"].avg_price == 45.0
    assert p.cash == pytest.approx(100_449.00, abs=1e-9)  # + 250 + 200 - 1

    bus.emit(fill("XYZ", 2, "BUY", 15, 42.0, commission=1.5))  # cover 10, then long 5
    assert p.realized_pnl == pytest.approx(27.50, abs=1e-9)  # 10 * (45 - 42) - 2.5
    assert p.positions["XYZ"].quantity == 5 and p.positions["XYZ"].avg_price == 42.0
    assert p.cash == pytest.approx(99_817.50, abs=1e-9)  # 100,449 - 630 - 1.5
    bus.emit(bar("XYZ", 2, 47.0))
    assert p.unrealized_pnl == pytest.approx(25.00, abs=1e-9)
    assert p.equity == pytest.approx(100_052.50, abs=1e-9)
    assert_identity(p)

    bus.emit(fill("XYZ", 3, "SELL", 5, 46.0))  # flat again
    assert p.positions == {} and p.unrealized_pnl == 0.0
    assert p.realized_pnl == pytest.approx(47.50, abs=1e-9)
    assert p.equity == pytest.approx(100_047.50, abs=1e-9)


def test_publishes_only_when_the_state_changes():
    bus, p, log = setup()
    for i, close in enumerate([100.0, 101.0, 102.0]):
        bus.emit(bar("AAPL", i, close))
    assert len(states(log)) == 1  # flat: only the starting state
    bus.emit(fill("AAPL", 3, "BUY", 1, 102.0))
    bus.emit(bar("AAPL", 3, 102.0))  # same mark: nothing changed
    bus.emit(bar("AAPL", 4, 103.0))
    assert [s.timestamp for s in states(log)] == [day(0), day(3), day(4)]
    by_seq = {e.seq: e for e in log}
    assert [str(by_seq[s.cause].type) for s in states(log)] == ["bar", "fill", "bar"]
    curve = p.equity_curve()
    assert list(curve.index) == [day(i) for i in range(5)]
    assert str(curve.index.tz) == "UTC" and curve.index.name == "time"
    assert list(curve) == [100_000.0] * 4 + [100_001.0]
    frame = p.fills_frame()
    assert list(frame.columns) == ["symbol", "side", "quantity", "price", "commission",
                                   "order_id"]
    assert frame.index[0] == day(3) and frame.iloc[0]["price"] == 102.0


def test_equity_every_bounds_what_marks_publish_and_keeps_the_curve_exact():
    bus, p, log = setup(equity_every="2D")  # bars a day apart: marks publish every 2 days
    bus.emit(bar("AAPL", 0, 100.0))
    bus.emit(fill("AAPL", 0, "BUY", 1, 100.0))
    for i in range(1, 6):
        bus.emit(bar("AAPL", i, 100.0 + i))
    assert [s.timestamp for s in states(log)] == [day(0), day(0), day(2), day(4)]  # bar, fill
    bus.emit(fill("AAPL", 5, "SELL", 1, 105.0))  # a fill always publishes
    assert states(log)[-1].timestamp == day(5) and states(log)[-1].positions == ()
    bus.emit(fill("AAPL", 5, "BUY", 1, 105.0))
    bus.emit(bar("AAPL", 6, 107.0))  # a day after the last event: bounded
    p.publish()  # forced: the state as of now
    assert states(log)[-1].equity == 100_007.0
    assert list(p.equity_curve()) == [100_000.0 + i for i in range(6)] + [100_007.0]
    for bad in ("soon", "-1min", 0):
        with pytest.raises(ValueError, match="equity_every"):
            Portfolio(1_000, equity_every=bad)


def _bypass(event, **values):
    """An event carrying values its constructor would refuse (as a buggy producer might)."""
    for name, value in values.items():
        object.__setattr__(event, name, value)
    return event


@pytest.mark.parametrize(("event", "why"), [
    (fill("MSFT", 1, "BUY", 1, 100.0), "unknown symbol 'MSFT'"),
    (_bypass(fill("AAPL", 1, "BUY", 1, 100.0), quantity=-5.0), "quantity must be a positive"),
    (_bypass(fill("AAPL", 1, "BUY", 1, 100.0), price=math.nan), "price must be a positive"),
    (_bypass(fill("AAPL", 1, "BUY", 1, 100.0), commission=-1.0), "commission must be"),
    (fill("AAPL", 1, "SELL", 20, 100.0), "shorting is off"),
    (fill("AAPL", 1, "BUY", 1_000, 100.0, commission=1.0), "margin is off"),
])
def test_bad_fills_publish_an_error_and_change_nothing(event, why):
    bus, p, log = setup()
    bus.emit(bar("AAPL", 0, 100.0))
    bus.emit(fill("AAPL", 0, "BUY", 10, 100.0))
    before = (p.cash, p.equity, p.realized_pnl, dict(p.positions), len(p.fills_frame()),
              len(states(log)), p.equity_curve().to_dict())
    sent = bus.emit(event)
    errors = [e for e in log if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and why in errors[0].message
    assert errors[0].error_type == "FillRejected"
    assert errors[0].original_seq == sent.seq and errors[0].cause == sent.seq
    after = (p.cash, p.equity, p.realized_pnl, dict(p.positions), len(p.fills_frame()),
             len(states(log)), p.equity_curve().to_dict())
    assert after == before
    assert bus.get_stats()["total_errors"] == 0  # a rejection is not a handler failure


def test_margin_and_shorting_when_allowed():
    bus, p, _ = setup(allow_short=True, allow_margin=True)
    bus.emit(bar("AAPL", 0, 100.0))
    bus.emit(fill("AAPL", 0, "BUY", 1_500, 100.0))
    assert p.cash == -50_000.0 and p.equity == 100_000.0
    bus.emit(fill("AAPL", 0, "SELL", 2_000, 100.0))
    assert p.position("AAPL") == -500.0


def test_check_without_a_bus_and_bad_cash():
    p = Portfolio(1_000, symbols=["AAPL"])
    assert p.check("AAPL", "BUY", 5, 100.0) is None
    assert "margin is off" in p.check("AAPL", "BUY", 11, 100.0)
    with pytest.raises(ValueError, match="unknown symbol"):
        p.on_fill(fill("IBM", 0, "BUY", 1, 10.0))
    with pytest.raises(ValueError, match=r"Portfolio\.cash"):
        Portfolio(math.nan)


def test_several_symbols_share_cash_and_unheld_bars_publish_nothing():
    """Shared cash over three symbols, fractional quantities; the market value kept by each
    held bar equals the full revaluation; a bar of a symbol not held changes no state."""
    bus, p, log = setup()
    for s, c in (("AAPL", 100.0), ("BTC", 20_000.0), ("IBM", 50.0)):
        bus.emit(bar(s, 0, c))
    bus.emit(fill("AAPL", 1, "BUY", 10, 100.0))
    bus.emit(fill("BTC", 1, "BUY", 0.125, 20_000.0))
    assert p.cash == pytest.approx(100_000 - 1_000 - 2_500, abs=1e-12)
    published = len(states(log))
    for i in range(2, 40):
        bus.emit(bar("IBM", i, 50.0 + i))  # not held: no new state
    assert len(states(log)) == published
    for i, (a, b) in enumerate([(101.0, 20_100.0), (99.5, 19_950.5), (103.25, 20_333.0)]):
        bus.emit(bar("AAPL", 40 + i, a))
        bus.emit(bar("BTC", 40 + i, b))
    expected = p.cash + 10 * 103.25 + 0.125 * 20_333.0
    assert p.equity == pytest.approx(expected, abs=1e-9)
    assert states(log)[-1].equity == pytest.approx(expected, abs=1e-9)
    assert_identity(p)
    assert len(states(log)) == published + 6  # each held bar moved the equity
    curve = p.equity_curve()
    assert curve.index.is_monotonic_increasing and not curve.index.has_duplicates
    assert curve.iloc[-1] == pytest.approx(expected, abs=1e-9)
    assert curve[day(10)] == pytest.approx(100_000.0, abs=1e-9)  # IBM bars: equity as it was
