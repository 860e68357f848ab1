"""Synchronous demo: a moving-average crossover strategy and a paper broker on real data.

Daily AAPL bars (2000-2013, Quandl WIKI, public domain; shipped in datasets/) flow through
an EventBus: the strategy turns bars into signals, the PaperBroker turns signals into orders
and fills them at the next bar's open (with commission and slippage), the Portfolio marks the
account at each close. Every event carries its cause, so the account below can show the chain
bar -> signal -> order -> fill; it ends with the analytics summary.

    python examples/event_system_demo.py [--symbol MSFT] [--fast 20] [--slow 50]
"""

from __future__ import annotations

import argparse
from collections import Counter, deque

from evlab import analytics, datasets
from evlab.core.events import (
    BarEvent,
    ErrorEvent,
    Event,
    EventBus,
    EventManager,
    EventType,
    FillEvent,
    SignalEvent,
    create_bar_event,
    create_signal_event,
)
from evlab.execution import FillModel, FractionOfEquity, PaperBroker, Portfolio

CASH = 100_000.0


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

    def update(self, event: BarEvent) -> SignalEvent | None:
        """Take one bar; return the signal it triggers, if any (shared with the async demo)."""
        if event.get_symbol() != self.symbol:
            return None
        self.closes.append(event.get_close())
        if len(self.closes) < self.slow:
            return None
        closes = list(self.closes)
        above = sum(closes[-self.fast:]) / self.fast > sum(closes) / self.slow
        crossed = self.above is not None and above != self.above
        self.above = above
        if not crossed:
            return None
        kind = SignalEvent.BUY if above else SignalEvent.EXIT
        return create_signal_event(kind, event.get_close(), self.symbol,
                                   f"sma_{self.fast}_{self.slow}")

    def on_bar(self, event: BarEvent) -> None:
        signal = self.update(event)
        if signal is not None and self.event_bus:
            self.event_bus.emit(signal)


def describe_chain(event: Event, by_seq: dict[int, Event]) -> str:
    """``bar #1 -> signal #2 -> order #3 -> fill #5``: ``event``'s causes walked back."""
    chain = [event]
    while chain[-1].cause in by_seq:
        chain.append(by_seq[chain[-1].cause])
    return " -> ".join(f"{e.type} #{e.seq}" for e in reversed(chain))


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
    portfolio = Portfolio(CASH)
    broker = PaperBroker(portfolio, FillModel(commission=1.0, slippage_bps=5.0),
                         FractionOfEquity(0.95))
    # Portfolio first (marks each close), then the broker (fills pending orders at the open),
    # then the strategy: it sees a bar after the account is up to date.
    event_manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                                     priority=20)
    event_manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL],
                                     priority=10)
    event_manager.register_component("strategy", strategy, [EventType.BAR])

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
    print(f"strategy: SMA {args.fast}/{args.slow} crossover, 95% of equity a trade; "
          f"paper broker: next bar's open, $1 + 5 bps slippage; {len(fills)} fills")
    for fill in fills[:6]:
        chain_text = describe_chain(fill, by_seq)
        print(f"  {fill.timestamp:%Y-%m-%d} {fill.side:<4} {fill.quantity:>6.0f} @ "
              f"{fill.price:8.2f}   ({chain_text})")
    if len(fills) > 6:
        print(f"  ... {len(fills) - 6} more")
    equity = portfolio.equity
    print(f"final equity: {equity:,.2f} from {CASH:,.2f} ({equity / CASH - 1:+.1%})")
    errors = [e for e in log if isinstance(e, ErrorEvent)]
    stats = event_bus.get_stats()
    print(f"bus: {stats['total_events']} events, {stats['active_handlers']} handlers, "
          f"{stats['total_errors']} handler errors, {len(errors)} rejected")
    print("analytics:")
    print(analytics.format_summary(analytics.summary(*analytics.from_portfolio(portfolio))))


if __name__ == "__main__":
    main()
