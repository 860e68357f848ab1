"""OrderBooks: a component that keeps one OrderBook per symbol from BookEvents.

    books = evlab.OrderBooks(bus)      # listens to EventType.BOOK on ``bus``
    books["BTCUSDT"].best_bid, books["BTCUSDT"].bids(5), books["BTCUSDT"].to_frame(10)

Sequencing, from the fields each BookEvent carries (so no exchange is named here):

* **Updates with sequence ids** (``first_update_id``/``last_update_id``: Binance's diff depth
  ``U``/``u``) follow Binance's "How to manage a local order book correctly": until a
  snapshot arrives they are buffered (at most ``max_buffer`` per symbol, the oldest dropped
  and counted); a snapshot whose ``last_update_id + 1`` is below the first buffered ``U`` is
  too old (counted, a ``book_gap`` asks for another; ``lastUpdateId == U - 1`` is
  contiguous); buffered updates with ``u <= lastUpdateId`` are dropped, the first applied
  must have ``U <= lastUpdateId + 1``, and every later one ``U <= previous u + 1`` (``u`` not
  above the book's id: already applied, ignored). A hole is a gap.
* **Updates without ids** (Coinbase Exchange ``level2``) apply in arrival order after the
  product's snapshot; one before any snapshot is counted (``before_snapshot``) and dropped.
* **Snapshots** replace the book; one older than the book's id is ignored (``old_snapshots``).
* **Checksums** (``BookEvent.checksum``, Kraken v2): after applying the event the book is
  trimmed to the rule's depth and its checksum computed by the rule the event names
  (:mod:`evlab.books.checksum`; the venue's adapter registers it, so nothing here knows a
  venue); a mismatch is a gap (``reason="checksum_mismatch"``), and updates are dropped
  (``before_snapshot``) until a new snapshot, as for level2 feeds without ids.
* **Bad messages**: a message the adapter could not decode but that concerned one symbol's
  book (``BookDataError``) reaches ``on_system`` as a SYSTEM event ``kind="book_error"`` from
  the ``WebSocketHandler``; the book it names has missed a change, so that too is a gap
  (``reason="bad_update"``). A ``book_error`` whose ``data["reason"]`` is
  ``"missed_messages"`` (the adapter saw its feed's message count jump: Coinbase Advanced
  Trade's ``sequence_num``) is a gap with that reason.

On a gap the book is marked stale, later updates are buffered again, and a SYSTEM event
``kind="book_gap"`` is published with ``data={"symbol", "reason", "expected",
"first_update_id", "last_update_id", "resync": True}`` (checksum gaps carry
``expected``/``computed`` checksums instead of ids, bad-message gaps the decode ``error``):
with ``"source"``, the feed the offending event came from, when it names one. That event
is the resync hook, what a live emitter listens to in order to fetch a new
snapshot (``needs_snapshot`` lists those symbols). An update that leaves the book crossed
(best bid >= best ask) publishes an ``ErrorEvent`` (``error_type="CrossedBook"``) and is a
gap too (``reason="crossed_book"``, with ``best_bid``/``best_ask``). The snapshot that brings
a book back after a gap publishes a SYSTEM event ``kind="book_resynced"`` (``data={"symbol",
"gaps"}``, the gaps since it was last in sync): the answer to the ``book_gap``, what a live
emitter's resync waits for (:mod:`evlab.feeds.resync`). Whenever a live book's top changes
(best price or its size), one ``QuoteEvent`` is published (at most one per BookEvent; none
while a side is empty or the book is stale). Every outcome is counted in ``stats``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, ClassVar

from evlab.books.book import OrderBook
from evlab.books.checksum import checksum_rule
from evlab.events import (
    BookEvent,
    EventType,
    SystemEvent,
    book_quote_event,
    create_error_event,
)

__all__ = ["OrderBooks"]


class OrderBooks:
    """One ``OrderBook`` per symbol, kept from the ``BookEvent``s of a bus (see the module doc).

    ``OrderBooks(bus)`` registers itself for ``EventType.BOOK`` and ``EventType.SYSTEM``;
    built without a bus it is a component for ``EventManager`` (``on_book``, ``on_system``,
    ``set_event_bus``: register it for both types). ``max_buffer`` bounds the updates
    buffered per symbol while it waits for a snapshot.
    """

    held_strongly: ClassVar[bool] = True  # a component users query: the bus keeps it

    def __init__(self, bus: Any = None, *, name: str = "orderbooks",
                 max_buffer: int = 10_000) -> None:
        if not isinstance(max_buffer, int) or isinstance(max_buffer, bool) or max_buffer < 1:
            raise ValueError(f"max_buffer must be a positive int, got {max_buffer!r}")
        self.name = name
        self.max_buffer = max_buffer
        self.bus: Any = None
        self._books: dict[str, OrderBook] = {}
        self._buffers: dict[str, deque[BookEvent]] = {}
        self._stats: dict[str, int] = dict.fromkeys((
            "events", "snapshots", "updates", "levels", "buffered", "buffer_dropped",
            "ignored", "gaps", "stale_snapshots", "old_snapshots", "before_snapshot",
            "crossed", "quotes", "checksums", "checksum_mismatches", "unchecked",
            "bad_updates", "resynced"), 0)
        self._counts = _Counts()  # the counters of every update, as C fields compiled
        self._unknown_rules: set[str] = set()  # reported once each
        self._gapped: dict[str, int] = {}  # gaps per symbol since its book was last in sync
        if bus is not None:
            self.set_event_bus(bus)
            bus.register(EventType.BOOK, self.on_book)
            bus.register(EventType.SYSTEM, self.on_system)

    def set_event_bus(self, bus: Any) -> None:
        """Publish quotes, gaps and errors on ``bus`` (EventManager calls this)."""
        self.bus = bus

    # --- reading -------------------------------------------------------------------------
    def __getitem__(self, symbol: str) -> OrderBook:
        try:
            return self._books[symbol]
        except KeyError:
            known = ", ".join(sorted(self._books)) or "none yet"
            raise KeyError(f"no order book for {symbol!r} (books: {known})") from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._books

    def __iter__(self) -> Iterator[str]:
        return iter(self._books)

    def __len__(self) -> int:
        return len(self._books)

    @property
    def symbols(self) -> list[str]:
        """The symbols that have a book, in the order they first appeared."""
        return list(self._books)

    @property
    def needs_snapshot(self) -> list[str]:
        """Symbols whose book waits for a (new) snapshot: none yet, or out of sync."""
        return [s for s, b in self._books.items() if not b.synced]

    @property
    def stats(self) -> dict[str, int]:
        """The counters, by name (see the module doc): always the same dict, brought up to
        date by this read (those of every update, ``events``, ``updates``, ``levels`` and
        ``quotes``, are counted apart, in ``_Counts``: a dict update each cost more than the
        rest of an update's bookkeeping)."""
        stats, counts = self._stats, self._counts
        stats["events"], stats["updates"] = counts.events, counts.updates
        stats["levels"], stats["quotes"] = counts.levels, counts.quotes
        return stats

    def get_stats(self) -> dict[str, int]:
        """A copy of the counters."""
        return dict(self.stats)

    def __repr__(self) -> str:
        stale = sum(b.stale for b in self._books.values())
        return (f"<OrderBooks {len(self._books)} books ({stale} stale), "
                f"{self._counts.events} events, {self._stats['gaps']} gaps>")

    # --- the handler ---------------------------------------------------------------------
    def on_book(self, event: BookEvent) -> None:
        """Apply one BookEvent under its sequencing rule (see the module doc)."""
        _on_book(self, event)

    def on_system(self, event: SystemEvent) -> None:
        """A ``book_error`` (a bad message about one symbol's book, from the
        ``WebSocketHandler``) marks that book stale: a gap (other SYSTEM events: ignored)."""
        if event.kind != "book_error":
            return
        data = event.data if isinstance(event.data, dict) else {}
        symbol = data.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            return
        self._stats["bad_updates"] += 1
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = OrderBook(symbol)  # stale until its first snapshot
        # a synced book missed a change; one never synced since it was made or last gapped
        # (a crossed or bad snapshot, say the first) must ask for a new one, as any gap
        if book.synced or book.symbol not in self._gapped:
            reason, what = (("missed_messages", "messages of its feed were missed")
                            if data.get("reason") == "missed_messages"  # its sequence jumped
                            else ("bad_update", "a message about it could not be decoded"))
            self._gap(book, event, reason, f"{what} ({data.get('error', '')})",
                      error=data.get("error"))

    def _checksum_ok(self, book: OrderBook, event: BookEvent) -> bool:
        """Check ``book`` against the checksum ``event`` carries; a mismatch is a gap."""
        spec = event.checksum_rule
        assert spec is not None  # BookEvent requires a rule with a checksum
        try:
            rule = checksum_rule(spec)
        except ValueError as exc:  # not evidence against the book: counted, reported once
            self._stats["unchecked"] += 1
            if spec not in self._unknown_rules:
                self._unknown_rules.add(spec)
                self._publish(create_error_event(
                    f"{book.symbol}: {exc}; its checksums are not checked",
                    error_type="UnknownChecksumRule", handler=self.name, original=event,
                    source=self.name))
            return True
        if rule.depth is not None:
            book.truncate(rule.depth)
        computed = rule.compute(book)
        if computed == event.checksum:
            self._stats["checksums"] += 1
            return True
        self._stats["checksum_mismatches"] += 1
        self._gap(book, event, "checksum_mismatch", f"its {rule.name} checksum is {computed}, "
                  f"the exchange's {event.checksum}", expected=event.checksum,
                  computed=computed)
        return False

    def _snapshot(self, book: OrderBook, event: BookEvent) -> bool:
        stats = self._stats
        last = event.last_update_id
        if book.synced and last is not None and book.update_id is not None \
                and last < book.update_id:
            stats["old_snapshots"] += 1
            return False
        buffer = self._buffers.get(book.symbol)
        # Binance: the first diff applied must have U <= lastUpdateId + 1 <= u, so a snapshot
        # ending just before the first buffered U (lastUpdateId == U - 1) is contiguous with it
        if last is not None and buffer and last + 1 < buffer[0].first_update_id:  # type: ignore[operator]
            stats["stale_snapshots"] += 1
            self._id_gap(book, event, "snapshot_too_old", last + 1, buffer[0])
            return False
        stats["snapshots"] += 1
        book.replace(event.bids, event.asks)
        book.update_id = last
        book.time_ns = event.time_ns
        book.stale = False
        book.synced = True
        book.crossed = False
        book.updates += 1
        self._counts.levels += len(event.bids) + len(event.asks)
        gaps = self._gapped.pop(book.symbol, None)
        if gaps is not None:  # before the buffered diffs: a gap among them is a new one
            stats["resynced"] += 1
            self._publish(SystemEvent(
                "book_resynced", f"{book.symbol}: in sync again after {gaps} gap(s)",
                {"symbol": book.symbol, "gaps": gaps}, time_ns=event.time_ns,
                source=self.name))
        if buffer:
            pending = list(buffer)
            buffer.clear()
            for diff in pending:
                if book.synced:
                    self._sequenced(book, diff)
                else:  # a gap among the buffered updates: buffer the rest again
                    self._buffer(book, diff)
        return True

    def _sequenced(self, book: OrderBook, event: BookEvent) -> bool | None:
        """Binance's rule for an update ``U..u`` (``first_update_id..last_update_id``): None
        if it was not applied, else whether the top of the book changed."""
        if not book.synced:
            self._buffer(book, event)
            return None
        last = event.last_update_id
        current = book.update_id
        if current is not None:
            if last <= current:  # type: ignore[operator]
                self._stats["ignored"] += 1
                return None
            if event.first_update_id > current + 1:  # type: ignore[operator]
                self._id_gap(book, event, "missed_updates", current + 1, event)
                self._buffer(book, event)
                return None
        moved = _apply(self._counts, book, event)
        book.update_id = last
        return moved

    def _buffer(self, book: OrderBook, event: BookEvent) -> None:
        buffer = self._buffers.get(book.symbol)
        if buffer is None:
            buffer = self._buffers[book.symbol] = deque(maxlen=self.max_buffer)
        if len(buffer) == self.max_buffer:
            self._stats["buffer_dropped"] += 1  # the oldest goes: a snapshot will be needed
        buffer.append(event)
        self._stats["buffered"] += 1

    def _crossed(self, book: OrderBook, event: BookEvent, bid: float, ask: float) -> None:
        """An update left the book crossed (best ``bid >= ask``): counted; an ErrorEvent and a
        gap the first time (the book stays stale until the next snapshot)."""
        self._stats["crossed"] += 1
        if not book.crossed:
            book.crossed = True
            self._publish(create_error_event(
                f"{book.symbol}: the book is crossed after an update (best bid "
                f"{bid} >= best ask {ask}); stale until the next snapshot",
                error_type="CrossedBook", handler=self.name, original=event,
                source=self.name))
            # a crossed book has missed a change: resync it like any other gap
            self._gap(book, event, "crossed_book", f"crossed (best bid {bid} >= best "
                      f"ask {ask})", best_bid=bid, best_ask=ask)

    def _id_gap(self, book: OrderBook, event: BookEvent, reason: str, expected: int,
                culprit: BookEvent) -> None:
        """A gap in the exchange's sequence ids (Binance's rule)."""
        what = ("the snapshot is older than the buffered updates" if reason == "snapshot_too_old"
                else "updates are missing")
        self._gap(book, event, reason, f"{what} (expected id {expected}, got "
                  f"{culprit.first_update_id}..{culprit.last_update_id})", expected=expected,
                  first_update_id=culprit.first_update_id,
                  last_update_id=culprit.last_update_id)

    def _gap(self, book: OrderBook, event: Any, reason: str, what: str, **details: Any) -> None:
        """Mark ``book`` out of sync and ask for a new snapshot (the ``book_gap`` event)."""
        self._stats["gaps"] += 1
        self._gapped[book.symbol] = self._gapped.get(book.symbol, 0) + 1
        book.stale = True
        book.synced = False
        data = {"symbol": book.symbol, "reason": reason, **details, "resync": True}
        if getattr(event, "source", ""):  # the feed it came from, when it names one
            data["source"] = event.source
        self._publish(SystemEvent(
            "book_gap", f"{book.symbol}: {what}; stale until a new snapshot", data,
            time_ns=event.time_ns, source=self.name))

    def _publish(self, event: Any) -> None:
        if self.bus is not None:
            self.bus.emit(event)


class _Counts:
    """The counters ``OrderBooks`` moves on every update (the others stay in its dict)."""

    __slots__ = ("events", "levels", "quotes", "updates")

    def __init__(self) -> None:
        self.events = self.updates = self.levels = self.quotes = 0


def _on_book(books: OrderBooks, event: BookEvent) -> None:
    """``OrderBooks.on_book``: a function of the module, so that compiled, it is a C function
    with the book typed (orderbooks.pxd: its fields read as C struct fields)."""
    counts = books._counts
    counts.events += 1
    table = books._books  # a typed dict compiled (orderbooks.pxd): PyDict_GetItem, inline
    symbol = event.symbol
    book = table.get(symbol)
    if book is None:
        book = table[symbol] = OrderBook(symbol)
    moved: bool | None  # the top changed; None: nothing was applied
    if event.snapshot:
        before = book.top()
        moved = book.top() != before if books._snapshot(book, event) else None
    elif event.last_update_id is not None and event.first_update_id is not None:
        moved = books._sequenced(book, event)
    elif book.synced:
        moved = _apply(counts, book, event)
    else:
        books._stats["before_snapshot"] += 1
        return
    if moved is None or (event.checksum is not None
                         and not books._checksum_ok(book, event)):
        return
    # after a change: a crossed book is an error and a gap; else a quote if the top moved
    bid, ask = book._best_bid, book._best_ask
    if bid is not None and ask is not None and bid >= ask:
        books._crossed(book, event, bid, ask)
        return
    book.crossed = False
    if moved and not book.stale and bid is not None and ask is not None:
        counts.quotes += 1
        bus = books.bus
        if bus is not None:  # _publish, inline
            bus.emit(book_quote_event(book.symbol, bid, ask, book._bids.best_size(),
                                      book._asks.best_size(), event.time_ns, books.name))


def _apply(counts: _Counts, book: OrderBook, event: BookEvent) -> bool:
    """Apply an update's levels, counted in ``counts``; whether the top of the book changed."""
    bids, asks = event.bids, event.asks
    moved = book.apply(bids, asks)
    book.time_ns = event.time_ns
    book.updates += 1
    counts.updates += 1
    counts.levels += len(bids) + len(asks)
    return moved
