"""python-kraken-sdk's SpotWSClient (WebSocket v2): subscribe to ohlc."""

import asyncio
import json
import sys

from kraken.spot import SpotWSClient


async def main(url: str, symbol: str, n: int) -> None:
    got: asyncio.Queue = asyncio.Queue()

    async def on_message(message: dict) -> None:
        got.put_nowait(message)

    client = SpotWSClient(callback=on_message, ws_url=url.rstrip("/"))  # it appends /v2
    await client.start()
    await client.subscribe(params={"channel": "ohlc", "symbol": [symbol], "interval": 1})
    bars, others = [], []
    while len(bars) < n:
        message = await asyncio.wait_for(got.get(), 30)
        if message.get("channel") == "ohlc":
            bars.extend(message["data"])
        else:
            others.append(message)
    await client.close()
    print(json.dumps({"bars": bars[:n], "others": others}))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
