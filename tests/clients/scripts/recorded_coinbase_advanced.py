"""coinbase-advanced-py's WSClient on a served recording: heartbeats (as Coinbase
recommends), level2, market_trades and ticker, one subscribe message per channel, as it
sends them; every message it gets, until ``n`` data messages came."""

import contextlib
import json
import sys
import threading

from coinbase.websocket import WSClient, WSClientException

url, n = sys.argv[1], int(sys.argv[2])
data: list[dict] = []
others: list[dict] = []
done = threading.Event()


def on_message(message: str) -> None:
    msg = json.loads(message)
    if msg.get("channel") in ("subscriptions", "heartbeats"):
        others.append(msg)
        return
    data.append(msg)
    if len(data) >= n:
        done.set()


client = WSClient(on_message=on_message, base_url=url.rstrip("/"), retry=False)
client.open()
client.heartbeats()
client.level2(product_ids=["BTC-USD"])
client.market_trades(product_ids=["ETH-USD", "BTC-USD"])
client.ticker(product_ids=["BTC-USD"])
ok = done.wait(30)
with contextlib.suppress(WSClientException):  # closed already: the recording's end
    client.close()
if not ok:
    raise SystemExit(f"coinbase-advanced-py: {len(data)} of {n} messages in 30 s: {others}")
print(json.dumps({"data": data[:n], "others": others}))
