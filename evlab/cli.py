"""The ``evlab`` command line: ``evlab serve`` runs the local feed server, ``evlab datasets``
lists the shipped data. Also ``python -m evlab.cli ...``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a command runs: ``evlab --help`` stays quick
    from evlab.feeds.server import FeedServer

__all__ = ["main", "build_parser"]

# What --help shows (plain text: argparse prints it as written, so no reST markup here).
DESCRIPTION = """\
evlab: an event bus for event-driven trading research in Jupyter.

commands:
  evlab serve      stream a dataset's bars as an exchange's live WebSocket feed,
                   on 127.0.0.1, until Ctrl-C (evlab serve --help for its options)
  evlab datasets   list the shipped market data, its sources and licences

examples:
  evlab serve --dataset btcusd_1m --exchange binance --rate 50
  evlab serve --port 0 --mode live --speed 60     (any free port, a shared timeline)
  evlab serve --capture BINANCE.ws.1.0 --http BINANCE.http.0.0 --speed 10
  python -m evlab.cli datasets
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``evlab`` command (its sub-commands and their options)."""
    from evlab import __version__
    from evlab.feeds.adapters import ADAPTERS

    parser = argparse.ArgumentParser(prog="evlab", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"evlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="stream a dataset's bars as an exchange's WebSocket feed",
        description="Stream a dataset's bars as live WebSocket messages in an exchange's "
                    "format, until Ctrl-C. Clients subscribe with the exchange's own message.")
    serve.add_argument("--dataset", default="btcusd_1m",
                       help="a shipped dataset name or a CSV/Parquet path (default: btcusd_1m)")
    serve.add_argument("--exchange", choices=ADAPTERS,
                       help="message format (default: coinbase; with --capture, the capture's)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765,
                       help="port to bind; 0 picks a free one (default: 8765)")
    pace = serve.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="bars per second")
    pace.add_argument("--speed", type=float,
                      help="pace by the bars' own times, this many times faster than real time")
    serve.add_argument("--loop", action="store_true",
                       help="start again at the end (times shifted so they keep increasing)")
    serve.add_argument("--mode", choices=("replay", "live"), default="replay",
                       help="replay: each subscription from the first bar; live: one shared "
                            "timeline (default: replay)")
    serve.add_argument("--symbol", help="serve only this dataset symbol")
    serve.add_argument("--limit", type=int, help="serve only the first N bars")
    serve.add_argument("--symbol-map", action="append", default=[], metavar="DATASET=WIRE",
                       help="exchange symbol for a dataset symbol (repeatable)")
    serve.add_argument("--capture", metavar="WS_PATH",
                       help="serve a captured session instead of bars: a cryptofeed capture "
                            "file or an evlab recording (its messages verbatim, at the recorded "
                            "pace times --speed; REST answered on the same port)")
    serve.add_argument("--http", metavar="HTTP_PATH",
                       help="with --capture: the capture's REST responses (cryptofeed .http file)")
    serve.add_argument("-v", "--verbose", action="store_true", help="log connections")
    serve.set_defaults(func=_serve)

    data = sub.add_parser("datasets", help="list the shipped datasets")
    data.set_defaults(func=_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``evlab`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(parser, args))


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from evlab.feeds.server import FeedServer

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mapping = {}
    for item in args.symbol_map:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            parser.error(f"--symbol-map expects DATASET=WIRE, got {item!r}")
        mapping[key] = value
    if args.capture is not None:
        return _serve_capture(args)
    if args.http is not None:
        parser.error("--http goes with --capture")
    try:
        server = FeedServer(args.dataset, exchange=args.exchange or "coinbase", host=args.host,
                            port=args.port,
                            rate=args.rate, speed=args.speed, loop=args.loop, mode=args.mode,
                            symbol_map=mapping, limit=args.limit, symbol=args.symbol)
    except (ValueError, FileNotFoundError) as exc:
        print(f"evlab serve: {exc}", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run(server))
    except OSError as exc:  # the port or address cannot be bound: one line, with the fix
        print(f"evlab serve: {_bind_error(exc, args.host, args.port)}", file=sys.stderr)
        return 1
    return 0


def _serve_capture(args: argparse.Namespace) -> int:
    from evlab.feeds.capture_server import CaptureServer

    if args.rate is not None:
        print("evlab serve: --capture is paced by --speed (the recorded pace), not --rate",
              file=sys.stderr)
        return 2
    try:
        server = CaptureServer(args.capture, http=args.http, host=args.host, port=args.port,
                               speed=args.speed, exchange=args.exchange)
    except (ValueError, FileNotFoundError) as exc:
        print(f"evlab serve: {exc}", file=sys.stderr)
        return 2

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with server:
            print(f"evlab capture server listening on {server.url} (REST: {server.http_url})",
                  flush=True)
            print(f"  {server!r}", flush=True)
            print("  Ctrl-C to stop", flush=True)
            await stop.wait()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    except OSError as exc:
        print(f"evlab serve: {_bind_error(exc, args.host, args.port)}", file=sys.stderr)
        return 1
    return 0


def _bind_error(exc: OSError, host: str, port: int) -> str:
    """What went wrong binding ``host:port``, and what to do about it."""
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} on {host} is already in use (another evlab serve?): stop it, "
                f"or pick another port with --port N (--port 0 picks a free one)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (f"not allowed to bind port {port} on {host} (ports below 1024 need root): "
                f"pick another with --port N (--port 0 picks a free one)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot bind {host}: not an address of this machine (try --host 127.0.0.1)"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


async def _run(server: FeedServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    async with server:
        pace = (f"{server.rate:g} bars/s" if server.rate else
                f"speed x{server.speed:g}" if server.speed else "as fast as the client reads")
        print(f"evlab feed server listening on {server.url}", flush=True)
        print(f"  {server.dataset}: {len(server.bars)} bars of {', '.join(server.symbols)} "
              f"({server.interval_s} s) as {server.exchange} messages, {server.mode} mode, "
              f"{pace}{', looping' if server.loop else ''}", flush=True)
        print(f"  subscribe with: {server.subscribe_messages()[0]}", flush=True)
        print("  Ctrl-C to stop", flush=True)
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if server.mode == "live" and not server.loop:
            waiters.append(asyncio.ensure_future(server.wait_finished()))
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if server.streams_finished and server.mode == "live":
            print("  the live timeline is over", flush=True)


def _datasets(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from evlab import datasets

    table = datasets.list_datasets()
    table = table.assign(symbols=[", ".join(s) for s in table["symbols"]])
    with contextlib.suppress(BrokenPipeError):
        print(table[["symbols", "frequency", "rows", "start", "end"]].to_string())
        for name, row in table.iterrows():
            about = str(row["description"]).rstrip(".")
            print(f"  {name}: {about}. Licence: {row['licence']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
