"""PaperBroker: fill model, costs, sizing, long/short, causes, bad input, async dispatch."""

import math

import pandas as pd
import pytest

from evlab.core.events import (
    ErrorEvent,
    EventBus,
    EventManager,
    EventType,
    FillEvent,
    OrderEvent,
    SignalEvent,
    create_bar_event,
    create_signal_event,
)
from evlab.execution import (
    FillModel,
    FixedCash,
    FixedQuantity,
    FractionOfEquity,
    PaperBroker,
    Portfolio,
)

T0 = pd.Timestamp("2024-01-01", tz="UTC")
# (open, close) per day; high/low span them
BARS = [(100.0, 101.0), (102.0, 104.0), (103.0, 99.0), (98.0, 97.0)]


def bars(symbol="AAPL", prices=BARS):
    return [create_bar_event(symbol, T0 + pd.Timedelta(days=i), o, max(o, c), min(o, c), c, 1e4)
            for i, (o, c) in enumerate(prices)]


class Script:
    """A strategy stand-in: emits the scripted signals on the given bars, at the bar's close."""

    def __init__(self, script, symbol="AAPL"):
        self.script, self.symbol, self.n = script, symbol, -1

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, bar):
        self.n += 1
        for kind in self.script.get(self.n, "").split():
            self.bus.emit(create_signal_event(kind, bar.close, self.symbol, "script"))


def run(script, fill_model=None, sizer=None, *, allow_short=False, cash=100_000.0,
        broker_priority=10, prices=BARS):
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(cash, allow_short=allow_short)
    broker = PaperBroker(portfolio, fill_model, sizer or FixedQuantity(10))
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL],
                               priority=broker_priority)
    manager.register_component("strategy", Script(script), [EventType.BAR])
    log = []
    bus.register_all(log.append)
    for b in bars(prices=prices):
        bus.emit(b)
    return log, portfolio, broker


def of(log, cls):
    return [e for e in log if isinstance(e, cls)]


def test_next_open_fills_with_costs_to_the_cent_and_the_chain():
    model = FillModel(commission=1.0, commission_rate=0.001, slippage_bps=10)
    log, p, broker = run({0: "BUY", 2: "EXIT"}, model)
    by_seq = {e.seq: e for e in log}
    buy, sell = of(log, FillEvent)
    # BUY at day 0's close fills at day 1's open 102 + 10 bps = 102.102
    assert buy.price == pytest.approx(102.102, abs=1e-12) and buy.quantity == 10
    assert buy.commission == pytest.approx(2.02102, abs=1e-12)  # 1 + 0.001 * 1,021.02
    assert buy.timestamp == T0 + pd.Timedelta(days=1)
    # EXIT at day 2's close fills at day 3's open 98 - 10 bps = 97.902
    assert sell.price == pytest.approx(97.902, abs=1e-12)
    assert sell.commission == pytest.approx(1.97902, abs=1e-12)
    assert p.positions == {} and p.cash == pytest.approx(99_953.99996, abs=1e-9)
    assert p.realized_pnl == pytest.approx(-46.00004, abs=1e-9)  # 10 * -4.2 - 4.00004
    for f in (buy, sell):  # bar -> signal -> order -> fill
        order = by_seq[f.cause]
        signal = by_seq[order.cause]
        source_bar = by_seq[signal.cause]
        assert isinstance(order, OrderEvent) and isinstance(signal, SignalEvent)
        assert str(source_bar.type) == "bar"
        assert order.time_ns == signal.time_ns == source_bar.time_ns < f.time_ns
        assert f.order_id == order.order_id and order.strategy_id == "script"
    assert broker.pending_orders == []


def test_close_fills_at_the_signal_bar():
    log, p, _ = run({0: "BUY"}, FillModel(fill_at="close", slippage_bps=100))
    (f,) = of(log, FillEvent)
    (order,) = of(log, OrderEvent)
    assert f.price == pytest.approx(102.01, abs=1e-12) and f.timestamp == T0  # 101 + 1%
    assert f.cause == order.seq
    assert p.equity == pytest.approx(100_000 - 10 * 102.01 + 10 * 97.0, abs=1e-9)


@pytest.mark.parametrize("fill_at", ["next_open", "close"])
def test_no_look_ahead_when_the_broker_sees_bars_after_the_strategy(fill_at):
    """Registered behind the strategy, the broker meets the signal before the signal's bar."""
    log, _, _ = run({0: "BUY"}, FillModel(fill_at=fill_at), broker_priority=-10)
    (f,) = of(log, FillEvent)
    expected = (T0, 101.0) if fill_at == "close" else (T0 + pd.Timedelta(days=1), 102.0)
    assert (f.timestamp, f.price) == expected


def test_no_fill_without_a_later_bar():
    log, p, broker = run({3: "BUY"})
    assert of(log, FillEvent) == [] and len(of(log, OrderEvent)) == 1
    assert [o.quantity for o in broker.pending_orders] == [10]
    assert p.positions == {}


@pytest.mark.parametrize(("sizer", "quantity"), [
    (FixedQuantity(7), 7),
    (FixedCash(1_000), 9),  # 1,000 / 101 = 9.9
    (FractionOfEquity(0.5), 495),  # 50,000 / 101 = 495.05
    (FractionOfEquity(0.5, whole=False), 50_000 / 101),
    (FixedCash(1_000, whole=False), 1_000 / 101),
])
def test_sizing(sizer, quantity):
    log, _, _ = run({0: "BUY"}, sizer=sizer)
    (order,) = of(log, OrderEvent)
    assert order.quantity == pytest.approx(quantity, rel=1e-15)


def test_long_only_sell_closes_the_long_and_never_shorts():
    log, p, _ = run({0: "SELL BUY BUY", 1: "SELL SELL"})
    orders = [(o.side, o.quantity) for o in of(log, OrderEvent)]
    assert orders == [("BUY", 10), ("SELL", 10)]  # no short, no pyramiding
    assert p.positions == {}


def test_long_short_reverses_and_exits():
    log, p, _ = run({0: "BUY", 1: "SELL SELL", 2: "EXIT"}, allow_short=True)
    orders = [(o.side, o.quantity) for o in of(log, OrderEvent)]
    assert orders == [("BUY", 10), ("SELL", 20), ("BUY", 10)]
    fills = [(f.side, f.quantity, f.price) for f in of(log, FillEvent)]
    assert fills == [("BUY", 10, 102.0), ("SELL", 20, 103.0), ("BUY", 10, 98.0)]
    assert p.realized_pnl == pytest.approx(10 * 1.0 + 10 * 5.0, abs=1e-9)


def _nan_price_signal(bus, bar):
    signal = create_signal_event("BUY", bar.close, "AAPL", "bad")
    object.__setattr__(signal, "price", math.nan)  # past the constructor's check
    bus.emit(signal)


def test_bad_signals_publish_errors_and_trade_nothing():
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(100_000)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL], priority=2)
    manager.register_component("broker", PaperBroker(portfolio, sizer=FixedCash(50)),
                               [EventType.BAR, EventType.SIGNAL], priority=1)
    log = []
    bus.register_all(log.append)

    @bus.register(EventType.BAR)
    def strategy(b):
        if b.timestamp == T0:
            _nan_price_signal(bus, b)
        elif b.close == 104.0:
            bus.emit(create_signal_event("BUY", b.close, "AAPL", "tiny"))

    for b in bars():
        bus.emit(b)
    errors = of(log, ErrorEvent)
    assert [e.error_type for e in errors] == ["SignalRejected", "SignalRejected"]
    assert "price nan is not a positive number" in errors[0].message
    assert "gave 0.0 units" in errors[1].message  # $50 buys 0 shares at 104
    signals = of(log, SignalEvent)
    assert [e.original_seq for e in errors] == [s.seq for s in signals]
    assert of(log, OrderEvent) == [] and portfolio.equity == 100_000
    assert bus.get_stats()["total_errors"] == 0


def test_an_order_the_cash_cannot_pay_is_rejected_at_the_fill():
    log, p, broker = run({0: "BUY"}, FillModel(commission=1.0), FixedQuantity(980))
    (order,) = of(log, OrderEvent)  # 980 * 102 + 1 = 99,961: affordable
    assert len(of(log, FillEvent)) == 1
    log, p, broker = run({0: "BUY"}, FillModel(commission=1.0), FixedQuantity(981))
    (order,) = of(log, OrderEvent)  # 981 * 102 + 1 = 100,063: not
    (error,) = of(log, ErrorEvent)
    assert error.error_type == "OrderRejected" and "margin is off" in error.message
    assert error.cause == order.seq and error.original_seq == order.seq
    assert error.timestamp == T0 + pd.Timedelta(days=1)  # when it failed to fill
    assert of(log, FillEvent) == [] and broker.pending_orders == []
    assert p.cash == 100_000 and p.positions == {}


def test_fill_model_validation():
    with pytest.raises(ValueError, match="fill_at"):
        FillModel(fill_at="open")
    with pytest.raises(ValueError, match="slippage_bps"):
        FillModel(slippage_bps=-1)
    with pytest.raises(ValueError, match=r"FixedQuantity\.quantity"):
        FixedQuantity(0)


async def test_the_broker_under_emit_async():
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(100_000)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", PaperBroker(portfolio, FillModel(commission=1.0)),
                               [EventType.BAR, EventType.SIGNAL], priority=10)

    async def strategy(bar):  # an async strategy that awaits its signal's dispatch
        if bar.close == 101.0:
            await bus.emit_async(create_signal_event("BUY", bar.close, "AAPL", "async"))

    bus.register_async(EventType.BAR, strategy)
    log = []
    bus.register_all(log.append)
    for b in bars():
        await bus.emit_async(b)
    by_seq = {e.seq: e for e in log}
    (f,) = of(log, FillEvent)
    order = by_seq[f.cause]
    signal = by_seq[order.cause]
    assert isinstance(order, OrderEvent) and isinstance(signal, SignalEvent)
    assert str(by_seq[signal.cause].type) == "bar"
    assert (f.price, f.timestamp) == (102.0, T0 + pd.Timedelta(days=1))
    assert portfolio.equity == pytest.approx(100_000 - 1 - 102 + 97, abs=1e-9)  # 1 share


def test_broker_and_portfolio_are_compiled_where_the_core_is_interpreted_under_pure_python():
    """setup.py compiles broker.py and portfolio.py with the core (every bar of a backtest
    goes through both); EVLAB_PURE_PYTHON=1 runs their sources, as it does the core's. A
    compiled class still pickles by reference (a Dask sweep ships portfolios and brokers)."""
    import importlib
    import os
    import pickle

    from evlab._accel import COMPILED

    pure = bool(os.environ.get("EVLAB_PURE_PYTHON"))
    assert not (pure and COMPILED)
    for module in (importlib.import_module("evlab.execution.broker"),
                   importlib.import_module("evlab.execution.portfolio")):
        # setup.py builds every extension, or none
        assert module.__file__.endswith(".py") is (pure or not COMPILED)
    assert PaperBroker.__module__ == "evlab.execution.broker"
    assert Portfolio.__module__ == "evlab.execution.portfolio"
    portfolio = Portfolio(1_000.0)
    broker = pickle.loads(pickle.dumps(PaperBroker(portfolio, FillModel(fill_at="close"))))
    assert type(broker) is PaperBroker and broker.fill_model == FillModel(fill_at="close")
    assert type(broker.portfolio) is Portfolio and broker.portfolio.cash == 1_000.0
