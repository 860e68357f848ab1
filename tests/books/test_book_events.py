"""The builders that skip checks their caller already made: ``parsed_book_event`` (an
adapter checked each level) and ``book_quote_event`` (the top of a book ``OrderBooks``
keeps). They must build what the validating constructors build, and still run every other
check."""

from __future__ import annotations

import pytest

from evlab.events import (
    BookEvent,
    QuoteEvent,
    book_quote_event,
    create_book_event,
    parsed_book_event,
    parsed_quote_event,
)
from evlab.feeds.adapters import AdapterError
from evlab.feeds.adapters._common import level

BIDS = ((100.0, 1.5), (99.5, 0.0))
ASKS = ((100.5, 2.0),)


def test_parsed_book_event_builds_what_book_event_builds():
    full = BookEvent("BTC-USD", BIDS, ASKS, False, 3, 7, time_ns=5, source="feed")
    fast = parsed_book_event("BTC-USD", BIDS, ASKS, False, 3, 7, None, None, 5, "feed")
    assert type(fast) is BookEvent and fast == full and fast.source == "feed"
    assert fast.seq is None and fast.time_ns == 5
    made = create_book_event("BTC-USD", 5, BIDS, ASKS, first_update_id=3, last_update_id=7,
                             source="feed", parsed=True)
    assert made == full


@pytest.mark.parametrize(("args", "pattern"), [
    (("", BIDS, ASKS, False, None, None, None, None, 1, ""), "symbol"),
    (("X", list(BIDS), ASKS, False, None, None, None, None, 1, ""), "bids: must be a tuple"),
    (("X", BIDS, ASKS, 1, None, None, None, None, 1, ""), "snapshot: must be True or False"),
    (("X", BIDS, ASKS, False, 8, 7, None, None, 1, ""), "must not exceed last_update_id"),
    (("X", BIDS, ASKS, False, None, -1, None, None, 1, ""), "last_update_id: must be a non"),
    (("X", BIDS, ASKS, False, True, 7, None, None, 1, ""), "first_update_id: must be a non"),
    (("X", BIDS, ASKS, False, -2, 7, None, None, 1, ""), "first_update_id: must be a non"),
    ((" ", BIDS, ASKS, False, None, None, None, None, 1, ""), "symbol"),
    (("X", BIDS, (), False, None, None, 5, "", 1, ""), "checksum_rule"),
    (("X", BIDS, ASKS, False, None, None, 5, None, 1, ""), "checksum_rule"),
    (("X", BIDS, ASKS, False, None, None, None, "kraken:1:8:10", 1, ""), "checksum: must"),
    (("X", BIDS, ASKS, False, None, None, -1, "kraken:1:8:10", 1, ""), "checksum: must"),
    (("X", BIDS, ASKS, False, None, None, 1 << 63, "kraken:1:8:10", 1, ""), "checksum: must"),
    (("X", BIDS, ASKS, False, None, None, True, "kraken:1:8:10", 1, ""), "checksum: must"),
    (("X", BIDS, ASKS, False, None, None, 5.0, "kraken:1:8:10", 1, ""), "checksum: must"),
    (("X", BIDS, ASKS, False, None, None, 5, b"kraken", 1, ""), "checksum_rule"),
    (("X", BIDS, ASKS, False, 8, 7, 5, "kraken:1:8:10", 1, ""), "must not exceed"),
    (("X", ((101.0, 1.0),), ASKS, True, None, None, None, None, 1, ""), "a crossed book"),
    (("X", BIDS, ASKS, False, None, None, None, None, 1.5, ""), "time_ns: must be an int"),
])
def test_parsed_book_event_still_checks_all_but_the_levels(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        parsed_book_event(*args)


def test_a_snapshot_found_uncrossed_by_its_reader_is_built_as_any_other():
    """``uncrossed=True`` (the Binance depth scan compared each side's best price as it read
    the levels): the same event as the builder's own crossing pass gives; every other check
    still runs. The flag is the caller's word, as the levels' checks are (see
    ``parsed_book_event``): the pass over the levels is what it saves."""
    args = ("X", BIDS, ASKS, True, None, 9, None, None, 1, "")
    assert parsed_book_event(*args, True) == parsed_book_event(*args)
    for bad, pattern in ((("", *args[1:]), "symbol"),
                         ((*args[:4], 10, *args[5:]), "must not exceed last_update_id"),
                         ((*args[:6], 5, *args[7:]), "checksum_rule")):
        with pytest.raises(ValueError, match=pattern):
            parsed_book_event(*bad, True)
    crossed = ("X", ((101.0, 1.0),), ASKS, True, None, None, None, None, 1, "")
    with pytest.raises(ValueError, match="a crossed book"):
        parsed_book_event(*crossed)
    assert parsed_book_event(*crossed, True).bids == ((101.0, 1.0),)  # its pass: skipped


def test_parsed_book_event_takes_snapshots_ids_and_checksums_its_usual_path_does_not():
    snap = parsed_book_event("X", BIDS, ASKS, True, None, 9, None, None, 1, "")
    assert snap.snapshot and snap.last_update_id == 9
    diff = parsed_book_event("X", BIDS, ASKS, False, 4, 9, 77, "kraken:1:8:10", 1, "")
    assert (diff.first_update_id, diff.checksum, diff.checksum_rule) == (4, 77, "kraken:1:8:10")
    top = parsed_book_event("X", BIDS, ASKS, False, None, None, (1 << 63) - 1, "r", 1, "")
    assert top.checksum == (1 << 63) - 1 and top.checksum_rule == "r"


def test_only_parsed_skips_the_level_checks():
    bad = ((-1.0, 1.0),)
    with pytest.raises(ValueError, match="bids price: must be positive"):
        create_book_event("X", 1, bad)
    with pytest.raises(ValueError, match="bids price: must be positive"):
        BookEvent("X", bad, time_ns=1)
    assert parsed_book_event("X", bad, (), False, None, None, None, None, 1, "").bids == bad


@pytest.mark.parametrize(("price", "size", "pattern"), [
    ("0", "1", "bids price: must be positive"), ("-1.5", "1", "bids price: must be positive"),
    ("1.5", "-1", "bids size: must not be negative"),
])
def test_level_refuses_what_book_event_would_so_parsed_levels_are_safe(price, size, pattern):
    with pytest.raises(AdapterError, match=f"invalid book levels .*{pattern}"):
        level("x", {}, "b", price, size)
    with pytest.raises(AdapterError, match=pattern.replace("bids", "asks")):
        level("x", {}, "changes", price, size, side="asks")
    with pytest.raises(AdapterError, match=pattern):
        level("x", {}, "bids", float(price), float(size), numbers=True)
    assert level("x", {}, "b", "1.5", "0") == (1.5, 0.0)


def test_book_quote_event_builds_what_quote_event_builds():
    full = QuoteEvent("X", 1.0, 2.0, 3.0, 4.0, time_ns=9, source="orderbooks")
    fast = book_quote_event("X", 1.0, 2.0, 3.0, 4.0, 9, "orderbooks")
    assert type(fast) is QuoteEvent and fast == full and fast.source == "orderbooks"
    assert fast.seq is None


def test_the_builders_are_compiled_where_the_core_is_and_a_second_events_has_its_own():
    """``parsed_book_event`` and ``book_quote_event`` are methods of builders that evlab.events
    made in ``evlab._builders`` (compiled with the core); the interpreted copy of evlab.events
    (the differential test's) makes its own, interpreted, for its own classes."""
    import os

    import evlab.events
    from evlab import _accel

    builders = _accel.builders
    assert isinstance(parsed_book_event.__self__, builders.BookBuilder)
    assert isinstance(book_quote_event.__self__, builders.QuoteBuilder)
    assert parsed_book_event.__self__.cls is BookEvent
    interpreted = builders.__file__.endswith(".py")
    if os.environ.get("EVLAB_PURE_PYTHON"):
        assert interpreted and not _accel.COMPILED
    else:
        assert interpreted is not _accel.COMPILED
    copy = _accel.interpreted_copy()
    assert copy.events is not evlab.events
    build = copy.events.parsed_book_event
    assert build.__self__.cls is copy.events.BookEvent is not BookEvent
    assert type(build.__self__).__module__ == "evlab._builders"
    assert type(build.__self__) is not type(parsed_book_event.__self__)
    event = build("BTC-USD", BIDS, ASKS, False, 3, 7, None, None, 5, "feed")
    assert type(event) is copy.events.BookEvent and event.bids == BIDS and event.seq is None
    quote = copy.events.book_quote_event("BTC-USD", 100.0, 100.5, 1.5, 2.0, 5, "books")
    assert type(quote) is copy.events.QuoteEvent and (quote.bid, quote.ask_size) == (100.0, 2.0)
    with pytest.raises(ValueError, match="symbol"):
        build(" ", BIDS, ASKS, False, None, None, None, None, 1, "")


def test_a_builder_makes_its_events_with_the_core_it_was_given():
    """A builder calls the core's C primitive directly only for a compiled core's plan; given
    the interpreted core's plan and make (as a second evlab.events could give it), it builds
    the same events through them, compiled or not."""
    from evlab import _accel

    copy = _accel.interpreted_copy()
    cls = copy.events.BookEvent
    builder = _accel.builders.BookBuilder(
        cls, copy.events._value_plan(cls, _accel.builders.BOOK_FIELDS), copy.core.make,
        copy.events._event_time, copy.events._parsed_book_checks)
    event = builder.build("BTC-USD", BIDS, ASKS, False, 3, 7, None, None, 5, "feed")
    assert type(event) is cls and event == cls("BTC-USD", BIDS, ASKS, False, 3, 7, time_ns=5,
                                                source="feed")
    assert event.seq is None and event.checksum is None
    with pytest.raises(ValueError, match="must not exceed last_update_id"):
        builder.build("BTC-USD", BIDS, ASKS, False, 8, 7, None, None, 5, "feed")


@pytest.mark.parametrize(("bids", "asks", "crossed_at"), [
    (((100.0, 1.0), (99.0, 2.0)), ((100.5, 1.0),), None),
    (((99.0, 2.0), (100.0, 1.0)), ((101.0, 1.0), (100.5, 1.0)), None),  # any order
    (((100.5, 1.0), (99.0, 2.0)), ((100.5, 1.0),), (100.5, 100.5)),  # best bid == best ask
    (((101.0, 0.0), (100.0, 1.0)), ((100.5, 1.0),), None),  # the size-0 top is not a level
    (((101.0, 0.0), (100.6, 1.0)), ((100.5, 1.0),), (100.6, 100.5)),
    (((100.0, 1.0),), ((99.0, 0.0), (100.5, 1.0)), None),
    (((100.0, 1.0),), ((99.0, 0.0), (99.5, 1.0)), (100.0, 99.5)),
    (((100.0, 1.0),), ((100.0, 0.0), (100.0, 2.0)), (100.0, 100.0)),  # a price given twice
    (((100.0, 0.0),), ((99.0, 1.0),), None),  # no bid holding a size: nothing to cross
    ((), ((99.0, 1.0),), None),
])
def test_a_snapshot_is_crossed_when_its_best_sized_bid_reaches_its_best_sized_ask(
        bids, asks, crossed_at):
    """The best bid and ask of a snapshot are among its levels holding a size (size 0
    deletes), whatever their order: crossed when the bid is not below the ask, for the
    validating constructor and the adapters' builder alike."""
    for build in (lambda: BookEvent("X", bids, asks, True, time_ns=1),
                  lambda: parsed_book_event("X", bids, asks, True, None, None, None, None, 1,
                                            "")):
        if crossed_at is None:
            assert build().snapshot
            continue
        bid, ask = crossed_at
        with pytest.raises(ValueError, match=rf"bids: best bid must be below the best ask "
                                             rf"\({ask!r}\): a crossed book, got {bid!r}"):
            build()


def test_a_snapshot_is_judged_crossed_alike_by_both_builders_whatever_its_levels():
    """``parsed_book_event`` accepts the usual snapshot after one pass a side (in C where
    compiled) and leaves anything else to the check that names the fault: random snapshots
    (levels in any order, sizes 0 among them, prices given twice, crossed or not, at the
    top or below it) are accepted or refused exactly as the validating constructor does."""
    import random

    from evlab.events import _parsed_book_checks

    rng = random.Random(3)

    def outcome(build, *args):
        try:
            return repr(build(*args).bids)
        except ValueError as exc:
            return str(exc)

    def fast(bids, asks):
        return parsed_book_event("X", bids, asks, True, None, 7, None, None, 1, "")

    def full(bids, asks):
        return BookEvent("X", bids, asks, True, None, 7, time_ns=1)

    def checked(bids, asks):  # the event parsed_book_event makes, judged by its check alone
        event = parsed_book_event("X", bids, asks, False, None, 7, None, None, 1, "")
        object.__setattr__(event, "snapshot", True)
        _parsed_book_checks(event)
        return event

    def side(sign, mid):
        return tuple((max(round(mid + sign * rng.randint(-20, 40) / 100, 2), 0.01),
                      rng.choice([0.0, 0.0, 1.5, 2.0, 1e-8]))
                     for _ in range(rng.randint(0, 6)))

    crossed = 0
    for _ in range(3000):
        mid = rng.choice([10.0, 100.5, 0.35])
        bids, asks = side(-1, mid), side(1, mid)
        expected = outcome(full, bids, asks)
        assert outcome(fast, bids, asks) == expected, (bids, asks)
        crossed += "crossed" in expected
    assert 300 < crossed < 2700, crossed  # both outcomes drawn often
    # levels that are not (float, float) tuples of sane values: the check judges them
    for bids in (((100.0, 1),), ((100, 1.0),), ([100.0, 1.0],), ((100.0, 1.0, 2.0),),
                 ((float("nan"), 1.0),), ((100.0, float("inf")),), ((-1.0, 1.0),)):
        for asks in (((99.0, 1.0),), ((101.0, 1.0),)):
            assert outcome(fast, bids, asks) == outcome(checked, bids, asks), (bids, asks)


def test_parsed_quote_event_validates_exactly_as_quote_event_does():
    """The adapters' quotes (``parsed_quote_event``: the usual one made without the class's
    interpreted checks, in C where compiled) are the events, or the errors, that
    ``QuoteEvent`` itself gives, for usual and odd values alike."""
    import itertools

    prices = [1.5, 2.0, 0.0, -1.0, float("nan"), float("inf"), 2, "1.5", True, None]
    sizes = [None, 0.0, 3.0, -1.0, float("nan"), float("inf"), 1, "2"]

    def outcome(build, *args):
        try:
            event = build(*args)
        except ValueError as exc:
            return str(exc)
        return (type(event), event.symbol, event.bid, event.ask, event.bid_size,
                event.ask_size, event.time_ns, event.source, event.seq)

    made = 0
    for bid, ask, bs, az in itertools.product(prices[:7], prices, sizes, sizes[:4]):
        for symbol, time_ns in (("X", 7), (" ", 7), ("X", None), ("X", 1.5), (5, 7)):
            full = outcome(lambda *a: QuoteEvent(*a[:5], time_ns=a[5], source=a[6]),
                           symbol, bid, ask, bs, az, time_ns, "feed")
            fast = outcome(parsed_quote_event, symbol, bid, ask, bs, az, time_ns, "feed")
            if time_ns is None and not isinstance(full, str):  # the clock's: not compared
                full, fast = full[:6] + full[7:], fast[:6] + fast[7:]
            assert fast == full, (symbol, bid, ask, bs, az, time_ns)
            made += not isinstance(full, str)
    assert made > 100, made
