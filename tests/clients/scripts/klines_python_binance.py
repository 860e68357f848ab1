"""python-binance's BinanceSocketManager.kline_socket against the feed server's /ws/ path."""

import asyncio
import json
import sys

from binance import AsyncClient, BinanceSocketManager


async def main(url: str, symbol: str, n: int) -> None:
    client = AsyncClient()  # no create(): that would ping Binance's REST API first
    manager = BinanceSocketManager(client)
    manager.STREAM_URL = url.rstrip("/") + "/"  # the library's own base URL, overridden
    bars = []
    async with manager.kline_socket(symbol) as stream:
        while len(bars) < n:
            msg = await asyncio.wait_for(stream.recv(), 30)
            if msg.get("e") == "error":
                raise SystemExit(f"python-binance reported an error: {msg}")
            k = msg["k"]
            bars.append({key: k[key] for key in ("s", "t", "o", "h", "l", "c", "v", "x")})
    await client.close_connection()
    print(json.dumps(bars))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
