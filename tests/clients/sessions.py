"""Recordings of live evlab sessions, made for the tests that serve them again.

Each is a real session on 127.0.0.1: a ``WebSocketEmitter`` (and the guide's decoding
``WebSocketHandler``) connected to a ``FeedServer`` speaking one venue, recorded with
``evlab.record`` and saved to Parquet. The feed server streams a dataset's bars; the venues'
other messages (quotes, trades, corrections, books, tickers) are the documented examples of
``tests/fixtures/exchanges``, which the server injects into the same stream once the first bar
is in (``FeedServer.inject``: sent before the next bar), so the recording holds them as that
venue sends them, at the pace they came.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson

import evlab
from evlab import EventBus, EventType, WebSocketEmitter, WebSocketHandler
from evlab.events import BarEvent, WebSocketEvent
from evlab.recording import Recording, load_recording

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exchanges"


def fixture_obj(venue: str, name: str) -> object:
    return json.loads((FIXTURES / venue / name).read_text())


def compact(obj: object) -> str:
    return orjson.dumps(obj).decode()


def alpaca_injected() -> list[str]:
    """Alpaca's documented frames: three AMD quotes in one frame, an AAPL trade, and one frame
    batching a correction (EEM), a cancel (IBM) and a crypto trade (AVAX/USD, taker ``tks``)."""
    return [compact(fixture_obj("alpaca", "stream_quotes.json")),
            compact(fixture_obj("alpaca", "stream_trade.json")),
            compact([fixture_obj("alpaca", "correction.json"),
                     fixture_obj("alpaca", "cancel_error.json"),
                     fixture_obj("alpaca", "crypto_trade.json")])]


def polygon_injected() -> list[str]:
    """Polygon's documented trade and quote of MSFT, one frame each, then one frame batching
    a later trade and quote (the documented ones, 1 ms on, another trade id)."""
    trade, quote = fixture_obj("polygon", "trade.json"), fixture_obj("polygon", "quote.json")
    assert isinstance(trade, dict) and isinstance(quote, dict)
    later = [{**trade, "i": "12346", "t": trade["t"] + 1, "p": 114.13},
             {**quote, "t": quote["t"] + 1, "bp": 114.126}]
    return [compact([trade]), compact([quote]), compact(later)]


def coinbase_advanced_injected() -> list[str]:
    """Advanced Trade's documented level2 snapshot (BTC-USD), an update of it, the documented
    market_trades (ETH-USD) and ticker (BTC-USD), and a market_trades message with trades of
    both products."""
    snapshot = fixture_obj("coinbase", "l2_data.json")
    trades = fixture_obj("coinbase", "market_trades.json")
    ticker = fixture_obj("coinbase", "ticker_advanced.json")
    assert isinstance(snapshot, dict) and isinstance(trades, dict)
    update = {**snapshot, "timestamp": "2023-02-09T20:32:51.1Z", "sequence_num": 1,
              "events": [{"type": "update", "product_id": "BTC-USD", "updates": [
                  {"side": "offer", "event_time": "2023-02-09T20:32:51.0Z",
                   "price_level": "21925.5", "new_quantity": "0.5"},
                  {"side": "bid", "event_time": "2023-02-09T20:32:51.0Z",
                   "price_level": "21921.3", "new_quantity": "0"}]}]}
    [eth] = trades["events"][0]["trades"]
    both = {**trades, "sequence_num": 2, "events": [{"type": "update", "trades": [
        {**eth, "trade_id": "000000001", "price": "1260.5"},
        {**eth, "trade_id": "000000002", "product_id": "BTC-USD", "price": "21930.1",
         "side": "SELL"}]}]}
    return [compact(snapshot), compact(update), compact(trades), compact(ticker), compact(both)]


def kraken_injected() -> list[str]:
    """Kraken v2's documented trade update (MATIC/USD)."""
    return [compact(fixture_obj("kraken", "trade_update.json"))]


async def record_live(exchange: str, injected: list[str], path: Path, *,
                      subscriptions: list[str | bytes] | None = None, rate: float = 20,
                      limit: int = 8) -> Recording:
    """Record a live session against a FeedServer speaking ``exchange`` (``limit`` bars at
    ``rate`` bars/s, ``injected`` sent once the first bar is in), save it to ``path``
    (Parquet) and read it back."""
    async with evlab.FeedServer("btcusd_1m", exchange=exchange, limit=limit,
                                rate=rate) as live:
        bus = EventBus()
        bus.register_async(EventType.WEBSOCKET, WebSocketHandler("decoder", exchange).handle)
        pending = list(injected)

        def on_bar(bar: BarEvent) -> None:
            while pending:
                live.inject(pending.pop(0))

        bus.register(EventType.BAR, on_bar)
        with evlab.record(bus) as rec:
            feed = WebSocketEmitter("feed", live.url, bus, adapter=exchange,
                                    subscriptions=subscriptions or live.subscribe_messages())
            await feed.start()
            await feed.wait_finished(60)
        assert not pending, "the session ended before the first bar"
        saved = rec.save(path)
    session = load_recording(saved)
    payloads = [e.payload for e in session.to_events() if type(e) is WebSocketEvent]
    missing = [m for m in injected if m not in payloads]
    assert not missing, f"not recorded: {missing}"
    return session


def recorded(session: Recording) -> list[str | bytes]:
    """The raw payloads of a recording, in order."""
    return [e.payload for e in session.to_events() if type(e) is WebSocketEvent]
