"""OrderBooks: books built from the shipped captures, checked against hand-worked states and
against the exchanges' rules applied by a plain reference; bad input counted and published."""

from __future__ import annotations

import orjson
import pytest

import evlab
from evlab import (
    EventBus,
    EventType,
    OrderBooks,
    create_book_event,
    create_rest_event,
    create_websocket_event,
)
from evlab.events import BookEvent, ErrorEvent, QuoteEvent, SystemEvent
from evlab.feeds.adapters import get_adapter
from evlab.feeds.handler import WebSocketHandler
from tests.adapters._data import fixture

from . import capture


class Session:
    """A bus wired as the usage guide wires a feed (a WebSocketHandler on EventType.WEBSOCKET)
    with an OrderBooks on it, and every quote, system event and error kept."""

    def __init__(self, exchange: str) -> None:
        self.bus = EventBus()
        self.adapter = get_adapter(exchange)
        self.handler = WebSocketHandler("feed", self.adapter)
        self.bus.register_async(EventType.WEBSOCKET, self.handler.handle)
        self.books = OrderBooks(self.bus)
        self.quotes: list[QuoteEvent] = []
        self.system: list[SystemEvent] = []
        self.errors: list[ErrorEvent] = []
        self.bus.register(EventType.QUOTE, self.quotes.append)
        self.bus.register(EventType.SYSTEM, self.system.append)
        self.bus.register(EventType.ERROR, self.errors.append)

    async def frame(self, received_ns: int, payload: str | bytes) -> None:
        await self.bus.emit_async(create_websocket_event("feed", payload, received_ns))

    async def rest(self, received_ns: int, url: str, body: str) -> None:
        """A fetched REST response, as an emitter publishes it (the handler decodes it)."""
        await self.bus.emit_async(create_rest_event("feed", url, body, received_ns))

    @property
    def gaps(self) -> list[SystemEvent]:
        return [e for e in self.system if e.kind == "book_gap"]


async def replay_binance(session: Session, until: float | None = None) -> None:
    """The Binance session's frames and REST snapshots, in the order they were received."""
    for event in capture("binance"):
        if until is not None and event.time_ns > until * 1e9:
            return
        await session.bus.emit_async(event)


class Reference:
    """The rules as the exchanges write them, applied naively (dicts, sort when read)."""

    def __init__(self) -> None:
        self.books: dict[str, tuple[dict[float, float], dict[float, float], list[int]]] = {}
        self.pending: dict[str, list[BookEvent]] = {}

    def feed(self, ev: BookEvent) -> None:
        if ev.snapshot:
            bids, asks = dict(ev.bids), dict(ev.asks)
            self.books[ev.symbol] = (bids, asks, [ev.last_update_id or 0])
            for diff in self.pending.pop(ev.symbol, []):
                self.feed(diff)
            return
        if ev.symbol not in self.books:
            self.pending.setdefault(ev.symbol, []).append(ev)
            return
        bids, asks, last = self.books[ev.symbol]
        if ev.last_update_id is not None:
            if ev.last_update_id <= last[0]:
                return
            assert ev.first_update_id <= last[0] + 1, "the capture has no gap"
            last[0] = ev.last_update_id
        for side, levels in ((bids, ev.bids), (asks, ev.asks)):
            for p, q in levels:
                if q == 0:
                    side.pop(p, None)
                else:
                    side[p] = q

    def sides(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        bids, asks, _ = self.books[symbol]
        return sorted(bids.items(), reverse=True), sorted(asks.items())


# --- books from the captures ---------------------------------------------------------------

async def test_binance_books_after_given_frames_are_the_hand_worked_ones():
    s = Session("binance")
    # NKNUSDT: the snapshot (lastUpdateId 499869752) arrived at .320639; the diff 750..752
    # received before it was buffered, then dropped (u <= lastUpdateId); 753..754, 755..757
    # and 758..759 apply.
    await replay_binance(s, until=1633998512.9)
    nkn = s.books["NKNUSDT"]
    assert not nkn.stale and nkn.update_id == 499869759
    assert nkn.top() == (0.3521, 672.0, 0.3525, 3959.0)  # the snapshot's top: untouched
    levels = dict(nkn.bids())
    assert levels[0.352] == 1290.0  # snapshot 1144, diff 755..757 says 1290
    assert levels[0.3517] == 4265.0  # new in 753..754
    assert levels[0.3492] == 19253.0 and levels[0.3481] == 9965.0  # 758..759 (were 20539, 8686)
    assert dict(nkn.asks())[0.3529] == 10968.0
    assert s.books.stats["ignored"] >= 1 and s.books.stats["gaps"] == 0

    # BLZETH: ask 0.00006615 (1528 in the snapshot) is deleted by 628, set again by 631..632
    # and deleted by 633..634.
    s = Session("binance")
    await replay_binance(s, until=1633998522.1)
    assert 6.615e-05 not in dict(s.books["BLZETH"].asks())
    await replay_binance(s := Session("binance"), until=1633998524.1)
    assert dict(s.books["BLZETH"].asks())[6.615e-05] == 1528.0
    await replay_binance(s := Session("binance"), until=1633998524.6)
    assert 6.615e-05 not in dict(s.books["BLZETH"].asks())


async def test_binance_capture_books_equal_the_rules_applied_naively():
    s = Session("binance")
    ref = Reference()
    s.bus.register(EventType.BOOK, ref.feed)
    await replay_binance(s)
    assert s.books.symbols == ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"]  # first seen order
    for symbol in s.books:
        book = s.books[symbol]
        assert (book.bids(), book.asks()) == ref.sides(symbol), symbol
        assert not book.stale and not book.crossed
    stats = s.books.stats
    assert (stats["snapshots"], stats["gaps"], stats["crossed"], stats["updates"]) == (4, 0, 0, 172)
    assert stats["ignored"] == 5  # the diffs the snapshots already held
    assert s.errors == [] and s.gaps == []
    # bookTicker quotes (84) plus one quote each time a book's top changed
    ours = [q for q in s.quotes if q.source == "orderbooks"]
    assert len(ours) == stats["quotes"] > 0 and len(s.quotes) == 84 + len(ours)
    last = next(q for q in reversed(ours) if q.symbol == "NKNUSDT")
    assert (last.bid, last.ask) == (s.books["NKNUSDT"].best_bid, s.books["NKNUSDT"].best_ask)


async def test_coinbase_level2_books_equal_the_rules_applied_naively():
    s = Session("coinbase")
    ref = Reference()
    s.bus.register(EventType.BOOK, ref.feed)
    for event in capture("coinbase"):
        await s.bus.emit_async(event)
    assert len(s.books) == 10
    for symbol in s.books:
        assert (s.books[symbol].bids(), s.books[symbol].asks()) == ref.sides(symbol), symbol
    stats = s.books.stats
    assert (stats["snapshots"], stats["updates"], stats["gaps"]) == (10, 9719, 0)
    assert stats["before_snapshot"] == 0 and s.errors == []
    # The ticker quotes of 2021 carry no sizes; the books' quotes do.
    tickers = [q for q in s.quotes if q.source != "orderbooks"]
    assert len(tickers) == 107 and all(q.bid_size is None for q in tickers)
    assert all(q.bid_size is not None for q in s.quotes if q.source == "orderbooks")


async def test_coinbase_first_update_is_hand_worked():
    s = Session("coinbase")
    frames = capture("coinbase")
    first = next(i for i, e in enumerate(frames) if '"l2update"' in e.payload)
    for event in frames[:first + 1]:
        await s.bus.emit_async(event)
    # {"type":"l2update","product_id":"SKL-BTC","changes":[["sell","0.00001306","660.5"]]}
    assert dict(s.books["SKL-BTC"].asks())[1.306e-05] == 660.5


# --- the book's interface --------------------------------------------------------------------

def small_book() -> tuple[EventBus, OrderBooks, list[QuoteEvent]]:
    bus = EventBus()
    books = OrderBooks(bus)
    quotes: list[QuoteEvent] = []
    bus.register(EventType.QUOTE, quotes.append)
    bus.emit(create_book_event("XY", 1, [(100.0, 1.0), (99.0, 2.0), (98.0, 3.0)],
                               [(101.0, 1.5), (102.0, 2.5)], snapshot=True, last_update_id=10))
    return bus, books, quotes


def test_reading_a_book():
    _, books, quotes = small_book()
    book = books["XY"]
    assert (book.best_bid, book.best_ask, book.mid, book.spread) == (100.0, 101.0, 100.5, 1.0)
    assert book.bids(2) == [(100.0, 1.0), (99.0, 2.0)] and book.asks(5) == [(101.0, 1.5),
                                                                              (102.0, 2.5)]
    frame = book.to_frame(3)
    assert list(frame.columns) == ["bid_price", "bid_size", "ask_price", "ask_size"]
    assert frame["bid_price"].tolist() == [100.0, 99.0, 98.0]
    assert frame["ask_size"].iloc[:2].tolist() == [1.5, 2.5] and frame["ask_size"].isna().iloc[2]
    assert [(q.bid, q.bid_size, q.ask, q.ask_size) for q in quotes] == [(100.0, 1.0, 101.0, 1.5)]
    with pytest.raises(KeyError, match=r"no order book for 'ZZ' \(books: XY\)"):
        books["ZZ"]
    with pytest.raises(ValueError, match="depth must be a non-negative int"):
        book.to_frame(-1)


def test_one_quote_per_book_event_and_only_when_the_top_changes():
    bus, _books, quotes = small_book()
    bus.emit(create_book_event("XY", 2, [(98.0, 7.0)], [], first_update_id=11, last_update_id=11))
    assert len(quotes) == 1  # a deeper level: no quote
    bus.emit(create_book_event("XY", 3, [(100.0, 0.0), (100.5, 4.0)], [(101.0, 9.0)],
                               first_update_id=12, last_update_id=13))
    assert len(quotes) == 2  # three levels changed, the top moved: one quote
    assert (quotes[-1].bid, quotes[-1].bid_size, quotes[-1].ask, quotes[-1].ask_size) == (
        100.5, 4.0, 101.0, 9.0)
    assert quotes[-1].time_ns == 3 and quotes[-1].cause is not None


# --- bad input: counted, published, never a wrong book without the stale flag --------------

def recorder(bus: EventBus) -> dict[str, list]:
    kept: dict[str, list] = {"system": [], "error": []}
    bus.register(EventType.SYSTEM, kept["system"].append)
    bus.register(EventType.ERROR, kept["error"].append)
    return kept


def test_out_of_sequence_diff_is_a_gap_then_a_new_snapshot_resyncs():
    bus, books, _quotes = small_book()
    kept = recorder(bus)
    bus.emit(create_book_event("XY", 2, [(99.5, 1.0)], [], first_update_id=13, last_update_id=14))
    book = books["XY"]
    assert book.stale and books.needs_snapshot == ["XY"] and books.stats["gaps"] == 1
    [gap] = kept["system"]
    assert gap.kind == "book_gap" and gap.data == {
        "symbol": "XY", "reason": "missed_updates", "expected": 11, "first_update_id": 13,
        "last_update_id": 14, "resync": True}
    assert dict(book.bids()).get(99.5) is None  # the diff after the hole was not applied
    # later diffs wait for the snapshot; the new snapshot takes the ones after it
    bus.emit(create_book_event("XY", 3, [(99.7, 1.0)], [], first_update_id=15, last_update_id=15))
    bus.emit(create_book_event("XY", 4, [(100.0, 5.0)], [(101.0, 1.0)], snapshot=True,
                               last_update_id=14))
    assert not book.stale and book.update_id == 15 and dict(book.bids())[99.7] == 1.0
    assert book.top() == (100.0, 5.0, 101.0, 1.0)


def test_a_snapshot_older_than_the_buffered_diffs_asks_for_another():
    bus = EventBus()
    books = OrderBooks(bus)
    kept = recorder(bus)
    bus.emit(create_book_event("XY", 1, [(99.0, 1.0)], [], first_update_id=50, last_update_id=52))
    bus.emit(create_book_event("XY", 2, [(100.0, 1.0)], [(101.0, 1.0)], snapshot=True,
                               last_update_id=40))
    book = books["XY"]
    assert book.stale and books.stats["stale_snapshots"] == 1 and book.bids() == []
    [gap] = kept["system"]
    assert gap.data["reason"] == "snapshot_too_old" and gap.data["resync"]
    bus.emit(create_book_event("XY", 3, [(100.0, 1.0)], [(101.0, 1.0)], snapshot=True,
                               last_update_id=51))
    assert not book.stale and book.update_id == 52 and book.bids() == [(100.0, 1.0),
                                                                      (99.0, 1.0)]


def test_a_crossed_book_is_an_error_and_a_gap_that_resyncs():
    bus, books, quotes = small_book()
    kept = recorder(bus)
    bus.emit(create_book_event("XY", 2, [(101.5, 1.0)], [], first_update_id=11, last_update_id=11))
    book = books["XY"]
    [err] = kept["error"]
    assert err.error_type == "CrossedBook" and "crossed" in err.message
    assert book.stale and book.crossed and books.stats["crossed"] == 1
    [gap] = kept["system"]  # stale and asking for a new snapshot, as any gap
    assert gap.kind == "book_gap" and gap.data == {
        "symbol": "XY", "reason": "crossed_book", "best_bid": 101.5, "best_ask": 101.0,
        "resync": True}
    assert books.needs_snapshot == ["XY"] and len(quotes) == 1  # no quote from a crossed book
    bus.emit(create_book_event("XY", 3, [(101.5, 0.0)], [], first_update_id=12, last_update_id=12))
    assert book.stale and len(quotes) == 1 and len(kept["system"]) == 1  # buffered: no new gap
    bus.emit(create_book_event("XY", 4, [(100.0, 1.0)], [(101.0, 1.0)], snapshot=True,
                               last_update_id=11))
    assert not book.stale and not book.crossed and len(quotes) == 2
    assert book.update_id == 12 and book.top() == (100.0, 1.0, 101.0, 1.0)  # 12 applied
    resynced = kept["system"][1]
    assert resynced.kind == "book_resynced" and resynced.data == {"symbol": "XY", "gaps": 1}
    assert books.stats["resynced"] == 1


async def test_a_snapshot_whose_last_update_id_is_the_first_buffered_u_minus_1_is_taken():
    """Binance's rule: drop u <= lastUpdateId, the first applied has U <= lastUpdateId + 1 <=
    u. A snapshot whose lastUpdateId is the first buffered U - 1 is contiguous with it."""
    s = Session("binance")
    first = ('{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":101,"u":103,'
             '"b":[["0.0024","7"]],"a":[["0.0027","1"]]}')
    second = ('{"e":"depthUpdate","E":1672515782236,"s":"BNBBTC","U":104,"u":104,'
              '"b":[],"a":[["0.0026","0"]]}')
    await s.frame(1, first)
    await s.frame(2, second)
    await s.rest(3, "https://api.binance.com/api/v3/depth?symbol=BNBBTC&limit=5",
                 '{"lastUpdateId":100,"bids":[["0.0024","10"]],'
                 '"asks":[["0.0026","100"],["0.0028","5"]]}')
    book = s.books["BNBBTC"]
    assert s.gaps == [] and s.books.stats["stale_snapshots"] == 0
    assert not book.stale and book.update_id == 104
    assert book.bids() == [(0.0024, 7.0)] and book.asks() == [(0.0027, 1.0), (0.0028, 5.0)]
    # one id older (99: update 100 is in neither) is still too old
    t = Session("binance")
    await t.frame(1, first)
    await t.rest(2, "https://api.binance.com/api/v3/depth?symbol=BNBBTC&limit=5",
                 '{"lastUpdateId":99,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}')
    assert [g.data["reason"] for g in t.gaps] == ["snapshot_too_old"] and t.books["BNBBTC"].stale


async def test_a_negative_size_is_an_error_and_marks_the_book_stale_at_once():
    s = Session("binance")
    await s.rest(0, "https://api.binance.com/api/v3/depth?symbol=BNBBTC&limit=5",
                 '{"lastUpdateId":100,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}')
    bad = ('{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":101,"u":102,'
           '"b":[["0.0024","-5"]],"a":[]}')
    good = ('{"e":"depthUpdate","E":1672515782236,"s":"BNBBTC","U":103,"u":104,'
            '"b":[["0.0023","5"]],"a":[]}')
    await s.frame(1, bad)
    [err] = s.errors
    assert "must not be negative" in err.message and err.payload == bad
    assert s.handler.stats["decode_errors"] == 1 and s.handler.stats["book_errors"] == 1
    book = s.books["BNBBTC"]
    assert book.stale and [g.data["reason"] for g in s.gaps] == ["bad_update"]  # no wait
    await s.frame(2, good)  # buffered until a new snapshot: no second gap
    assert book.stale and len(s.gaps) == 1 and book.bids() == [(0.0024, 10.0)]
    await s.rest(3, "https://api.binance.com/api/v3/depth?symbol=BNBBTC&limit=5",
                 '{"lastUpdateId":103,"bids":[["0.0024","5"]],"asks":[["0.0026","100"]]}')
    assert not book.stale and book.bids() == [(0.0024, 5.0), (0.0023, 5.0)]


async def test_a_crossed_quote_is_an_error_carrying_its_payload():
    s = Session("binance")
    crossed = '{"u":400900217,"s":"BNBUSDT","b":"25.4","B":"31.21","a":"25.3","A":"40.66"}'
    await s.frame(1, crossed)
    [err] = s.errors
    assert "crossed quote" in err.message and err.payload == crossed and s.quotes == []


def test_coinbase_update_before_its_snapshot_is_counted_not_applied():
    bus = EventBus()
    books = OrderBooks(bus)
    bus.emit(create_book_event("BTC-USD", 1, [(100.0, 1.0)], []))
    assert books["BTC-USD"].stale and books["BTC-USD"].bids() == []
    assert books.stats["before_snapshot"] == 1


def test_the_buffer_is_bounded_and_counts_what_it_drops():
    bus = EventBus()
    books = OrderBooks(bus, max_buffer=3)
    for i in range(5):
        bus.emit(create_book_event("XY", i, [(99.0, 1.0 + i)], [], first_update_id=10 + i,
                                   last_update_id=10 + i))
    assert books.stats["buffered"] == 5 and books.stats["buffer_dropped"] == 2
    with pytest.raises(ValueError, match="max_buffer must be a positive int"):
        OrderBooks(bus, max_buffer=0)


def test_quote_and_book_events_record_and_replay(tmp_path):
    bus, _books, _quotes = small_book()
    with evlab.record(bus) as rec:
        bus.emit(create_book_event("XY", 5, [(100.0, 0.0)], [], first_update_id=11,
                                   last_update_id=11))
        bus.emit(evlab.create_quote_event("AB", 6, 1.0, 1.5))  # no sizes
    rec.save(tmp_path / "s.parquet")
    session = evlab.load_recording(tmp_path / "s.parquet")
    assert list(session.to_events()) == list(rec.to_events())
    book_ev, quote_ev, ticker = list(session.to_events())
    assert book_ev.bids == ((100.0, 0.0),) and book_ev.last_update_id == 11
    assert quote_ev.bid == 99.0 and ticker.bid_size is None and ticker.ask_size is None
    fresh = EventBus()
    replayed = OrderBooks(fresh)
    fresh.emit(create_book_event("XY", 1, [(100.0, 1.0), (99.0, 2.0)], [(101.0, 1.5)],
                                 snapshot=True, last_update_id=10))
    evlab.Replayer(session, fresh).run()
    assert replayed["XY"].bids() == [(99.0, 2.0)]


async def test_a_bad_coinbase_level2_update_marks_that_book_stale_until_a_new_snapshot():
    # level2 has no ids, so no later update could reveal the lost change: the decode error
    # itself (a BookDataError naming the product) is what marks the book stale.
    s = Session("coinbase")
    snap = ('{"type":"snapshot","product_id":"BTC-USD","bids":[["10101.10","0.45054140"]],'
            '"asks":[["10102.55","0.57753524"]]}')
    bad = ('{"type":"l2update","product_id":"BTC-USD","changes":[["buy","10101.80","-1"]],'
           '"time":"2019-08-14T20:42:27.265Z"}')
    good = ('{"type":"l2update","product_id":"BTC-USD","changes":[["buy","10101.80","0.162567"]],'
            '"time":"2019-08-14T20:42:28.265Z"}')
    other = ('{"type":"snapshot","product_id":"ETH-USD","bids":[["200.10","1.0"]],'
             '"asks":[["200.20","1.0"]]}')
    await s.frame(1, snap)
    await s.frame(2, other)
    book = s.books["BTC-USD"]
    assert not book.stale and len(s.quotes) == 2
    await s.frame(3, bad)
    [err] = s.errors
    assert err.error_type == "BookDataError" and err.payload == bad
    assert book.stale and [g.data["symbol"] for g in s.gaps] == ["BTC-USD"]
    assert s.gaps[0].data["reason"] == "bad_update" and "negative" in s.gaps[0].data["error"]
    assert not s.books["ETH-USD"].stale  # only the book the message was about
    assert s.books.stats["bad_updates"] == 1 and s.handler.stats["book_errors"] == 1
    await s.frame(4, good)  # not applied to a book known to be wrong
    assert book.bids() == [(10101.10, 0.4505414)] and s.books.stats["before_snapshot"] == 1
    await s.frame(5, snap)
    await s.frame(6, good)
    assert not book.stale and book.bids() == [(10101.80, 0.162567), (10101.10, 0.4505414)]


async def test_coinbase_advanced_level2_builds_a_book():
    s = Session("coinbase")
    snap = orjson.loads(fixture("coinbase", "l2_data.json"))
    snap["events"][0]["updates"].append({"side": "offer", "event_time": "1970-01-01T00:00:00Z",
                                         "price_level": "21922.5", "new_quantity": "1.25"})
    await s.frame(1, orjson.dumps(snap))
    update = {"channel": "l2_data", "client_id": "", "timestamp": "2023-02-09T20:32:51Z",
              "sequence_num": 1, "events": [{"type": "update", "product_id": "BTC-USD",
                                             "updates": [
        {"side": "bid", "event_time": "2023-02-09T20:32:50.9Z", "price_level": "21921.73",
         "new_quantity": "0"},
        {"side": "offer", "event_time": "2023-02-09T20:32:50.9Z", "price_level": "21922.1",
         "new_quantity": "0.5"}]}]}
    await s.frame(2, orjson.dumps(update))
    book = s.books["BTC-USD"]
    assert not book.stale and book.bids() == [(21921.3, 0.02)]
    assert book.asks() == [(21922.1, 0.5), (21922.5, 1.25)]
    assert [(q.bid, q.ask) for q in s.quotes] == [(21921.73, 21922.5), (21921.3, 21922.1)]


def test_the_kept_best_prices_follow_every_change_of_the_levels():
    """OrderBook keeps its best bid and ask as changes come (not read off the sorted lists):
    after random sets, deletions (of the best too), truncations, snapshots (``replace``) and
    clears they are the ends of the levels a plain dict holds; ``apply`` says whether the
    top moved."""
    import random

    from evlab.books import OrderBook

    rng = random.Random(3)
    book = OrderBook("X")
    ref: tuple[dict[float, float], dict[float, float]] = ({}, {})
    for step in range(3000):
        if step % 500 == 499:
            book.clear()
            ref[0].clear()
            ref[1].clear()
        elif step % 131 == 130:  # a snapshot: its levels replace the book's
            snap = ([(float(rng.randint(1, 30)), float(rng.randint(0, 5))) for _ in range(8)],
                    [(float(rng.randint(1, 30)), float(rng.randint(0, 5))) for _ in range(8)])
            book.replace(*snap)
            for side, levels in zip(ref, snap, strict=True):
                side.clear()
                side.update(levels)  # a later level of a price wins
                for price in [p for p, q in side.items() if not q]:
                    del side[price]
        elif step % 97 == 96:
            depth = rng.randint(0, 4)
            book.truncate(depth)
            for side, keep in ((ref[0], sorted(ref[0], reverse=True)[:depth]),
                               (ref[1], sorted(ref[1])[:depth])):
                for price in set(side) - set(keep):
                    del side[price]
        else:
            changes: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])
            for _ in range(rng.randint(1, 4)):
                i = rng.random() < 0.5
                side = ref[0 if i else 1]
                if side and rng.random() < 0.4:  # delete an existing level, often the best
                    price = (max(side) if i else min(side)) if rng.random() < 0.5 \
                        else rng.choice(list(side))
                    size = 0.0
                else:
                    price, size = float(rng.randint(1, 30)), float(rng.randint(0, 5))
                changes[0 if i else 1].append((price, size))
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
            before = book.top()
            moved = book.apply(*changes)
            assert moved == (book.top() != before)  # what OrderBooks publishes a quote on
        bid = max(ref[0]) if ref[0] else None
        ask = min(ref[1]) if ref[1] else None
        assert (book.best_bid, book.best_ask) == (bid, ask)
        assert book.top() == (bid, None if bid is None else ref[0][bid],
                              ask, None if ask is None else ref[1][ask])
        assert book.bids() == sorted(ref[0].items(), reverse=True)
        assert book.asks() == sorted(ref[1].items())
        assert book.is_crossed() == (bid is not None and ask is not None and bid >= ask)


def test_the_book_is_compiled_where_the_core_is_and_interpreted_under_evlab_pure_python():
    import os

    import evlab.books.book as module
    import evlab.books.orderbooks as books_module
    from evlab._accel import COMPILED

    assert evlab.OrderBook is module.OrderBook
    assert evlab.OrderBooks is books_module.OrderBooks
    for m in (module, books_module):
        interpreted = m.__file__.endswith(".py")
        if os.environ.get("EVLAB_PURE_PYTHON"):
            assert interpreted and not COMPILED
        else:  # setup.py builds every extension, or none
            assert interpreted is not COMPILED


async def test_a_crossed_first_snapshot_is_stale_published_and_asks_for_another():
    """A crossed snapshot (here the first) cannot be a book: the decode error marks it stale
    and publishes a book_gap naming its feed, which resyncs it as any gap; the next good
    snapshot brings it back."""
    s = Session("binance")
    url = "https://api.binance.com/api/v3/depth?symbol=BNBBTC&limit=5"
    await s.rest(0, url, '{"lastUpdateId":100,"bids":[["0.0027","10"]],"asks":[["0.0026","1"]]}')
    [err] = s.errors
    assert "crossed" in err.message
    book = s.books["BNBBTC"]
    assert book.stale and s.books.needs_snapshot == ["BNBBTC"]
    [gap] = s.gaps
    assert gap.data["reason"] == "bad_update" and gap.data["resync"]
    assert gap.data["source"] == "feed"  # the WebSocketEvent's source: the feed
    await s.rest(1, url, '{"lastUpdateId":100,"bids":[["0.0027","10"]],"asks":[["0.0026","1"]]}')
    assert len(s.gaps) == 1 and s.books.stats["bad_updates"] == 2  # counted, asked once
    await s.rest(2, url, '{"lastUpdateId":101,"bids":[["0.0024","10"]],"asks":[["0.0026","1"]]}')
    assert not book.stale and book.top() == (0.0024, 10.0, 0.0026, 1.0)


def test_truncate_keeps_the_best_levels_of_both_sides_and_refuses_a_negative_depth():
    _, books, _ = small_book()
    book = books["XY"]
    with pytest.raises(ValueError, match="must be >= 0"):
        book.truncate(-1)
    assert book.depth() == (3, 2)  # untouched
    book.truncate(1)
    assert book.bids() == [(100.0, 1.0)] and book.asks() == [(101.0, 1.5)]
    book.truncate(0)
    assert book.depth() == (0, 0) and book.best_bid is None and book.best_ask is None


def _blocks_hold_their_shape(side) -> None:  # type: ignore[no-untyped-def]
    """The shape a ``_Side`` keeps (book.py): non-empty blocks of ``key, size`` pairs, at
    most ``_BLOCK`` levels each, keys (price for bids, minus price for asks) strictly
    ascending within and across blocks, every block but the first and the last holding
    ``_FEW`` levels or more (so a side of n levels has at most about n / _FEW blocks)."""
    from evlab.books.book import _BLOCK, _FEW

    blocks = side._blocks
    assert all(len(block) % 2 == 0 for block in blocks)
    keys = [block[k] for block in blocks for k in range(0, len(block), 2)]
    assert keys == sorted(set(keys)) and len(keys) == len(side)
    assert all(0 < len(block) <= 2 * _BLOCK for block in blocks)
    assert all(len(block) >= 2 * _FEW for block in blocks[1:-1]), [len(b) for b in blocks]


def test_a_deep_book_keeps_its_levels_sorted_in_bounded_blocks():
    """Thousands of levels a side (blocks split and merged many times), changed at every
    depth, trimmed and replaced: the same levels as a plain reference, in order, and the
    blocks keep their shape."""
    import random

    rng = random.Random(3)
    book = evlab.OrderBook("DEEP")
    ref: tuple[dict[float, float], dict[float, float]] = ({}, {})
    bids = [(round(1000.0 - i * 0.5, 1), 1.0) for i in range(1, 3001)]
    asks = [(round(1000.0 + i * 0.5, 1), 2.0) for i in range(3000)]
    book.replace(bids, asks)
    ref[0].update(bids)
    ref[1].update(asks)
    for step in range(12_000):
        if step == 6000:  # Kraken-style trim, then keep growing from there
            book.truncate(700)
            for side, keep in ((ref[0], sorted(ref[0], reverse=True)[:700]),
                               (ref[1], sorted(ref[1])[:700])):
                for price in set(side) - set(keep):
                    del side[price]
        i = rng.random() < 0.5
        side = ref[0 if i else 1]
        # phases: grow, then shrink (merges), then churn at the top of the book
        grow = 0.8 if step < 3000 else 0.15 if step < 6000 else 0.5
        if side and rng.random() > grow:
            price = rng.choice(list(side)) if step < 9000 else \
                (max(side) if i else min(side))
            size = 0.0
        else:
            offset = rng.randint(1, 4000) * 0.5
            price = round(1000.0 - offset if i else 1000.0 + offset, 1)
            size = float(rng.randint(1, 9))
        if size:
            side[price] = size
        else:
            side.pop(price, None)
        before = book.top()
        moved = book.apply([(price, size)] if i else [], [] if i else [(price, size)])
        assert moved == (book.top() != before)
        if step % 1000 == 999:
            assert book.bids() == sorted(ref[0].items(), reverse=True)
            assert book.asks() == sorted(ref[1].items())
            assert book.bids(10) == sorted(ref[0].items(), reverse=True)[:10]
            assert book.asks(10) == sorted(ref[1].items())[:10]
            _blocks_hold_their_shape(book._bids)
            _blocks_hold_their_shape(book._asks)
    assert (book.best_bid, book.best_ask) == (max(ref[0]), min(ref[1]))
    assert book.depth() == (len(ref[0]), len(ref[1]))


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled", "zeros", "repeats",
                                   "ints", "one", "none"])
def test_replace_takes_levels_in_order_or_sorts_them_to_the_same_book(order):
    """``OrderBook.replace`` keeps a side whose float prices come strictly in order (either
    way, as exchanges send snapshots) in that order without sorting, and sorts any other
    (shuffled, a size 0, a price twice, int prices): the same levels, the same best prices
    and the same sorted blocks either way, as a plain dict of the levels."""
    import random

    from evlab.books import OrderBook
    from evlab.books.book import _BLOCK

    rng = random.Random(order)
    n = {"one": 1, "none": 0}.get(order, 700)
    bids = [(round(100.0 - i * 0.01, 2), float(rng.randint(1, 9))) for i in range(1, n + 1)]
    asks = [(round(100.0 + i * 0.01, 2), float(rng.randint(1, 9))) for i in range(n)]
    if order == "ascending":
        bids.reverse()
    elif order == "descending":
        asks.reverse()
    elif order == "shuffled":
        rng.shuffle(bids)
        rng.shuffle(asks)
    elif order == "zeros":
        bids.insert(300, (bids[100][0], 0.0))
        asks.append((asks[5][0], 0.0))
    elif order == "repeats":
        bids.insert(400, (bids[399][0], 42.0))
        asks.insert(1, asks[0])
    elif order == "ints":
        bids = [(int(p * 100), q) for p, q in bids]
    book = OrderBook("X")
    book.apply([(1.0, 1.0)], [(500.0, 1.0)])  # replaced, not kept
    book.replace(bids, asks)
    for got, levels, best in ((book.bids(), bids, max), (book.asks(), asks, min)):
        ref: dict[float, float] = {}
        for price, size in levels:
            if size:
                ref[price] = size
            else:
                ref.pop(price, None)
        want = sorted(ref.items(), reverse=best is max)
        assert got == want
    assert book.best_bid == (max(p for p, _ in book.bids()) if book.bids() else None)
    assert book.best_ask == (min(p for p, _ in book.asks()) if book.asks() else None)
    for side in (book._bids, book._asks):
        keys = [block[k] for block in side._blocks for k in range(0, len(block), 2)]
        assert keys == sorted(set(keys)) and len(keys) == len(side)
        assert all(0 < len(block) <= 2 * _BLOCK for block in side._blocks)
    book.apply([(99.995, 3.0)], [(100.005, 0.0)])  # the blocks take changes after it
    assert (99.995, 3.0) in book.bids()


def _levels(draw_prices, sizes):  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    return st.lists(st.tuples(draw_prices, sizes), max_size=40)


def _book_ops():  # type: ignore[no-untyped-def]
    """Random operations on a book: applies (sets and deletes, of held prices too: a small
    grid), snapshots (in order either way as exchanges send them, shuffled, with size 0s and
    repeated prices; deep enough to split blocks), truncations and clears."""
    from hypothesis import strategies as st

    price = st.integers(1, 700).map(lambda i: i * 0.5)
    size = st.sampled_from([0.0, 0.0, 1.0, 2.5, 7.0])
    apply = st.tuples(st.just("apply"), _levels(price, size), _levels(price, size))
    deep = st.integers(0, 650).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(1, 700 - n), st.sampled_from(
            ["down", "up", "shuffled", "zeros"]), st.randoms(use_true_random=False)))
    snapshot = st.tuples(st.just("replace"), deep, deep)
    truncate = st.tuples(st.just("truncate"), st.integers(0, 300))
    clear = st.tuples(st.just("clear"))
    return st.lists(st.one_of(apply, apply, apply, snapshot, truncate, clear), max_size=30)


def _snapshot_side(n, first, order, rng):  # type: ignore[no-untyped-def]
    levels = [((first + i) * 0.5, float(rng.randint(1, 9))) for i in range(n)]
    if order == "down":
        levels.reverse()
    elif order == "shuffled":
        rng.shuffle(levels)
    elif order == "zeros" and levels:
        levels.insert(rng.randrange(len(levels)), (levels[rng.randrange(len(levels))][0], 0.0))
        levels.append(levels[0])  # a repeated price: the later level wins
    return levels


def test_a_book_equals_a_dict_model_after_random_applies_snapshots_truncates_and_clears():
    """Hypothesis: every read of the book (levels best first, n of them, top, depth, best
    prices, crossed) equals the same read of a plain dict per side after each operation, and
    ``apply`` is True exactly when the top (a best price or its size) changed. Run compiled
    and under EVLAB_PURE_PYTHON=1 (the interpreted twin)."""
    from hypothesis import given, settings

    from evlab.books import OrderBook

    @settings(max_examples=150, deadline=None)
    @given(_book_ops())
    def check(ops):  # type: ignore[no-untyped-def]
        book = OrderBook("H")
        ref: tuple[dict[float, float], dict[float, float]] = ({}, {})
        for op in ops:
            before = book.top()
            if op[0] == "apply":
                moved = book.apply(op[1], op[2])
                for side, levels in zip(ref, op[1:], strict=True):
                    for p, q in levels:
                        if q:
                            side[p] = q
                        else:
                            side.pop(p, None)
                assert moved == (book.top() != before)
            elif op[0] == "replace":
                snap = [_snapshot_side(*spec) for spec in op[1:]]
                book.replace(*snap)
                for side, levels in zip(ref, snap, strict=True):
                    side.clear()
                    for p, q in levels:
                        if q:
                            side[p] = q
                        else:
                            side.pop(p, None)
            elif op[0] == "truncate":
                book.truncate(op[1])
                for side, keep in ((ref[0], sorted(ref[0], reverse=True)[:op[1]]),
                                   (ref[1], sorted(ref[1])[:op[1]])):
                    for p in set(side) - set(keep):
                        del side[p]
            else:
                book.clear()
                ref[0].clear()
                ref[1].clear()
            bids = sorted(ref[0].items(), reverse=True)
            asks = sorted(ref[1].items())
            assert book.bids() == bids and book.asks() == asks
            assert book.bids(10) == bids[:10] and book.asks(3) == asks[:3]
            assert book.depth() == (len(bids), len(asks))
            bid = bids[0] if bids else (None, None)
            ask = asks[0] if asks else (None, None)
            assert book.top() == (*bid, *ask)
            assert (book.best_bid, book.best_ask) == (bid[0], ask[0])
            assert book.is_crossed() == (bids != [] and asks != [] and bid[0] >= ask[0])
            _blocks_hold_their_shape(book._bids)
            _blocks_hold_their_shape(book._asks)

    check()
