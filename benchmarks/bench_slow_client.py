"""A client that subscribes to the live feed server and never reads: the server's RSS over 30 s.

The server (``FeedServer``, live mode, looping over the shipped 1-second bars as fast as
``rate`` allows) runs in a child process; this process opens a raw socket, sends the WebSocket
handshake and one subscribe message, reads the acknowledgement, and then nothing more. Every
few seconds it prints the server's RSS, the most frames that ever waited for one client
(``queue_peak``, bounded by ``client_queue``) and whether the client was cut off
(``clients_dropped``). Before the bound the server grew by about 54 MiB/s here.

    python -m benchmarks.bench_slow_client [--quick] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import socket
import time
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.common import machine, rss_mib


def _serve(conn: Connection, rate: float, client_queue: int) -> None:
    """The child: a live feed server; answers "stats" with its counters until "stop"."""
    from evlab.feeds.server import FeedServer

    async def main() -> None:
        server = FeedServer("btcusd_1s", exchange="binance", mode="live", rate=rate, loop=True,
                            client_queue=client_queue)
        await server.start()
        conn.send((server.port, server.subscribe_messages()[0]))
        loop = asyncio.get_running_loop()
        while (request := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert request == "stats"
            conn.send({"clients": server.clients, "dropped": server.clients_dropped,
                       "queue_peak": server.queue_peak, "bars_sent": server.bars_sent})
        await server.stop()

    asyncio.run(main())


def _subscribe_and_never_read(port: int, text: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    sock.sendall(bytes((0x81, 0x80 | len(payload))) + mask
                 + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    got = b""
    while b'"result"' not in got:  # binance's acknowledgement; nothing is read after it
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed before acknowledging")
        got += chunk
    return sock


def run(seconds: float = 30.0, every: float = 5.0, rate: float = 50_000,
        client_queue: int = 10_000, show: bool = True) -> dict[str, Any]:
    """Serve, subscribe without reading for ``seconds``; returns the rows printed."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, rate, client_queue), daemon=True)
    proc.start()
    rows: list[dict[str, Any]] = []
    try:
        port, text = parent.recv()
        sock = _subscribe_and_never_read(port, text)
        assert proc.pid is not None  # started above
        start = time.perf_counter()
        try:
            while (elapsed := time.perf_counter() - start) < seconds:
                time.sleep(min(every, max(0.0, seconds - elapsed)))  # the benchmark's clock
                parent.send("stats")
                rows.append({"t": time.perf_counter() - start, "rss": rss_mib(proc.pid),
                             **parent.recv()})
        finally:
            sock.close()
        parent.send("stop")
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.kill()
    if show:
        print(f"\na live client that never reads, {seconds:g} s, server at {rate:,.0f} bars/s, "
              f"client_queue={client_queue:,}\n{machine()}")
        for r in rows:
            print(f"  {r['t']:6.1f} s  server RSS {r['rss']:8.1f} MiB  queue peak "
                  f"{r['queue_peak']:>7,}  bars sent {r['bars_sent']:>9,}  "
                  f"clients {r['clients']}  dropped {r['dropped']}")
    return {"rows": rows, "client_queue": client_queue}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half a second, a small queue")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.quick:
        run(seconds=0.5, every=0.1, client_queue=100)
    else:
        run(seconds=args.seconds)


if __name__ == "__main__":
    main()
