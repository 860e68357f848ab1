"""OrderBooks checking Kraken v2 book checksums: Kraken's documented examples verify, a corrupted
book is caught (stale, book_gap), depth truncation keeps the checksum right, the rule runs
again on replay, and a snapshot showing fewer digits than its pair's precision still
verifies (the adapter chooses the decimals whose checksum is the snapshot's)."""

from __future__ import annotations

import zlib
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evlab
from evlab import EventBus, OrderBooks, create_book_event
from evlab.books.checksum import checksum_rule
from evlab.feeds.adapters import get_adapter
from evlab.feeds.adapters.kraken import book_checksum
from tests.adapters._data import fixture, fixture_obj
from tests.books.test_orderbooks import Session

EX = "kraken"
# What the checksum guide prints for its example book: the concatenated asks and bids.
GUIDE_ASKS = ("45285210000045286415457195345286615457110945289615456091145290215890660"
              "452918154553491452947445474945296135380000452975994554245299518772827")
GUIDE_BIDS = ("45283510000000452834154582015452821100000004528101000000045280315459258645279"
              "0799000045277633101034527753000000045277315460273745276615445238")


def reference_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """The guide's steps on the wire's own text, with no float in between."""
    def part(levels: list[tuple[str, str]]) -> str:
        return "".join(p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0")
                       for p, q in levels[:10])
    return zlib.crc32((part(asks) + part(bids)).encode())


def wire_levels(msg: dict, side: str) -> list[tuple[str, str]]:
    return [(str(lv["price"]), str(lv["qty"])) for lv in msg["data"][0][side]]


def at_precision(levels: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(str(Decimal(p).quantize(Decimal("0.0001"))),
             str(Decimal(q).quantize(Decimal("0.00000001")))) for p, q in levels]


def test_the_guide_example_gives_the_guides_strings_and_checksum():
    msg = fixture_obj(EX, "book_checksum_example.json")
    asks, bids = wire_levels(msg, "asks"), wire_levels(msg, "bids")
    assert "".join(p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0")
                   for p, q in asks) == GUIDE_ASKS
    assert "".join(p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0")
                   for p, q in bids) == GUIDE_BIDS
    assert reference_checksum(asks, bids) == 3310070434 == msg["data"][0]["checksum"]
    bus = EventBus()
    books = OrderBooks(bus)
    [snap] = get_adapter(EX).parse(fixture(EX, "book_checksum_example.json"))
    bus.emit(snap)
    assert book_checksum(books["BTC/USD"], 1, 8) == 3310070434
    assert books.stats["checksums"] == 1 and not books["BTC/USD"].stale


async def test_documented_snapshot_and_update_verify_through_the_guide_wiring():
    s = Session(EX)
    for name in ("book_subscribe_ack.json", "book_snapshot.json", "book_update.json"):
        await s.frame(1, fixture(EX, name))
    book = s.books["MATIC/USD"]
    assert s.books.stats["checksums"] == 2 and s.books.stats["checksum_mismatches"] == 0
    assert not book.stale and s.gaps == [] and s.errors == []
    assert book.bids(10)[-1] == (0.5657, 1098.3947558) and book.depth() == (10, 10)
    assert book.best_bid == 0.5666 and book.best_ask == 0.5668


async def test_a_corrupted_update_marks_the_book_stale_until_a_new_snapshot():
    s = Session(EX)
    await s.frame(1, fixture(EX, "book_snapshot.json"))
    corrupt = fixture_obj(EX, "book_update.json")
    corrupt["data"][0]["bids"][0]["qty"] = 1098.3947559  # one unit off in the last digit
    await s.frame(2, orjson.dumps(corrupt))
    book = s.books["MATIC/USD"]
    assert book.stale and s.books.stats["checksum_mismatches"] == 1
    [gap] = s.gaps
    assert gap.data["reason"] == "checksum_mismatch" and gap.data["symbol"] == "MATIC/USD"
    assert gap.data["expected"] == 2114181697 and gap.data["computed"] != 2114181697
    assert gap.data["resync"] and "MATIC/USD" in s.books.needs_snapshot
    quotes = len(s.quotes)
    await s.frame(3, fixture(EX, "book_update.json"))  # a wrong book takes no more updates
    assert book.stale and s.books.stats["before_snapshot"] == 1 and len(s.quotes) == quotes
    await s.frame(4, fixture(EX, "book_snapshot.json"))  # what resubscribing sends
    await s.frame(5, fixture(EX, "book_update.json"))
    assert not book.stale and s.books.stats["checksums"] == 3


async def test_a_level_pushed_out_of_the_subscribed_depth_is_dropped_as_kraken_does():
    # A new best bid makes 11 bids; Kraken sends no deletion for the 11th, and its checksum
    # is of the book trimmed to the depth, computed here from the wire text.
    s = Session(EX)
    await s.frame(1, fixture(EX, "book_subscribe_ack.json"))
    snap = fixture_obj(EX, "book_snapshot.json")
    await s.frame(2, fixture(EX, "book_snapshot.json"))
    # the pair's full precision (4 and 8 places; the documented JSON drops trailing zeros)
    asks = at_precision(wire_levels(snap, "asks"))
    bids = at_precision([("0.5667", "12"), *wire_levels(snap, "bids")])
    update = {"channel": "book", "type": "update", "data": [{
        "symbol": "MATIC/USD", "bids": [{"price": 0.5667, "qty": 12.0}], "asks": [],
        "checksum": reference_checksum(asks, bids), "timestamp": "2023-10-06T17:35:56Z"}]}
    await s.frame(3, orjson.dumps(update))
    book = s.books["MATIC/USD"]
    assert s.gaps == [] and not book.stale and s.books.stats["checksums"] == 2
    assert book.depth() == (10, 10) and book.best_bid == 0.5667
    assert (0.5657, 606.70854372) not in book.bids()  # the 11th bid is gone
    # 0.5657 was deleted while out of range (no message for it); now the new best bid goes
    # and Kraken publishes the level that enters the top 10: 0.5656. A book that kept 0.5657
    # would give another checksum.
    bids = at_precision([*wire_levels(snap, "bids")[:-1], ("0.5656", "3")])
    update = {"channel": "book", "type": "update", "data": [{
        "symbol": "MATIC/USD", "bids": [{"price": 0.5667, "qty": 0.0},
                                        {"price": 0.5656, "qty": 3.0}], "asks": [],
        "checksum": reference_checksum(asks, bids), "timestamp": "2023-10-06T17:35:57Z"}]}
    await s.frame(4, orjson.dumps(update))
    assert s.gaps == [] and s.books.stats["checksums"] == 3
    assert book.bids()[-1] == (0.5656, 3.0) and book.depth() == (10, 10)


def test_the_checksum_rule_is_recorded_and_checked_again_on_replay(tmp_path):
    adapter = get_adapter(EX)
    events = [ev for name in ("book_snapshot.json", "book_update.json")
              for ev in adapter.parse(fixture(EX, name))]
    bus = EventBus()
    with evlab.record(bus) as rec:
        for ev in events:
            bus.emit(ev)
    rec.save(tmp_path / "k.parquet")
    session = evlab.load_recording(tmp_path / "k.parquet")
    replayed = list(session.to_events())
    assert [e.checksum_rule for e in replayed] == ["kraken:4:8:10"] * 2
    fresh = EventBus()
    books = OrderBooks(fresh)
    evlab.Replayer(session, fresh).run()
    assert books.stats["checksums"] == 2 and not books["MATIC/USD"].stale


def test_an_unknown_rule_is_reported_once_and_the_book_stays_in_use():
    bus = EventBus()
    books = OrderBooks(bus)
    errors: list = []
    bus.register(evlab.EventType.ERROR, errors.append)
    for t in (1, 2):
        bus.emit(create_book_event("XY", t, [(1.0, 1.0)], [(2.0, 1.0)], snapshot=True,
                                   checksum=7, checksum_rule="nosuch:1"))
    [err] = errors
    assert err.error_type == "UnknownChecksumRule" and "nosuch:1" in err.message
    assert books.stats["unchecked"] == 2 and not books["XY"].stale


def test_bad_rules_and_checksums_are_refused_with_their_names():
    with pytest.raises(ValueError, match="unknown book checksum rule 'nosuch:1'"):
        checksum_rule("nosuch:1")
    with pytest.raises(ValueError, match="kraken checksum rule takes"):
        checksum_rule("kraken:1:8")
    with pytest.raises(ValueError, match="depth one of"):
        checksum_rule("kraken:1:8:11")
    with pytest.raises(ValueError, match=r"checksum_rule.*must name a checksum rule"):
        create_book_event("XY", 1, snapshot=True, checksum=1)
    with pytest.raises(ValueError, match=r"checksum.*must be a non-negative int"):
        create_book_event("XY", 1, snapshot=True, checksum=-1, checksum_rule="kraken:1:8:10")


# A pair quoted at 5 price and 8 qty places whose snapshot happens to show fewer: every price
# ends in 0 and every qty is round, and JSON numbers drop trailing zeros (1.2340 -> 1.234).
HIDDEN_ASKS = [(f"1.{2350 + 10 * i}0", f"{i + 1}.50000000") for i in range(10)]
HIDDEN_BIDS = [(f"1.{2340 - 10 * i}0", f"{2 * i + 1}.00000000") for i in range(10)]


def book_frame(kind: str, asks: list[tuple[str, str]], bids: list[tuple[str, str]],
               checksum: int) -> bytes:
    """A v2 book message with each level as a JSON number (no trailing zeros)."""
    def side(levels: list[tuple[str, str]]) -> list[dict]:
        return [{"price": float(p), "qty": float(q)} for p, q in levels]
    return orjson.dumps({"channel": "book", "type": kind, "data": [{
        "symbol": "HID/USD", "bids": side(bids), "asks": side(asks), "checksum": checksum,
        "timestamp": "2024-01-02T03:04:05Z"}]})


async def test_a_snapshot_showing_fewer_digits_than_the_pairs_precision_still_verifies():
    snap = book_frame("snapshot", HIDDEN_ASKS, HIDDEN_BIDS,
                      reference_checksum(HIDDEN_ASKS, HIDDEN_BIDS))
    assert b'"price":1.235,' in snap and b'"qty":1.5' in snap  # what the wire shows
    [ev] = get_adapter(EX).parse(snap)
    assert ev.checksum_rule == "kraken:5:8:10"  # the decimals whose checksum is Kraken's
    s = Session(EX)
    await s.frame(1, snap)
    book = s.books["HID/USD"]
    assert s.gaps == [] and not book.stale and s.books.stats["checksums"] == 1
    # an update at the full precision, checked with the decimals the snapshot chose
    bids = [("1.23405", "0.00000007"), *HIDDEN_BIDS[:9]]
    update = book_frame("update", [], [("1.23405", "0.00000007")],
                        reference_checksum(HIDDEN_ASKS, bids))
    await s.frame(2, update)
    assert s.gaps == [] and s.books.stats["checksums"] == 2
    assert s.books.stats["checksum_mismatches"] == 0
    assert book.best_bid == 1.23405 and book.depth() == (10, 10)
    # a later snapshot showing even fewer digits keeps the chosen decimals
    asks = [(f"{i + 2}.00000", "1.00000000") for i in range(10)]
    bids = [(f"1.{i}0000", "2.00000000") for i in range(10, 0, -1)]
    [ev] = s.adapter.parse(book_frame("snapshot", asks, bids, reference_checksum(asks, bids)))
    assert ev.checksum_rule == "kraken:5:8:10"


async def test_a_snapshot_no_decimals_explain_is_a_gap_and_counted():
    bad = reference_checksum(HIDDEN_ASKS, HIDDEN_BIDS) ^ 1
    s = Session(EX)
    await s.frame(1, book_frame("snapshot", HIDDEN_ASKS, HIDDEN_BIDS, bad))
    book = s.books["HID/USD"]
    assert book.stale and s.books.stats["checksum_mismatches"] == 1
    [gap] = s.gaps
    assert gap.data["reason"] == "checksum_mismatch" and gap.data["expected"] == bad
    # the rule named the longest fractions the snapshot showed, as before any choosing
    [ev] = s.adapter.parse(book_frame("snapshot", HIDDEN_ASKS, HIDDEN_BIDS, bad))
    assert ev.checksum_rule == "kraken:3:1:10"


@st.composite
def kraken_book(draw: st.DrawFn) -> tuple[int, int, list[tuple[str, str]], list[tuple[str, str]]]:
    """Decimals for prices and sizes, and up to 12 bid and ask levels as decimal text: mostly
    at those decimals (as Kraken's wire writes them), some with a digit more (a book the rule
    does not describe) or too large for a double to hold every unit (the checksum must still
    be the formatted values')."""
    pdec, qdec = draw(st.integers(0, 15)), draw(st.integers(0, 15))

    def text(units: int, dec: int) -> str:
        return format(Decimal(units).scaleb(-dec), "f")

    def size() -> str:
        kind = draw(st.sampled_from(["grid"] * 6 + ["finer", "huge"]))
        if kind == "finer":
            return text(draw(st.integers(1, 10**12)), qdec + 1)
        return text(draw(st.integers(1, 10**17 if kind == "huge" else 10**14)), qdec)

    mid = draw(st.integers(100, 10**14))
    steps = draw(st.lists(st.integers(1, 50), min_size=1, max_size=12, unique=True))
    bids = [(text(mid - k, pdec), size()) for k in steps]
    asks = [(text(mid + k, pdec), size()) for k in steps]
    return pdec, qdec, bids, asks


@settings(max_examples=300, deadline=None)
@given(kraken_book())
def test_the_fast_checksum_is_the_formatted_values_checksum(case):
    # compiled, the rule writes each value's digits in C where it can (a whole number of
    # units below 2**50): the same checksum as formatting every value (book_checksum), and,
    # for a book at the rule's decimals, as the guide's steps on the wire's text
    pdec, qdec, bids, asks = case
    book = evlab.OrderBook("XBT/USD")
    book.apply([(float(p), float(q)) for p, q in bids], [(float(p), float(q)) for p, q in asks])
    rule = checksum_rule(f"kraken:{pdec}:{qdec}:10")
    assert rule.compute(book) == book_checksum(book, pdec, qdec)
    on_grid = all(len(q.partition(".")[2]) <= qdec and Decimal(q) < 10**15 / 10**qdec
                  for _, q in bids + asks) and float(bids[0][0]) * 10**pdec < 2**50
    if on_grid:
        def sort(levels, high):
            return sorted(levels, key=lambda lv: Decimal(lv[0]), reverse=high)[:10]
        assert rule.compute(book) == reference_checksum(at(sort(asks, False), pdec, qdec),
                                                        at(sort(bids, True), pdec, qdec))


def at(levels: list[tuple[str, str]], pdec: int, qdec: int) -> list[tuple[str, str]]:
    """Levels written at the pair's decimals, as Kraken's checksum writes them."""
    return [(format(Decimal(p).quantize(Decimal(1).scaleb(-pdec)), "f"),
             format(Decimal(q).quantize(Decimal(1).scaleb(-qdec)), "f")) for p, q in levels]
