"""python-binance against a served capture: the REST depth snapshot, then the diff stream."""

import asyncio
import json
import sys

from binance import AsyncClient, BinanceSocketManager


async def main(url: str, http_url: str, symbol: str, n: int) -> None:
    client = AsyncClient()  # no create(): that would ping Binance's REST API first
    client.API_URL = http_url.rstrip("/") + "/api"  # the library's own base URLs, overridden
    manager = BinanceSocketManager(client)
    manager.STREAM_URL = url.rstrip("/") + "/"
    snapshot = await client.get_order_book(symbol=symbol, limit=1000)
    diffs = []
    async with manager.depth_socket(symbol, interval=100) as stream:
        while len(diffs) < n:
            msg = await asyncio.wait_for(stream.recv(), 30)
            if msg.get("e") == "error":
                raise SystemExit(f"python-binance reported an error: {msg}")
            diffs.append(msg)
    await client.close_connection()
    print(json.dumps({"snapshot": snapshot, "diffs": diffs}))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
