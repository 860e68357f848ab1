"""Helpers shared by the feed tests."""

from __future__ import annotations

import asyncio

from evlab.bus import EventBus
from evlab.events import Event, SystemEvent, WebSocketEvent

SAFETY = 10.0  # seconds: a safety net against hangs, never a timing assertion


class Recorder:
    """Every event of a bus, with a way to wait until a condition on them holds."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._waiters: list[tuple[object, asyncio.Future]] = []
        bus.register_all(self.on_event)

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        for cond, fut in self._waiters:
            if not fut.done() and cond(self):
                fut.set_result(None)

    async def until(self, cond) -> None:
        if cond(self):
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((cond, fut))
        try:
            await asyncio.wait_for(fut, SAFETY)
        finally:
            self._waiters.remove((cond, fut))

    def of(self, cls: type) -> list:
        return [e for e in self.events if type(e) is cls]

    def payloads(self) -> list:
        return [e.payload for e in self.of(WebSocketEvent)]

    def system(self, kind: str | None = None) -> list[SystemEvent]:
        return [e for e in self.of(SystemEvent) if kind is None or e.kind == kind]
