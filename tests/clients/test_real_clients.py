"""The feed server against the exchanges' own client libraries, each used through its normal
API with only the URL overridden (see ``venvs.py`` for why each runs in a venv of its own).

What every client parses must equal the dataset the server streams.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pandas as pd
import pytest

from evlab import EventBus, EventType, OrderBooks, WebSocketHandler, datasets
from evlab.events import RestResponseEvent, TickEvent, WebSocketEvent
from evlab.feeds.adapters import get_adapter
from evlab.feeds.capture_server import CaptureServer
from evlab.feeds.server import FeedServer
from evlab.recording import Recording
from tests.books import CAPTURES, capture
from tests.clients import sessions
from tests.clients.venvs import run_client

N = 5  # bars each client reads
RATE = 200  # bars per second the servers send


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return datasets.load("btcusd_1m").iloc[:N]


@pytest.fixture(scope="module")
def server_url() -> Iterator[object]:
    """A factory: the URL of a feed server speaking ``exchange`` (one per exchange)."""
    servers: dict[str, FeedServer] = {}

    def url(exchange: str) -> str:
        if exchange not in servers:
            # Paced as a live feed is: a client that stops reading to close (alpaca-py's
            # legacy websockets queues 32 messages, then reads no further) still gets the
            # server's close frame.
            servers[exchange] = FeedServer("btcusd_1m", exchange=exchange,
                                           rate=RATE).start_in_thread()
        return servers[exchange].url

    try:
        yield url
    finally:
        for server in servers.values():
            server.close()


def binance_bars(parsed: list[dict], bars: pd.DataFrame) -> None:
    """Binance klines as a client parsed them, against the dataset's bars."""
    assert len(parsed) == len(bars)
    for k, (time, row) in zip(parsed, bars.iterrows(), strict=True):
        assert k["s"] == "BTCUSDT" and k["x"] is True
        assert k["t"] == time.value // 1_000_000
        got = [float(k[f]) for f in ("o", "h", "l", "c", "v")]
        assert got == [row.open, row.high, row.low, row.close, row.volume]


@pytest.mark.parametrize("client, script", [
    ("python-binance", "klines_python_binance"),  # /ws/<stream>: subscribed by the path
    ("binance-connector", "klines_binance_connector"),  # /stream + SUBSCRIBE: combined envelopes
    ("binance-sdk-spot", "klines_binance_sdk_spot"),  # Binance's current official SDK
])
def test_binance_clients_parse_the_dataset_bars(client, script, server_url, bars):
    binance_bars(run_client(client, script, server_url("binance"), "BTCUSDT", str(N)), bars)


def same_bar(got: list[float], time_ns: int, row: pd.Series, got_time_ns: int) -> None:
    assert got_time_ns == time_ns
    assert got == [row.open, row.high, row.low, row.close, row.volume]


def test_coinbase_advanced_py_with_heartbeats_parses_the_candles(server_url, bars):
    out = run_client("coinbase-advanced-py", "candles_coinbase_advanced", server_url("coinbase"),
                     "BTC-USD", str(N))
    for candle, (time, row) in zip(out["candles"], bars.iterrows(), strict=True):
        assert candle["product_id"] == "BTC-USD"
        same_bar([float(candle[f]) for f in ("open", "high", "low", "close", "volume")],
                 time.value, row, int(candle["start"]) * 1_000_000_000)
    assert not [m for m in out["others"] if m.get("type") == "error"], out["others"]
    acks = [m["events"][0]["subscriptions"] for m in out["others"]
            if m.get("channel") == "subscriptions"]
    assert {"heartbeats": ["heartbeats"]} in acks and {"candles": ["BTC-USD"]} in acks
    beats = [m for m in out["others"] if m.get("channel") == "heartbeats"]
    assert beats and beats[0]["events"][0]["heartbeat_counter"] == "0"


def test_python_kraken_sdk_parses_the_ohlc_bars(server_url, bars):
    out = run_client("python-kraken-sdk", "ohlc_python_kraken_sdk", server_url("kraken"),
                     "BTC/USD", str(N))
    for bar, (time, row) in zip(out["bars"], bars.iterrows(), strict=True):
        assert bar["symbol"] == "BTC/USD" and bar["interval"] == 1
        same_bar([bar[f] for f in ("open", "high", "low", "close", "volume")], time.value, row,
                 pd.Timestamp(bar["interval_begin"]).value)
    [ack] = [m for m in out["others"] if m.get("method") == "subscribe"]
    assert ack["success"] is True and ack["result"]["channel"] == "ohlc"


def test_polygon_api_client_parses_the_minute_aggregates(server_url, bars):
    out = run_client("polygon-api-client", "stream_polygon", server_url("polygon"),
                     "AM.BTC-USD", str(N))
    for agg, (time, row) in zip(out, bars.iterrows(), strict=True):
        assert agg["symbol"] == "BTC-USD"
        same_bar([agg[f] for f in ("open", "high", "low", "close", "volume")], time.value, row,
                 agg["start"] * 1_000_000)


def test_alpaca_py_parses_the_bars_it_asked_for_in_messagepack(server_url, bars):
    out = run_client("alpaca-py", "stream_alpaca_py", server_url("alpaca"), "bars", str(N),
                     "BTC/USD")
    for bar, (time, row) in zip(out, bars.iterrows(), strict=True):
        assert bar["symbol"] == "BTC/USD"
        same_bar([bar[f] for f in ("open", "high", "low", "close", "volume")], time.value, row,
                 pd.Timestamp(bar["timestamp"]).value)
        assert bar["trade_count"] == 0 and bar["vwap"] == row.close  # n and vw, as Alpaca sends



@pytest.mark.parametrize("exchange, symbol, market", [
    ("binance", "BTC/USDT", "BTCUSDT"),  # exchangeInfo
    ("kraken", "BTC/USD", "XBTUSD"),  # AssetPairs and Assets (Kraken's REST says XBT)
    ("alpaca", "BTC/USD", "BTC/USD"),  # the trading API's /v2/assets, then the crypto stream
])
def test_ccxt_loads_markets_over_rest_and_watches_the_bars(exchange, symbol, market,
                                                           server_url, bars):
    """ccxt reads the market list from the server's REST (same port), then watch_ohlcv."""
    out = run_client("ccxt", "ohlcv_ccxt", exchange, server_url(exchange), symbol, str(N))
    assert out["market"] == market
    for candle, (time, row) in zip(out["bars"], bars.iterrows(), strict=True):
        same_bar(candle[1:], time.value, row, candle[0] * 1_000_000)

# --- a captured order-book session, served again ---------------------------------------------

@pytest.fixture(scope="module")
def served_capture() -> Iterator[CaptureServer]:
    """The shipped Binance capture with its REST snapshots, served at 10x its recorded pace
    (each client gets its own replay, from its first subscription)."""
    server = CaptureServer(CAPTURES / "BINANCE.ws.1.0", http=CAPTURES / "BINANCE.http.0.0",
                           speed=10).start_in_thread()
    try:
        yield server
    finally:
        server.close()


def test_python_binance_reads_a_served_capture_as_binance_served_it(served_capture):
    """REST snapshot and diff stream of the shipped Binance capture, through python-binance's
    get_order_book and depth_socket: what it parses is what the capture holds."""
    out = run_client("python-binance", "depth_python_binance", served_capture.url,
                     served_capture.http_url, "NKNUSDT", "3")
    events = capture("binance")
    [rest] = [e for e in events if type(e) is RestResponseEvent and "NKNUSDT" in e.url]
    assert out["snapshot"] == json.loads(rest.payload)
    diffs = [json.loads(e.payload) for e in events if type(e) is WebSocketEvent]
    wanted = [o["data"] for o in diffs if o["stream"] == "nknusdt@depth@100ms"][:3]
    assert out["diffs"] == wanted and len(wanted) == 3


def test_ccxt_builds_the_book_of_a_served_capture_as_evlab_does(served_capture):
    """ccxt's binance watch_order_book (exchangeInfo made for the capture's symbols, the
    captured REST snapshot, the diff stream) against the served capture: its book at the
    update id it reached equals evlab's OrderBooks replaying the capture to that id."""
    before = served_capture.rest_served
    out = run_client("ccxt", "book_ccxt", served_capture.url, "NKN/USDT", "3")
    # exchangeInfo, then NKNUSDT's captured snapshot
    assert served_capture.rest_served - before == 2

    async def evlab_book_at(update_id: int) -> tuple[list, list]:
        bus = EventBus()
        bus.register_async(EventType.WEBSOCKET, WebSocketHandler("market_data_handler").handle)
        books = OrderBooks(bus)
        for event in capture("binance"):
            await bus.emit_async(event)
            if "NKNUSDT" in books and books["NKNUSDT"].update_id == update_id:
                book = books["NKNUSDT"]
                assert not book.stale
                return book.bids(), book.asks()
        raise AssertionError(f"evlab's book never reached update {update_id}")

    bids, asks = asyncio.run(evlab_book_at(out["nonce"]))
    assert [list(level) for level in bids] == out["bids"]
    assert [list(level) for level in asks] == out["asks"]
    assert len(bids) > 100 and len(asks) > 100  # the whole captured book, not a top slice



def test_ccxt_watches_the_trades_of_a_served_capture_as_evlab_decodes_them(served_capture):
    """ccxt's binance watch_trades (aggTrade) on the served capture: the trade it parses is
    the captured one, with the taker side evlab's adapter gives it."""
    [trade] = run_client("ccxt", "trades_ccxt", served_capture.url, "NKN/USDT")
    adapter = get_adapter("binance")
    ticks = [t for e in capture("binance") if type(e) is WebSocketEvent
             and '"nknusdt@aggTrade"' in e.payload for t in adapter.parse(e.payload)
             if isinstance(t, TickEvent)]
    [tick] = ticks
    assert (trade["symbol"], trade["id"]) == ("NKN/USDT", tick.trade_id)
    assert (trade["price"], trade["amount"]) == (tick.price, tick.size)
    assert trade["timestamp"] * 1_000_000 == tick.time_ns
    assert trade["side"] == tick.side.lower()



def test_binance_connector_gets_a_served_capture_in_combined_envelopes(served_capture):
    """binance-connector's combined stream (/stream + SUBSCRIBE) on the served capture: every
    push is wrapped as {"stream", "data"}, as Binance wraps it, the data as captured."""
    got = run_client("binance-connector", "depth_binance_connector", served_capture.url,
                     "LRCBTC", "5")
    captured = [json.loads(e.payload) for e in capture("binance") if type(e) is WebSocketEvent]
    wanted = [o for o in captured if o["stream"] == "lrcbtc@depth@100ms"][:5]
    assert got == wanted and len(wanted) == 5


def test_binance_sdk_spot_reads_a_served_capture_in_combined_envelopes(served_capture):
    """Binance's official SDK (it connects to /stream, subscribes by message and routes each
    push by its envelope's stream name): NKNUSDT's diff depth and aggTrade streams, on one
    connection, as captured; the trade's side is the one evlab's adapter gives it."""
    out = run_client("binance-sdk-spot", "depth_binance_sdk_spot", served_capture.url,
                     "NKNUSDT", "3")
    captured = [json.loads(e.payload) for e in capture("binance") if type(e) is WebSocketEvent]
    wanted = [o["data"] for o in captured if o["stream"] == "nknusdt@depth@100ms"][:3]
    assert out["diffs"] == [{k: d[k] for k in ("e", "E", "s", "U", "u", "b", "a")}
                            for d in wanted] and len(wanted) == 3
    [trade] = [o["data"] for o in captured if o["stream"] == "nknusdt@aggTrade"]
    assert out["trades"] == [{k: trade[k] for k in ("a", "p", "q", "T", "m", "s")}]
    [tick] = [t for t in get_adapter("binance").parse(json.dumps(trade))
              if isinstance(t, TickEvent)]
    assert tick.side == ("SELL" if out["trades"][0]["m"] else "BUY")


# --- the Coinbase Exchange capture, served again ----------------------------------------------

@pytest.fixture(scope="module")
def served_coinbase() -> Iterator[CaptureServer]:
    """The shipped Coinbase Exchange capture (level2, ticker, matches of 10 products), served
    as fast as each client reads (each gets its own replay)."""
    server = CaptureServer(CAPTURES / "COINBASE.ws.28.0").start_in_thread()
    try:
        yield server
    finally:
        server.close()


def coinbase_products() -> set[str]:
    return {json.loads(e.payload)["product_id"] for e in capture("coinbase")
            if type(e) is WebSocketEvent and '"product_id"' in e.payload}


def test_ccxt_coinbaseexchange_builds_the_book_of_a_served_capture_as_evlab_does(
        served_coinbase):
    """ccxt's coinbaseexchange watch_order_book (markets from the server's /products and
    /currencies, then the level2 snapshot and every l2update of SKL-USD, to the end of the
    session): its book equals evlab's OrderBooks replaying the capture."""
    before = served_coinbase.rest_served
    out = run_client("ccxt", "coinbaseexchange_ccxt", served_coinbase.url, "book", "SKL/USD")
    assert served_coinbase.rest_served - before == 2  # /products and /currencies
    assert out["market"] == "SKL-USD"
    assert out["markets"] == sorted(p.replace("-", "/") for p in coinbase_products())

    async def evlab_book() -> tuple[list, list]:
        bus = EventBus()
        bus.register_async(EventType.WEBSOCKET, WebSocketHandler("market_data_handler").handle)
        books = OrderBooks(bus)
        for event in capture("coinbase"):
            await bus.emit_async(event)
        book = books["SKL-USD"]
        assert not book.stale
        return book.bids(), book.asks()

    bids, asks = asyncio.run(evlab_book())
    assert [list(level) for level in bids] == out["bids"]
    assert [list(level) for level in asks] == out["asks"]
    assert len(bids) > 100 and len(asks) > 100  # the whole captured book, not a top slice
    last = [json.loads(e.payload) for e in capture("coinbase") if type(e) is WebSocketEvent
            and '"l2update"' in e.payload and '"SKL-USD"' in e.payload][-1]
    assert out["timestamp"] == pd.Timestamp(last["time"]).value // 1_000_000


def test_ccxt_coinbaseexchange_watches_the_trades_of_a_served_capture_as_evlab_decodes_them(
        served_coinbase):
    """ccxt's coinbaseexchange watch_trades (the matches channel) to the end of the session:
    every match of SKL-USD, with the taker side evlab's adapter gives it (ccxt, as Coinbase
    documents, reads the message's side as the maker's). ccxt skips ``last_match`` (the one
    trade sent on subscribing), which evlab decodes too."""
    out = run_client("ccxt", "coinbaseexchange_ccxt", served_coinbase.url, "trades", "SKL/USD")
    adapter = get_adapter("coinbase")
    ticks = [t for e in capture("coinbase") if type(e) is WebSocketEvent
             and '"type":"match"' in e.payload and '"SKL-USD"' in e.payload
             for t in adapter.parse(e.payload) if isinstance(t, TickEvent)]
    assert len(ticks) > 10
    assert [(t["symbol"], t["id"], t["timestamp"], t["price"], t["amount"], t["side"])
            for t in out["trades"]] == [
        ("SKL/USD", tick.trade_id, tick.time_ns // 1_000_000, tick.price, tick.size,
         tick.side.lower()) for tick in ticks]


# --- recordings of live evlab sessions, served again (Alpaca, Polygon, Coinbase Advanced
# Trade, Kraken): each client through its normal API, only the URL overridden ---------------

@pytest.fixture(scope="module")
def served_recording(tmp_path_factory) -> Iterator[object]:
    """A factory: a CaptureServer serving a recorded live session of ``venue`` (see
    ``sessions.py``), recorded once per module. Two bars a second: the documented messages
    come 0.5 s or more after the session's start, and the servers run at speed 1, so a
    client that subscribes one channel per message has them all before they are due."""
    servers: dict[str, tuple[CaptureServer, Recording]] = {}
    injected = {"alpaca": sessions.alpaca_injected, "polygon": sessions.polygon_injected,
                "coinbase": sessions.coinbase_advanced_injected,
                "kraken": sessions.kraken_injected}
    subscriptions = {"coinbase": [
        '{"type":"subscribe","product_ids":["BTC-USD"],"channel":"candles"}',
        '{"type":"subscribe","channel":"heartbeats"}']}

    def serve(venue: str) -> tuple[CaptureServer, Recording]:
        if venue not in servers:
            session = asyncio.run(sessions.record_live(
                venue, injected[venue](), tmp_path_factory.mktemp(venue) / "s.parquet",
                subscriptions=subscriptions.get(venue), rate=2))
            server = CaptureServer(session, exchange=venue, speed=1).start_in_thread()
            servers[venue] = (server, session)
        return servers[venue]

    try:
        yield serve
    finally:
        for server, _ in servers.values():
            server.close()


def recorded_items(session: Recording, key: str, kinds: tuple[str, ...]) -> list[dict]:
    """The recorded data points whose ``key`` field is one of ``kinds``, in order."""
    return [o for p in sessions.recorded(session) if p.startswith("[")
            for o in json.loads(p) if o.get(key) in kinds]


def micros(text: str) -> int:
    """An RFC 3339 time as alpaca-py's datetimes keep it: whole microseconds, in ns."""
    return pd.Timestamp(text).value // 1000 * 1000


def test_alpaca_py_stock_stream_parses_a_served_recording(served_recording):
    """StockDataStream (MessagePack) on a recording made in JSON: the quotes, the trade, the
    correction and the cancel it parses are the recorded ones."""
    server, session = served_recording("alpaca")
    before = server.requests_refused
    got = run_client("alpaca-py", "stream_alpaca_py", server.url, "stock", "6")
    assert server.requests_refused == before
    recorded = recorded_items(session, "T", ("q", "t", "c", "x"))
    wanted = []
    for o in recorded:
        if o["T"] == "q":
            wanted.append({"kind": "quote", "symbol": o["S"], "bid": o["bp"], "bid_size": o["bs"],
                           "ask": o["ap"], "ask_size": o["as"], "timestamp": micros(o["t"])})
        elif o["T"] == "t" and o["S"] == "AAPL":
            wanted.append({"kind": "trade", "symbol": o["S"], "id": o["i"], "price": o["p"],
                           "size": o["s"], "timestamp": micros(o["t"])})
        elif o["T"] == "c":
            wanted.append({"kind": "correction", "symbol": o["S"], "original_id": o["oi"],
                           "original_price": o["op"], "corrected_id": o["ci"],
                           "corrected_price": o["cp"]})
        elif o["T"] == "x":
            wanted.append({"kind": "cancel", "symbol": o["S"], "id": o["i"], "price": o["p"],
                           "size": o["s"], "action": o["a"]})
    for record in got:
        if "timestamp" in record:
            record["timestamp"] = pd.Timestamp(record["timestamp"]).value
    assert got == wanted and len(wanted) == 6


def test_alpaca_py_crypto_stream_parses_a_served_recording(served_recording):
    server, session = served_recording("alpaca")
    got = run_client("alpaca-py", "stream_alpaca_py", server.url, "crypto", "9")
    wanted = []
    for o in recorded_items(session, "T", ("b", "t")):
        if o["T"] == "b":
            wanted.append({"kind": "bar", "symbol": o["S"], "open": o["o"], "high": o["h"],
                           "low": o["l"], "close": o["c"], "volume": o["v"],
                           "timestamp": micros(o["t"]), "trade_count": o["n"],
                           "vwap": o["vw"]})
        elif o["S"] == "AVAX/USD":
            wanted.append({"kind": "trade", "symbol": o["S"], "id": o["i"], "price": o["p"],
                           "size": o["s"], "timestamp": micros(o["t"])})
    for record in got:
        record["timestamp"] = pd.Timestamp(record["timestamp"]).value
    assert got == wanted and len(wanted) == 9


def test_polygon_api_client_parses_a_served_recording(served_recording):
    server, session = served_recording("polygon")
    got = run_client("polygon-api-client", "stream_polygon", server.url,
                     "T.MSFT,Q.MSFT,AM.BTC-USD", "12")
    wanted = []
    for o in recorded_items(session, "ev", ("T", "Q", "AM")):
        if o["ev"] == "T":
            wanted.append({"ev": "T", "symbol": o["sym"], "id": o["i"], "price": o["p"],
                           "size": o["s"], "timestamp": o["t"]})
        elif o["ev"] == "Q":
            wanted.append({"ev": "Q", "symbol": o["sym"], "bid": o["bp"], "bid_size": o["bs"],
                           "ask": o["ap"], "ask_size": o["as"], "timestamp": o["t"]})
        else:
            wanted.append({"ev": "AM", "symbol": o["sym"], "open": o["o"], "high": o["h"],
                           "low": o["l"], "close": o["c"], "volume": o["v"], "start": o["s"]})
    # a batched frame of a trade and a quote is served as one frame per topic: the order
    # within that frame's moment may differ, never the values
    assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, wanted))
    assert [g for g in got if g["ev"] == "AM"] == [w for w in wanted if w["ev"] == "AM"]
    assert len(wanted) == 12  # 8 aggregates, 2 trades, 2 quotes


def test_coinbase_advanced_py_with_heartbeats_parses_a_served_recording(served_recording):
    """Heartbeats, then level2, market_trades (two products) and ticker, one message each:
    every l2_data, ticker and market_trades message it gets is the recorded one (a message
    of two products split per product), acks list the connection's subscriptions."""
    server, session = served_recording("coinbase")
    before = server.requests_refused
    out = run_client("coinbase-advanced-py", "recorded_coinbase_advanced", server.url, "6")
    assert server.requests_refused == before
    raw = [json.loads(p) for p in sessions.recorded(session)]
    # the server numbers each connection's messages (sequence_num), as Coinbase does
    nums = [m.pop("sequence_num") for m in out["data"] + out["others"] if "sequence_num" in m]
    assert sorted(nums) == list(range(len(nums)))
    for m in raw:
        m.pop("sequence_num", None)
    level2 = [m for m in raw if m["channel"] == "l2_data"]
    ticker = [m for m in raw if m["channel"] == "ticker"]
    assert [m for m in out["data"] if m["channel"] == "l2_data"] == level2
    assert [m for m in out["data"] if m["channel"] == "ticker"] == ticker
    trades = [t for m in out["data"] if m["channel"] == "market_trades"
              for e in m["events"] for t in e["trades"]]
    recorded_trades = [t for m in raw if m["channel"] == "market_trades"
                       for e in m["events"] for t in e["trades"]]
    assert sorted(trades, key=lambda t: t["trade_id"]) == recorded_trades
    acks = [m["events"][0]["subscriptions"] for m in out["others"]
            if m["channel"] == "subscriptions"]
    assert acks[-1] == {"heartbeats": ["heartbeats"], "level2": ["BTC-USD"],
                        "market_trades": ["ETH-USD", "BTC-USD"], "ticker": ["BTC-USD"]}
    assert [m for m in out["others"] if m["channel"] == "heartbeats"]  # recorded ones


def test_python_kraken_sdk_parses_a_served_recording(served_recording):
    """Kraken's greeting, then ohlc and trade: the messages it gets are the recorded ones."""
    server, session = served_recording("kraken")
    out = run_client("python-kraken-sdk", "recorded_python_kraken_sdk", server.url, "9")
    raw = [json.loads(p) for p in sessions.recorded(session)]
    assert out["data"] == [m for m in raw if m.get("channel") in ("ohlc", "trade")]
    assert next(m for m in out["data"] if m["channel"] == "trade")["data"][0]["symbol"] == \
        "MATIC/USD"
    acks = [m for m in out["others"] if m.get("method") == "subscribe"]
    assert len(acks) == 2 and all(a["success"] for a in acks)
