"""The REST snapshots a feed's book protocol needs (Binance diff depth), fetched for its emitter.

A :class:`~evlab.feeds.emitter.WebSocketEmitter` whose adapter names REST requests for its
subscriptions (``adapter.snapshot_requests``) fetches each of them over HTTP once subscribed (on
every connection), and again for a symbol when its book needs resyncing (a SYSTEM ``book_gap`` from
``OrderBooks``, answered through :mod:`evlab.feeds.resync`). The host is the socket's (``ws://`` ->
``http://``, ``wss://`` -> ``https://``) unless ``rest_url=`` names another base. Each fetch is
bounded: a timeout per attempt (the socket's ``open_timeout``), retried after the same backoff
delays as the socket, at most ``retries`` times; then one ``ErrorEvent``
(``error_type="RestFetchFailed"``). A response, error statuses included (the adapter reads the
exchange's error body), is published as a ``RestResponseEvent`` through the emitter's buffer, in
order with the messages, so the ``WebSocketHandler`` decodes it and a recorder keeps it: a
recording replays the same way. Standard library HTTP (``urllib``) in a worker thread: one small
GET now and then needs no client library.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from evlab.events import Event, create_error_event, create_rest_event
from evlab.feeds.backoff import Backoff

__all__ = ["RestSnapshots", "rest_base"]

logger = logging.getLogger("evlab")


def rest_base(ws_url: str) -> str:
    """``http(s)://host:port`` of a ``ws(s)://`` URL: where the same host answers REST."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme.lower() == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "", "", ""))


class _Retryable(Exception):
    """A failed attempt worth another one (no answer, a 5xx)."""


class RestSnapshots:
    """One emitter's REST snapshot requests: fetch all, or one symbol's again (see module)."""

    def __init__(self, name: str, base: str, requests: list[tuple[str, str]],
                 put: Callable[[Event], Awaitable[None]], stats: dict[str, Any], *,
                 backoff: Backoff, rng: random.Random, timeout: float | None,
                 retries: int = 3, max_size: int | None = 2**24) -> None:
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"rest_retries must be an int >= 0, got {retries!r}")
        self.name, self.base, self.requests = name, base.rstrip("/"), dict(requests)
        self._put, self._stats = put, stats
        self.backoff, self._rng, self.retries, self.max_size = backoff, rng, retries, max_size
        self.timeout = 10.0 if timeout is None else timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def fetch_all(self) -> None:
        """Fetch every request (on the running loop, in the background)."""
        self._loop = asyncio.get_running_loop()
        for symbol in self.requests:
            self._fetch(symbol)

    def refetch(self, symbol: str) -> None:
        """Fetch ``symbol``'s snapshot again (on the feed's loop: the emitter's
        :class:`~evlab.feeds.resync.BookResync` calls this on a ``book_gap``)."""
        if symbol not in self.requests or self._loop is None:
            return
        self._stats["rest_refetches"] += 1
        self._fetch(symbol)

    async def wait(self) -> None:
        """Return once the fetches under way are done (each is bounded: see the module)."""
        while pending := [t for t in self._tasks.values() if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def cancel(self) -> None:
        """Stop the fetches under way (their worker threads end within one timeout)."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def _fetch(self, symbol: str) -> None:
        running = self._tasks.get(symbol)
        if running is not None and not running.done():
            return  # one fetch per symbol at a time: it answers this gap too
        assert self._loop is not None
        self._tasks[symbol] = self._loop.create_task(self._one(symbol),
                                                     name=f"evlab:{self.name}:rest:{symbol}")

    async def _one(self, symbol: str) -> None:
        url = self.base + self.requests[symbol]
        error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff.delay(attempt, self._rng))
            try:
                body = await asyncio.to_thread(self._get, url)
            except _Retryable as exc:
                error = str(exc)
                logger.info("feed %s: %s failed (attempt %d): %s", self.name, url, attempt + 1,
                            error)
                continue
            self._stats["rest_fetched"] += 1
            self._stats["received"] += 1  # raw input like the messages (stats add up)
            try:  # text, as the socket's messages and the captures hold it
                text: str | bytes = body.decode()
            except UnicodeDecodeError:
                text = body
            await self._put(create_rest_event(self.name, url, text, time.time_ns()))
            return
        self._stats["rest_errors"] += 1
        self._stats["errors"] += 1
        self._stats["last_error"] = f"REST {url}: {error}"
        await self._put(create_error_event(
            f"{self.name}: could not fetch {url} after {self.retries + 1} attempts: {error}",
            error_type="RestFetchFailed", source=self.name))

    def _get(self, url: str) -> bytes:
        """One GET, bounded by the timeout; the body of any answer below 500."""
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return self._read(response, url)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
            return self._read(exc, url)
        except (OSError, ValueError) as exc:  # URLError, timeouts, resets, bad status lines
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None

    def _read(self, response: Any, url: str) -> bytes:
        limit = self.max_size
        body: bytes = response.read() if limit is None else response.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise _Retryable(f"the response of {url} is larger than max_size={limit} bytes")
        return body
