"""Plain HTTP on a feed server's port: the REST requests exchange clients make beside the socket.

websockets hands every request to ``process_request`` before the handshake; a request that is
not a WebSocket upgrade is answered there with a JSON body (clients such as ccxt and
python-binance take one base URL for both). Both the dataset server and the capture server
answer through :func:`json_response`.
"""

from __future__ import annotations

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["is_upgrade", "json_response"]


def is_upgrade(request: Request) -> bool:
    """Whether ``request`` is a WebSocket handshake (left to websockets) rather than REST."""
    return "websocket" in request.headers.get("Upgrade", "").lower()


def json_response(connection: ServerConnection, status: int, body: str | bytes) -> Response:
    """A JSON response (``Connection: close``, as websockets answers plain HTTP)."""
    data = body.encode() if isinstance(body, str) else bytes(body)
    response = connection.respond(status, "")
    headers = Headers([(k, v) for k, v in response.headers.raw_items()
                       if k.lower() not in ("content-length", "content-type")])
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(data))
    return Response(response.status_code, response.reason_phrase, headers, data)
