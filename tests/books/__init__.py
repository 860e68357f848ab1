"""Order books and the shipped captures (``datasets/cryptofeed_captures``)."""

from __future__ import annotations

import evlab
from evlab.datasets import datasets_dir
from evlab.events import WebSocketEvent
from evlab.recording import Recording

CAPTURES = datasets_dir() / "cryptofeed_captures"


def load_shipped(exchange: str) -> Recording:
    """A shipped capture read by ``evlab.load_capture`` (Binance with its REST snapshots)."""
    if exchange == "binance":
        return evlab.load_capture(CAPTURES / "BINANCE.ws.1.0", http=CAPTURES / "BINANCE.http.0.0")
    return evlab.load_capture(CAPTURES / "COINBASE.ws.28.0")


def capture(exchange: str) -> list[WebSocketEvent]:
    """A shipped capture's raw messages (and REST snapshots) in receive order."""
    return [e for e in load_shipped(exchange).to_events() if isinstance(e, WebSocketEvent)]
