"""Synchronous demo: a moving-average crossover strategy and a simple executor on real data.

Daily AAPL bars (2000-2013, Quandl WIKI, public domain; shipped in datasets/) flow through
an EventBus: the strategy turns bars into signals, the executor turns signals into orders and
fills. Every event carries its cause, so the account below can show the chain
bar -> signal -> order -> fill.

    python examples/event_system_demo.py [--symbol MSFT] [--fast 20] [--slow 50]
"""

from __future__ import annotations

import argparse
from collections import Counter, deque

from evlab import datasets
from evlab.core.events import (
    BarEvent,
    Event,
    EventBus,
    EventManager,
    EventType,
    FillEvent,
    OrderEvent,
    SignalEvent,
    create_bar_event,
    create_fill_event,
    create_order_event,
    create_signal_event,
)


class MovingAverageCrossStrategy:
    """Buys when the fast moving average crosses above the slow one, exits when it crosses below."""

    def __init__(self, symbol: str, fast: int = 20, slow: int = 50) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"need 0 < fast < slow, got fast={fast} slow={slow}")
        self.symbol, self.fast, self.slow = symbol, fast, slow
        self.closes: deque[float] = deque(maxlen=slow)
        self.above: bool | None = None
        self.event_bus: EventBus | None = None

    def set_event_bus(self, event_bus: EventBus) -> None:
        self.event_bus = event_bus

    def on_bar(self, event: BarEvent) -> None:
        if event.get_symbol() != self.symbol:
            return
        self.closes.append(event.get_close())
        if len(self.closes) < self.slow:
            return
        closes = list(self.closes)
        above = sum(closes[-self.fast:]) / self.fast > sum(closes) / self.slow
        if self.above is not None and above != self.above and self.event_bus:
            kind = SignalEvent.BUY if above else SignalEvent.EXIT
            self.event_bus.emit(create_signal_event(kind, event.get_close(), self.symbol,
                                                    f"sma_{self.fast}_{self.slow}"))
        self.above = above


class SimpleExecutor:
    """Turns signals into orders (all-in on BUY, flat on EXIT) and fills each order at the
    signal's price. No fees, no slippage: the paper broker comes later."""

    def __init__(self, cash: float = 100_000.0) -> None:
        self.cash = cash
        self.position = 0.0
        self.pending_price = 0.0
        self.last_price: dict[str, float] = {}
        self.event_bus: EventBus | None = None

    def set_event_bus(self, event_bus: EventBus) -> None:
        self.event_bus = event_bus

    def on_bar(self, event: BarEvent) -> None:
        self.last_price[event.symbol] = event.close

    def on_signal(self, event: SignalEvent) -> None:
        assert self.event_bus is not None
        if event.signal_type == SignalEvent.BUY and self.position == 0:
            quantity = int(self.cash // event.price)
            side = OrderEvent.BUY
        elif event.signal_type == SignalEvent.EXIT and self.position > 0:
            quantity, side = int(self.position), OrderEvent.SELL
        else:
            return
        if quantity <= 0:
            return
        self.pending_price = event.price
        self.event_bus.emit(create_order_event(event.symbol, side, quantity,
                                               strategy_id=event.strategy_id, source="executor"))

    def on_order(self, event: OrderEvent) -> None:
        assert self.event_bus is not None
        price = self.pending_price
        self.event_bus.emit(create_fill_event(event.symbol, event.side, event.quantity, price,
                                              source="executor"))
        sign = 1 if event.side == OrderEvent.BUY else -1
        self.position += sign * event.quantity
        self.cash -= sign * event.quantity * price

    def equity(self, symbol: str) -> float:
        return self.cash + self.position * self.last_price.get(symbol, 0.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--fast", type=int, default=20)
    parser.add_argument("--slow", type=int, default=50)
    args = parser.parse_args(argv)

    bars = datasets.load("stocks_daily", symbol=args.symbol)
    event_bus = EventBus(use_weak_refs=True)
    event_manager = EventManager(event_bus)
    strategy = MovingAverageCrossStrategy(args.symbol, args.fast, args.slow)
    executor = SimpleExecutor()
    event_manager.register_component("strategy", strategy, [EventType.BAR])
    event_manager.register_component("executor", executor, [EventType.BAR, EventType.SIGNAL,
                                                            EventType.ORDER])

    log: list[Event] = []
    event_bus.register_all(log.append)

    for ts, row in zip(bars.index, bars.itertuples(index=False), strict=True):
        event_bus.emit(create_bar_event(args.symbol, ts, row.open, row.high, row.low,
                                        row.close, row.volume, source="stocks_daily"))

    by_seq = {e.seq: e for e in log}
    fills = [e for e in log if isinstance(e, FillEvent)]
    counts = Counter(str(e.type) for e in log)
    print(f"evlab sync demo: {args.symbol} daily bars {bars.index[0]:%Y-%m-%d} .. "
          f"{bars.index[-1]:%Y-%m-%d} (Quandl WIKI, unadjusted)")
    print("events: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    print(f"strategy: SMA {args.fast}/{args.slow} crossover; {len(fills)} fills")
    for fill in fills[:6]:
        chain = [fill]
        while chain[-1].cause in by_seq:  # walk the causes back to the bar
            chain.append(by_seq[chain[-1].cause])
        chain_text = " -> ".join(f"{e.type} #{e.seq}" for e in reversed(chain))
        print(f"  {fill.timestamp:%Y-%m-%d} {fill.side:<4} {fill.quantity:>6.0f} @ "
              f"{fill.price:8.2f}   ({chain_text})")
    if len(fills) > 6:
        print(f"  ... {len(fills) - 6} more")
    equity = executor.equity(args.symbol)
    print(f"final equity: {equity:,.2f} from 100,000.00 ({equity / 1000 - 100:+.1f}%)")
    stats = event_bus.get_stats()
    print(f"bus: {stats['total_events']} events, {stats['active_handlers']} handlers, "
          f"{stats['total_errors']} handler errors")


if __name__ == "__main__":
    main()
