"""Instrument specs: the tick size, lot size, minimum quantity and minimum notional of a symbol.

The broker rounds an order's prices to the tick (a buy limit down, a sell limit up: never a
worse price than asked; stops the other way) and its quantity down to the lot, and rejects
what is left under the minimum quantity or notional, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Instrument"]

_EPS = 1e-9


def _step(value: float, step: float, up: bool) -> float:
    n = value / step
    n = math.ceil(n - _EPS) if up else math.floor(n + _EPS)
    return round(n * step, 12)


@dataclass(frozen=True)
class Instrument:
    """How ``symbol`` trades: ``tick_size`` (prices), ``lot_size`` (quantities; 1 for whole
    shares, 1e-8 for a crypto asset), ``min_quantity`` and ``min_notional``; 0 means none."""

    symbol: str
    tick_size: float = 0.0
    lot_size: float = 0.0
    min_quantity: float = 0.0
    min_notional: float = 0.0

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size", "min_quantity", "min_notional"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"Instrument.{name}: must be a finite number >= 0, "
                                 f"got {value!r}")

    def price(self, value: float, up: bool) -> float:
        """``value`` on the tick grid, rounded up or down."""
        return value if not self.tick_size else _step(value, self.tick_size, up)

    def quantity(self, value: float) -> float:
        """``value`` rounded down to the lot."""
        return value if not self.lot_size else _step(value, self.lot_size, False)

    def check(self, quantity: float, price: float) -> str | None:
        """Why ``quantity`` at ``price`` cannot trade, or None."""
        if quantity <= 0 or quantity < self.min_quantity - _EPS:
            return (f"quantity {quantity:g} {self.symbol} is below the minimum "
                    f"{self.min_quantity:g} (lot {self.lot_size:g})")
        if quantity * price < self.min_notional - _EPS:
            return (f"notional {quantity * price:,.2f} of {self.symbol} is below the minimum "
                    f"{self.min_notional:,.2f}")
        return None
