"""BookResync: a live feed's answer to ``OrderBooks``' ``book_gap``, for every venue.

``OrderBooks`` publishes a SYSTEM ``book_gap`` when a book is out of sync (a hole in the ids, a
bad checksum, a crossed book, a message it could not decode) and a SYSTEM ``book_resynced``
when the snapshot that ends it is in. A :class:`~evlab.feeds.emitter.WebSocketEmitter` with an
adapter keeps one ``BookResync``, subscribed to the SYSTEM events of its bus, which gets that
snapshot again the venue's way:

* over REST, where the venue sends its snapshot there (Binance diff depth: the emitter's
  :class:`~evlab.feeds.rest.RestSnapshots` fetches that symbol's depth again);
* over the socket, where the venue sends it on subscribing (Kraken v2 ``book``, Coinbase
  ``level2``): the frames the adapter's ``resync_messages(symbol, subscriptions)`` gives (an
  unsubscribe then a subscribe of that symbol's book) are sent on the live connection.

A gap for a symbol this feed does not keep (another feed's, or a replay's) is ignored. Rules,
per symbol: at most one resync in flight, and a gap while one is (or is about to be) under way
is coalesced into it (``resyncs_coalesced``); resyncs start at least ``min_interval`` (1 s)
apart, a gap sooner waits for that (no storm of resubscriptions on a bad stream); a resync is
done (``resyncs_done``) when its snapshot comes: ``book_resynced`` for the symbol, or a
``book_gap`` saying that snapshot was older than the buffered updates (``snapshot_too_old``:
then another resync follows, not coalesced into the one that brought it); it failed after
``timeout`` seconds (10 s) without it, or at once when the snapshot it fetched could not be
decoded (a ``book_error`` with ``snapshot`` True: waiting could bring nothing else): one
``ErrorEvent`` (``error_type="ResyncFailed"``), ``resync_failures`` counted, and the next gap
may try again. ``resyncs`` counts the resyncs
started; ``resyncs == resyncs_done + resync_failures`` once none is in flight. A resync whose
frames cannot be sent (the connection is down) stays in flight: the reconnection subscribes
again, and its snapshot ends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from evlab.events import Event, SystemEvent, create_error_event
from evlab.feeds.adapters import ExchangeAdapter
from evlab.feeds.rest import RestSnapshots

__all__ = ["BookResync"]

logger = logging.getLogger("evlab")

Frames = list[str | bytes]


class _Symbol:
    """One symbol's resync state."""

    __slots__ = ("begun", "last_start", "pending", "timer")

    def __init__(self) -> None:
        self.begun = False  # a resync is under way (frames sent / fetch started)
        self.last_start = float("-inf")  # monotonic time the last resync started
        self.pending: asyncio.TimerHandle | None = None  # a start waiting for min_interval
        self.timer: asyncio.TimerHandle | None = None  # the timeout of the one under way


class BookResync:
    """Resync one feed's books on ``book_gap`` (see the module doc)."""

    def __init__(self, name: str, adapter: ExchangeAdapter,
                 subscriptions: Sequence[str | bytes] | Callable[[], Sequence[str | bytes]],
                 rest: RestSnapshots | None, send: Callable[[Frames], Awaitable[bool]],
                 put: Callable[[Event], Coroutine[Any, Any, None]], stats: dict[str, Any],
                 notify: Callable[[], None], *, timeout: float = 10.0,
                 min_interval: float = 1.0) -> None:
        if not timeout > 0:
            raise ValueError(f"resync_timeout must be positive, got {timeout!r}")
        self.name, self.adapter, self.rest = name, adapter, rest
        # a function is called at each resync: frames that carry a JWT or signature are signed
        # again, not resent stale
        self._subscriptions = subscriptions if callable(subscriptions) else list(subscriptions)
        self.timeout, self.min_interval = timeout, min_interval
        self._send, self._put, self._stats, self._notify = send, put, stats, notify
        for key in ("resyncs", "resyncs_done", "resyncs_coalesced", "resync_failures"):
            stats.setdefault(key, 0)
        self._ours: dict[str, bool] = {}  # per symbol: whether socket frames resync it
        self._state: dict[str, _Symbol] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Resync on the running loop from now on (the emitter's ``start``)."""
        self._loop = asyncio.get_running_loop()

    def cancel(self) -> None:
        """Forget the resyncs under way and their timers (the emitter's ``stop``)."""
        for state in self._state.values():
            for handle in (state.pending, state.timer):
                if handle is not None:
                    handle.cancel()
        self._state.clear()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._loop = None

    @property
    def subscriptions(self) -> list[str | bytes]:
        """The feed's subscriptions, made now (a signing function is called)."""
        subs = self._subscriptions
        return list(subs() if callable(subs) else subs)

    def frames(self, symbol: str) -> Frames:
        """The frames that resync ``symbol`` over the socket ([] if it has none), made from
        the subscriptions as they are now."""
        if self._ours.get(symbol) is False:
            return []
        frames = list(self.adapter.resync_messages(symbol, self.subscriptions))
        self._ours[symbol] = bool(frames)
        return frames

    def owns(self, symbol: str) -> bool:
        """True if this feed keeps ``symbol``'s book (a REST snapshot or resync frames)."""
        if self.rest is not None and symbol in self.rest.requests:
            return True
        ours = self._ours.get(symbol)
        return bool(self.frames(symbol)) if ours is None else ours

    # --- the bus's SYSTEM events (any thread) --------------------------------------------
    def on_system(self, event: Event) -> None:
        """``book_gap``: resync that symbol; ``book_resynced``: its resync is done."""
        if not isinstance(event, SystemEvent) or event.kind not in ("book_gap",
                                                                    "book_resynced",
                                                                    "book_error"):
            return
        data = event.data if isinstance(event.data, dict) else {}
        symbol = data.get("symbol")
        loop = self._loop
        if not isinstance(symbol, str) or loop is None or loop.is_closed():
            return
        if event.kind == "book_error":
            if data.get("snapshot") is not True:
                return  # a bad update: OrderBooks' book_gap for it starts the resync
            handle = self._bad_snapshot
        elif event.kind == "book_resynced":
            handle = self._resynced
        elif data.get("reason") == "snapshot_too_old":  # the answer came, and was refused
            handle = self._refused
        else:
            handle = self._gap
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            handle(symbol)
        else:
            loop.call_soon_threadsafe(handle, symbol)

    # --- on the feed's loop ----------------------------------------------------------------
    def _gap(self, symbol: str) -> None:
        if self._loop is None or not self.owns(symbol):
            return
        state = self._state.get(symbol)
        if state is None:
            state = self._state[symbol] = _Symbol()
        if state.begun or state.pending is not None:
            self._stats["resyncs_coalesced"] += 1  # the one under way answers this gap too
            self._notify()
            return
        wait = state.last_start + self.min_interval - time.monotonic()
        if wait > 0:
            state.pending = self._loop.call_later(wait, self._begin, symbol)
        else:
            self._begin(symbol)

    def _begin(self, symbol: str) -> None:
        loop, state = self._loop, self._state.get(symbol)
        if loop is None or state is None:
            return
        state.pending = None
        state.begun = True
        state.last_start = time.monotonic()
        state.timer = loop.call_later(self.timeout, self._timed_out, symbol)
        self._stats["resyncs"] += 1
        self._notify()
        if self.rest is not None and symbol in self.rest.requests:
            self.rest.refetch(symbol)
        else:
            self._spawn(self._send_frames(symbol))

    async def _send_frames(self, symbol: str) -> None:
        if not await self._send(self.frames(symbol)):
            logger.info("feed %s: resync of %s not sent (not connected); the reconnection's "
                        "snapshot answers it", self.name, symbol)

    def _resynced(self, symbol: str) -> None:
        state = self._state.get(symbol)
        if state is None:
            return
        if state.pending is not None:  # the book is back (a reconnection): nothing to do
            state.pending.cancel()
            state.pending = None
        if state.begun:
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
            state.begun = False
            self._stats["resyncs_done"] += 1
            self._notify()

    def _refused(self, symbol: str) -> None:
        """The snapshot came but is older than the buffered updates: the resync under way is
        done, and another is needed (not coalesced into the one that brought it)."""
        self._resynced(symbol)
        self._gap(symbol)

    def _timed_out(self, symbol: str) -> None:
        self._failed(symbol, f"resync of {symbol} timed out",
                     f"brought no new snapshot within {self.timeout:g} s")

    def _bad_snapshot(self, symbol: str) -> None:
        """The snapshot a resync fetched could not be decoded: it failed now, not after the
        timeout (the handler's ErrorEvent says why)."""
        self._failed(symbol, f"resync of {symbol} got a bad snapshot",
                     "fetched a snapshot that could not be decoded")

    def _failed(self, symbol: str, short: str, what: str) -> None:
        """End ``symbol``'s resync under way as failed: counted, logged, one ErrorEvent."""
        state = self._state.get(symbol)
        if state is None or not state.begun:
            return
        state.begun = False
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        self._stats["resync_failures"] += 1
        self._stats["errors"] += 1
        self._stats["last_error"] = short
        logger.warning("feed %s: resyncing %s's book %s", self.name, symbol, what)
        self._spawn(self._put(create_error_event(
            f"{self.name}: resyncing {symbol}'s book {what}; it stays stale (the next gap "
            "tries again)", error_type="ResyncFailed", source=self.name)))
        self._notify()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro, name=f"evlab:{self.name}:resync")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
