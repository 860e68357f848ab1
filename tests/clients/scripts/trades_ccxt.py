"""ccxt (ccxt.pro) binance watch_trades (aggTrade) against a served capture."""

import asyncio
import json
import sys

import ccxt.pro as ccxtpro


async def main(url: str, symbol: str) -> None:
    base = url.rstrip("/")
    client = ccxtpro.binance({"options": {"fetchMarkets": ["spot"]}})
    client.urls["api"]["public"] = base.replace("ws://", "http://", 1) + "/api/v3"
    client.urls["api"]["ws"]["spot"] = base + "/ws"
    try:
        trades = await asyncio.wait_for(client.watch_trades(symbol, params={"name": "aggTrade"}),
                                        30)
    finally:
        await client.close()
    print(json.dumps([{k: t[k] for k in ("id", "timestamp", "price", "amount", "side", "symbol")}
                      for t in trades]))


asyncio.run(main(sys.argv[1], sys.argv[2]))
