"""Shared fixtures for the feed tests: local feed servers that are always stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from evlab.feeds.server import FeedServer


@pytest.fixture
async def feed_server() -> AsyncIterator[Callable[..., Awaitable[FeedServer]]]:
    """A factory of started :class:`FeedServer`s (same arguments), each stopped at teardown."""
    started: list[FeedServer] = []

    async def make(*args: Any, **kwargs: Any) -> FeedServer:
        server = FeedServer(*args, **kwargs)
        started.append(server)
        return await server.start()

    yield make
    for server in started:
        await server.stop()
