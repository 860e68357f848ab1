"""Each benchmark runs once on tiny inputs, so it cannot rot. Nothing here is about time."""

from benchmarks import bench_dispatch
from evlab._accel import COMPILED


def test_dispatch_benchmark_runs_every_contender(capsys):
    table = bench_dispatch.run(n=50, repeat=1)
    assert set(table) == {"sync, 1 handler", "sync, 10 handlers", "async, 1 handler",
                          "async, 10 handlers", "re-emit one prebuilt event, 1 handler",
                          "build a bar from validated floats"}
    fallback = {"evlab emit, interpreted core"} if COMPILED else set()
    assert set(table["sync, 1 handler"]) == {"bare loop", "evlab emit", "blinker send",
                                             "pyee emit", *fallback}
    assert set(table["async, 1 handler"]) == {"bare await loop", "evlab emit_async",
                                              "pyee AsyncIOEventEmitter"}
    assert set(table["re-emit one prebuilt event, 1 handler"]) == {"bare loop", "evlab emit",
                                                                   "blinker send"}
    assert set(table["build a bar from validated floats"]) == {"dataclass(slots=True)",
                                                               "evlab BarEvent"}
    assert all(rate > 0 for rates in table.values() for rate in rates.values())
    out = capsys.readouterr().out
    assert "x bare" in out and "evlab is" in out


def test_hung_handler_benchmark_runs(capsys):
    from benchmarks import bench_hung_handler

    # The feed yields every 1,000 bars: a backlog of 1,000 holds a burst.
    result = bench_hung_handler.run(seconds=0.2, every=0.05, backlog=1000)
    ours = result["evlab"]
    assert ours["counted"] == ours["emitted"]  # the other handler saw every bar
    assert all(waiting <= 1000 for _, _, waiting in ours["rows"])
    assert ours["dropped"] == ours["emitted"] - 1001  # one hangs, 1,000 wait, the rest drop
    assert "unbounded asyncio.Queue" in capsys.readouterr().out


def test_slow_client_benchmark_runs(capsys):
    from benchmarks import bench_slow_client

    result = bench_slow_client.run(seconds=0.5, every=0.1, client_queue=100)
    rows = result["rows"]
    assert rows and all(r["rss"] > 0 for r in rows)
    assert all(r["queue_peak"] <= 100 for r in rows)  # the bound held for the client
    assert "never reads" in capsys.readouterr().out


def test_books_benchmark_runs(capsys):
    from benchmarks import bench_books
    from evlab import EventBus, OrderBooks
    from evlab.feeds.adapters import get_adapter

    table = bench_books.run(n=300, repeat=1, frames=200)
    assert set(table["OrderBooks alone (level changes/s)"]) == {
        "OrderBooks via bus.emit", "OrderBooks.on_book called directly"}
    assert set(table["book depth (book updates/s)"]) == {name for name, _, _ in bench_books.DEPTHS}
    for exchange in ("coinbase", "binance"):  # cryptofeed's playback of the same 200 frames
        assert set(table[f"{exchange} capture replayed"]) == {
            "adapter + OrderBooks (book updates)", "adapter + OrderBooks (level changes)",
            "cryptofeed playback, whole call (book updates)",
            "cryptofeed playback less its set-up (book updates)"}
    assert set(table["kraken book session"]) == {
        "adapter + OrderBooks, checksums checked", "OrderBooks.on_book, checksums checked",
        "OrderBooks.on_book, no checksums"}
    assert all(rate > 0 for rates in table.values() for rate in rates.values())
    # the Kraken session is one Kraken would send: every checksum matches the built book
    session = bench_books.kraken_session(50)
    bus = EventBus()
    books = OrderBooks(bus)
    adapter = get_adapter("kraken")
    for payload in session:
        for ev in adapter.parse(payload):
            bus.emit(ev)
    assert books.stats["checksums"] == 51 and books.stats["checksum_mismatches"] == 0
    # the replay really built books: the capture's updates reached OrderBooks
    replay, updates, levels = bench_books.capture_replay("coinbase", 200)
    assert updates > 0 and levels >= updates and len(replay()) > 0
    out = capsys.readouterr().out
    assert "target" in out and "cryptofeed 2.4.0" in out and "evlab is" in out


def test_books_benchmark_peer_plays_back_the_same_book_updates_as_evlab():
    """cryptofeed's playback of a slice makes as many book callbacks as evlab applies book
    updates (the run refuses to compare otherwise). cryptofeed asks for a Binance snapshot on a
    symbol's first diff, evlab is given all four first: the slice reaches every symbol's first
    diff (RUNEEUR's is frame 74)."""
    from benchmarks import bench_books

    for exchange, frames in (("binance", 80), ("coinbase", 30)):
        _, updates, _ = bench_books.capture_replay(exchange, frames)
        peer = bench_books.bench_cryptofeed(exchange, 1, frames)
        assert peer["version"] == "2.4.0"
        assert peer["book_callbacks"] == updates > 0
        assert peer["messages"] >= frames and peer["seconds"] > 0 and peer["setup_seconds"] > 0


def test_books_peer_folder_path_is_free_of_what_playback_matches(tmp_path):
    """cryptofeed's playback picks a file's kind by "ws" / "http" anywhere in its path: the
    peer's folder never holds them (a random temporary name once did, and the peer failed)."""
    import pytest

    from benchmarks import bench_books

    base = tmp_path / "plain"
    base.mkdir()
    made = []
    for _ in range(300):  # enough draws that random names holding "ws" come up
        with bench_books.peer_folder(str(base)) as folder:
            assert folder.is_dir() and folder.parent == base.resolve()
            assert "ws" not in str(folder) and "http" not in str(folder)
            made.append(folder)
        assert not folder.exists()
    assert len(set(made)) > 1 and not any(base.iterdir())  # rejected names are removed too
    for bad in ("ws-session", "http-cache"):
        (tmp_path / bad).mkdir()
        with (pytest.raises(ValueError, match="holds 'ws' or 'http'"),
              bench_books.peer_folder(str(tmp_path / bad))):
            pass


def test_stream_replay_benchmark_runs(tmp_path, capsys):
    from benchmarks import bench_stream_replay

    result = bench_stream_replay.run(n=3_000, memory_n=1_000, cache=tmp_path)
    assert set(result["results"]) == {"stream 3,000", "stream 1,000", "in memory 1,000"}
    for r in result["results"].values():
        assert r["events"] in (3_000, 1_000) and r["rate"] > 0 and r["peak_rss_mib"] > 0
    assert result["results"]["stream 3,000"]["stats"]["row_groups_read"] == 1
    assert "peak RSS" in capsys.readouterr().out
    again = bench_stream_replay.generate(tmp_path / "bars-3000.parquet", 3_000)
    assert again.stat().st_mtime_ns == (tmp_path / "bars-3000.parquet").stat().st_mtime_ns


def test_sweep_benchmark_runs_both_engines_and_probes_the_scheduler(capsys):
    from benchmarks import bench_sweep

    result = bench_sweep.run(runs=3, empty=4, batch=3, batches=2, long_runs=2)
    assert result["runs"] == 3 and result["serial"] > 0 and result["parallel"] > 0
    assert result["long_runs"] == 2 and result["long_ratio"] > 0
    assert result["ratio"] == result["parallel"] / result["serial"]
    assert [count for count, _, _ in result["memory"]] == [0, 3, 6]
    assert all(rss > 0 for _, rss, _ in result["memory"])
    out = capsys.readouterr().out
    assert "ratio cluster / serial" in out and "per 1,000 runs" in out


def test_ingest_benchmark_runs_both_clients_on_both_formats(capsys):
    from benchmarks import bench_ingest

    table = bench_ingest.run(n=200, repeat=1)
    assert set(table) == {"binance", "coinbase"}
    for rates in table.values():
        assert set(rates) == {"bare websockets + orjson.loads",
                              "evlab emitter -> handler -> on_bar"}
        assert all(rate > 0 for rate in rates.values())
    out = capsys.readouterr().out
    assert "x bare" in out and "us CPU" in out


def test_backtest_benchmark_runs(capsys):
    from benchmarks import bench_backtest

    # Makes NautilusTrader's venv on first use (about 3 minutes; cached under
    # EVLAB_CLIENT_VENVS); the run itself fails on any trade that differs across engines.
    result = bench_backtest.run(copies=1, symbols=4, limit=3000)
    assert set(result["rates"]) == {"evlab", "backtesting.py", "NautilusTrader",
                                    "evlab in a Lab"}
    assert result["trades"] > 10
    assert set(result["ratios"]) == {"evlab / backtesting.py", "evlab / NautilusTrader",
                                     "lab / bare (time)", "4 symbols / 1 (cost per bar)"}
    assert "identical across engines" in capsys.readouterr().out
