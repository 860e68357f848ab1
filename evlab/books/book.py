# cython: annotation_typing=False
# (the types of the compiled build are book.pxd's alone; the annotations are for mypy)
"""OrderBook: one symbol's price levels, kept sorted so that each change costs O(log n).

Each side is a ``_Side``: its levels as sorted ``(key, size)`` pairs of doubles side by side
in ``array('d')`` blocks, no dict and no float object per level. The key is the price for
bids and minus the price for asks (negation is exact), so both sides hold their levels
worse-to-better in ascending key order: the best level is the last pair of the last block,
changes near the top of the book (most of them) move few doubles, and ``bids(n)``/``asks(n)``
read the end backwards. A level is found by a binary search over the blocks' last keys, then
one within its block (compiled, C loops over the doubles); inserting or deleting it moves at
most a block's worth of doubles (one ``memmove`` compiled). Blocks are split in two when they
grow past ``_BLOCK`` levels and merged with a neighbour when they shrink below a quarter of
it, so a side of n levels keeps about n / _BLOCK blocks whatever the order of its changes.

A snapshot side (``replace``) whose float prices come strictly in order, as exchanges send
them, is copied into its blocks in one pass: no hashing and no sort; any other is sorted
once. Dropping a book frees a few arrays, not a dict, a list and two floats per level.

Compiled (book.pxd: ``_Side`` an extension type holding ``cpython.array`` blocks read
through their C doubles), the four primitives ``_at``/``_put``/``_insert``/``_delete`` are
C pointer reads, writes and ``memmove``s; interpreted (``EVLAB_PURE_PYTHON=1``, or no
compiler), the same ``array('d')`` objects indexed and sliced: the one algorithm above them,
the same results either way (the tests run under both).

Measured (callgrind, against the dict-and-sorted-list sides before, 2026-12-08): the
Binance capture replay of ``benchmarks/bench_books.py`` 13.35M -> 10.51M instructions a
replay, its Kraken session 106.7M -> 88.6M (2,000 messages), ``bench_depth`` on 30,000
levels a side 78.2M -> 35.5M (uniform depth) and 68.7M -> 37.2M (top 50 levels) a run of
5,000 updates and its snapshot.

The best prices are also kept in plain attributes (``_best_bid``/``_best_ask``), set after
every change from the ends of the sides, so ``OrderBooks`` reads the top of the book as two
attribute reads.
"""

from __future__ import annotations

import array
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from evlab import _nocython as cython
else:
    try:
        import cython
    except ImportError:  # no Cython: interpreted
        from evlab import _nocython as cython

if cython.compiled:
    from cython.cimports.libc.string import memmove

__all__ = ["OrderBook"]

#: the most levels a block of a ``_Side`` holds: past it, the block is split in two
_BLOCK = 256
#: a block left with fewer levels than this is merged with a neighbour
_FEW = _BLOCK // 4
# the same in doubles (two a level), and the levels of a snapshot's blocks: C globals compiled
# (book.pxd), so the hot paths read no module dict
_SPLIT = 2 * _BLOCK
_MERGE = 2 * _FEW
_STEP = _BLOCK >> 1
#: an empty block: the template of new ones
_EMPTY = array.array("d")


def _at(block: array.array[float], i: int) -> float:
    """The ``i``-th double of ``block`` (compiled: a C read, no bounds check)."""
    if cython.compiled:
        return block.data.as_doubles[i]  # type: ignore[attr-defined,no-any-return]
    return block[i]


def _put(block: array.array[float], i: int, x: float) -> None:
    """Set the ``i``-th double of ``block``."""
    if cython.compiled:
        block.data.as_doubles[i] = x  # type: ignore[attr-defined]
    else:
        block[i] = x


def _insert(block: array.array[float], j: int, key: float, size: float) -> None:
    """Insert the pair ``(key, size)`` before the ``j``-th pair of ``block``."""
    if cython.compiled:
        n = len(block)
        array.resize_smart(block, n + 2)  # type: ignore[attr-defined]
        d = block.data.as_doubles  # type: ignore[attr-defined]
        memmove(d + 2 * j + 2, d + 2 * j, 8 * (n - 2 * j))  # (8: a C double)
        d[2 * j] = key
        d[2 * j + 1] = size
    else:
        block[2 * j:2 * j] = array.array("d", (key, size))


def _delete(block: array.array[float], j: int) -> None:
    """Delete the ``j``-th pair of ``block``."""
    if cython.compiled:
        n = len(block)
        d = block.data.as_doubles  # type: ignore[attr-defined]
        memmove(d + 2 * j, d + 2 * j + 2, 8 * (n - 2 * j - 2))
        array.resize_smart(block, n - 2)  # type: ignore[attr-defined]
    else:
        del block[2 * j:2 * j + 2]


def _bisect(block: array.array[float], key: float) -> int:
    """Where ``key`` goes in ``block``: the index of its first pair whose key is >= key."""
    lo = 0
    hi = len(block) >> 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if _at(block, 2 * mid) < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


class _Side:
    """One side's levels (see the module doc): ``_blocks``, non-empty ``array('d')`` blocks
    of ``key, size`` pairs, keys ascending and every key of a block below every key of the
    next; key = ``sign * price`` (``sign`` 1.0 for bids, -1.0 for asks), so the best level is
    the last. (The source indexes nothing from its end, ``[-1]``: compiled, it indexes
    without wraparound.)"""

    __slots__ = ("_blocks", "_len", "sign")

    def __init__(self, sign: float) -> None:
        self._blocks: list[array.array[float]] = []
        self._len = 0
        self.sign = sign

    def __len__(self) -> int:
        return self._len

    def best(self) -> float | None:
        """The best price (None if there is none)."""
        blocks = self._blocks
        if not blocks:
            return None
        block = blocks[len(blocks) - 1]
        return self.sign * _at(block, len(block) - 2)

    def best_size(self) -> float | None:
        """The size at the best price (None if there is none)."""
        blocks = self._blocks
        if not blocks:
            return None
        block = blocks[len(blocks) - 1]
        return _at(block, len(block) - 1)

    def _block_of(self, key: float) -> int:
        """The index of the first block whose last key is >= ``key`` (else the last block);
        there is one block at least."""
        blocks = self._blocks
        lo = 0
        hi = len(blocks) - 1
        while lo < hi:
            mid = (lo + hi) >> 1
            block = blocks[mid]
            if _at(block, len(block) - 2) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def get(self, price: float) -> float | None:
        """The size at ``price`` (None if the side does not hold it)."""
        key = self.sign * price
        blocks = self._blocks
        if blocks:
            block = blocks[self._block_of(key)]
            j = _bisect(block, key)
            if 2 * j < len(block) and _at(block, 2 * j) == key:
                return _at(block, 2 * j + 1)
        return None

    def set(self, price: float, size: float) -> bool:
        """Set the size at ``price``; True if the side did not hold it."""
        key = self.sign * price
        blocks = self._blocks
        if not blocks:
            blocks.append(array.array("d", (key, size)))
            self._len = 1
            return True
        i = self._block_of(key)
        block = blocks[i]
        j = _bisect(block, key)
        if 2 * j < len(block) and _at(block, 2 * j) == key:
            _put(block, 2 * j + 1, size)
            return False
        _insert(block, j, key, size)
        self._len += 1
        n = len(block)
        if n > _SPLIT:  # split: each half holds _BLOCK / 2 levels
            half = (n >> 2) << 1
            blocks.insert(i + 1, block[half:])
            del block[half:]
        return True

    def delete(self, price: float) -> bool:
        """Delete the level at ``price``; False if the side does not hold it."""
        key = self.sign * price
        blocks = self._blocks
        if blocks:
            i = self._block_of(key)
            block = blocks[i]
            j = _bisect(block, key)
            if 2 * j < len(block) and _at(block, 2 * j) == key:
                _delete(block, j)
                self._len -= 1
                if len(block) < _MERGE:
                    self._merge(i)
                return True
        return False

    def _merge(self, i: int) -> None:
        """Block ``i`` got small: drop it if empty, else join it to a neighbour (and split the
        result again if it is too large)."""
        blocks = self._blocks
        block = blocks[i]
        if not len(block):
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
        if n > _SPLIT:
            half = (n >> 2) << 1
            blocks.insert(i + 1, block[half:])
            del block[half:]

    def clear(self) -> None:
        """Forget every level."""
        self._blocks = []
        self._len = 0

    def levels(self, n: int) -> list[tuple[float, float]]:
        """The best ``n`` levels (all if there are fewer), best first, as ``(price, size)``:
        :meth:`_top`'s doubles, made into tuples."""
        m = min(n, self._len)
        if m <= 0:
            return []
        if cython.compiled:
            pairs = array.clone(_EMPTY, 2 * m, False)  # type: ignore[attr-defined]
            self._top(m, pairs.data.as_doubles)
        else:
            pairs = array.array("d", bytes(16 * m))
            self._top(m, pairs)
        out: list[Any] = [None] * m  # filled in place: no appends
        for t in range(m):
            out[t] = (_at(pairs, 2 * t), _at(pairs, 2 * t + 1))
        return out

    def _top(self, n: int, out: Any) -> int:
        """The best ``n`` levels' prices and sizes written into ``out`` (room for ``2 * n``
        doubles: compiled a C pointer, book.pxd; interpreted an ``array('d')``), price then
        size, best first, no float objects made: what :meth:`levels` reads, and Kraken's
        checksum in C after every update; how many levels were written."""
        m = min(n, self._len)
        blocks = self._blocks
        sign = self.sign
        i = len(blocks) - 1
        t = 0
        while t < m:
            block = blocks[i]
            k = len(block) - 2
            while k >= 0 and t < m:
                out[2 * t] = sign * _at(block, k)
                out[2 * t + 1] = _at(block, k + 1)
                k -= 2
                t += 1
            i -= 1
        return m

    def drop_worst(self, n: int) -> None:
        """Delete the ``n`` worst levels (all if there are fewer)."""
        blocks = self._blocks
        left = min(n, self._len)
        self._len -= left
        while left > 0:
            block = blocks[0]
            m = len(block) >> 1
            if m <= left:
                left -= m
                del blocks[0]
            else:
                del block[:2 * left]
                left = 0

    def fill(self, levels: Any) -> None:
        """Hold exactly ``levels``' (``(price, size)`` pairs: a later level of a price wins,
        size 0 leaves it out): copied in one pass when their float prices come strictly in
        order (either way, as exchanges send a snapshot's sides) with no size 0, else sorted
        once (:meth:`_sort`)."""
        n = len(levels)
        sign = self.sign
        pairs = array.array("d", bytes(16 * n)) if not cython.compiled \
            else array.clone(_EMPTY, 2 * n, False)  # type: ignore[attr-defined]
        order = 0  # 1 keys ascending, -1 descending, 0 not known yet (fewer than two)
        last = 0.0
        k = 0
        for price, size in levels:  # one pass (a C loop compiled)
            if type(price) is not float or type(size) is not float:
                self._sort(levels)
                return
            p = price  # (compiled: C doubles, no float objects made)
            key = sign * p
            q = size
            if q == 0.0:
                self._sort(levels)
                return
            if k:
                if order == 0:
                    order = 1 if key > last else -1 if key < last else 2
                elif (order == 1 and not key > last) or (order == -1 and not key < last):
                    order = 2
                if order == 2:
                    self._sort(levels)
                    return
            _put(pairs, 2 * k, key)
            _put(pairs, 2 * k + 1, q)
            last = key
            k += 1
        self._take(pairs, k, order == -1)

    def _sort(self, levels: Any) -> None:
        """:meth:`fill`'s general path: the levels in a dict (a later level of a price wins,
        size 0 deletes), its keys sorted once."""
        side: dict[Any, Any] = {}
        for price, size in levels:
            if size:
                side[price] = size
            else:
                side.pop(price, None)
        sign = self.sign
        keyed = sorted([(sign * price, size) for price, size in side.items()])
        pairs = array.array("d", [x for pair in keyed for x in pair])
        self._take(pairs, len(keyed), False)

    def _take(self, pairs: array.array[float], n: int, backwards: bool) -> None:
        """Hold the ``n`` pairs of ``pairs``: distinct keys, ascending (descending if
        ``backwards``), in blocks of ``_BLOCK / 2`` levels."""
        step = _STEP
        blocks: list[array.array[float]] = []
        start = 0
        while start < n:
            m = min(step, n - start)
            if not backwards:
                block = pairs[2 * start:2 * (start + m)]
            else:  # block ``start`` of the reversed pairs
                if cython.compiled:
                    block = array.clone(_EMPTY, 2 * m, False)  # type: ignore[attr-defined]
                else:
                    block = array.array("d", bytes(16 * m))
                src = 2 * (n - 1 - start)
                for t in range(m):
                    _put(block, 2 * t, _at(pairs, src - 2 * t))
                    _put(block, 2 * t + 1, _at(pairs, src - 2 * t + 1))
            blocks.append(block)
            start += m
        self._blocks = blocks
        self._len = n


def _apply_side(side: _Side, levels: Any) -> bool:
    """Set each ``(price, size)`` level of one side (size 0 deletes); True if its top (best
    price or its size, or being empty) changed."""
    blocks = side._blocks
    held = len(blocks) > 0
    key = size0 = 0.0
    if held:
        block = blocks[len(blocks) - 1]
        n = len(block)
        key, size0 = _at(block, n - 2), _at(block, n - 1)
    for price, size in levels:
        if size:
            side.set(price, size)
        else:
            side.delete(price)
    blocks = side._blocks
    if not blocks:
        return held
    block = blocks[len(blocks) - 1]
    n = len(block)
    return not held or _at(block, n - 2) != key or _at(block, n - 1) != size0


class OrderBook:
    """The bids and asks of one symbol, as ``OrderBooks`` builds them from ``BookEvent``s.

    ``stale`` is True while the book is not known to be right: before its first snapshot,
    after a gap in the exchange's sequence ids, after an update left it crossed; a snapshot
    clears it. ``update_id`` is the exchange's id of the last change applied (None where the
    exchange sends none).
    """

    __slots__ = ("_asks", "_best_ask", "_best_bid", "_bids",
                 "crossed", "stale", "symbol", "synced", "time_ns", "update_id", "updates")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids = _Side(1.0)  # keys: the prices; the best bid is the last
        self._asks = _Side(-1.0)  # keys: minus the prices; the best ask is the last
        self._best_bid: float | None = None  # the best of _bids, set by every change
        self._best_ask: float | None = None  # the best of _asks
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
        return side.levels(len(side) if n is None else n)

    def asks(self, n: int | None = None) -> list[tuple[float, float]]:
        """The best ``n`` ask levels (all if None), best first, as ``(price, size)``."""
        side = self._asks
        return side.levels(len(side) if n is None else n)

    def top(self) -> tuple[float | None, float | None, float | None, float | None]:
        """``(best_bid, its size, best_ask, its size)``; Nones for an empty side."""
        return (self._best_bid, self._bids.best_size(), self._best_ask, self._asks.best_size())

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
        self._best_bid = self._best_ask = None

    def replace(self, bids: Any, asks: Any) -> None:
        """Set the book to these ``(price, size)`` levels (a snapshot's), forgetting the old
        ones: what ``clear`` then ``apply`` do (a later level of a price wins, size 0 leaves
        it out), each side copied in one pass when its levels come in order, else sorted
        once (see :meth:`_Side.fill`)."""
        self._bids.fill(bids)
        self._asks.fill(asks)
        self._best_bid = self._bids.best()
        self._best_ask = self._asks.best()

    def apply(self, bids: Any, asks: Any) -> bool:
        """Set each ``(price, size)`` level; size 0 deletes it (unknown prices: nothing).
        True if the top of the book (a best price or its size) changed."""
        moved = False
        if _apply_side(self._bids, bids):  # (an unmoved top keeps its best price)
            self._best_bid = self._bids.best()
            moved = True
        if _apply_side(self._asks, asks):
            self._best_ask = self._asks.best()
            moved = True
        return moved

    def truncate(self, depth: int) -> None:
        """Keep only the best ``depth`` levels a side (for venues that send no deletion for a
        level pushed out of a subscriber's depth, as Kraken documents); a negative ``depth``
        is a ValueError (it meant different things for the two sides)."""
        if depth < 0:
            raise ValueError(f"{self.symbol}: truncate depth must be >= 0, got {depth!r}")
        extra = self._bids._len - depth
        if extra > 0:  # (the worst levels are the first: the best stays unless none does)
            self._bids.drop_worst(extra)
            self._best_bid = self._bids.best()
        extra = self._asks._len - depth
        if extra > 0:
            self._asks.drop_worst(extra)
            self._best_ask = self._asks.best()

    def is_crossed(self) -> bool:
        """True when both sides hold levels and the best bid is not below the best ask."""
        bid, ask = self._best_bid, self._best_ask
        return bid is not None and ask is not None and bid >= ask

    def __repr__(self) -> str:
        state = "stale" if self.stale else "live"
        nb, na = self.depth()
        return (f"<OrderBook {self.symbol} {state}: bid {self.best_bid} / ask {self.best_ask}, "
                f"{nb} bid and {na} ask levels, update_id={self.update_id}>")
