"""``Order``: one order's working state inside the paper broker, and its lifecycle.

An order is ``ACCEPTED`` when the broker takes it, then ``TRIGGERED`` (a stop touched),
``PARTIALLY_FILLED``, and ends ``FILLED``, ``CANCELED``, ``EXPIRED`` or ``REJECTED``;
``REPLACED`` marks a change while it works. Each step is published as an
``OrderUpdateEvent`` with the order as its cause (evlab.execution.broker).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from evlab.events import OrderEvent

__all__ = ["DONE", "ORDER_COLUMNS", "Order"]

DONE = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})
ORDER_COLUMNS = ("order_id", "symbol", "side", "order_type", "quantity", "filled_quantity",
                 "avg_price", "limit_price", "stop_price", "time_in_force", "status",
                 "parent_id", "oco_group", "reason")


@dataclass(eq=False, slots=True)
class Order:
    """An order as the broker works it: the event it came from and what has happened."""

    event: OrderEvent
    order_id: str
    placed: int  # placement number: the order of the bar's queue
    active_ns: int  # bars with an event time > this can fill it (>= if same_bar)
    quantity: float
    limit_price: float | None
    stop_price: float | None
    same_bar: bool = False  # a bracket child of an entry filled at this bar's open
    status: str = "ACCEPTED"
    filled: float = 0.0
    cost: float = 0.0  # sum of quantity * price of the fills
    triggered: bool = False  # a stop-limit resting as a limit
    trail_extreme: float | None = None
    day: int | None = None  # a DAY order's UTC day (of its first bar)
    children: list[Order] = field(default_factory=list)
    parent: Order | None = None
    target: float | None = None  # a signal's order: re-size at the fill to this sign
    reason: str = ""
    placed_ns: int = 0
    arrive_ns: int = 0  # quotes/books: states with an event time >= this can fill it

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def buy(self) -> bool:
        return self.event.side == "BUY"

    @property
    def protective(self) -> bool:
        """A bracket child or reduce-only exit: handled before other orders in a bar."""
        return self.event.reduce_only

    @property
    def avg_price(self) -> float | None:
        return self.cost / self.filled if self.filled else None

    @property
    def done(self) -> bool:
        return self.status in DONE

    def row(self) -> tuple[object, ...]:
        """This order as a row of ``ORDER_COLUMNS``."""
        e = self.event
        avg = self.avg_price
        return (self.order_id, e.symbol, e.side, e.order_type, self.quantity, self.filled,
                math.nan if avg is None else avg, self.limit_price, self.stop_price,
                e.time_in_force, self.status, e.parent_id, e.oco_group, self.reason)
