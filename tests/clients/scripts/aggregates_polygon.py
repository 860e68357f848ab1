"""polygon-api-client's WebSocketClient: auth, then AM (per-minute aggregates) of one symbol."""

import asyncio
import json
import sys

from polygon import WebSocketClient
from polygon.websocket.models import EquityAgg


async def main(url: str, symbol: str, n: int) -> None:
    bars: list[dict] = []
    done = asyncio.Event()
    host = url.split("://", 1)[1].rstrip("/")  # the client builds ws://<feed>/<market>
    client = WebSocketClient(api_key="evlab-local", feed=host, market="stocks", secure=False,
                             subscriptions=[f"AM.{symbol}"], max_reconnects=0)

    async def handle(messages: list) -> None:
        for m in messages:
            if isinstance(m, EquityAgg):
                bars.append({"symbol": m.symbol, "open": m.open, "high": m.high, "low": m.low,
                             "close": m.close, "volume": m.volume, "start": m.start_timestamp})
        if len(bars) >= n:
            done.set()

    task = asyncio.create_task(client.connect(handle))
    await asyncio.wait_for(done.wait(), 30)
    await client.close()  # from outside the handler: the client's read loop must be free
    await asyncio.wait_for(task, 30)
    print(json.dumps(bars[:n]))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
