"""A captured (or recorded) session served again as the exchange served it, on 127.0.0.1.

    server = CaptureServer("BINANCE.ws.1.0", http="BINANCE.http.0.0", speed=10)
    async with server: ...          # or server.start_in_thread(); evlab serve --capture ...

The session is a ``Recording``: :func:`evlab.load_capture`'s, or one of a live evlab session
(its raw ``WebSocketEvent``s and the ``RestResponseEvent``s its emitter fetched). What is
served:

* **WebSocket**: each client gets its own replay of the captured messages of the streams it
  subscribed to (by message, or by URL path where the exchange has those), each payload
  verbatim, wrapped as the endpoint the client chose does it (the adapter's ``capture_frame``:
  Binance ``/stream`` envelopes ``{"stream": .., "data": ..}``, bare payloads on ``/ws``;
  Coinbase Advanced Trade's ``sequence_num`` counting the messages of that connection, as
  Coinbase numbers them), at the recorded pace divided by ``speed`` (None: as fast as the client
  reads), counted from the session's first message (served or not), so the first data comes as
  long after a subscription as it did. The replay starts at the first subscription of a held
  stream; the connection is closed normally (1000) after the last message. Which stream a
  message belongs to comes from the adapter (``capture_streams``: a frame batching several
  streams' data points, as Alpaca's and Polygon's arrays do, is served as one frame per stream);
  what a subscribe or unsubscribe asks for from the one subscribe parser the FeedServer uses too
  (``parse_subscribe``, streams matched by ``stream_key``), acked as the exchange acks
  (``subscribe_ack``: the request's streams, or every stream of the connection where the
  exchange lists them all, ``acks_all``). A connection is greeted as the exchange greets
  (``welcome``); its URL path and handshake headers choose the encoding (``path_subscribe``,
  ``header_options``: Alpaca MessagePack, re-encoded by ``capture_frame`` when the recording
  holds JSON, or the reverse); where the exchange wants an auth first (Alpaca, Polygon:
  ``authenticates``; Alpaca's key headers too, ``header_auth``), a subscribe before it gets the
  exchange's answer (``unauthenticated_frame``). A malformed subscribe, one naming a stream the
  session does not hold, or one before the auth gets the exchange's error frame and subscribes
  nothing (all or nothing), counted in ``requests_refused``; an unsubscribe stops those streams
  for that client. A wildcard (Alpaca ``"quotes": ["*"]``, Polygon ``T.*``: ``stream_wildcard``)
  stands for every held stream it covers. A ``heartbeats`` subscription (Coinbase Advanced
  Trade) to a session that recorded none is granted and sent the adapter's ``heartbeat`` once a
  second. Serving is implemented for Binance, Coinbase Exchange (``level2``, ``level2_batch``,
  ``matches``, ``ticker``; ``/products`` and ``/currencies`` made for the captured products)
  and, from recordings of live evlab sessions, Kraken v2 (``ohlc``, ``trade``, ``book``,
  ``ticker``), Alpaca (stocks and crypto), Polygon and Coinbase Advanced Trade (streams
  ``advanced:<channel>:<product id>``). ``client()`` gives the URL and the frames the exchange's
  clients send for some streams (the adapter's ``capture_client``).
* **REST**, on the same port (a plain HTTP request, answered in websockets' ``process_request``
  hook): a request is answered with a captured response to the same request (the adapter's
  ``rest_key``: Binance depth by symbol, whatever the ``limit``), the responses to one request
  in the order they were captured, the last one again once they run out; a market list the
  capture does not hold (Binance ``exchangeInfo``, which ccxt reads first) is made for the
  capture's symbols by the adapter (``capture_symbols``, ``rest_reply``); anything else gets
  404 with an HTTP error body (``rest_error``).

Sends await the socket (back-pressure): nothing queues without bound.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections import defaultdict
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from evlab.events import RestResponseEvent, WebSocketEvent
from evlab.feeds.adapters import ADAPTERS, AdapterError, ExchangeAdapter, get_adapter
from evlab.feeds.http import is_upgrade, json_response
from evlab.feeds.loop import BackgroundLoop
from evlab.recording import Recording, load_recording

__all__ = ["CaptureServer"]

log = logging.getLogger("evlab.feeds.server")

_NS = 1_000_000_000


class CaptureServer:
    """Serve ``capture`` (a Recording, a cryptofeed capture file or an evlab recording path)
    as its exchange served it (see the module doc). ``http``: the capture's REST file (with a
    capture path); ``exchange``: the protocol (default: the events' source, when it names an
    exchange); ``speed``: the recorded pace times this (None: unpaced)."""

    def __init__(self, capture: Recording | str | os.PathLike[str], *,
                 http: str | os.PathLike[str] | None = None, exchange: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, speed: float | None = None,
                 max_clients: int = 100) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        recording = capture if isinstance(capture, Recording) else _read(capture, http)
        events = [e for e in recording.to_events() if isinstance(e, WebSocketEvent)]
        if not events:
            raise ValueError("the session holds no raw WebSocket messages to serve")
        name = (exchange or events[0].source).lower()
        if name not in ADAPTERS:
            raise ValueError(f"the session's source is {events[0].source!r}, not an exchange: "
                             f"pass exchange= (one of {', '.join(ADAPTERS)})")
        self.exchange, self.host, self.speed, self.max_clients = name, host, speed, max_clients
        self.adapter: ExchangeAdapter = get_adapter(name)
        #: ``(time_ns, stream key, stream name, bare payload)`` of every message served.
        self.messages: list[tuple[int, str, str, str | bytes]] = []
        self._rest: dict[str, list[str | bytes]] = defaultdict(list)
        skipped = 0
        for e in events:
            if type(e) is RestResponseEvent:
                self._rest[self.adapter.rest_key(e.url)].append(e.payload)
                continue
            found = self.adapter.capture_streams(e.payload)
            if not found:
                skipped += 1
                continue
            t = int(e.time_ns or 0)
            self.messages.extend((t, *f) for f in found)
        if not self.messages:
            raise ValueError(f"{name}: none of the session's {len(events):,} messages is one "
                             f"this adapter serves (capture_streams)")
        #: When the session began (its first message, served or not): the recorded pace
        #: counts from there, so the first data comes as long after a subscription as it did.
        self._t0 = min(int(e.time_ns or 0) for e in events)
        self._ordered = list(dict.fromkeys(m[1] for m in self.messages))  # keys, first seen
        self._keys = frozenset(self._ordered)
        #: Control messages of the session (acks) that are not served.
        self.skipped = skipped
        self._answered: dict[str, int] = defaultdict(int)
        self.rest_served = 0
        self.rest_missed = 0
        #: Subscribe requests answered with an error (malformed, or naming a stream not held).
        self.requests_refused = 0
        self.messages_sent = 0
        self._port = port
        self._server: Server | None = None
        self._clients = 0
        self._ids = itertools.count(1)
        self.streams_finished = 0
        self._background: BackgroundLoop | None = None

    @property
    def url(self) -> str:
        """``ws://host:port`` (the port is known once started)."""
        return f"ws://{self.host}:{self._port}"

    @property
    def http_url(self) -> str:
        """``http://host:port``: where the REST requests go (the same port)."""
        return f"http://{self.host}:{self._port}"

    @property
    def stats(self) -> dict[str, int]:
        """What was served: clients connected now, messages sent, replays finished, REST
        requests answered and missed, subscribe requests refused."""
        return {"clients": self._clients, "messages_sent": self.messages_sent,
                "streams_finished": self.streams_finished, "rest_served": self.rest_served,
                "rest_missed": self.rest_missed, "requests_refused": self.requests_refused}

    @property
    def streams(self) -> list[str]:
        """The stream names the session holds, in the order they first appear."""
        return list(dict.fromkeys(m[2] for m in self.messages))

    def client(self, streams: Sequence[str] | None = None) -> tuple[str, list[str | bytes]]:
        """The URL a client connects to and the frames it sends to get ``streams`` (default:
        every stream of the session), as the exchange's clients do (the adapter's
        ``capture_client``: Binance's combined stream and a ``SUBSCRIBE``; Alpaca's and
        Polygon's auth, then their subscribe; Kraken's and Coinbase's subscribes)."""
        wanted = self.streams if streams is None else list(streams)
        unknown = [s for s in wanted if s not in self.streams]
        if unknown:
            raise ValueError(f"the session holds no stream {', '.join(map(repr, unknown))} "
                             f"(it holds: {', '.join(self.streams)})")
        path, frames = self.adapter.capture_client(wanted)
        return self.url + path, frames

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> Self:
        """Listen (WebSocket and REST on one port)."""
        if self._server is None:
            self._server = await serve(self._connection, self.host, self._port,
                                       process_request=self._http, compression=None,
                                       ping_interval=None)
            self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 30.0) -> Self:
        """Run on a background loop of its own; ``stop_in_thread()`` (alias ``close()``) ends
        both."""
        if self._background is None:
            self._background = BackgroundLoop.started(f"evlab-capture-{self.exchange}",
                                                      self.start(), timeout)
        return self

    def stop_in_thread(self, timeout: float = 30.0) -> None:
        """Stop a server started by :meth:`start_in_thread`, and its loop."""
        background, self._background = self._background, None
        if background is not None:
            background.finish(self.stop(), timeout)

    close = stop_in_thread  # as FeedServer's

    def __repr__(self) -> str:
        if "_keys" not in self.__dict__:  # __init__ raised before the session was read
            return "<CaptureServer (not made)>"
        state = self.url if self._server is not None else "stopped"
        return (f"<CaptureServer {self.exchange}: {len(self.messages):,} messages of "
                f"{len(self.streams)} streams, {sum(map(len, self._rest.values()))} REST "
                f"responses, {state}>")

    # --- REST ----------------------------------------------------------------------------
    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if is_upgrade(request):
            return None  # a WebSocket handshake: go on
        key = self.adapter.rest_key(request.path)
        answers = self._rest.get(key)
        if not answers:  # not captured: the market lists a client reads first, if any
            listed = self.adapter.rest_reply(request.path,
                                             self.adapter.capture_symbols(self.streams))
            if listed is not None:
                self.rest_served += 1
                return json_response(connection, 200, listed)
            self.rest_missed += 1
            body = self.adapter.rest_error(f"this capture holds no response to {request.path}")
            return json_response(connection, 404, body)
        n = self._answered[key]
        self._answered[key] = n + 1
        self.rest_served += 1
        return json_response(connection, 200, answers[min(n, len(answers) - 1)])

    # --- WebSocket -----------------------------------------------------------------------
    async def _connection(self, ws: ServerConnection) -> None:
        if self._clients >= self.max_clients:
            await ws.close(1013, f"too many clients (max {self.max_clients}): try again later")
            return
        self._clients += 1
        client = _Client(ws)
        if ws.request is not None:  # the URL path and headers may choose the encoding
            by_path, options = self.adapter.path_subscribe(ws.request.path)
            options = {**options, **self.adapter.header_options(ws.request.headers)}
        else:
            by_path, options = None, {}
        client.options = options
        client.adapter = get_adapter(self.exchange, **options)  # its own: per-connection state
        replay = asyncio.get_running_loop().create_task(self._replay(client))
        try:
            for frame in client.adapter.welcome():  # what the exchange greets a client with
                await ws.send(frame)
            authed = None if ws.request is None else client.adapter.header_auth(
                ws.request.headers)
            if authed is not None:  # the handshake's headers authenticated it (Alpaca)
                client.authenticated = True
                for frame in authed:
                    await ws.send(frame)
            if by_path is not None:
                await self._subscribe(client, by_path, ack=False)
            async for message in ws:
                await self._subscribe(client, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients -= 1
            tasks = [replay, *client.tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _subscribe(self, client: _Client, message: str | bytes, *,
                         ack: bool = True) -> None:
        """Answer one client frame: a subscribe or unsubscribe (the adapter's
        ``parse_subscribe``, as the FeedServer's sessions read it), else a control request
        (auth, ping). A malformed request, one naming a stream the session does not hold, or
        a subscribe before the auth the exchange requires gets the exchange's error frame
        and subscribes nothing (counted in ``requests_refused``)."""
        adapter, ws, wanted = client.adapter, client.ws, client.wanted
        try:
            request = adapter.parse_subscribe(message)
        except AdapterError as exc:
            await self._refuse(client, adapter.error_frame(str(exc), exc.req_id), str(exc))
            return
        if request is None:
            if adapter.authenticates(message):
                client.authenticated = True
            for reply in adapter.control_reply(message):
                await ws.send(reply)
            return
        refusal = adapter.unauthenticated_frame()
        if refusal is not None and not client.authenticated:
            await self._refuse(client, refusal, "a subscribe before auth")
            return
        keys = [adapter.stream_key(s) for s in request.streams]
        # (held key, the name subscribed): a wildcard (Alpaca "quotes:*", Polygon "T.*")
        # stands for every held stream it covers
        pairs: list[tuple[str, str]] = []
        missing: list[str] = []
        for stream, key in zip(request.streams, keys, strict=True):
            prefix = adapter.stream_wildcard(key)
            covered = [key] if prefix is None else [k for k in self._ordered
                                                    if k.startswith(prefix)]
            pairs += [(k, stream) for k in covered]
            if not covered or (prefix is None and key not in self._keys):
                missing.append(stream)
        beats = False
        if request.unsubscribe:
            for key, _ in pairs:
                wanted.pop(key, None)
        else:
            # a heartbeats channel the session did not record is made, once a second
            beats = request.channels == ("heartbeats",) and not any(k in self._keys
                                                                   for k in keys)
            if beats:
                missing = []
            if missing or not keys:
                held = ", ".join(self.streams[:20]) + (" ..." if len(self.streams) > 20 else "")
                what = ", ".join(map(repr, missing[:10])) + (
                    f" and {len(missing) - 10:,} more" if len(missing) > 10 else "")
                why = f"this capture holds no stream {what or '(none named)'} (it holds {held})"
                await self._refuse(client, adapter.error_frame(why, request.req_id), why)
                return
            # before the ack: a client that has its ack gets the messages
            wanted.update(pairs)
        if ack:  # acked as the exchange does: what the request asked, or all (Coinbase)
            now = replace(request, streams=tuple(dict.fromkeys(wanted.values()))) \
                if adapter.acks_all else request
            for reply in adapter.subscribe_ack(now):
                await ws.send(reply)
        if beats and not client.beating:
            client.beating = True
            client.spawn(self._beat(client))
        elif not request.unsubscribe and not beats:
            client.started.set()

    async def _refuse(self, client: _Client, frame: str | bytes, why: str) -> None:
        self.requests_refused += 1
        log.info("capture server: refused a request: %s", why)
        await client.ws.send(frame)

    async def _beat(self, client: _Client) -> None:
        """The exchange's heartbeats, once a second from now (a session that recorded none)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            for counter in itertools.count():
                frame = client.adapter.heartbeat(counter)
                if frame is None:
                    return
                await client.ws.send(frame)
                await asyncio.sleep(max(0.0, start + counter + 1 - loop.time()))
        except ConnectionClosed:
            pass

    async def _replay(self, client: _Client) -> None:
        await client.started.wait()
        ws, wanted, options = client.ws, client.wanted, client.options
        frame, speed, loop = client.adapter.capture_frame, self.speed, asyncio.get_running_loop()
        t0 = self._t0
        start = loop.time()
        try:
            for t, key, stream, bare in self.messages:
                if speed is not None:  # due first: a stream subscribed meanwhile gets it
                    delay = start + (t - t0) / (_NS * speed) - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if key not in wanted:
                    continue
                await ws.send(frame(stream, bare, options))
                self.messages_sent += 1
            self.streams_finished += 1
            await ws.close(1000, "end of data")
        except ConnectionClosed:
            pass


class _Client:
    """One connection to a CaptureServer: what it subscribed to, how it speaks."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.wanted: dict[str, str] = {}  # stream key -> the name subscribed
        self.started = asyncio.Event()  # set at the first subscription: the replay begins
        self.options: dict[str, Any] = {}  # the adapter options of its URL path and headers
        self.adapter: ExchangeAdapter
        self.authenticated = False
        self.beating = False
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def _read(path: str | os.PathLike[str], http: str | os.PathLike[str] | None) -> Recording:
    """An evlab recording (Parquet file or folder), else a cryptofeed capture file."""
    from evlab.captures import load_capture

    p = Path(path)
    if p.is_dir() or p.suffix.lower() in (".parquet", ".pq", ".parq"):
        if http is not None:
            raise ValueError("http=: an evlab recording holds its REST responses itself")
        return load_recording(p)
    return load_capture(p, http)
