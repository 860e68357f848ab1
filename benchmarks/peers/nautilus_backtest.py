"""NautilusTrader's ``BacktestEngine`` on a Parquet file of bars, timed: run on its venv.

    python nautilus_backtest.py BARS.parquet TRADES.parquet FAST SLOW [LOG_LEVEL]

BARS has ``timestamp`` (int ns, UTC), open, high, low, close, volume. The strategy is the
arithmetic of ``evlab.examples.Crossing`` (running sums in the same order, so the same
crossings): buy on a cross up when flat, close on a cross down; market orders fill at the
bar's close (Nautilus sends each bar to the simulated venue before the strategy sees it).
Nautilus fills a market order against the bar's volume (a share at each of its prices) and
slips a tick for the rest, so it trades 0.000001 BTC, under every bar's share (the smallest
bar holds 0.000006): the trades' times and prices are compared, not their quantities.
Writes the closed trades (entry/exit time in ns, entry/exit price) to TRADES and prints one
JSON line: ``engine.run()``'s wall-clock seconds (``time.perf_counter``) and the version.
Not named like a package it imports (this folder comes first on ``sys.path``).
"""

import json
import sys
import time
from collections import deque
from importlib.metadata import version
from typing import Any

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money, Quantity
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy


class CrossConfig(StrategyConfig, frozen=True):  # type: ignore[call-arg]  # msgspec's
    bar_type: str
    fast: int
    slow: int


class Cross(Strategy):
    """evlab's ``Crossing`` decisions; records each fill (time ns, side, price)."""

    def __init__(self, config: CrossConfig) -> None:
        super().__init__(config)
        self.bar_type = BarType.from_str(config.bar_type)
        self.fast, self.slow = config.fast, config.slow
        self.closes: deque = deque(maxlen=config.slow)
        self.above = None
        self.fills: list = []
        self.long = False
        self.qty = Quantity.from_str("0.000001")  # see the docstring

    def on_start(self) -> None:
        self.subscribe_bars(self.bar_type)

    def on_bar(self, bar: Bar) -> None:
        self.closes.append(bar.close.as_double())
        if len(self.closes) < self.slow:
            return
        fast = sum(list(self.closes)[-self.fast:]) / self.fast
        above = fast > sum(self.closes) / self.slow
        before, self.above = self.above, above
        if before is None or above == before:
            return
        if above and not self.long:
            self.long = True
            self.submit_order(self.order_factory.market(
                self.bar_type.instrument_id, OrderSide.BUY, self.qty))
        elif not above and self.long:
            self.long = False
            self.submit_order(self.order_factory.market(
                self.bar_type.instrument_id, OrderSide.SELL, self.qty))

    def on_order_filled(self, event: Any) -> None:  # an OrderFilled
        self.fills.append((event.ts_event, event.order_side == OrderSide.BUY,
                           event.last_px.as_double()))


def main() -> None:
    bars_path, trades_path, fast, slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    frame = pd.read_parquet(bars_path)
    frame.index = pd.to_datetime(frame.pop("timestamp"), utc=True)
    instrument = TestInstrumentProvider.btcusdt_binance()
    bar_type = BarType.from_str(f"{instrument.id}-1-SECOND-LAST-EXTERNAL")
    bars = BarDataWrangler(bar_type, instrument).process(frame)

    level = sys.argv[5] if len(sys.argv) > 5 else "ERROR"  # a fifth argument: its log level
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(log_level=level)))
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.CASH,
                     base_currency=None, starting_balances=[Money(1_000_000_000, USDT)],
                     bar_execution=True)
    engine.add_instrument(instrument)
    engine.add_data(bars)
    strategy = Cross(CrossConfig(bar_type=str(bar_type), fast=fast, slow=slow))
    engine.add_strategy(strategy)
    t0 = time.perf_counter()
    engine.run()
    seconds = time.perf_counter() - t0

    rows, entry = [], None
    for ts, buy, price in strategy.fills:
        if buy:
            entry = (ts, price)
        elif entry is not None:
            rows.append({"entry_time": entry[0], "exit_time": ts, "entry_price": entry[1],
                         "exit_price": price})
            entry = None
    pd.DataFrame(rows, columns=["entry_time", "exit_time", "entry_price", "exit_price"]
                 ).to_parquet(trades_path, index=False)
    engine.dispose()
    print(json.dumps({"seconds": seconds, "bars": len(bars), "fills": len(strategy.fills),
                      "version": version("nautilus_trader")}))


if __name__ == "__main__":
    main()
