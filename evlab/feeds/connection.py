"""FeedConnection: a websockets client connection that keeps a text frame with invalid UTF-8.

websockets decodes a text message inside ``recv()`` and, on invalid UTF-8, fails the
connection (close code 1007): the payload is lost and the feed reconnects. A feed must
instead report that one message, with its raw bytes, and go on. ``recv(decode=False)`` keeps
the bytes but no longer says whether the message was text or binary, so this connection
notes the opcode of each message's first frame as it arrives (``process_event``), in the
order ``recv`` returns them, and :meth:`FeedConnection.recv_payload` decodes text itself.

``process_event`` is websockets' hook for incoming frames: not public API, so
``tests/feeds/test_emitter.py`` sends such a frame from a real server and fails if it moves.
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

    def process_event(self, event: Any) -> None:
        """Note whether each new message is text, then let websockets queue its frame."""
        if isinstance(event, Frame):
            opcode = event.opcode
            if opcode is _TEXT:
                self._text.append(True)
            elif opcode is _BINARY:
                self._text.append(False)
        super().process_event(event)

    async def recv_payload(self) -> tuple[str | bytes, bool]:
        """The next message and whether it is well formed: ``(str, True)`` for text,
        ``(bytes, True)`` for binary, ``(bytes, False)`` for text that is not UTF-8."""
        data = await self.recv(decode=False)
        if not self._text.popleft():
            return data, True
        try:
            return data.decode(), True
        except UnicodeDecodeError:
            return data, False
