"""The bounded buffer between a feed's socket reader and its bus delivery.

One task reads the socket into the buffer, one task delivers from it to the bus, so a bus
slower than the feed meets the buffer's policy instead of growing memory:

* ``"block"``: the reader waits for room. Nothing is dropped; the socket is not read
  meanwhile, so TCP (and the server) slow down, and websockets' keepalive may time out if
  the bus stalls for longer than ``ping_timeout``.
* ``"drop_oldest"``: the oldest buffered *message* is dropped (and counted) to make room, so
  the bus always sees the newest data. Notices (the feed's SYSTEM and ERROR events) travel
  in the same buffer, in order, and are dropped only when no message is left to drop.

The buffer holds at most ``size`` items under either policy. It serves one loop, one
producer and one consumer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

from evlab.events import Event, WebSocketEvent

__all__ = ["FeedBuffer", "Overflow", "OVERFLOW_POLICIES"]

Overflow = Literal["block", "drop_oldest"]
OVERFLOW_POLICIES: tuple[str, ...] = ("block", "drop_oldest")


class FeedBuffer:
    """A bounded FIFO of events with a ``"block"`` or ``"drop_oldest"`` overflow policy."""

    def __init__(self, size: int, overflow: Overflow = "block") -> None:
        """``size``: the most items held at once; ``overflow``: what ``put`` does when full."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"buffer_size must be an int >= 1, got {size!r}")
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, "
                             f"got {overflow!r}")
        self.size = size
        self.overflow = overflow
        self._items: deque[Event] = deque()
        self._messages = 0  # WebSocketEvents among _items
        self._ready = asyncio.Event()  # items to get (or closed)
        self._room = asyncio.Event()  # room to put
        self._room.set()
        # whether a get waits for _ready / a put for _room: only then does a put or a get
        # set it (no Event.set call per message while both sides keep up)
        self._starved = self._blocked = False
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def messages(self) -> int:
        """How many WebSocket messages are buffered now."""
        return self._messages

    async def put(self, item: Event) -> Event | None:
        """Append ``item``; returns the item dropped to make room (``"drop_oldest"``), if any."""
        dropped = None
        while len(self._items) >= self.size:
            if self.overflow == "drop_oldest":
                dropped = self._drop_one()
                break
            self._room.clear()
            self._blocked = True
            await self._room.wait()
        self._items.append(item)
        if isinstance(item, WebSocketEvent):
            self._messages += 1
        if self._starved:
            self._starved = False
            self._ready.set()
        return dropped

    def put_nowait(self, item: Event) -> bool:
        """Append ``item`` if there is room now (True); False changes nothing: ``await put``.
        The reader's hot path: no coroutine per message while the buffer has room."""
        if len(self._items) >= self.size:
            return False
        self._items.append(item)
        if isinstance(item, WebSocketEvent):
            self._messages += 1
        if self._starved:
            self._starved = False
            self._ready.set()
        return True

    def get_nowait(self) -> Event | None:
        """The oldest item if there is one now, else None (then ``await get``): the
        delivery's hot path, as :meth:`put_nowait` is the reader's."""
        if not self._items:
            return None
        item = self._items.popleft()
        if isinstance(item, WebSocketEvent):
            self._messages -= 1
        if self._blocked:
            self._blocked = False
            self._room.set()
        return item

    async def get(self) -> Event | None:
        """The oldest item, waiting for one; None once the buffer is closed and empty."""
        while not self._items:
            if self.closed:
                return None
            self._ready.clear()
            self._starved = True
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, WebSocketEvent):
            self._messages -= 1
        if self._blocked:
            self._blocked = False
            self._room.set()
        return item

    def close(self) -> None:
        """No more puts: ``get`` returns what is left, then None."""
        self.closed = True
        self._ready.set()

    def clear(self) -> int:
        """Discard every buffered item; returns how many messages were discarded."""
        n = self._messages
        self._items.clear()
        self._messages = 0
        self._room.set()
        return n

    def _drop_one(self) -> Event:
        for i, item in enumerate(self._items):
            if isinstance(item, WebSocketEvent):
                del self._items[i]
                self._messages -= 1
                return item
        return self._items.popleft()  # only notices left: drop the oldest of them
