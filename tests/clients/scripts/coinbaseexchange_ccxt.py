"""ccxt (ccxt.pro) coinbaseexchange watch_order_book or watch_trades against a served capture,
to the end of the session (the server closes after its last message): the final book, or
every trade it parsed, and the markets it loaded over REST."""

import asyncio
import base64
import json
import sys

import ccxt.pro as ccxtpro


async def main(url: str, what: str, symbol: str) -> None:
    base = url.rstrip("/")
    # watch_order_book signs its subscribe (ccxt's authenticate), so it wants credentials;
    # the local server checks none
    client = ccxtpro.coinbaseexchange({
        "apiKey": "evlab-key", "password": "evlab-passphrase",
        "secret": base64.b64encode(b"evlab-secret").decode()})
    client.urls["api"]["public"] = base.replace("ws://", "http://", 1)  # /products, /currencies
    client.urls["api"]["ws"] = base
    ended = asyncio.Event()
    on_close = client.on_close  # ccxt's hook for a connection the server closed

    def closed(ws_client, error):
        on_close(ws_client, error)
        ended.set()

    client.on_close = closed  # read when the connection is made (ccxt's Exchange.client)
    try:
        # the first update subscribes; ccxt then applies every message as it comes, and
        # watching again after the server's close would reconnect (a new replay): wait for it
        if what == "book":
            await asyncio.wait_for(client.watch_order_book(symbol), 30)
        else:
            await asyncio.wait_for(client.watch_trades(symbol), 30)
        await asyncio.wait_for(ended.wait(), 60)
    finally:
        await client.close()
    out = {"market": client.market(symbol)["id"], "markets": sorted(client.markets)}
    if what == "book":
        book = client.orderbooks[symbol]
        out.update(bids=book["bids"], asks=book["asks"], timestamp=book["timestamp"])
    else:
        out["trades"] = [{k: t[k] for k in ("id", "timestamp", "price", "amount", "side",
                                            "symbol")} for t in client.trades[symbol]]
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
