"""python-kraken-sdk's SpotWSClient (WebSocket v2) on a served recording: ohlc and trade."""

import asyncio
import json
import sys

from kraken.spot import SpotWSClient


async def main(url: str, n: int) -> None:
    got: asyncio.Queue = asyncio.Queue()

    async def on_message(message: dict) -> None:
        got.put_nowait(message)

    client = SpotWSClient(callback=on_message, ws_url=url.rstrip("/"))  # it appends /v2
    await client.start()
    await client.subscribe(params={"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 1})
    await client.subscribe(params={"channel": "trade", "symbol": ["MATIC/USD"]})
    data, others = [], []
    while len(data) < n:
        message = await asyncio.wait_for(got.get(), 30)
        if message.get("channel") in ("ohlc", "trade"):
            data.append(message)
        else:
            others.append(message)
    await client.close()
    print(json.dumps({"data": data[:n], "others": others}))


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
