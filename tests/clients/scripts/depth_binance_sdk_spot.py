"""Binance's official binance-sdk-spot: websocket_streams.diff_book_depth and agg_trade on one
connection (it connects to /stream and subscribes by message), the first N of each."""

import asyncio
import json
import sys

from binance_common.configuration import ConfigurationWebSocketStreams
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_streams.models.enums import DiffBookDepthUpdateSpeedEnum


async def main(url: str, symbol: str, n: int) -> None:
    client = Spot(config_ws_streams=ConfigurationWebSocketStreams(stream_url=url.rstrip("/")))
    connection = await client.websocket_streams.create_connection()
    diffs: asyncio.Queue = asyncio.Queue()
    trades: asyncio.Queue = asyncio.Queue()
    depth = await connection.diff_book_depth(
        symbol=symbol.lower(), update_speed=DiffBookDepthUpdateSpeedEnum.UPDATE_SPEED_100ms)
    depth.on("message", diffs.put_nowait)
    agg = await connection.agg_trade(symbol=symbol.lower())
    agg.on("message", trades.put_nowait)
    out: dict[str, list] = {"diffs": [], "trades": []}
    while len(out["diffs"]) < n:
        d = await asyncio.wait_for(diffs.get(), 30)  # the SDK's pydantic models
        out["diffs"].append({"e": d.e, "E": d.E, "s": d.s, "U": d.U, "u": d.u, "b": d.b,
                             "a": d.a})
    t = await asyncio.wait_for(trades.get(), 30)
    out["trades"].append({"a": t.a, "p": t.p, "q": t.q, "T": t.T, "m": t.m, "s": t.s})
    await connection.close_connection(close_session=True)
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
