"""Asynchronous demo: a live WebSocket feed, offline, into an async strategy and a paper broker.

A local feed server streams the shipped Coinbase BTC/USD minute bars (QuantConnect Lean,
Apache-2.0, data by Kaiko) over a real WebSocket on 127.0.0.1 in an exchange's own message
format. The usage guide's WebSocketEmitter and WebSocketHandler turn the messages into bars;
an async moving-average strategy trades them through the PaperBroker; the account ends with
the analytics summary. Nothing leaves the machine.

    python examples/async_event_system_demo.py [--exchange binance] [--bars 2000] [--rate 0]
                                               [--html chart.html]

With ``--html`` the recorded session is drawn (candles, signals, fills, equity) with
``evlab.plot.chart`` and saved as a standalone HTML page.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import evlab
from evlab import analytics
from evlab.core.events import (
    BarEvent,
    Event,
    EventBus,
    EventManager,
    EventType,
    FillEvent,
    WebSocketEmitter,
    WebSocketHandler,
)
from evlab.execution import FillModel, FractionOfEquity, PaperBroker, Portfolio
from evlab.feeds.server import FeedServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from event_system_demo import MovingAverageCrossStrategy, describe_chain

CASH = 100_000.0


class AsyncMovingAverageCrossStrategy(MovingAverageCrossStrategy):
    """The sync demo's crossover, as the guide's AsyncStrategy: ``await emit_async``."""

    async def on_bar(self, event: BarEvent) -> None:  # type: ignore[override]
        signal = self.update(event)
        if signal is not None and self.event_bus:
            await self.event_bus.emit_async(signal)


async def run(exchange: str, bars: int, rate: float | None, fast: int, slow: int,
              html: str | None = None) -> None:
    started = time.perf_counter()
    async with FeedServer("btcusd_1m", exchange=exchange, limit=bars or None,
                          rate=rate) as server:
        symbol = server.symbols[0]
        bars = len(server.bars)
        event_bus = EventBus()
        event_manager = EventManager(event_bus)

        # The guide's wiring: the handler decodes what the emitter receives.
        ws_handler = WebSocketHandler("market_data_handler")
        event_bus.register_async(EventType.WEBSOCKET, ws_handler.handle)
        ws_emitter = WebSocketEmitter("market_data_handler", server.url, event_bus=event_bus,
                                      adapter=server.client_adapter(),
                                      subscriptions=server.subscribe_messages())

        strategy = AsyncMovingAverageCrossStrategy(symbol, fast, slow)
        portfolio = Portfolio(CASH)
        broker = PaperBroker(portfolio, FillModel(commission=0.0, slippage_bps=2.0),
                             FractionOfEquity(0.95))
        event_manager.register_component("portfolio", portfolio,
                                         [EventType.BAR, EventType.FILL], priority=20)
        event_manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL],
                                         priority=10)
        event_manager.register_component("strategy", strategy, [EventType.BAR])
        log: list[Event] = []
        event_bus.register_all(log.append, priority=100)
        recorder = evlab.record(event_bus)

        await ws_emitter.start()
        # The server closes normally after its last bar: that ends the feed, once every
        # message (and what its handlers emitted) has been delivered.
        await ws_emitter.wait_finished(timeout=120)
        await ws_emitter.stop()
        feed = ws_emitter.get_stats()
        decoder = ws_handler.get_stats()

    elapsed = time.perf_counter() - started
    counts = Counter(str(e.type) for e in log)
    fills = [e for e in log if isinstance(e, FillEvent)]
    received = [e for e in log if isinstance(e, BarEvent) and e.type == EventType.BAR]
    by_seq = {e.seq: e for e in log if e.seq is not None}
    print(f"evlab async demo: {len(received)} {symbol} minute bars over ws://127.0.0.1 in "
          f"{exchange}'s format, {elapsed:.1f} s (Coinbase BTC/USD, Lean/Kaiko)")
    print("events: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    print(f"feed: {feed['received']} messages, {feed['dropped']} dropped; decoder: "
          f"{decoder['errors']} errors, {decoder['gaps']} gaps (minutes without trades)")
    print(f"strategy: SMA {fast}/{slow} crossover (async), 95% of equity a trade; "
          f"{len(fills)} fills")
    for fill in fills[:4]:
        chain_text = describe_chain(fill, by_seq)
        print(f"  {fill.timestamp:%H:%M} {fill.side:<4} {fill.quantity:>4.0f} @ "
              f"{fill.price:8.2f}   ({chain_text})")
    if len(fills) > 4:
        print(f"  ... {len(fills) - 4} more")
    print(f"final equity: {portfolio.equity:,.2f} from {CASH:,.2f} "
          f"({portfolio.equity / CASH - 1:+.2%})")
    print("analytics:")
    print(analytics.format_summary(analytics.summary(*analytics.from_portfolio(portfolio))))
    if html:
        figure = evlab.plot.chart(recorder, symbol, title=f"{symbol}: SMA {fast}/{slow}")
        figure.write_html(html, include_plotlyjs=True)
        print(f"chart of the recorded session: {html}")
    print(f"stopped cleanly: {len(asyncio.all_tasks()) - 1} tasks left")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchange", default="coinbase",
                        choices=["binance", "coinbase", "kraken", "alpaca", "polygon"])
    parser.add_argument("--bars", type=int, default=0,
                        help="bars to stream (0: all 4,216, three days)")
    parser.add_argument("--rate", type=float, default=0,
                        help="bars per second (0: as fast as the client reads)")
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--html", help="save a chart of the recorded session to this file")
    args = parser.parse_args(argv)
    asyncio.run(run(args.exchange, args.bars, args.rate or None, args.fast, args.slow,
                    args.html))


if __name__ == "__main__":
    main()
