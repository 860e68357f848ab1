"""Liquidity: what the market shows the paper broker per symbol, less what its fills took.

The broker's view of the quotes and books it fills against (the rules:
``evlab.execution.fills``): one ``OrderBooks`` of its own for the symbols whose
``BookEvent``s it sees (the same class and sequencing rules as any book on the bus), the
last quote of the others, and the liquidity its own fills took from each level, held while
the venue shows that level unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from evlab.books import OrderBook, OrderBooks
from evlab.events import BookEvent, QuoteEvent, SystemEvent

__all__ = ["Liquidity"]

_FIRST = 8  # levels read from a book at first; a walk that needs more reads all


class Liquidity:
    """The market state of each symbol the broker fills on quotes or books."""

    __slots__ = ("_book", "_quotes", "_taken", "books", "times")

    def __init__(self) -> None:
        self.books = OrderBooks(name="broker-books")  # no bus: publishes nothing
        self._book: dict[str, OrderBook] = {}  # the books of ``books``, read directly
        self._quotes: dict[str, QuoteEvent] = {}
        self.times: dict[str, int] = {}  # event time of each symbol's current state
        # symbol -> (taken from the asks, from the bids): price -> (size shown, taken)
        self._taken: dict[str, tuple[dict[float, tuple[float, float]],
                                     dict[float, tuple[float, float]]]] = {}

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.times

    def state_ns(self, symbol: str) -> int | None:
        """The event time of ``symbol``'s current market state (None: none yet)."""
        return self.times.get(symbol)

    # --- the market's events -------------------------------------------------------------
    def on_book(self, event: BookEvent) -> bool:
        """Apply a book event; True if the symbol's book is live to fill on."""
        symbol = event.symbol
        self.books.on_book(event)
        book = self._book.get(symbol)
        if book is None:
            book = self._book[symbol] = self.books[symbol]
        taken = self._taken.get(symbol)
        if taken is not None:  # a level the venue restated: its new size is the truth
            if event.snapshot:
                taken[0].clear()
                taken[1].clear()
            else:
                for price, _ in event.asks:
                    taken[0].pop(price, None)
                for price, _ in event.bids:
                    taken[1].pop(price, None)
        assert event.time_ns is not None
        self.times[symbol] = event.time_ns
        return not book.stale

    def on_quote(self, event: QuoteEvent) -> bool:
        """Take a quote; True if it is the symbol's market state (False where a book is)."""
        symbol = event.symbol
        if symbol in self._book:
            return False
        self._quotes[symbol] = event
        taken = self._taken.get(symbol)
        if taken is not None:
            for side, price in ((taken[0], event.ask), (taken[1], event.bid)):
                for p in [p for p in side if p != price]:
                    del side[p]
        assert event.time_ns is not None
        self.times[symbol] = event.time_ns
        return True

    def on_system(self, event: SystemEvent) -> None:
        """A ``book_error`` marks the broker's book of that symbol stale, as on the bus."""
        self.books.on_system(event)

    # --- reading and taking --------------------------------------------------------------
    def best(self, symbol: str, buy: bool) -> float | None:
        """The best opposite price: the ask a buy takes, the bid a sell takes (None: none)."""
        book = self._book.get(symbol)
        if book is not None:
            if book.stale:
                return None
            return book.best_ask if buy else book.best_bid
        quote = self._quotes.get(symbol)
        if quote is None:
            return None
        return quote.ask if buy else quote.bid

    def levels(self, symbol: str, buy: bool) -> Iterator[tuple[float, float]]:
        """The opposite side best first, as ``(price, size still available to us)``."""
        taken = self._taken.get(symbol)
        side = None if taken is None else taken[0 if buy else 1]
        for price, shown in self._shown(symbol, buy):
            if side:
                had = side.get(price)
                if had is not None:
                    if had[0] == shown:
                        yield price, shown - had[1]
                        continue
                    del side[price]  # the venue changed it since
            yield price, shown

    def take(self, symbol: str, buy: bool, levels: list[tuple[float, float]]) -> None:
        """Record what a fill took, ``[(price, quantity)]``, from the side it walked."""
        shown = dict(self._shown_prices(symbol, buy, {p for p, _ in levels}))
        taken = self._taken.get(symbol)
        if taken is None:
            taken = self._taken[symbol] = ({}, {})
        side = taken[0 if buy else 1]
        for price, quantity in levels:
            size = shown.get(price)
            if size is None or math.isinf(size):
                continue  # unlimited (a quote without a size): nothing to use up
            had = side.get(price)
            before = had[1] if had is not None and had[0] == size else 0.0
            side[price] = (size, before + quantity)

    def _shown(self, symbol: str, buy: bool) -> Iterator[tuple[float, float]]:
        book = self._book.get(symbol)
        if book is not None:
            if book.stale:
                return
            first = book.asks(_FIRST) if buy else book.bids(_FIRST)
            yield from first
            if len(first) == _FIRST:
                rest = book.asks() if buy else book.bids()
                yield from rest[_FIRST:]
            return
        quote = self._quotes.get(symbol)
        if quote is None:
            return
        price, size = (quote.ask, quote.ask_size) if buy else (quote.bid, quote.bid_size)
        if price is not None:
            yield price, math.inf if size is None else size

    def _shown_prices(self, symbol: str, buy: bool,
                      prices: set[float]) -> Iterator[tuple[float, float]]:
        for price, size in self._shown(symbol, buy):
            if price in prices:
                yield price, size
                prices.discard(price)
                if not prices:
                    return
