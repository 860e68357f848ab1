"""Position sizing: how many units a signal trades, from its price and the account's equity.

A sizer is any callable ``sizer(price, equity) -> quantity`` (a positive number of units).
With ``whole=True`` (the default) the quantity is rounded down to whole units; a result
of 0 means the signal cannot be traded (the broker reports it as an ``ErrorEvent``).

A sizer with ``at_fill=True`` (``FixedCash`` and ``FractionOfEquity`` by default) is asked
again when the order fills, at the fill price and the equity then (the broker also trims
a buy to what the cash pays with its commission): sized at the signal's close, a gap up at
the next open or a fee would make a 100% entry unaffordable and rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = ["FixedCash", "FixedQuantity", "FractionOfEquity", "Sizer"]

# Rounding down forgives this much representation error: 0.3 * 1000 / 100 is 2.9999999999999996.
_EPS = 1e-9


class Sizer(Protocol):
    """Anything called as ``sizer(price, equity)`` that returns a quantity of units."""

    def __call__(self, price: float, equity: float) -> float: ...


def _positive(owner: str, name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}.{name}: must be a positive finite number, got {value!r}")


def _units(quantity: float, whole: bool) -> float:
    if not math.isfinite(quantity) or quantity <= 0:
        return 0.0
    return float(math.floor(quantity + _EPS)) if whole else quantity


@dataclass(frozen=True)
class FixedQuantity:
    """Always ``quantity`` units."""

    quantity: float

    def __post_init__(self) -> None:
        _positive("FixedQuantity", "quantity", self.quantity)

    def __call__(self, price: float, equity: float) -> float:
        return float(self.quantity)


@dataclass(frozen=True)
class FixedCash:
    """As many units as ``cash`` buys at the signal's price (rounded down if ``whole``)."""

    cash: float
    whole: bool = True
    at_fill: bool = True

    def __post_init__(self) -> None:
        _positive("FixedCash", "cash", self.cash)

    def __call__(self, price: float, equity: float) -> float:
        return _units(self.cash / price, self.whole)


@dataclass(frozen=True)
class FractionOfEquity:
    """As many units as ``fraction`` of the current equity buys at the signal's price."""

    fraction: float
    whole: bool = True
    at_fill: bool = True

    def __post_init__(self) -> None:
        _positive("FractionOfEquity", "fraction", self.fraction)

    def __call__(self, price: float, equity: float) -> float:
        return _units(self.fraction * equity / price, self.whole)
