"""The example strategies the tutorial notebooks share, defined once and imported there.

``notebooks/03_record_and_replay`` and ``04_strategy_prototyping`` trade the same moving-average
crossover; when each pasted its own copy the two drifted apart. Like ``backtesting.test`` for
backtesting.py's tutorials, this module lives in the package so that any notebook, wherever
its kernel starts, can import it: ``from evlab.examples import SmaCross``.
"""

from __future__ import annotations

import numbers
from collections import deque

from evlab.bus import EventBus
from evlab.events import BarEvent, SignalEvent, create_signal_event

__all__ = ["SmaCross"]


class SmaCross:
    """BUY when the ``fast``-bar average of the close crosses above the ``slow``-bar one, EXIT
    when it crosses below; nothing until ``slow`` bars were seen, then one signal per crossing.

    A component in the usage guide's style (``set_event_bus`` and ``on_bar``): register an
    instance with ``lab.add("sma", SmaCross(5, 20))``; a fresh instance starts with no state.
    """

    strategy_id = "sma"

    def __init__(self, fast: int = 20, slow: int = 50) -> None:
        for name, value in (("fast", fast), ("slow", slow)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"SmaCross: {name} must be a whole number of bars, got "
                                f"{value!r}")
        fast, slow = int(fast), int(slow)  # numpy integers too (a sweep's choices frame)
        if not 0 < fast < slow:
            raise ValueError(f"SmaCross needs 0 < fast < slow, got fast={fast}, slow={slow}")
        self.fast, self.slow = fast, slow
        self.closes: deque[float] = deque(maxlen=slow)
        self.above: bool | None = None  # fast above slow at the last bar; None while warming up
        self.bus: EventBus | None = None

    def set_event_bus(self, bus: EventBus) -> None:
        """Called by ``EventManager.register_component``: the bus the signals go to."""
        self.bus = bus

    def on_bar(self, bar: BarEvent) -> None:
        """Take in ``bar``'s close; emit a signal if the averages crossed."""
        if self.bus is None:
            raise RuntimeError("SmaCross has no bus: register it (lab.add, register_component)")
        self.closes.append(bar.close)
        if len(self.closes) < self.slow:
            return
        fast = sum(list(self.closes)[-self.fast:]) / self.fast
        above = fast > sum(self.closes) / self.slow
        if self.above is not None and above != self.above:
            kind = SignalEvent.BUY if above else SignalEvent.EXIT
            self.bus.emit(create_signal_event(kind, bar.close, bar.symbol, self.strategy_id))
        self.above = above

    def __repr__(self) -> str:
        return f"SmaCross(fast={self.fast}, slow={self.slow})"
