"""FeedConnection against a real websockets server on 127.0.0.1: its no-coroutine path
(``next_ready``, websockets' queued frames) gives what ``recv_payload`` gives, in order,
and is really taken with the websockets installed (it reads a layout that is not public API).
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from evlab.feeds.connection import FeedConnection
from tests.feeds.support import SAFETY

BAD = b'{"s":"BTC\xffUSDT"}'  # a text frame whose bytes are not UTF-8
SENT: list[tuple[str | bytes, bool]] = [("good1", True), (BAD, False), (b"\xc3\xa9 bin", True),
                                        ("good2 \u00e9", True), ("x" * 70_000, True)]


async def handler(ws) -> None:
    for payload, valid in SENT:
        await ws.send(payload, text=not valid or None)
    await ws.send(iter(["frag", "mented"]))  # a fragmented message: recv reassembles it
    await ws.wait_closed()


async def test_queued_messages_come_without_recv_and_equal_what_recv_gives():
    async with serve(handler, "127.0.0.1", 0) as srv:
        url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
        async with connect(url, create_connection=FeedConnection) as ws:
            assert isinstance(ws, FeedConnection)
            assert ws.frame_queue is not None  # websockets' layout as next_ready reads it
            first = await asyncio.wait_for(ws.recv_payload(), SAFETY)
            # the pong comes after every frame the server sent before it: all are queued now
            await asyncio.wait_for(await ws.ping(), SAFETY)
            ready = [ws.next_ready() for _ in SENT[1:]]
            assert ws.next_ready() is None  # the fragments: only recv reassembles them
            last = await asyncio.wait_for(ws.recv_payload(), SAFETY)
    assert [first, *ready] == SENT
    assert last == ("fragmented", True)
