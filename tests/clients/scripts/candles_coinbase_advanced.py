"""coinbase-advanced-py's WSClient: heartbeats (as Coinbase recommends), then candles."""

import json
import sys
import threading

from coinbase.websocket import WSClient

url, product, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
candles: list[dict] = []
others: list[dict] = []
done = threading.Event()


def on_message(message: str) -> None:
    msg = json.loads(message)
    if msg.get("channel") != "candles":
        others.append(msg)
        return
    for event in msg["events"]:
        candles.extend(event["candles"])
    if len(candles) >= n:
        done.set()


client = WSClient(on_message=on_message, base_url=url.rstrip("/"), retry=False)
client.open()
client.heartbeats()
client.candles(product_ids=[product])
ok = done.wait(30)
client.close()
if not ok:
    raise SystemExit(f"coinbase-advanced-py: {len(candles)} of {n} candles in 30 s: {others}")
print(json.dumps({"candles": candles[:n], "others": others}))
