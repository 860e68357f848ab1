"""polygon-api-client's WebSocketClient: auth, then one subscribe of the topics given (trades,
quotes, minute aggregates), on a feed server or a served recording."""

import asyncio
import json
import sys

from polygon import WebSocketClient
from polygon.websocket.models import EquityAgg, EquityQuote, EquityTrade


async def main(url: str, topics: str, n: int) -> None:
    got: list[dict] = []
    done = asyncio.Event()
    host = url.split("://", 1)[1].rstrip("/")  # the client builds ws://<feed>/<market>
    client = WebSocketClient(api_key="evlab-local", feed=host, market="stocks", secure=False,
                             subscriptions=topics.split(","), max_reconnects=0)

    async def handle(messages: list) -> None:
        for m in messages:
            if isinstance(m, EquityTrade):
                got.append({"ev": "T", "symbol": m.symbol, "id": m.id, "price": m.price,
                            "size": m.size, "timestamp": m.timestamp})
            elif isinstance(m, EquityQuote):
                got.append({"ev": "Q", "symbol": m.symbol, "bid": m.bid_price,
                            "bid_size": m.bid_size, "ask": m.ask_price, "ask_size": m.ask_size,
                            "timestamp": m.timestamp})
            elif isinstance(m, EquityAgg):
                got.append({"ev": "AM", "symbol": m.symbol, "open": m.open, "high": m.high,
                            "low": m.low, "close": m.close, "volume": m.volume,
                            "start": m.start_timestamp})
        if len(got) >= n:
            done.set()

    task = asyncio.create_task(client.connect(handle))
    await asyncio.wait_for(done.wait(), 30)
    await client.close()  # from outside the handler: the client's read loop must be free
    await asyncio.wait_for(task, 30)
    print(json.dumps(got[:n]))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
