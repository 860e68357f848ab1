"""The example strategies the tutorial notebooks share, defined once and imported there.

``notebooks/03_record_and_replay`` and ``04_strategy_prototyping`` trade the same moving-average
crossover; when each pasted its own copy the two drifted apart. Like ``backtesting.test`` for
backtesting.py's tutorials, this module lives in the package so that any notebook, wherever
its kernel starts, can import it: ``from evlab.examples import SmaCross``.

``SmaCross`` trades by signals (the broker sizes and places market orders); ``BracketCross``
places its own orders: a limit entry with a take-profit and a stop-loss (a bracket). Both
find the crossings with one ``Crossing``.
"""

from __future__ import annotations

import math
import numbers
from collections import deque

from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    EventType,
    OrderEvent,
    OrderUpdateEvent,
    SignalEvent,
    create_order_event,
    create_signal_event,
)

__all__ = ["BracketCross", "Crossing", "SmaCross"]


def _windows(owner: str, fast: int, slow: int) -> tuple[int, int]:
    for name, value in (("fast", fast), ("slow", slow)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{owner}: {name} must be a whole number of bars, got {value!r}")
    fast, slow = int(fast), int(slow)  # numpy integers too (a sweep's choices frame)
    if not 0 < fast < slow:
        raise ValueError(f"{owner} needs 0 < fast < slow, got fast={fast}, slow={slow}")
    return fast, slow


class Crossing:
    """The ``fast``-bar average of the closes against the ``slow``-bar one: ``update(close)``
    returns True when it crosses above, False when it crosses below, else None (also while
    the first ``slow`` closes come in)."""

    def __init__(self, fast: int, slow: int, *, owner: str = "Crossing") -> None:
        self.fast, self.slow = _windows(owner, fast, slow)
        self.closes: deque[float] = deque(maxlen=self.slow)
        # the last ``fast`` closes too: summed as they are, no copy of the slow window per
        # bar (the sums stay whole, in the same order: running sums would round differently
        # and move trades against backtesting.py and vectorbt)
        self._recent: deque[float] = deque(maxlen=self.fast)
        self.above: bool | None = None  # fast above slow at the last close; None warming up

    def update(self, close: float) -> bool | None:
        """Take in ``close``; True / False on a crossing above / below, None otherwise."""
        closes = self.closes
        closes.append(close)
        self._recent.append(close)
        if len(closes) < self.slow:
            return None
        above = sum(self._recent) / self.fast > sum(closes) / self.slow
        before, self.above = self.above, above
        return above if before is not None and above != before else None


class SmaCross:
    """BUY when the ``fast``-bar average of the close crosses above the ``slow``-bar one, EXIT
    when it crosses below; nothing until ``slow`` bars were seen, then one signal per crossing.

    A component in the usage guide's style (``set_event_bus`` and ``on_bar``): register an
    instance with ``lab.add("sma", SmaCross(5, 20))``; a fresh instance starts with no state.
    """

    strategy_id = "sma"

    def __init__(self, fast: int = 20, slow: int = 50) -> None:
        self.crossing = Crossing(fast, slow, owner="SmaCross")
        self.fast, self.slow = self.crossing.fast, self.crossing.slow
        self.bus: EventBus | None = None

    @property
    def closes(self) -> deque[float]:
        """The last ``slow`` closes."""
        return self.crossing.closes

    @property
    def above(self) -> bool | None:
        """Whether the fast average was above the slow one at the last bar (None: warming up)."""
        return self.crossing.above

    def set_event_bus(self, bus: EventBus) -> None:
        """Called by ``EventManager.register_component``: the bus the signals go to."""
        self.bus = bus

    def on_bar(self, bar: BarEvent) -> None:
        """Take in ``bar``'s close; emit a signal if the averages crossed."""
        if self.bus is None:
            raise RuntimeError("SmaCross has no bus: register it (lab.add, register_component)")
        crossed = self.crossing.update(bar.close)
        if crossed is not None:
            kind = SignalEvent.BUY if crossed else SignalEvent.EXIT
            self.bus.emit(create_signal_event(kind, bar.close, bar.symbol, self.strategy_id))

    def __repr__(self) -> str:
        return f"SmaCross(fast={self.fast}, slow={self.slow})"


def _fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or not 0 <= value < 1:
        raise ValueError(f"BracketCross: {name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


class BracketCross:
    """A long trade on each crossing of the ``fast``-bar average above the ``slow``-bar one,
    one trade at a time, entered and left by orders instead of signals:

    * entry: a ``LIMIT`` buy at ``pullback`` below the crossing bar's close, ``DAY`` (it
      works on the next bar only: unfilled, it expires and the strategy waits for the next
      crossing); ``notional / limit`` whole units;
    * exits, a bracket on the entry: a take-profit ``LIMIT`` sell at ``take_profit`` above
      the limit price and a stop-loss ``STOP`` sell at ``stop_loss`` below it. The broker
      places both when the entry fills; the first one touched closes the trade and cancels
      the other (a bar that touches both fills the stop-loss: the broker's conservative
      rule). There is no other exit.

    Register it for ``BracketCross.EVENTS``: it follows its orders' ``OrderUpdateEvent``s to
    know when a trade has ended (``in_trade``), and the ``OrderEvent``s the broker places for
    the bracket to know its exits (``exits``: entry id -> (take-profit id, stop-loss id)).
    """

    strategy_id = "bracket"
    EVENTS: tuple[EventType, ...] = (EventType.BAR, EventType.ORDER, EventType.ORDER_UPDATE)
    _ENDED = frozenset({"CANCELED", "EXPIRED", "REJECTED"})

    def __init__(self, fast: int = 10, slow: int = 30, *, take_profit: float = 0.08,
                 stop_loss: float = 0.04, pullback: float = 0.005,
                 notional: float = 10_000.0) -> None:
        self.crossing = Crossing(fast, slow, owner="BracketCross")
        self.fast, self.slow = self.crossing.fast, self.crossing.slow
        self.take_profit = _fraction("take_profit", take_profit)
        self.stop_loss = _fraction("stop_loss", stop_loss)
        self.pullback = _fraction("pullback", pullback)
        if self.take_profit == 0 or self.stop_loss == 0:
            raise ValueError("BracketCross: take_profit and stop_loss must be above 0")
        if isinstance(notional, bool) or not isinstance(notional, numbers.Real) \
                or not math.isfinite(notional) or notional <= 0:
            raise ValueError(f"BracketCross: notional must be a positive amount, "
                             f"got {notional!r}")
        self.notional: float = float(notional)
        self.exits: dict[str, tuple[str, str]] = {}
        self._working: str | None = None  # the entry (or its exits) of the trade under way
        self._exit_ids: dict[str, str] = {}  # exit order id -> its entry's id
        self._count: int = 0
        self.bus: EventBus | None = None

    @property
    def in_trade(self) -> bool:
        """An entry working, or filled and its bracket not yet closed."""
        return self._working is not None

    def set_event_bus(self, bus: EventBus) -> None:
        """Called by ``EventManager.register_component``: the bus the orders go to."""
        self.bus = bus

    def on_bar(self, bar: BarEvent) -> None:
        """Take in ``bar``'s close; on a crossing above while out of the market, order."""
        if self.bus is None:
            raise RuntimeError("BracketCross has no bus: register it (lab.add(..., "
                               "on=BracketCross.EVENTS), register_component)")
        if self.crossing.update(bar.close) is not True or self.in_trade:
            return
        limit = bar.close * (1 - self.pullback)
        quantity = math.floor(self.notional / limit)
        if quantity < 1:
            return
        self._count += 1
        order_id = f"{self.strategy_id}-{self._count}"
        self._working = order_id
        self.bus.emit(create_order_event(
            bar.symbol, OrderEvent.BUY, quantity, "LIMIT", limit, time_in_force="DAY",
            take_profit=limit * (1 + self.take_profit), stop_loss=limit * (1 - self.stop_loss),
            order_id=order_id, strategy_id=self.strategy_id))

    def on_order(self, order: OrderEvent) -> None:
        """Note the exits the broker places for one of this strategy's entries."""
        entry = order.parent_id
        if entry and order.strategy_id == self.strategy_id:
            self._exit_ids[order.order_id] = entry
            tp, sl = self.exits.get(entry, ("", ""))
            if order.order_type == "LIMIT":
                tp = order.order_id
            else:
                sl = order.order_id
            self.exits[entry] = (tp, sl)

    def on_order_update(self, update: OrderUpdateEvent) -> None:
        """The trade ends when its entry dies unfilled or one of its exits fills."""
        if self._working is None:
            return
        if update.order_id == self._working and update.status in self._ENDED:
            if update.filled_quantity <= 0:  # partly filled: its bracket holds the rest
                self._working = None
        elif self._exit_ids.get(update.order_id) == self._working \
                and update.status == "FILLED":
            self._working = None

    def __repr__(self) -> str:
        return (f"BracketCross(fast={self.fast}, slow={self.slow}, "
                f"take_profit={self.take_profit}, stop_loss={self.stop_loss}, "
                f"pullback={self.pullback}, notional={self.notional})")
