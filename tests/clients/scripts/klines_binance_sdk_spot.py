"""Binance's official binance-sdk-spot: websocket_streams.kline (it connects to /stream)."""

import asyncio
import json
import sys

from binance_common.configuration import ConfigurationWebSocketStreams
from binance_sdk_spot.spot import Spot


async def main(url: str, symbol: str, n: int) -> None:
    client = Spot(config_ws_streams=ConfigurationWebSocketStreams(stream_url=url.rstrip("/")))
    connection = await client.websocket_streams.create_connection()
    got: asyncio.Queue = asyncio.Queue()
    stream = await connection.kline(symbol=symbol.lower(), interval="1m")
    stream.on("message", got.put_nowait)
    bars = []
    while len(bars) < n:
        k = (await asyncio.wait_for(got.get(), 30)).k  # the SDK's pydantic model
        bars.append({"s": k.s, "t": k.t, "o": k.o, "h": k.h, "l": k.l, "c": k.c, "v": k.v,
                     "x": k.x})
    await connection.close_connection(close_session=True)
    print(json.dumps(bars))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
