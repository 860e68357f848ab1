"""Lab: one object per session; its feeds, servers and replays on one background loop
(one thread); stop() ends everything."""

import threading

from evlab import EventType, Lab, create_signal_event, datasets


def evlab_threads():
    return [t for t in threading.enumerate() if t.name.startswith("evlab-")]


def test_a_live_feed_runs_in_the_background_and_stop_ends_it(capsys):
    with Lab() as lab:
        seen = threading.Event()
        count = []

        @lab.strategy("momentum")
        def momentum(bar):
            count.append(bar)
            if len(count) == 50:
                seen.set()
            if len(count) % 10 == 0:
                return create_signal_event("BUY", bar.close, bar.symbol, "momentum")

        emitter = lab.live("btcusd_1m", exchange="binance", rate=100, limit=1000)  # lasts 10 s
        assert emitter.connected  # the call returned; the feed goes on
        assert [t.name for t in evlab_threads()] == ["evlab-lab-lab"]  # server + feed: 1 loop
        assert seen.wait(30)  # bars arrive while this thread blocks
        shown = lab._repr_html_()
        assert "momentum" in shown and "binance-feed" in shown and "connected" in shown
        lab.stop()
        frame = lab.frame()
    assert evlab_threads() == []
    assert not emitter.running
    bars = frame[frame["type"] == "bar"]
    signals = frame[frame["type"] == "signal"]
    assert len(bars) >= 50 and len(signals) == len(bars) // 10
    assert (signals["strategy_id"] == "momentum").all()


def test_errors_are_shown_once_and_counted(capsys):
    lab = Lab()
    done = threading.Event()

    @lab.strategy("broken", on=EventType.BAR)
    def broken(bar):
        if bar.close > 0:
            raise ValueError("no")

    lab.bus.register(EventType.BAR, lambda e: done.set(), priority=-100)
    lab.live("btcusd_1m", exchange="coinbase", rate=None, limit=30)
    assert done.wait(30)
    lab.stop()
    err = capsys.readouterr().err
    assert err.count("strategy 'broken' raised ValueError") == 1
    assert lab.strategies.errors["broken"]["ValueError"] >= 1
    assert sum(lab.errors.values()) >= 1


def test_hot_replacement_through_the_lab_changes_the_next_signals():
    lab = Lab()
    signals = []
    lab.bus.register(EventType.SIGNAL, signals.append)
    for version in ("v1", "v2"):
        @lab.strategy("s")
        def s(bar, version=version):
            return create_signal_event("BUY", bar.close, bar.symbol, version)

        lab.bus.emit(__import__("evlab").create_bar_event("X", 0, 1.0, 1.0, 1.0, 1.0, 1))
    assert [x.strategy_id for x in signals] == ["v1", "v2"]
    assert len(lab.strategies) == 1


def test_feeds_servers_and_paced_replays_share_the_labs_one_loop_thread():
    with Lab(record=False) as lab:
        threads: dict[str, set[str]] = {}
        lab.bus.register(EventType.BAR, lambda bar: threads.setdefault(
            bar.source, set()).add(threading.current_thread().name))
        feed = lab.live("btcusd_1m", exchange="kraken", rate=500, limit=40)
        bars = datasets.load("btcusd_1m").iloc[:20]
        replay = lab.replay(bars, speed=6_000, source_name="replayed")  # 10 ms between bars
        assert [t.name for t in evlab_threads()] == ["evlab-lab-lab"]
        assert replay.wait(30).events == 20
        assert lab.loop.run(feed.wait_finished(30))["delivered"] == 42  # greeting, ack, 40 bars
        assert not feed.running  # the finite stream ended the feed: no reconnect
    assert threads == {"kraken-feed": {"evlab-lab-lab"}, "replayed": {"evlab-lab-lab"}}
    assert evlab_threads() == [] and not lab.loop.running


def test_a_labs_feed_can_be_stopped_from_blocking_code_and_the_lab_loop_goes_on():
    with Lab(record=False) as lab:
        feed = lab.live("btcusd_1m", exchange="polygon", rate=None, limit=20)
        feed.stop_in_thread()  # the feed runs on lab.loop: stopped there, the loop left running
        assert not feed.running and lab.loop.running
        replay = lab.replay(datasets.load("btcusd_1m").iloc[:5])
        assert replay.wait(30).events == 5  # the lab's loop still serves its replays
    assert not lab.loop.running


# --- order books: a served capture, lab.books, lab.book_view, the quote band --------------------

def test_a_served_capture_builds_the_books_the_capture_replay_builds():
    import asyncio

    from evlab import EventBus, OrderBooks, Replayer, WebSocketHandler
    from tests.books import CAPTURES, load_shipped

    bus = EventBus()
    handler = WebSocketHandler("market_data_handler")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    expected = OrderBooks(bus)
    asyncio.run(Replayer(load_shipped("binance"), bus, what="raw").run_async())

    with Lab() as lab:
        books = lab.books
        assert lab.books is books  # made once
        server = lab.serve_capture(CAPTURES / "BINANCE.ws.1.0",
                                   http=CAPTURES / "BINANCE.http.0.0", speed=1000)
        chart = lab.chart("NKNUSDT", quote_source="orderbooks")
        view = lab.book_view("NKNUSDT", depth=10)
        feed = lab.connect(server)  # every captured stream, Binance's combined stream
        stats = lab.wait_finished(feed)
        chart.flush()
        view.flush()
        assert stats["rest_fetched"] == 4 and stats["received"] == stats["delivered"]
        assert sorted(books) == sorted(expected)
        for symbol in expected:
            assert (books[symbol].bids(), books[symbol].asks()) == (
                expected[symbol].bids(), expected[symbol].asks()), symbol
        assert view.bids == books["NKNUSDT"].bids(10) and view.redraws >= 1
        quotes = lab.recorder.to_frame()
        tops = quotes[(quotes["type"] == "quote") & (quotes["source"] == "orderbooks")
                      & (quotes["symbol"] == "NKNUSDT")]
        # how many depends on whether the diffs came before the snapshot (buffered, then one
        # BookEvent's quote) or after it; at least the first top is there
        assert len(tops) >= 1 and tops["bid"].iloc[-1] == books["NKNUSDT"].best_bid
        band = next(d for d in chart.figure.data if d.name == "bid")
        assert band.visible is True and list(band.y) == list(tops["bid"])
    assert not view._follow.following and not chart._follow.following  # stop() closed them


def test_connect_streams_must_be_in_the_capture():
    import pytest

    from tests.books import CAPTURES

    with Lab() as lab:
        server = lab.serve_capture(CAPTURES / "BINANCE.ws.1.0",
                                   http=CAPTURES / "BINANCE.http.0.0")
        with pytest.raises(ValueError, match="no stream 'btcusdt@depth'"):
            lab.connect(server, streams=["btcusdt@depth"])
        with pytest.raises(ValueError, match="pass streams="):
            lab.connect(server, symbols=["LRCBTC"])
        with pytest.raises(ValueError, match="streams= is for a CaptureServer"):
            lab.connect(server.url, adapter="binance", streams=["lrcbtc@aggTrade"])
        lab.connect(server, streams=["lrcbtc@aggTrade"])
        lab.wait_finished()
        frame = lab.frame()
        ticks = frame[frame["type"] == "tick"]
        assert list(ticks["symbol"]) == ["LRCBTC"] and len(lab.books) == 0  # no book streams
        with pytest.raises(ValueError, match="a feed named 'feed' is connected already"):
            lab.connect(server, streams=["lrcbtc@aggTrade"])
        # a second feed on the same bus, by URL and the exchange's own subscribe frame (the
        # venue's bookTicker quotes): each feed's decoder decodes its own messages only
        sub = '{"method":"SUBSCRIBE","params":["lrcbtc@bookTicker"],"id":5}'
        feed = lab.connect(server.url + "/stream", adapter="binance", subscriptions=[sub],
                           name="tickers")
        lab.wait_finished(feed)
        frame = lab.frame()
        assert (frame["type"] == "tick").sum() == len(ticks)  # not decoded a second time
        quotes = frame[frame["type"] == "quote"]
        assert len(quotes) == 9 and set(quotes["symbol"]) == {"LRCBTC"}
