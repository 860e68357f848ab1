"""``evlab.load_capture``: cryptofeed's capture format read into a Recording, and that Recording
replayed (``what="raw"``) under the guide's wiring gives the books the exchanges' rules give."""

from __future__ import annotations

import pytest

import evlab
from evlab import EventBus, EventType, OrderBooks, Replayer, WebSocketHandler
from evlab.events import BookEvent, RestResponseEvent, SystemEvent, WebSocketEvent
from tests.books import CAPTURES, capture, load_shipped
from tests.books.test_orderbooks import Reference, Session


def test_a_binance_capture_is_its_frames_and_rest_snapshots_in_receive_order():
    rec = load_shipped("binance")
    events = list(rec.to_events())
    raw = [e for e in events if type(e) is WebSocketEvent]
    rest = [e for e in events if type(e) is RestResponseEvent]
    assert (len(raw), len(rest)) == (265, 4)
    assert {e.source for e in events} == {"binance"}
    first = raw[0]
    assert first.received_ns == first.time_ns == 1633998512_063356900  # exact, not a float
    assert first.payload.startswith('{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate"')
    assert rest[0].url == "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000"
    assert rest[0].received_ns == 1633998512_320639000
    assert rest[0].payload.startswith('{"lastUpdateId":499869752,"bids":[["0.35210000"')
    times = [e.time_ns for e in events]
    assert times == sorted(times)
    # the first snapshot arrived between the first two diffs of NKNUSDT
    order = [type(e).__name__ for e in events[:4]]
    assert order == ["SystemEvent", "WebSocketEvent", "RestResponseEvent", "WebSocketEvent"]
    [opened] = [e for e in events if isinstance(e, SystemEvent)]
    assert opened.kind == "connected" and opened.data["url"].startswith(
        "wss://stream.binance.com:9443/stream?streams=nknusdt@depth@100ms/")


def test_a_coinbase_capture_keeps_the_subscriptions_the_client_sent():
    rec = load_shipped("coinbase")
    sent = [e for e in rec.to_events() if isinstance(e, SystemEvent) and e.kind == "sent"]
    assert len(sent) == 3
    assert sent[0].data["url"] == "wss://ws-feed.pro.coinbase.com"
    assert sent[0].data["payload"].startswith('{"type":"subscribe","product_ids":["SKL-USD"')
    assert len(capture("coinbase")) == len(rec) - 4  # every other line is a received frame


def test_a_capture_survives_a_parquet_round_trip(tmp_path):
    bus = EventBus()
    with evlab.record(bus) as recorder:
        Replayer(load_shipped("binance"), bus, what="all").run()
    recorder.save(tmp_path / "capture.parquet")
    again = [e for e in evlab.load_recording(tmp_path / "capture.parquet").to_events()
             if isinstance(e, WebSocketEvent)]
    assert again == capture("binance")  # class, payload, url, times: all kept


@pytest.mark.parametrize(("text", "line", "why"), [
    ("wss://x <-> 1.5\n1.0: {}\nnot a frame\n", 3, "expected '<time>: <payload>'"),
    ("wss://x <-> 1.5\n12x.5: {}\n", 2, "the time '12x.5' is not a number of seconds"),
    ("wss://x <-> soon\n", 1, "the time 'soon' is not a number of seconds"),
])
def test_a_bad_line_names_the_file_and_the_line(tmp_path, text, line, why):
    path = tmp_path / "BINANCE.ws.1.0"
    path.write_text(text)
    with pytest.raises(evlab.CaptureError, match=rf"BINANCE\.ws\.1\.0:{line}: {why}"):
        evlab.load_capture(path)


def test_bad_http_lines_and_missing_files_are_named(tmp_path):
    http = tmp_path / "BINANCE.http.0.0"
    http.write_text("https://a/api/v3/depth?symbol=X -> 1.0: {}\n\nhttps://a/depth 2.0 {}\n")
    with pytest.raises(evlab.CaptureError, match=r"BINANCE\.http\.0\.0:3: expected "
                                                 r"'<request url> -> <time>: <body>'"):
        evlab.load_capture(CAPTURES / "BINANCE.ws.1.0", http=http)
    with pytest.raises(FileNotFoundError, match=r"capture file not found: .*nowhere\.ws"):
        evlab.load_capture(tmp_path / "nowhere.ws")
    binary = tmp_path / "X.ws.0"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(evlab.CaptureError, match="not a text capture"):
        evlab.load_capture(binary)


# --- replayed under the guide's wiring ------------------------------------------------------

def guide_wiring() -> tuple[EventBus, OrderBooks, Reference, WebSocketHandler]:
    """The usage guide's feed wiring (a WebSocketHandler with no adapter of its own, on
    EventType.WEBSOCKET), an OrderBooks, and the naive reference fed the same BookEvents."""
    bus = EventBus()
    handler = WebSocketHandler("market_data_handler")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    books = OrderBooks(bus)
    ref = Reference()
    bus.register(EventType.BOOK, ref.feed)
    return bus, books, ref, handler


@pytest.mark.parametrize("exchange", ["binance", "coinbase"])
async def test_replaying_a_capture_builds_the_books_the_rules_give(exchange):
    bus, books, ref, handler = guide_wiring()
    summary = await Replayer(load_shipped(exchange), bus, what="raw").run_async()
    assert summary.events == len(capture(exchange))  # the raw messages, REST included
    # the same books as the frame-by-frame session of tests/books, and as the rules
    session = Session(exchange)
    for event in capture(exchange):
        await session.bus.emit_async(event)
    assert books.symbols == session.books.symbols and len(books) in (4, 10)
    for symbol in books:
        book = books[symbol]
        assert (book.bids(), book.asks()) == ref.sides(symbol), symbol
        assert (book.bids(), book.asks()) == (session.books[symbol].bids(),
                                              session.books[symbol].asks())
        assert not book.stale
    assert books.stats == session.books.stats
    assert handler.stats["errors"] == 0 and handler.stats["no_adapter"] == 0
    if exchange == "binance":
        assert books.stats["snapshots"] == 4 and books.stats["gaps"] == 0
        assert books["NKNUSDT"].update_id == session.books["NKNUSDT"].update_id


async def test_the_rest_snapshots_become_snapshot_book_events_on_replay():
    bus, _books, _, _ = guide_wiring()
    snapshots: list[BookEvent] = []
    bus.register(EventType.BOOK, lambda e: snapshots.append(e) if e.snapshot else None)
    await Replayer(load_shipped("binance"), bus, what="raw").run_async()
    assert [(s.symbol, s.last_update_id) for s in snapshots] == [
        ("NKNUSDT", 499869752), ("BLZETH", 281916627), ("LRCBTC", 259345543),
        ("RUNEEUR", 15602511)]
    assert all(s.source == "binance" for s in snapshots)


def test_every_shipped_capture_file_is_listed_unchanged_in_its_source_note():
    import hashlib
    import re

    listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{64})` \|",
                             (CAPTURES / "SOURCE.md").read_text(), re.M))
    shipped = {f.name for f in CAPTURES.iterdir()} - {"SOURCE.md", "LICENSE.cryptofeed"}
    assert set(listed) == shipped and {"BINANCE.0", "COINBASE.0"} <= shipped
    for name, digest in listed.items():
        assert hashlib.sha256((CAPTURES / name).read_bytes()).hexdigest() == digest, name
