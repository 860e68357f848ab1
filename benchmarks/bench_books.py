"""Order books: ``OrderBooks`` alone (level changes/s), and a capture's raw messages replayed
through the exchange adapter and ``OrderBooks`` (book updates/s), against cryptofeed's own
playback of the same capture, in one run.

* ``OrderBooks alone``: prebuilt ``BookEvent`` updates (1 to 8 levels each, around a book of
  1,000 levels a side, mostly existing prices, some new and deleted) emitted on a bus with
  an ``OrderBooks`` on it; counted in level changes. Target: >= 500,000 level changes/s.
* ``adapter + OrderBooks``: every frame of a shipped capture (``datasets/cryptofeed_captures``)
  decoded by the adapter and each event emitted on that bus (the REST snapshots too, for
  Binance), as a replay of the raw messages does; counted in book updates applied (the
  snapshots and the diffs applied, not the Binance diffs dropped as older than the snapshot)
  and level changes. Target: >= 200,000 book updates/s.
* ``by book depth``: ``OrderBooks.on_book`` called directly on a book of 30,000 levels a side,
  changed at a uniform depth (new prices and deletions all through the book: what a sorted
  structure's inserts cost), and the same book changed in its top 50 levels only (where
  the replays' changes fall); in book updates.
* ``kraken book messages``: a synthetic Kraken v2 ``book`` session (a 10-level snapshot and
  updates of 1 to 3 levels, each with the CRC32 checksum Kraken would send) decoded by the
  adapter into an ``OrderBooks`` that checks every checksum; and, for the checksum's own
  cost, the decoded events through ``OrderBooks`` with and without their checksums.
* ``cryptofeed playback``: ``cryptofeed.raw_data_collection.playback`` of the same session
  (its configuration file ``<EXCHANGE>.0``, shipped beside the capture, then its ``.http.``
  and ``.ws.`` files) with an L2_BOOK callback, run by ``peers/cryptofeed_playback.py`` on
  cryptofeed 2.4.0 in a venv of its own (``tests/clients/venvs.py``; cryptofeed 3.x needs
  Python 3.13). Its book callbacks must equal evlab's book updates (else the run fails: the
  two would not be doing the same work). Shown twice: the whole call, and less the same call
  on the session without its frames (reading the files, parsing the symbol list; Binance's
  1.8 MB exchangeInfo dominates it), which is the share comparable to evlab's replay.

Both sides are timed with ``time.perf_counter`` (wall clock), best of the same repeats.

    python -m benchmarks.bench_books            # full sizes
    python -m benchmarks.bench_books --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import orjson

from benchmarks.common import best_rate, print_table
from evlab.books import OrderBooks
from evlab.bus import EventBus
from evlab.events import BookEvent, create_book_event
from evlab.feeds.adapters import get_adapter

CAPTURES = Path(__file__).resolve().parents[1] / "datasets" / "cryptofeed_captures"
LEVELS_TARGET = 500_000
UPDATES_TARGET = 200_000


def synthetic_updates(n: int, seed: int = 7) -> tuple[BookEvent, list[BookEvent], int]:
    """A snapshot of 1,000 levels a side and ``n`` sequenced updates; their level count."""
    rng = random.Random(seed)
    tick = 0.01
    bids = [(round(100.0 - i * tick, 2), float(rng.randint(1, 50))) for i in range(1, 1001)]
    asks = [(round(100.0 + i * tick, 2), float(rng.randint(1, 50))) for i in range(1001)]
    snap = create_book_event("SYN", 0, bids, asks, snapshot=True, last_update_id=0)
    updates, levels = [], 0
    for i in range(1, n + 1):
        k = rng.randint(1, 8)
        bid_side = [(round(100.0 - rng.randint(1, 1100) * tick, 2),
                     0.0 if rng.random() < 0.15 else float(rng.randint(1, 50)))
                    for _ in range(k // 2)]
        ask_side = [(round(100.0 + rng.randint(0, 1100) * tick, 2),
                     0.0 if rng.random() < 0.15 else float(rng.randint(1, 50)))
                    for _ in range(k - k // 2)]
        updates.append(BookEvent("SYN", tuple(bid_side), tuple(ask_side), False, i, i,
                                 time_ns=i))
        levels += k
    return snap, updates, levels


def bench_alone(n: int, repeat: int) -> dict[str, float]:
    """Level changes per second: OrderBooks on a bus, and its handler called directly."""
    snap, updates, levels = synthetic_updates(n)

    def via_bus() -> None:
        bus = EventBus()
        OrderBooks(bus)
        bus.emit(snap)
        emit = bus.emit
        for ev in updates:
            emit(ev)

    def direct() -> None:
        books = OrderBooks()
        books.on_book(snap)
        on_book = books.on_book
        for ev in updates:
            on_book(ev)

    return {"OrderBooks via bus.emit": best_rate(via_bus, levels, repeat),
            "OrderBooks.on_book called directly": best_rate(direct, levels, repeat)}


#: the depth lines: (name, levels a side, changes within this many ticks of the best)
DEPTHS = (("30,000 levels a side, changes at uniform depth", 30_000, 60_000),
          ("30,000 levels a side, changes in the top 50 levels", 30_000, 100))


def depth_updates(n: int, levels: int, within: int, seed: int = 5
                  ) -> tuple[BookEvent, list[BookEvent]]:
    """A snapshot of ``levels`` levels a side (every other tick) and ``n`` updates without
    ids (as Coinbase's ``level2``) of 1 to 4 changes each, at a uniform distance of 0 to
    ``within`` ticks from the mid: half of them deleting (a held price or an empty tick), half
    setting a size (a new price on an empty tick): the book's size stays about the same."""
    rng = random.Random(seed)
    tick, mid = 0.01, 1000.0
    bids = [(round(mid - 2 * i * tick, 2), float(rng.randint(1, 50))) for i in range(1, levels + 1)]
    asks = [(round(mid + 2 * i * tick, 2), float(rng.randint(1, 50))) for i in range(1, levels + 1)]
    snap = create_book_event("DEEP", 0, bids, asks, snapshot=True)
    updates = []
    for i in range(1, n + 1):
        sides: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])
        for _ in range(rng.randint(1, 4)):
            bid = rng.random() < 0.5
            away = rng.randint(1, within)
            price = round(mid - away * tick if bid else mid + away * tick, 2)
            size = 0.0 if rng.random() < 0.5 else float(rng.randint(1, 50))
            sides[0 if bid else 1].append((price, size))
        updates.append(BookEvent("DEEP", tuple(sides[0]), tuple(sides[1]), False, time_ns=i))
    return snap, updates


def bench_depth(n: int, repeat: int) -> dict[str, float]:
    """Book updates per second of ``OrderBooks.on_book`` called directly, on a deep book
    changed at every depth and on the same book changed near its top only (``DEPTHS``)."""
    out = {}
    for name, levels, within in DEPTHS:
        snap, updates = depth_updates(n, levels, within)

        def direct(snap: BookEvent = snap, updates: list[BookEvent] = updates) -> None:
            books = OrderBooks()
            on_book = books.on_book
            on_book(snap)
            for ev in updates:
                on_book(ev)

        # the snapshot is timed too: one per run, sorted once, as a book replace does
        out[name] = best_rate(direct, len(updates), repeat)
    return out


def kraken_session(n: int, seed: int = 11) -> list[bytes]:
    """A Kraken v2 book session: a snapshot of 10 levels a side and ``n`` updates, each with
    the checksum of the book (kept at depth 10, as Kraken keeps it) after it."""
    from evlab.books import OrderBook
    from evlab.feeds.adapters.kraken import book_checksum

    rng = random.Random(seed)
    book = OrderBook("BTC/USD")

    def qty() -> float:
        return rng.randint(1, 10**9) / 1e8

    bids = [(round(45000.0 - i / 10, 1), qty()) for i in range(10)]
    asks = [(round(45000.1 + i / 10, 1), qty()) for i in range(10)]

    def message(kind: str, b: list[tuple[float, float]], a: list[tuple[float, float]]) -> bytes:
        book.apply(b, a)  # again for the changes already applied: the same result
        book.truncate(10)
        return orjson.dumps({"channel": "book", "type": kind, "data": [{
            "symbol": "BTC/USD", "bids": [{"price": p, "qty": q} for p, q in b],
            "asks": [{"price": p, "qty": q} for p, q in a],
            "checksum": book_checksum(book, 1, 8), "timestamp": "2023-10-06T17:35:55.440295Z"}]})

    out = [message("snapshot", bids, asks)]
    for _ in range(n):
        changes: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])
        for _ in range(rng.randint(1, 3)):
            side = rng.random() < 0.5
            best = book.best_bid if side else book.best_ask
            if best is None:
                continue
            step = rng.randint(-1, 12) / 10
            price = round(best - step if side else best + step, 1)
            if price <= 0 or (book.best_ask is not None and side and price >= book.best_ask) \
                    or (book.best_bid is not None and not side and price <= book.best_bid):
                continue
            change = (price, 0.0 if rng.random() < 0.2 else qty())
            changes[0 if side else 1].append(change)
            book.apply([change] if side else [], [] if side else [change])  # the next sees it
        out.append(message("update", *changes))
    return out


def bench_kraken(n: int, repeat: int) -> dict[str, float]:
    """Book updates/s of a Kraken session: decoded and checked, and the checks' own cost."""
    import dataclasses

    session = kraken_session(n)
    adapter = get_adapter("kraken")
    events = cast(list[BookEvent], [ev for payload in session for ev in adapter.parse(payload)])
    bare = [dataclasses.replace(ev, checksum=None, checksum_rule=None) for ev in events]

    def decoded() -> None:
        bus = EventBus()
        books = OrderBooks(bus)
        parse, emit = get_adapter("kraken").parse, bus.emit
        for payload in session:
            for ev in parse(payload):
                emit(ev)
        assert books.stats["checksums"] == len(session), books.stats

    def books_only(evs: list[BookEvent]) -> Callable[[], None]:
        def run() -> None:
            books = OrderBooks()
            on_book = books.on_book
            for ev in evs:
                on_book(ev)
        return run

    return {"adapter + OrderBooks, checksums checked": best_rate(decoded, len(session), repeat),
            "OrderBooks.on_book, checksums checked": best_rate(books_only(events), len(events),
                                                               repeat),
            "OrderBooks.on_book, no checksums": best_rate(books_only(bare), len(bare), repeat)}


def read_capture(name: str) -> list[str]:
    """The received payloads of a capture file, in order (format: its SOURCE.md)."""
    out = []
    for line in (CAPTURES / name).read_text().splitlines()[1:]:
        if line and " <- " not in line:
            out.append(line.partition(": ")[2])
    return out


def read_rest(name: str) -> list[tuple[float, str, str]]:
    out = []
    for line in (CAPTURES / name).read_text().splitlines():
        if line:
            url, _, rest = line.partition(" -> ")
            stamp, _, body = rest.partition(": ")
            out.append((float(stamp), url, body))
    return out


def capture_replay(exchange: str, frames: int | None) -> tuple[Callable[[], Any], int, int]:
    """A function replaying one capture through adapter + OrderBooks, and the book updates
    and level changes it makes."""
    if exchange == "coinbase":
        payloads = read_capture("COINBASE.ws.28.0")
        rest: list[tuple[float, str, str]] = []
    else:
        payloads = read_capture("BINANCE.ws.1.0")
        rest = read_rest("BINANCE.http.0.0")
    if frames is not None:
        payloads = payloads[:frames]

    def replay() -> OrderBooks:
        bus = EventBus()
        books = OrderBooks(bus)
        adapter = get_adapter(exchange)
        emit = bus.emit
        if rest:  # the snapshots first: every later diff then applies or is dropped as old
            for _, url, body in rest:
                for ev in adapter.parse_rest(url, body):
                    emit(ev)
        parse = adapter.parse
        for payload in payloads:
            for ev in parse(payload):
                emit(ev)
        return books

    books = replay()
    applied = books.stats["snapshots"] + books.stats["updates"]  # not the diffs dropped as old
    return replay, applied, books.stats["levels"]


def bench_capture(exchange: str, repeat: int, frames: int | None) -> dict[str, float]:
    replay, updates, levels = capture_replay(exchange, frames)
    rate = best_rate(replay, updates, repeat)
    return {"adapter + OrderBooks (book updates)": rate,
            "adapter + OrderBooks (level changes)": rate * levels / max(updates, 1)}


PEER_SCRIPT = Path(__file__).resolve().parent / "peers" / "cryptofeed_playback.py"
# cryptofeed's name for each exchange and its session's files: configuration, .http., .ws.
SESSIONS = {"coinbase": ("COINBASE", "COINBASE.0", "COINBASE.ws.28.0"),
            "binance": ("BINANCE", "BINANCE.0", "BINANCE.http.0.0", "BINANCE.ws.1.0")}
PEER_TIMEOUT = 600  # s: a safety net for the peer's process, not a measurement


def playback_folder(root: Path, exchange: str, frames: int | None) -> Path:
    """A folder under ``root`` holding one session's files for cryptofeed's playback, its
    ``.ws.`` file cut to its first ``frames`` received frames (0: none, None: all).

    Playback tells its files apart by substrings of their whole paths ("ws", "http"), so the
    folder's own path must hold neither."""
    folder = root / (f"frames-{frames}" if frames is not None else "all")
    if "ws" in str(folder) or "http" in str(folder):
        raise ValueError(f"cryptofeed's playback cannot read files under {folder}: its path "
                         "holds 'ws' or 'http', which playback takes for a file's kind")
    folder.mkdir()
    for name in SESSIONS[exchange][1:]:
        lines = (CAPTURES / name).read_text().splitlines(keepends=True)
        if ".ws." in name and frames is not None:
            kept, received = [], 0
            for line in lines:
                if line.strip() and not line.startswith(("wss", "http")):
                    received += 1
                    if received > frames:
                        break
                kept.append(line)
            lines = kept
        (folder / name).write_text("".join(lines))
    return folder


@contextlib.contextmanager
def peer_folder(parent: str | None = None, tries: int = 100) -> Iterator[Path]:
    """A new temporary folder (under ``parent``, default the system's) whose whole path holds
    neither "ws" nor "http", removed afterwards: cryptofeed's playback tells its files apart by
    those substrings of their paths, so a random name holding one (``.../evlab-books-k2ws9``)
    made the peer misread the session. Random names are drawn until one is free of them; a
    ``parent`` that holds one is refused (no name under it can help)."""
    import shutil
    import tempfile

    base = Path(parent if parent is not None else tempfile.gettempdir()).resolve()
    if "ws" in str(base) or "http" in str(base):
        raise ValueError(f"cryptofeed's playback cannot read files under {base}: its path "
                         "holds 'ws' or 'http', which playback takes for a file's kind")
    for _ in range(tries):
        folder = Path(tempfile.mkdtemp(prefix="evlab-books-", dir=base))
        if "ws" not in folder.name and "http" not in folder.name:
            break
        folder.rmdir()
    else:
        raise RuntimeError(f"no temporary folder name free of 'ws' and 'http' in {tries} tries")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_cryptofeed(exchange: str, repeat: int, frames: int | None) -> dict[str, Any]:
    """cryptofeed's playback of the same capture (``frames`` of it), in its own venv
    (tests/clients/venvs.py, cryptofeed 2.4.0), timed there with ``time.perf_counter`` as
    ``best_rate`` times evlab: the whole ``playback(...)`` call, and the same call on the
    session with no frames (its set-up: reading the files, building the feed from the
    symbol list; the REST snapshots are asked for on the first diffs, so they stay in the
    frames' share)."""
    import subprocess

    from tests.clients.venvs import client_python

    python = client_python("cryptofeed")
    with peer_folder() as root:
        folders = [playback_folder(root, exchange, frames), playback_folder(root, exchange, 0)]
        proc = subprocess.run([str(python), str(PEER_SCRIPT), SESSIONS[exchange][0],
                               str(repeat), *map(str, folders)], capture_output=True,
                              text=True, timeout=PEER_TIMEOUT,
                              env={**os.environ, "PYTHONPATH": ""})
    if proc.returncode != 0:
        raise RuntimeError(f"cryptofeed playback exited with {proc.returncode}:\n"
                           f"{proc.stderr[-4000:]}")
    out = orjson.loads(proc.stdout.strip().splitlines()[-1])
    whole, setup = out["runs"]
    return {"version": out["version"], "book_callbacks": whole["book_callbacks"],
            "seconds": whole["seconds"], "setup_seconds": setup["seconds"],
            "messages": whole["playback"]["messages_processed"]}


def run(n: int = 200_000, repeat: int = 5, *, frames: int | None = None,
        show: bool = True) -> dict[str, dict[str, float]]:
    """Every contender, in one run: ``n`` synthetic updates; ``frames`` of each capture,
    replayed by evlab and by cryptofeed's playback."""
    table: dict[str, dict[str, float]] = {"OrderBooks alone (level changes/s)":
                                          bench_alone(n, repeat),
                                          "book depth (book updates/s)":
                                          bench_depth(n, repeat)}
    version = ""
    for exchange in ("coinbase", "binance"):
        rates = bench_capture(exchange, repeat, frames)
        _, updates, _ = capture_replay(exchange, frames)
        peer = bench_cryptofeed(exchange, repeat, frames)
        if peer["book_callbacks"] != updates:  # the two would not be doing the same work
            raise RuntimeError(f"{exchange}: cryptofeed made {peer['book_callbacks']} book "
                               f"callbacks, evlab {updates} book updates")
        version = peer["version"]
        rates["cryptofeed playback, whole call (book updates)"] = updates / peer["seconds"]
        frames_only = peer["seconds"] - peer["setup_seconds"]
        rates["cryptofeed playback less its set-up (book updates)"] = (
            updates / frames_only if frames_only > 0 else float("nan"))
        table[f"{exchange} capture replayed"] = rates
    kraken = table["kraken book session"] = bench_kraken(n // 10, repeat)
    if show:
        alone = table["OrderBooks alone (level changes/s)"]
        print_table(f"OrderBooks alone, {n:,} updates (level changes/s; target "
                    f">= {LEVELS_TARGET:,})",
                    [(k, v, f"{v / LEVELS_TARGET:5.2f}x target") for k, v in alone.items()])
        print_table(f"OrderBooks.on_book called directly, {n:,} updates of 1 to 4 changes, by "
                    "book depth (book updates/s)",
                    [(k, v, "") for k, v in table["book depth (book updates/s)"].items()])
        for title, rates in table.items():
            if not title.endswith("capture replayed"):
                continue
            base = rates["adapter + OrderBooks (book updates)"]
            rows = []
            for k, v in rates.items():
                note = (f"{v / UPDATES_TARGET:5.2f}x target" if k.startswith("adapter + ")
                        and k.endswith("(book updates)") else "" if "level" in k
                        else f"evlab is {base / v:6.1f}x this")
                rows.append((k, v, note))
            print_table(f"{title}{'' if frames is None else f', first {frames:,} frames'}"
                        f" (/s, best of {repeat}, wall clock: time.perf_counter on both sides;"
                        f" cryptofeed {version} in its own venv; target >= {UPDATES_TARGET:,}"
                        " book updates/s)", rows)
        checked = kraken["OrderBooks.on_book, checksums checked"]
        print_table(f"kraken book session, {n // 10:,} updates (book updates/s; target "
                    f">= {UPDATES_TARGET:,})",
                    [(k, v, f"{v / UPDATES_TARGET:5.2f}x target" if k.startswith("adapter")
                      else f"{v / checked:5.2f}x checked") for k, v in kraken.items()])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat")
    parser.add_argument("-n", type=int, default=200_000, help="synthetic updates")
    args = parser.parse_args()
    if args.quick:
        run(n=300, repeat=1, frames=200)
    else:
        run(n=args.n)


if __name__ == "__main__":
    main()
