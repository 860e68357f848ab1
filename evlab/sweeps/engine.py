"""Where a sweep's runs execute: in this process, on any ``concurrent.futures.Executor``, or on
a Dask cluster (a ``distributed.Client``, or a scheduler address).

Every engine hands back futures with ``add_done_callback``, ``result`` and ``cancel``, so the
sweep collects results as runs finish the same way on all of them. Tasks leave this process
as cloudpickle bytes: classes and functions written in a notebook cell (``__main__``) travel
by value, which the standard library's process pools cannot do on their own. Dask is imported
only here, only when a client or an address is given.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from evlab.sweeps._pickle import NEEDS, dumps
from evlab.sweeps.task import Task, execute

__all__ = ["CANCELLED", "DaskEngine", "Engine", "ExecutorEngine", "LocalEngine", "engine_for",
           "outcome", "pickled"]

CANCELLED = "cancelled"  # the error of a run that a cancel (or a stall) stopped


class Engine:
    """Submits tasks; ``remote`` when they run in other processes (sources are shipped by
    name or path, tasks pickled); ``close()`` ends what the engine made itself."""

    remote = True
    dashboard: str | None = None

    def submit(self, task: Task, index: int) -> Any:
        """A future of ``execute(task)``."""
        raise NotImplementedError

    def cancel(self, futures: Iterable[Any]) -> None:
        """Drop runs not finished yet (one under way on a worker may still finish there)."""
        for future in futures:
            future.cancel()

    def results(self, futures: Sequence[Any]) -> list[dict[str, Any]]:
        """The results of finished ``futures``, in their order."""
        return [outcome(f) for f in futures]

    def close(self) -> None:
        """End what this engine created (nothing by default: a user's executor stays)."""

    def describe(self) -> str:
        """Where the runs go, for the progress bar and the handle's repr."""
        raise NotImplementedError


def outcome(future: Any) -> dict[str, Any]:
    """The run's result, or (a run never raises) what the engine reported instead."""
    try:
        result: dict[str, Any] = future.result()
        return result
    except (concurrent.futures.CancelledError, asyncio.CancelledError):
        return {"wall_seconds": float("nan"), "error": CANCELLED}
    except BaseException as exc:  # a worker died, the task could not be sent or unpickled
        return {"wall_seconds": float("nan"), "error": f"{type(exc).__name__}: {exc}"}


def pickled(task: Task) -> bytes:
    """``task`` as the bytes a worker gets (cloudpickle: ``__main__`` objects by value)."""
    try:
        return dumps(task)
    except ImportError:
        raise
    except Exception as exc:
        raise TypeError(f"sweep: cannot send the run of {task.strategy!r} with "
                        f"{dict(task.params)!r} to the workers: {type(exc).__name__}: {exc}"
                        ) from exc


class LocalEngine(Engine):
    """One run at a time on a thread of this process (so the calling cell stays free)."""

    remote = False

    def __init__(self) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="evlab-sweep")

    def submit(self, task: Task, index: int) -> Any:
        return self.pool.submit(execute, task)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def describe(self) -> str:
        return "in this process"


class ExecutorEngine(Engine):
    """A user's ``concurrent.futures.Executor``: a thread pool shares this process (nothing
    pickled, in-memory sources allowed); any other gets pickled tasks."""

    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self.executor = executor
        self.remote = not isinstance(executor, concurrent.futures.ThreadPoolExecutor)

    def submit(self, task: Task, index: int) -> Any:
        return self.executor.submit(execute, pickled(task) if self.remote else task)

    def describe(self) -> str:
        return type(self.executor).__name__


class DaskEngine(Engine):
    """A Dask cluster through its ``Client`` (closed at the end only if made here)."""

    def __init__(self, client: Any, owned: bool = False) -> None:
        self.client, self.owned = client, owned
        self.token = uuid.uuid4().hex[:8]
        try:
            self.dashboard = client.dashboard_link
        except Exception:  # no dashboard (bokeh missing, or turned off)
            self.dashboard = None

    def submit(self, task: Task, index: int) -> Any:
        return self.client.submit(execute, pickled(task), key=f"evlab-sweep-{self.token}-{index}",
                                  pure=False)

    def cancel(self, futures: Iterable[Any]) -> None:
        futures = list(futures)
        if futures:
            self.client.cancel(futures)

    def results(self, futures: Sequence[Any]) -> list[dict[str, Any]]:
        """One ``gather`` for the finished ones (a round trip each would cost milliseconds)."""
        finished = [f for f in futures if f.status == "finished"]
        try:
            got = dict(zip(map(id, finished), self.client.gather(finished), strict=True))
        except Exception:  # one lost meanwhile: ask each, so each gets its own error
            got = {}
        return [got[id(f)] if id(f) in got else outcome(f) for f in futures]

    def close(self) -> None:
        if self.owned:
            self.client.close()

    def describe(self) -> str:
        return f"dask {self.client.scheduler.address}"


def _is_dask_client(client: Any) -> bool:
    return type(client).__module__.split(".")[0] == "distributed" and hasattr(client, "submit")


def engine_for(client: Any) -> Engine:
    """The engine for ``client=``: None, a ``distributed.Client``, a scheduler address
    (``"tcp://scheduler:8786"``) or a ``concurrent.futures.Executor``."""
    if client is None:
        return LocalEngine()
    if isinstance(client, str):
        try:
            from distributed import Client
        except ImportError as exc:
            raise ImportError(f"sweep(client={client!r}): a Dask scheduler address needs "
                              f"dask distributed, which is not installed: {NEEDS}"
                              ) from exc
        return DaskEngine(Client(client, timeout=30), owned=True)
    if _is_dask_client(client):
        return DaskEngine(client)
    if isinstance(client, concurrent.futures.Executor):
        return ExecutorEngine(client)
    raise TypeError(f"client: None (run here), a dask.distributed.Client, a scheduler address "
                    f"or a concurrent.futures.Executor, got {type(client).__name__}")
