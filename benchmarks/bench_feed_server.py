"""Feed server throughput: messages/s that evlab's FeedServer sends to one client, in one run
with two bare ``websockets`` servers sending the same bars: the same pre-encoded text, and a
dict built and ``json.dumps``-ed per message (the reference quoted in the issue).

Every server runs in one child process and the client (this process) only counts frames, from
its subscribe message to the n-th bar. Real BTC/USD 1-second bars, tiled to ``n`` rows.

    python -m benchmarks.bench_feed_server            # full run
    python -m benchmarks.bench_feed_server --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import numpy as np
import pandas as pd
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from benchmarks.common import print_table
from evlab import datasets
from evlab.feeds.adapters import get_adapter
from evlab.feeds.server import FeedServer

FORMATS = ("coinbase", "binance")
EVLAB = "evlab FeedServer"
BARE_PRE = "bare websockets, same frames"
BARE_JSON = "bare websockets, json per message"
CONTENDERS = (EVLAB, BARE_PRE, BARE_JSON)
SYMBOLS = {"coinbase": "BTC-USD", "binance": "BTCUSDT"}


def make_bars(n: int) -> pd.DataFrame:
    """``n`` one-second bars: the shipped ``btcusd_1s`` values, repeated, one second apart."""
    real = datasets.load("btcusd_1s")
    idx = np.arange(n) % len(real)
    cols = ["open", "high", "low", "close", "volume"]
    frame = pd.DataFrame(real[cols].to_numpy()[idx], columns=cols,
                         index=pd.date_range("2024-01-01", periods=n, freq="1s", tz="UTC",
                                             name="time").as_unit("ns"))
    frame["symbol"] = "BTC-USD"
    return frame


def _text(message: bytes | str) -> str:
    """An encoded message as text (adapters encode to bytes or str)."""
    return message if isinstance(message, str) else bytes(message).decode()


def _json_messages(fmt: str, bars: pd.DataFrame) -> Callable[[], Any]:
    """A generator factory of the bars as dicts built per message, json-encoded (the reference)."""
    times = (cast(pd.DatetimeIndex, bars.index).asi8 // 1_000_000_000).tolist()
    rows = bars[["open", "high", "low", "close", "volume"]].to_numpy().tolist()
    sym = SYMBOLS[fmt]

    def coinbase() -> Any:
        for seq, (t, (o, h, lo, c, v)) in enumerate(zip(times, rows, strict=True)):
            yield json.dumps({
                "channel": "candles", "client_id": "",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + 1)),
                "sequence_num": seq, "events": [{"type": "update", "candles": [{
                    "start": str(t), "high": repr(h), "low": repr(lo), "open": repr(o),
                    "close": repr(c), "volume": repr(v), "product_id": sym}]}]})

    def binance() -> Any:
        for t, (o, h, lo, c, v) in zip(times, rows, strict=True):
            ms = t * 1000
            yield json.dumps({"e": "kline", "E": ms + 1000, "s": sym, "k": {
                "t": ms, "T": ms + 999, "s": sym, "i": "1s", "f": 0, "L": 0, "o": repr(o),
                "c": repr(c), "h": repr(h), "l": repr(lo), "v": repr(v), "n": 0, "x": True,
                "q": "0", "V": "0", "Q": "0", "B": "0"}})

    return coinbase if fmt == "coinbase" else binance


def _bare(messages: Callable[[], Any]) -> Callable[[ServerConnection], Awaitable[None]]:
    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()  # the subscribe message
            for text in messages():
                await ws.send(text)
        except ConnectionClosed:
            pass
    return handler


async def _serve_all(n: int, conn: Any) -> None:
    bars = make_bars(n)
    ports: dict[tuple[str, str], int] = {}
    running: list[Any] = []
    for fmt in FORMATS:
        server = await FeedServer(bars, exchange=fmt).start()
        running.append(server)
        ports[fmt, EVLAB] = server.port
        adapter = get_adapter(fmt, **server.adapter_options)
        rows = bars[["open", "high", "low", "close", "volume"]].to_numpy().tolist()
        times = cast(pd.DatetimeIndex, bars.index).asi8.tolist()
        same = [_text(adapter.encode_bar(SYMBOLS[fmt], t, *r, interval_s=1))
                for t, r in zip(times, rows, strict=True)]
        for name, messages in ((BARE_PRE, lambda same=same: iter(same)),
                               (BARE_JSON, _json_messages(fmt, bars))):
            bare = await serve(_bare(messages), "127.0.0.1", 0, compression=None,
                               ping_interval=None)
            running.append(bare)
            ports[fmt, name] = bare.sockets[0].getsockname()[1]
    conn.send(ports)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
    for server in running:
        if isinstance(server, FeedServer):
            await server.stop()
        else:
            server.close()
            await server.wait_closed()


def _server_process(n: int, conn: Any) -> None:
    asyncio.run(_serve_all(n, conn))


async def _receive(port: int, subscribe: str, frames: int) -> float:
    """Seconds from sending ``subscribe`` to receiving the ``frames``-th frame."""
    async with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None,
                       ping_interval=None) as ws:
        t0 = time.perf_counter()
        await ws.send(subscribe)
        for _ in range(frames):
            await ws.recv()
        return time.perf_counter() - t0


async def _measure(ports: dict[tuple[str, str], int], n: int,
                   repeat: int) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for fmt in FORMATS:
        adapter = get_adapter(fmt, candle_interval_s=1) if fmt == "coinbase" else get_adapter(fmt)
        subscribe = adapter.subscribe_messages([SYMBOLS[fmt]], interval_s=1)[0]
        rates: dict[str, float] = {}
        for name in CONTENDERS:
            frames = n + 1 if name == EVLAB else n  # evlab acknowledges the subscription first
            best = min([await _receive(ports[fmt, name], subscribe, frames)
                        for _ in range(repeat)])
            rates[name] = n / best
        table[fmt] = rates
    return table


def run(n: int = 200_000, repeat: int = 3, *, show: bool = True) -> dict[str, dict[str, float]]:
    """Messages/s to one client per format and contender (best of ``repeat``); print a table."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_server_process, args=(n, child), daemon=True)
    proc.start()
    try:
        while not parent.poll(0.1):
            if not proc.is_alive():
                raise RuntimeError(f"the benchmark servers failed (exit code {proc.exitcode})")
        ports = parent.recv()
        table = asyncio.run(_measure(ports, n, repeat))
    finally:
        parent.send("stop")
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    if show:
        for fmt, rates in table.items():
            base = rates[BARE_JSON]
            rows = [(name, rate, f"{rate / base:5.2f}x json reference")
                    for name, rate in rates.items()]
            print_table(f"{fmt} bars to one client, {n:,} messages (messages/s)", rows)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat")
    parser.add_argument("-n", type=int, default=200_000, help="messages per run")
    args = parser.parse_args()
    if args.quick:
        run(n=300, repeat=1)
    else:
        run(n=args.n)


if __name__ == "__main__":
    main()
