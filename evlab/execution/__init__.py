"""Paper trading: a broker that fills signals under a fill model, and the portfolio it trades.

Register the portfolio ahead of the broker, and both ahead of strategies, so each bar marks
the account and fills pending orders before strategies see it::

    portfolio = Portfolio(100_000)
    broker = PaperBroker(portfolio, FillModel(commission=1.0, slippage_bps=5),
                         FractionOfEquity(0.95))
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL], priority=10)
"""

from evlab.execution.broker import FillModel, PaperBroker
from evlab.execution.portfolio import Portfolio, Position
from evlab.execution.sizing import FixedCash, FixedQuantity, FractionOfEquity, Sizer

__all__ = ["FillModel", "FixedCash", "FixedQuantity", "FractionOfEquity", "PaperBroker",
           "Portfolio", "Position", "Sizer"]
