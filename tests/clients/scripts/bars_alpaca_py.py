"""alpaca-py's CryptoDataStream (it asks for MessagePack): subscribe_bars on one symbol."""

import asyncio
import json
import sys

from alpaca.data.live.crypto import CryptoDataStream


async def main(url: str, symbol: str, n: int) -> None:
    bars: list[dict] = []
    done = asyncio.Event()
    stream = CryptoDataStream("evlab-key", "evlab-secret", url_override=url)

    async def on_bar(bar) -> None:  # alpaca-py's Bar model
        bars.append({"symbol": bar.symbol, "open": bar.open, "high": bar.high, "low": bar.low,
                     "close": bar.close, "volume": bar.volume,
                     "timestamp": bar.timestamp.isoformat(), "trade_count": bar.trade_count,
                     "vwap": bar.vwap})
        if len(bars) >= n:
            done.set()

    stream.subscribe_bars(on_bar, symbol)
    task = asyncio.create_task(stream._run_forever())  # what stream.run() runs, on our loop
    await asyncio.wait_for(done.wait(), 30)
    await stream.stop_ws()
    await asyncio.wait_for(task, 30)
    print(json.dumps(bars[:n]))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
