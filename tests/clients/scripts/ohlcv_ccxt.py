"""ccxt (ccxt.pro) watch_ohlcv: load_markets over the server's REST, then the kline stream."""

import asyncio
import json
import sys

import ccxt.pro as ccxtpro


async def main(exchange: str, url: str, symbol: str, n: int) -> None:
    base = url.rstrip("/")
    client = getattr(ccxtpro, exchange)({"options": {"fetchMarkets": ["spot"]}})
    if exchange == "binance":  # ccxt's own URL table, overridden: REST and socket, one port
        client.urls["api"]["public"] = base.replace("ws://", "http://", 1) + "/api/v3"
        client.urls["api"]["ws"]["spot"] = base + "/ws"
    elif exchange == "kraken":
        client.urls["api"]["public"] = base.replace("ws://", "http://", 1)
        client.urls["api"]["ws"]["publicV2"] = base + "/v2"
    elif exchange == "alpaca":  # its markets come from the trading API, which wants a key
        client.apiKey, client.secret = "evlab-key", "evlab-secret"
        client.urls["api"]["trader"] = base.replace("ws://", "http://", 1)
        client.urls["api"]["ws"]["crypto"] = base
    else:
        raise SystemExit(f"no URL override written for {exchange}")
    bars: list[list] = []
    try:
        while len(bars) < n:
            for candle in await asyncio.wait_for(client.watch_ohlcv(symbol, "1m"), 30):
                if not bars or candle[0] > bars[-1][0]:  # ccxt keeps a rolling cache
                    bars.append(candle)
    finally:
        await client.close()
    print(json.dumps({"bars": bars[:n], "market": client.market(symbol)["id"]}))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
