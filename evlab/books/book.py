"""OrderBook: one symbol's price levels, kept sorted so that each change costs O(log n).

Each side is a dict (price -> size) plus a ``sortedcontainers.SortedList`` of its prices: a
change of size at a known price touches the dict only, a new or deleted price also the
sorted list (O(log n)), and the best price is the list's end (O(1)). No sort per update.
The best prices are also kept in plain attributes, updated as levels change (a new price
better than the best, or the best deleted), so reading the top of the book, which
``OrderBooks`` does before and after every update, is two attribute reads and two dict
lookups rather than indexing the sorted lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedList

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OrderBook"]


class OrderBook:
    """The bids and asks of one symbol, as ``OrderBooks`` builds them from ``BookEvent``s.

    ``stale`` is True while the book is not known to be right: before its first snapshot,
    after a gap in the exchange's sequence ids, after an update left it crossed; a snapshot
    clears it. ``update_id`` is the exchange's id of the last change applied (None where the
    exchange sends none).
    """

    __slots__ = ("_ask_prices", "_asks", "_best_ask", "_best_bid", "_bid_prices", "_bids",
                 "crossed", "stale", "symbol", "synced", "time_ns", "update_id", "updates")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bid_prices: SortedList = SortedList()  # ascending: the best bid is the last
        self._ask_prices: SortedList = SortedList()  # ascending: the best ask is the first
        self._best_bid: float | None = None  # the last of _bid_prices, kept by every change
        self._best_ask: float | None = None  # the first of _ask_prices
        self.stale = True  # no snapshot yet
        self.synced = False  # a snapshot was applied and no gap since
        self.crossed = False
        self.update_id: int | None = None
        self.time_ns: int | None = None  # event time of the last change applied
        self.updates = 0  # BookEvents applied

    # --- reading -------------------------------------------------------------------------
    @property
    def best_bid(self) -> float | None:
        """The highest bid price (None for an empty side)."""
        return self._best_bid

    @property
    def best_ask(self) -> float | None:
        """The lowest ask price (None for an empty side)."""
        return self._best_ask

    @property
    def mid(self) -> float | None:
        """``(best_bid + best_ask) / 2``, or None if a side is empty."""
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else (bid + ask) / 2

    @property
    def spread(self) -> float | None:
        """``best_ask - best_bid``, or None if a side is empty."""
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else ask - bid

    def bids(self, n: int | None = None) -> list[tuple[float, float]]:
        """The best ``n`` bid levels (all if None), best first, as ``(price, size)``."""
        prices = self._bid_prices
        picked = prices[::-1] if n is None else prices[-1:-n - 1:-1] if n > 0 else []
        return [(p, self._bids[p]) for p in picked]

    def asks(self, n: int | None = None) -> list[tuple[float, float]]:
        """The best ``n`` ask levels (all if None), best first, as ``(price, size)``."""
        prices = self._ask_prices
        picked = prices[:] if n is None else prices[:n] if n > 0 else []
        return [(p, self._asks[p]) for p in picked]

    def top(self) -> tuple[float | None, float | None, float | None, float | None]:
        """``(best_bid, its size, best_ask, its size)``; Nones for an empty side."""
        bid, ask = self._best_bid, self._best_ask
        return (bid, None if bid is None else self._bids[bid],
                ask, None if ask is None else self._asks[ask])

    def depth(self) -> tuple[int, int]:
        """How many bid and ask levels the book holds."""
        return len(self._bids), len(self._asks)

    def to_frame(self, depth: int = 10) -> pd.DataFrame:
        """The best ``depth`` levels a side, one row per level (0 = best): bid_price,
        bid_size, ask_price, ask_size (NaN past the end of a shorter side)."""
        import pandas as pd

        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
            raise ValueError(f"depth must be a non-negative int, got {depth!r}")
        bids, asks = self.bids(depth), self.asks(depth)
        rows = max(len(bids), len(asks))
        nan = float("nan")

        def col(levels: list[tuple[float, float]], i: int) -> list[float]:
            return [lv[i] for lv in levels] + [nan] * (rows - len(levels))

        frame = pd.DataFrame({"bid_price": col(bids, 0), "bid_size": col(bids, 1),
                              "ask_price": col(asks, 0), "ask_size": col(asks, 1)})
        frame.index.name = "level"
        return frame

    # --- changing (OrderBooks does, under the exchange's rules) --------------------------
    def clear(self) -> None:
        """Forget every level."""
        self._bids.clear()
        self._asks.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()
        self._best_bid = self._best_ask = None

    def replace(self, bids: Any, asks: Any) -> None:
        """Set the book to these ``(price, size)`` levels (a snapshot's), forgetting the old
        ones: what ``clear`` then ``apply`` do (a later level of a price wins, size 0 leaves
        it out), with each side's prices sorted once rather than inserted one by one."""
        for side, prices, levels in ((self._bids, self._bid_prices, bids),
                                     (self._asks, self._ask_prices, asks)):
            side.clear()
            side.update(levels)
            if 0.0 in side.values():  # size 0 deletes: nothing to delete in a new book
                for price in [p for p, q in side.items() if not q]:
                    del side[price]
            prices.clear()
            prices.update(side)
        bid_prices, ask_prices = self._bid_prices, self._ask_prices
        self._best_bid = bid_prices[-1] if bid_prices else None
        self._best_ask = ask_prices[0] if ask_prices else None

    def apply(self, bids: Any, asks: Any) -> bool:
        """Set each ``(price, size)`` level; size 0 deletes it (unknown prices: nothing).
        True if the top of the book (a best price or its size) changed."""
        side, prices, best = self._bids, self._bid_prices, self._best_bid
        top = None if best is None else side[best]
        for price, size in bids:
            if size:
                if price not in side:
                    prices.add(price)
                    if best is None or price > best:
                        best = price
                side[price] = size
            elif side.pop(price, None) is not None:
                prices.remove(price)
                if price == best:
                    best = prices[-1] if prices else None
        moved = best != self._best_bid or (best is not None and side[best] != top)
        self._best_bid = best
        side, prices, best = self._asks, self._ask_prices, self._best_ask
        top = None if best is None else side[best]
        for price, size in asks:
            if size:
                if price not in side:
                    prices.add(price)
                    if best is None or price < best:
                        best = price
                side[price] = size
            elif side.pop(price, None) is not None:
                prices.remove(price)
                if price == best:
                    best = prices[0] if prices else None
        moved = moved or best != self._best_ask or (best is not None and side[best] != top)
        self._best_ask = best
        return moved

    def truncate(self, depth: int) -> None:
        """Keep only the best ``depth`` levels a side (for venues that send no deletion for a
        level pushed out of a subscriber's depth, as Kraken documents); a negative ``depth``
        is a ValueError (it meant different things for the two sides)."""
        if depth < 0:
            raise ValueError(f"{self.symbol}: truncate depth must be >= 0, got {depth!r}")
        bid_prices, ask_prices = self._bid_prices, self._ask_prices
        extra = len(bid_prices) - depth
        if extra > 0:  # the worst bids are the lowest: the list's start
            for price in bid_prices[:extra]:
                del self._bids[price]
            del bid_prices[:extra]
        if len(ask_prices) > depth:  # the worst asks are the highest: the list's end
            for price in ask_prices[depth:]:
                del self._asks[price]
            del ask_prices[depth:]
        self._best_bid = bid_prices[-1] if bid_prices else None
        self._best_ask = ask_prices[0] if ask_prices else None

    def is_crossed(self) -> bool:
        """True when both sides hold levels and the best bid is not below the best ask."""
        bid, ask = self._best_bid, self._best_ask
        return bid is not None and ask is not None and bid >= ask

    def __repr__(self) -> str:
        state = "stale" if self.stale else "live"
        nb, na = self.depth()
        return (f"<OrderBook {self.symbol} {state}: bid {self.best_bid} / ask {self.best_ask}, "
                f"{nb} bid and {na} ask levels, update_id={self.update_id}>")
