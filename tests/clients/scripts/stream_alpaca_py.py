"""alpaca-py (it asks for MessagePack): CryptoDataStream's bars of one symbol (``bars``), or,
on a served recording, StockDataStream's quotes, trades, corrections and cancels
(``stock``) or CryptoDataStream's bars and trades (``crypto``)."""

import asyncio
import json
import sys

from alpaca.data.live.crypto import CryptoDataStream
from alpaca.data.live.stock import StockDataStream


async def main(url: str, kind: str, n: int, symbol: str) -> None:
    got: list[dict] = []
    done = asyncio.Event()

    def keep(record: dict) -> None:
        got.append(record)
        if len(got) >= n:
            done.set()

    async def on_quote(q) -> None:
        keep({"kind": "quote", "symbol": q.symbol, "bid": q.bid_price, "bid_size": q.bid_size,
              "ask": q.ask_price, "ask_size": q.ask_size, "timestamp": q.timestamp.isoformat()})

    async def on_trade(t) -> None:
        keep({"kind": "trade", "symbol": t.symbol, "id": t.id, "price": t.price, "size": t.size,
              "timestamp": t.timestamp.isoformat()})

    async def on_bar(b) -> None:
        keep({"kind": "bar", "symbol": b.symbol, "open": b.open, "high": b.high, "low": b.low,
              "close": b.close, "volume": b.volume, "timestamp": b.timestamp.isoformat(),
              "trade_count": b.trade_count, "vwap": b.vwap})

    async def on_correction(c) -> None:
        keep({"kind": "correction", "symbol": c.symbol, "original_id": c.original_id,
              "original_price": c.original_price, "corrected_id": c.corrected_id,
              "corrected_price": c.corrected_price})

    async def on_cancel(c) -> None:
        keep({"kind": "cancel", "symbol": c.symbol, "id": c.id, "price": c.price,
              "size": c.size, "action": c.action})

    if kind == "stock":
        stream = StockDataStream("evlab-key", "evlab-secret", url_override=url)
        stream.subscribe_quotes(on_quote, "AMD")
        stream.subscribe_trades(on_trade, "AAPL", "EEM", "IBM")
        stream.register_trade_corrections(on_correction)
        stream.register_trade_cancels(on_cancel)
    elif kind == "crypto":
        stream = CryptoDataStream("evlab-key", "evlab-secret", url_override=url)
        stream.subscribe_bars(on_bar, "BTC/USD")
        stream.subscribe_trades(on_trade, "AVAX/USD")
    else:  # bars of one symbol: all a feed server of bars serves
        stream = CryptoDataStream("evlab-key", "evlab-secret", url_override=url)
        stream.subscribe_bars(on_bar, symbol)
    task = asyncio.create_task(stream._run_forever())  # what stream.run() runs, on our loop
    await asyncio.wait_for(done.wait(), 30)
    await stream.stop_ws()
    await asyncio.wait_for(task, 30)
    print(json.dumps(got[:n]))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), (sys.argv[4:] or [""])[0]))
