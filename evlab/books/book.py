# cython: annotation_typing=False
# (the types of the compiled build are book.pxd's alone; the annotations are for mypy)
"""OrderBook: one symbol's price levels, kept sorted so that each change costs O(log n).

Each side is a dict (price -> size) plus its prices in ascending order in a ``_Prices``: a
change of size at a known price touches the dict only; a new or deleted price also the sorted
prices, O(log n); the best price is an end of them, O(1). No sort per update.

``_Prices`` is a two-level sorted list (as ``sortedcontainers.SortedList`` is): a list of
blocks, each a sorted list of at most ``_BLOCK`` prices. A price is found by a binary search
over the blocks' last prices, then one within its block; inserting or deleting it moves at
most a block's worth of pointers (a flat sorted list would move half the side's, which on a
deep book costs more than the search). Blocks are split in two when they grow past
``_BLOCK`` and merged with a neighbour when they shrink below a quarter of it, so a side of
n prices keeps about n / _BLOCK blocks whatever the order of its changes. Compiled (book.pxd:
``_Prices`` an extension type, its searches C loops over the prices as doubles), a book
update of the Coinbase replay costs OrderBook.apply about 2.5k instructions (callgrind),
against 5.5k with sortedcontainers' interpreted ``SortedList`` before. Both regimes of
``benchmarks/bench_books.py``'s "by book depth" lines (``OrderBooks.on_book`` called
directly, 1 to 4 changes an update, half of them new prices or deletions): on a book of
30,000 levels a side changed at uniform depth, 6.9k instructions an update against 17.1k
for the build before (SortedList), and 261-315k updates/s against 145-152k; changed in its
top 50 levels, 7.4k against 17.7k instructions, 591-821k updates/s against 300-340k
(2026-12-07, each build run twice in turn on the shared 2-core machine).

The best prices are also kept in plain attributes, updated as levels change (a new price
better than the best, or the best deleted), so reading the top of the book, which
``OrderBooks`` does before and after every update, is two attribute reads and two dict
lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from evlab import _nocython as cython
else:
    try:
        import cython
    except ImportError:  # no Cython: interpreted
        from evlab import _nocython as cython

__all__ = ["OrderBook"]

#: the most prices a block of ``_Prices`` holds: past it, the block is split in two
_BLOCK = 256
#: a block left with fewer prices than this is merged with a neighbour
_FEW = _BLOCK // 4


def _bisect(block: list[float], x: float) -> int:
    """Where ``x`` goes in the ascending ``block``: the index of its first price >= x."""
    lo = 0
    hi = len(block)
    while lo < hi:
        mid = (lo + hi) >> 1
        v = block[mid]
        if v < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


class _Prices:
    """One side's prices, ascending, as a list of sorted blocks (see the module doc): each
    block non-empty, every price of a block below every price of the next. (The source
    indexes no list from its end, ``[-1]``: compiled, it indexes without wraparound.)"""

    __slots__ = ("_blocks", "_len")

    def __init__(self) -> None:
        self._blocks: list[list[float]] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def first(self) -> float | None:
        """The lowest price (None if there is none)."""
        blocks = self._blocks
        if not blocks:
            return None
        block = blocks[0]
        return block[0]

    def last(self) -> float | None:
        """The highest price (None if there is none)."""
        blocks = self._blocks
        if not blocks:
            return None
        block = blocks[len(blocks) - 1]
        return block[len(block) - 1]

    def _block_of(self, x: float) -> int:
        """The index of the first block whose last price is >= ``x`` (else the last block);
        there is one block at least."""
        blocks = self._blocks
        lo = 0
        hi = len(blocks) - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            block = blocks[mid]
            v = block[len(block) - 1]
            if v < x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def add(self, price: float) -> None:
        """Insert ``price``, which the side does not hold."""
        blocks = self._blocks
        self._len += 1
        if not blocks:
            blocks.append([price])
            return
        i = self._block_of(price)
        block = blocks[i]
        block.insert(_bisect(block, price), price)
        n = len(block)
        if n > _BLOCK:  # split: each half holds _BLOCK / 2
            half = n >> 1
            blocks.insert(i + 1, block[half:])
            del block[half:]

    def remove(self, price: float) -> None:
        """Delete ``price``, which the side holds (else ValueError)."""
        blocks = self._blocks
        if blocks:
            i = self._block_of(price)
            block = blocks[i]
            j = _bisect(block, price)
            if j < len(block):
                v = block[j]
                if v == price:
                    del block[j]
                    self._len -= 1
                    if len(block) < _FEW:
                        self._merge(i)
                    return
        raise ValueError(f"price {price!r} is not in the book")

    def _merge(self, i: int) -> None:
        """Block ``i`` got small: drop it if empty, else join it to a neighbour (and split the
        result again if it is too large)."""
        blocks = self._blocks
        block = blocks[i]
        if not block:
            del blocks[i]
            return
        if i + 1 < len(blocks):
            block.extend(blocks[i + 1])
            del blocks[i + 1]
        elif i > 0:
            i -= 1
            prev = blocks[i]
            prev.extend(block)
            del blocks[i + 1]
            block = prev
        else:
            return  # the only block
        n = len(block)
        if n > _BLOCK:
            half = n >> 1
            blocks.insert(i + 1, block[half:])
            del block[half:]

    def clear(self) -> None:
        """Forget every price."""
        self._blocks = []
        self._len = 0

    def reset(self, prices: Iterable[float]) -> None:
        """Hold exactly ``prices`` (distinct), sorted here once."""
        self.take(sorted(prices))

    def take(self, ordered: list[float]) -> None:
        """Hold exactly ``ordered``: distinct prices, ascending."""
        step = _BLOCK >> 1
        n = len(ordered)
        self._blocks = [ordered[k:k + step] for k in range(0, n, step)]
        self._len = n

    def lowest(self, n: int) -> list[float]:
        """The ``n`` lowest prices, ascending (all if there are fewer)."""
        out: list[float] = []
        if n <= 0:
            return out
        for block in self._blocks:
            want = n - len(out)
            if len(block) >= want:
                out.extend(block[:want])
                break
            out.extend(block)
        return out

    def highest(self, n: int) -> list[float]:
        """The ``n`` highest prices, descending (all if there are fewer)."""
        out: list[float] = []
        blocks = self._blocks
        i = len(blocks) - 1
        while i >= 0 and len(out) < n:
            block = blocks[i]
            k = len(block) - 1
            while k >= 0 and len(out) < n:
                out.append(block[k])
                k -= 1
            i -= 1
        return out

    def drop_lowest(self, n: int) -> list[float]:
        """Delete the ``n`` lowest prices (all if there are fewer); they are returned."""
        gone = self.lowest(n)
        blocks = self._blocks
        left = len(gone)
        while left:
            block = blocks[0]
            if len(block) <= left:
                left -= len(block)
                del blocks[0]
            else:
                del block[:left]
                left = 0
        self._len -= len(gone)
        return gone

    def drop_highest(self, n: int) -> list[float]:
        """Delete the ``n`` highest prices (all if there are fewer); they are returned."""
        gone = self.highest(n)
        blocks = self._blocks
        left = len(gone)
        while left:
            last = len(blocks) - 1
            block = blocks[last]
            if len(block) <= left:
                left -= len(block)
                del blocks[last]
            else:
                del block[len(block) - left:]
                left = 0
        self._len -= len(gone)
        return gone


if not cython.compiled:  # compiled, book.pxd's: CPython's dict made with room for n keys
    def _presized(n: int) -> dict[float, float]:
        return {}


def _fill(prices: _Prices, levels: Any) -> dict[float, float]:
    """A side's dict of ``levels`` (``(price, size)`` pairs: a later level of a price wins,
    size 0 leaves it out), its prices held by ``prices``: sorted once, or, for levels whose
    float prices come strictly in order (ascending or descending, as exchanges send a
    snapshot's sides: Binance its bids descending, its asks ascending) and hold no size 0,
    taken in that order without a sort (strictly ordered prices are distinct, so they are
    the dict's). Compiled, the dict is made with room for every level (no resize)."""
    side = _presized(len(levels))
    ordered: list[float] = []  # the prices in the levels' order, while strictly monotonic
    order = 0  # 1 ascending, -1 descending, 0 not known yet (fewer than two prices)
    last = 0.0
    for price, size in levels:  # one pass (a C loop compiled), no second over sizes
        if type(size) is float:  # compiled, read as a C double: no truth protocol
            q = size
            keep = q != 0.0
        else:
            keep = bool(size)
        if keep:
            side[price] = size
        else:  # size 0 deletes: a price given before in this snapshot
            side.pop(price, None)
            order = 2  # (not in order: sorted below)
        if order == 2:
            continue
        if type(price) is not float:
            order = 2
            continue
        p = price
        if ordered:
            if order == 0:
                order = 1 if p > last else -1 if p < last else 2
            elif (order == 1 and not p > last) or (order == -1 and not p < last):
                order = 2
        ordered.append(price)  # (the float object itself: no new one)
        last = p
    if order == 2:
        prices.reset(side)
    else:
        if order == -1:
            ordered.reverse()
        prices.take(ordered)
    return side


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
        self._bid_prices = _Prices()  # ascending: the best bid is the last
        self._ask_prices = _Prices()  # ascending: the best ask is the first
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
        side = self._bids
        picked = self._bid_prices.highest(len(side) if n is None else n)
        return [(p, side[p]) for p in picked]

    def asks(self, n: int | None = None) -> list[tuple[float, float]]:
        """The best ``n`` ask levels (all if None), best first, as ``(price, size)``."""
        side = self._asks
        picked = self._ask_prices.lowest(len(side) if n is None else n)
        return [(p, side[p]) for p in picked]

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
        pad = [float("nan")] * rows
        columns = {}
        for name, levels, i in (("bid_price", bids, 0), ("bid_size", bids, 1),
                                ("ask_price", asks, 0), ("ask_size", asks, 1)):
            columns[name] = [lv[i] for lv in levels] + pad[len(levels):]
        frame = pd.DataFrame(columns)
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
        it out), each side's prices sorted once rather than inserted one by one (not at all
        when the levels come in order: see :func:`_fill`)."""
        self._bids = _fill(self._bid_prices, bids)
        self._asks = _fill(self._ask_prices, asks)
        self._best_bid = self._bid_prices.last()
        self._best_ask = self._ask_prices.first()

    def apply(self, bids: Any, asks: Any) -> bool:
        """Set each ``(price, size)`` level; size 0 deletes it (unknown prices: nothing).
        True if the top of the book (a best price or its size) changed."""
        side, prices, best = self._bids, self._bid_prices, self._best_bid
        top = None if best is None else side[best]
        for price, size in bids:
            if size:
                held = len(side)
                side[price] = size  # one lookup: a new price grows the dict
                if len(side) != held:
                    prices.add(price)
                    if best is None or price > best:
                        best = price
            elif side.pop(price, None) is not None:
                prices.remove(price)
                if price == best:
                    best = prices.last()
        moved = best != self._best_bid or (best is not None and side[best] != top)
        self._best_bid = best
        side, prices, best = self._asks, self._ask_prices, self._best_ask
        top = None if best is None else side[best]
        for price, size in asks:
            if size:
                held = len(side)
                side[price] = size
                if len(side) != held:
                    prices.add(price)
                    if best is None or price < best:
                        best = price
            elif side.pop(price, None) is not None:
                prices.remove(price)
                if price == best:
                    best = prices.first()
        moved = moved or best != self._best_ask or (best is not None and side[best] != top)
        self._best_ask = best
        return moved

    def truncate(self, depth: int) -> None:
        """Keep only the best ``depth`` levels a side (for venues that send no deletion for a
        level pushed out of a subscriber's depth, as Kraken documents); a negative ``depth``
        is a ValueError (it meant different things for the two sides)."""
        if depth < 0:
            raise ValueError(f"{self.symbol}: truncate depth must be >= 0, got {depth!r}")
        extra = len(self._bids) - depth
        if extra > 0:  # the worst bids are the lowest
            for price in self._bid_prices.drop_lowest(extra):
                del self._bids[price]
        extra = len(self._asks) - depth
        if extra > 0:  # the worst asks are the highest
            for price in self._ask_prices.drop_highest(extra):
                del self._asks[price]
        self._best_bid = self._bid_prices.last()
        self._best_ask = self._ask_prices.first()

    def is_crossed(self) -> bool:
        """True when both sides hold levels and the best bid is not below the best ask."""
        bid, ask = self._best_bid, self._best_ask
        return bid is not None and ask is not None and bid >= ask

    def __repr__(self) -> str:
        state = "stale" if self.stale else "live"
        nb, na = self.depth()
        return (f"<OrderBook {self.symbol} {state}: bid {self.best_bid} / ask {self.best_ask}, "
                f"{nb} bid and {na} ask levels, update_id={self.update_id}>")
