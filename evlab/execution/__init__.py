"""Paper trading: a broker that fills signals under a fill model, and the portfolio it trades.

Register the portfolio ahead of the broker, and both ahead of strategies, so each bar marks
the account and fills pending orders before strategies see it::

    portfolio = Portfolio(100_000)
    broker = PaperBroker(portfolio, FillModel(commission=1.0, slippage_bps=5),
                         FractionOfEquity(0.95))
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)

The fill rules, on bars and on quotes and books: ``evlab.execution.fills``; the market state
the broker fills quotes/books against: ``evlab.execution.liquidity``; orders:
``evlab.execution.orders``; instrument specs: ``evlab.execution.instruments``.

``broker.py`` and ``portfolio.py`` (every bar of a backtest goes through both) are compiled
with Cython where pip can (setup.py); with ``EVLAB_PURE_PYTHON=1`` their sources run
interpreted, as the dispatch core's does.
"""

import os

if os.environ.get("EVLAB_PURE_PYTHON"):
    from evlab._accel import source_module

    source_module("evlab.execution.portfolio")  # before the broker, which imports it
    source_module("evlab.execution.broker")

from evlab.execution.broker import FillModel, PaperBroker
from evlab.execution.instruments import Instrument
from evlab.execution.orders import ORDER_COLUMNS, Order
from evlab.execution.portfolio import Portfolio, Position
from evlab.execution.sizing import FixedCash, FixedQuantity, FractionOfEquity, Sizer

__all__ = ["ORDER_COLUMNS", "FillModel", "FixedCash", "FixedQuantity", "FractionOfEquity",
           "Instrument", "Order", "PaperBroker", "Portfolio", "Position", "Sizer"]
