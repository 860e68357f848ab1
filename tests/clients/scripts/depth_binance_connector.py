"""binance-connector (is_combined=True) diff_book_depth against a served capture."""

import json
import sys
import threading

from binance.websocket.spot.websocket_stream import SpotWebsocketStreamClient

url, symbol, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
envelopes: list[dict] = []
done = threading.Event()


def on_message(_client: object, message: str) -> None:
    msg = json.loads(message)
    if "stream" in msg:  # not the subscription's {"result": null, "id": ...}
        envelopes.append(msg)
        if len(envelopes) >= n:
            done.set()


client = SpotWebsocketStreamClient(stream_url=url.rstrip("/"), on_message=on_message,
                                   is_combined=True)
client.diff_book_depth(symbol=symbol, speed=100)
ok = done.wait(30)
client.stop()
if not ok:
    raise SystemExit(f"binance-connector: {len(envelopes)} of {n} diffs in 30 s")
print(json.dumps(envelopes[:n]))
