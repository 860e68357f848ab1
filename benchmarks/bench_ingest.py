"""End-to-end ingest: messages/s from the local feed server through WebSocketEmitter ->
WebSocketHandler -> a strategy's on_bar, against a bare websockets client that only parses
the same stream with orjson, in one run.

The server runs in a child process (``evlab serve --loop``, as fast as the client reads),
so it does not share this process's GIL; each client reads the same number of bars. On a
loaded machine the bare client is bound by the server's pace, so the client's own CPU time
per message (``time.process_time``, this process only) is printed too: it is what the
pipeline costs, whatever the server and the other processes do.

    python -m benchmarks.bench_ingest            # full run
    python -m benchmarks.bench_ingest --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from websockets.asyncio.client import connect

from benchmarks.common import print_table
from evlab import EventBus, EventType
from evlab.feeds.adapters import get_adapter
from evlab.feeds.emitter import WebSocketEmitter
from evlab.feeds.handler import WebSocketHandler


@contextmanager
def feed_server(exchange: str) -> Iterator[str]:
    """A looping `evlab serve` in a child process; yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "evlab.cli", "serve", "--port", "0",
                             "--exchange", exchange, "--loop"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = next(word for word in line.split() if word.startswith("ws://"))
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def subscriptions(exchange: str, symbol: str) -> list[str]:
    return get_adapter(exchange).subscribe_messages([symbol], ("bars",))


def cpu_us(client: Coroutine[Any, Any, float], n: int) -> tuple[float, float]:
    """``client``'s result (wall seconds) and this process's CPU microseconds per message."""
    t0 = time.process_time()
    wall = asyncio.run(client)
    return wall, (time.process_time() - t0) / n * 1e6


async def bare_client(url: str, subs: list[str], n: int) -> float:
    """Seconds for a plain websockets loop to receive and orjson-parse n bar messages."""
    async with connect(url, compression=None, max_size=2**20) as ws:
        for text in subs:
            await ws.send(text)
        seen = 0
        t0 = 0.0
        async for message in ws:  # the subscription's ack counts as one of n: noise at 100k
            orjson.loads(message)
            if seen == 0:
                t0 = time.perf_counter()
            seen += 1
            if seen > n:
                return time.perf_counter() - t0
    raise RuntimeError("stream ended early")


async def evlab_client(url: str, exchange: str, symbol: str, n: int) -> float:
    """Seconds for n bars to reach a strategy's on_bar through emitter -> handler -> bus."""
    bus = EventBus()
    done = asyncio.Event()
    marks: list[float] = []

    class Strategy:
        count = 0

        def on_bar(self, bar: Any) -> None:
            if self.count == 0:
                marks.append(time.perf_counter())
            self.count += 1
            if self.count > n:
                marks.append(time.perf_counter())
                done.set()

    strategy = Strategy()
    bus.register(EventType.BAR, strategy.on_bar)
    adapter = get_adapter(exchange, **({"candle_interval_s": 60} if exchange == "coinbase" else {}))
    handler = WebSocketHandler("bench", adapter=adapter, detect_gaps=False)
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    emitter = WebSocketEmitter("bench", url, event_bus=bus, adapter=adapter,
                               subscriptions=subscriptions(exchange, symbol),
                               connect_options={"compression": None})
    await emitter.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        await emitter.stop()
    return marks[1] - marks[0]


def run(n: int = 100_000, repeat: int = 3, *, exchanges: tuple[str, ...] = ("binance",
        "coinbase"), show: bool = True) -> dict[str, dict[str, float]]:
    """Messages/s for each exchange format: the bare parse loop and evlab's full path."""
    symbols = {"binance": "BTCUSDT", "coinbase": "BTC-USD"}
    table: dict[str, dict[str, float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    for exchange in exchanges:
        with feed_server(exchange) as url:
            symbol = symbols[exchange]
            bares, ours = [], []
            for _ in range(repeat):  # alternated, so both meet the same load
                bares.append(cpu_us(bare_client(url, subscriptions(exchange, symbol), n), n))
                ours.append(cpu_us(evlab_client(url, exchange, symbol, n), n))
        table[exchange] = {"bare websockets + orjson.loads": n / min(w for w, _ in bares),
                           "evlab emitter -> handler -> on_bar": n / min(w for w, _ in ours)}
        cpu[exchange] = {"bare websockets + orjson.loads": min(c for _, c in bares),
                         "evlab emitter -> handler -> on_bar": min(c for _, c in ours)}
    if show:
        for exchange, rates in table.items():
            base = rates["bare websockets + orjson.loads"]
            costs = cpu[exchange]
            base_cpu = costs["bare websockets + orjson.loads"]
            print_table(f"{exchange} bars, local feed server -> client, {n:,} messages "
                        "(messages/s; the client's CPU per message)",
                        [(name, rate, f"{rate / base:5.2f}x bare   {costs[name]:6.2f} us CPU "
                          f"({base_cpu / costs[name]:4.2f}x bare)")
                         for name, rate in rates.items()])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one repeat")
    parser.add_argument("-n", type=int, default=100_000, help="messages per run")
    args = parser.parse_args()
    if args.quick:
        run(n=200, repeat=1)
    else:
        run(n=args.n)


if __name__ == "__main__":
    main()
