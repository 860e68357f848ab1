"""``Broker``: how every run of a sweep trades on paper, as a small picklable value."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from evlab.events import EventType
from evlab.execution import FillModel, FractionOfEquity, PaperBroker, Portfolio, Sizer
from evlab.manager import EventManager

__all__ = ["Broker"]


@dataclass(frozen=True)
class Broker:
    """A fresh ``Portfolio(cash)`` and ``PaperBroker(fill_model, sizer)`` for each run.

    Defaults: $100,000, fills at the next bar's open with no costs, 95% of equity per entry
    (``FractionOfEquity(0.95)``), long only. Notebook 04 trades with
    ``Broker(fill_model=FillModel(commission=1.0, slippage_bps=5))``.
    """

    cash: float = 100_000.0
    fill_model: FillModel = field(default_factory=FillModel)
    sizer: Sizer = field(default_factory=lambda: FractionOfEquity(0.95))
    allow_short: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.cash, (int, float)) or isinstance(self.cash, bool) \
                or not math.isfinite(self.cash) or self.cash <= 0:
            raise ValueError(f"Broker.cash: must be a positive finite number, got {self.cash!r}")
        if not isinstance(self.fill_model, FillModel):
            raise TypeError(f"Broker.fill_model: a FillModel, got "
                            f"{type(self.fill_model).__name__}")
        if not callable(self.sizer):
            raise TypeError(f"Broker.sizer: a sizer such as FractionOfEquity(0.95), got "
                            f"{type(self.sizer).__name__}")

    def attach(self, manager: EventManager) -> Portfolio:
        """Register a new portfolio (priority 20) and paper broker (10) on ``manager``, as
        notebook 04 does, so each bar marks the account before strategies (0) see it."""
        portfolio = Portfolio(self.cash, allow_short=self.allow_short)
        manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                                   priority=20)
        broker = PaperBroker(portfolio, self.fill_model, self.sizer)
        manager.register_component("broker", broker, PaperBroker.EVENTS, priority=10)
        return portfolio
