"""FeedConnection: a websockets client connection that keeps a text frame with invalid UTF-8.

websockets decodes a text message inside ``recv()`` and, on invalid UTF-8, fails the
connection (close code 1007): the payload is lost and the feed reconnects. A feed must
instead report that one message, with its raw bytes, and go on. ``recv(decode=False)`` keeps
the bytes but no longer says whether the message was text or binary, so this connection
notes the opcode of each message's first frame as it arrives (``process_event``), in the
order ``recv`` returns them, and :meth:`FeedConnection.recv_payload` decodes text itself.

``process_event`` is websockets' hook for incoming frames: not public API, so
``tests/feeds/test_emitter.py`` sends such a frame from a real server and fails if it moves.

:meth:`FeedConnection.next_ready` is the reader's hot path: a message whose frames websockets
has already queued is taken from that queue at once, as ``recv`` would take it, without the
three coroutines ``recv`` runs through per message (about a third of a bar's decoding cost).
It reads websockets' frame queue (``recv_messages.frames.queue``, not public API either):
where a websockets release lays it out otherwise, it finds nothing there and every message
goes through ``recv``; ``tests/feeds/test_connection.py`` fails if that happens.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

__all__ = ["FeedConnection"]

_TEXT, _BINARY = Opcode.TEXT, Opcode.BINARY  # looked up once: this runs for every frame


class FeedConnection(ClientConnection):
    """A client connection whose :meth:`recv_payload` never fails on a bad text frame."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One flag per message not yet received: was it text? Bounded as websockets' own
        # frame queue is (it stops reading the socket past max_queue frames).
        self._text: deque[bool] = deque()
        #: websockets' queue of received frames, once connected (None: not connected, or
        #: websockets lays it out otherwise, so it is not read)
        self.frame_queue: deque[Frame] | None = None

    def connection_made(self, transport: Any) -> None:
        """Find websockets' frame queue in the receiving side it has just built."""
        super().connection_made(transport)
        messages = getattr(self, "recv_messages", None)
        queue = getattr(getattr(messages, "frames", None), "queue", None)
        if isinstance(queue, deque) and all(hasattr(messages, attr) for attr in (
                "get_in_progress", "maybe_resume")):
            self.frame_queue = queue

    def process_event(self, event: Any) -> None:
        """Note whether each new message is text, then let websockets queue its frame."""
        if isinstance(event, Frame):
            opcode = event.opcode
            if opcode is _TEXT:
                self._text.append(True)
            elif opcode is _BINARY:
                self._text.append(False)
        super().process_event(event)

    def next_ready(self) -> tuple[str | bytes, bool] | None:
        """The next message as :meth:`recv_payload` gives it, if websockets has queued the whole
        of it (one final frame) and no ``recv`` is under way; else None (await
        ``recv_payload``). Taken as websockets' ``recv`` takes it: popped, then flow control
        may resume reading."""
        queue = self.frame_queue
        if not queue or not queue[0].fin:
            return None
        messages = self.recv_messages
        if messages.get_in_progress:
            return None
        frame = queue.popleft()
        messages.maybe_resume()
        data = frame.data
        # websockets' recv makes bytes of a bytearray too
        return self._payload(data if data.__class__ is bytes else bytes(data))

    async def recv_payload(self) -> tuple[str | bytes, bool]:
        """The next message and whether it is well formed: ``(str, True)`` for text,
        ``(bytes, True)`` for binary, ``(bytes, False)`` for text that is not UTF-8."""
        return self._payload(await self.recv(decode=False))

    def _payload(self, data: bytes) -> tuple[str | bytes, bool]:
        """The next message's ``data`` as :meth:`recv_payload` gives it (its text decoded)."""
        if not self._text.popleft():
            return data, True
        try:
            return data.decode(), True
        except UnicodeDecodeError:
            return data, False
