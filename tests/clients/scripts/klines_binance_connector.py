"""binance-connector's SpotWebsocketStreamClient(is_combined=True): /stream, SUBSCRIBE."""

import json
import sys
import threading

from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

url, symbol, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
bars: list[dict] = []
done = threading.Event()


def on_message(_client: object, message: str) -> None:
    msg = json.loads(message)
    if "data" not in msg:  # the subscription's {"result": null, "id": ...}
        return
    k = msg["data"]["k"]
    bars.append({key: k[key] for key in ("s", "t", "o", "h", "l", "c", "v", "x")})
    if len(bars) >= n:
        done.set()


client = SpotWebsocketStreamClient(stream_url=url.rstrip("/"), on_message=on_message,
                                   is_combined=True)
client.kline(symbol=symbol, interval="1m")
ok = done.wait(30)
client.stop()
if not ok:
    raise SystemExit(f"binance-connector: {len(bars)} of {n} bars in 30 s")
print(json.dumps(bars[:n]))
