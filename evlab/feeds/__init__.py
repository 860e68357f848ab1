"""Live market data: exchange adapters, the WebSocket emitter and handler, the local feed server.

| module | holds |
| --- | --- |
| ``adapters/`` | one module per exchange behind ``ExchangeAdapter``: its whole protocol |
| ``emitter.py`` (+ ``buffer.py``, ``backoff.py``) | ``WebSocketEmitter``: one connection's life |
| ``handler.py`` (+ ``continuity.py``) | ``WebSocketHandler``: decode, dedupe, report gaps |
| ``server.py`` (+ ``session.py``) | ``FeedServer``: a local exchange replaying a dataset |
| ``loop.py`` | ``BackgroundLoop``: the loop on a thread that feeds, servers, replays, Labs use |
"""

from evlab.feeds.backoff import Backoff, backoff_delay
from evlab.feeds.buffer import FeedBuffer
from evlab.feeds.continuity import BarContinuity, Gap
from evlab.feeds.emitter import WebSocketEmitter
from evlab.feeds.handler import WebSocketHandler
from evlab.feeds.server import FeedServer
from evlab.feeds.sources import adapter_for_source, validate_url

__all__ = ["FeedServer", "WebSocketEmitter", "WebSocketHandler", "Backoff", "backoff_delay",
           "FeedBuffer", "BarContinuity", "Gap", "adapter_for_source", "validate_url"]
