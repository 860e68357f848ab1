"""Running async code from synchronous code, in a script or inside a Jupyter kernel.

ipykernel runs every cell inside an already running asyncio loop, so ``asyncio.run()``
fails there ("cannot be called from a running event loop"). In a cell, prefer top-level
``await``; where a plain function must drive a coroutine to completion (a synchronous API
over async code), :func:`run` nests the kernel's loop with ``nest-asyncio2``, the maintained
fork of nest-asyncio: nest-asyncio 1.6 (unmaintained since January 2024) hangs a real
JupyterLab session on ipykernel 7 (the next ``asyncio.run`` raises "cannot enter context:
... is already entered" and later cells stay at ``[*]``), while the fork, which ipykernel
7.4 itself depends on, does not. Outside a running loop :func:`run` is ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result, in a script or in a notebook cell."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import nest_asyncio2

    nest_asyncio2.apply(loop)
    return loop.run_until_complete(coro)
