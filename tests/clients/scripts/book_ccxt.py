"""ccxt (ccxt.pro) binance watch_order_book and watch_trades against a served capture."""

import asyncio
import json
import sys

import ccxt.pro as ccxtpro


async def main(url: str, symbol: str, updates: int) -> None:
    base = url.rstrip("/")
    client = ccxtpro.binance({"options": {"fetchMarkets": ["spot"]}})
    client.urls["api"]["public"] = base.replace("ws://", "http://", 1) + "/api/v3"
    client.urls["api"]["ws"]["spot"] = base + "/ws"
    try:
        book = await asyncio.wait_for(client.watch_order_book(symbol), 30)
        for _ in range(updates):
            book = await asyncio.wait_for(client.watch_order_book(symbol), 30)
        out = {"nonce": book["nonce"], "bids": book["bids"], "asks": book["asks"]}
    finally:
        await client.close()
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
