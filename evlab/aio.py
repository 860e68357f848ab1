"""Running async code from synchronous code, in a script or inside a Jupyter kernel.

ipykernel runs every cell inside an already running asyncio loop, so ``asyncio.run()``
fails there ("cannot be called from a running event loop"). In a cell, prefer top-level
``await``; where a plain function must drive a coroutine to completion (a synchronous API
over async code), :func:`run` runs it on a fresh loop of its own on the calling thread, as
``asyncio.run`` does in a script. The caller's loop is set aside for the call and put back
after it: nothing is patched, so ``asyncio.run`` still fails in a cell afterwards and the
kernel's loop is exactly as it was (nesting it with ``nest-asyncio2`` instead patched asyncio
and every loop of the kernel's loop class for good, other threads' feed loops included).
"""

from __future__ import annotations

import asyncio
from asyncio import events
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a new loop and return its result, in a script or a cell.

    Like ``asyncio.run``: tasks the coroutine leaves behind are cancelled and the loop is
    closed. While it runs, the caller's loop (the kernel's, in a notebook) is paused, as
    while any cell blocks, so the coroutine cannot await futures bound to that loop (asyncio
    raises "attached to a different loop"); ``evlab.run`` may itself be called inside it.
    """
    outer = events._get_running_loop()
    # Runner.run refuses to start while a loop runs on this thread; set it aside until the
    # call returns. A loop_factory keeps Runner from replacing the thread's current loop.
    events._set_running_loop(None)
    try:
        with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
            return runner.run(coro)
    finally:
        events._set_running_loop(outer)
