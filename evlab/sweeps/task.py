"""One run of a sweep: a fresh bus, strategy, paper broker and portfolio replaying one source.

:func:`run_one` is the whole of it, and what a worker runs for each task (``execute``), so a
row of a sweep is exactly what ``run_one`` gives by hand. A run never raises: what went wrong
(the strategy refused its parameters, a handler raised, the source did not load, the run
timed out) is its ``error`` text, and the sweep goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evlab import analytics
from evlab.bus import EventBus
from evlab.events import ErrorEvent, EventType
from evlab.manager import EventManager
from evlab.strategies import Strategies
from evlab.sweeps.broker import Broker
from evlab.sweeps.source import Source

__all__ = ["RESULT_COLUMNS", "Metrics", "Task", "execute", "run_one"]

#: The columns every run fills in, after the parameters, the source and the metrics.
RESULT_COLUMNS = ("events", "rejected", "wall_seconds", "error")
#: ``None`` (the whole analytics summary), summary field names, or ``fn(fills, equity)``
#: returning a mapping of metric names to values.
Metrics = Sequence[str] | Callable[[pd.DataFrame, pd.Series], Mapping[str, Any]] | None
_REJECTIONS = {"SignalRejected", "OrderRejected", "FillRejected"}


@dataclass(frozen=True)
class Task:
    """Everything one run needs, small enough to send to a worker (sources by name/path)."""

    strategy: Callable[..., Any]
    params: Mapping[str, Any]
    source: Source
    broker: Broker
    metrics: Metrics = None
    on: tuple[str, ...] = (EventType.BAR,)
    timeout: float | None = None
    equity: bool = False  # also return the equity curve (walk-forward stitches them)


def execute(task: Task | bytes) -> dict[str, Any]:
    """Run ``task`` (or the cloudpickle bytes of one, as a sweep sends them to workers)."""
    if isinstance(task, bytes):
        import cloudpickle

        task = cloudpickle.loads(task)  # made by this sweep's own client, never outside input
        assert isinstance(task, Task)
    return run_one(task.strategy, task.params, task.source, broker=task.broker,
                   metrics=task.metrics, on=task.on, timeout=task.timeout, equity=task.equity)


def run_one(strategy: Callable[..., Any], params: Mapping[str, Any], source: Any, *,
            broker: Broker | None = None, metrics: Metrics = None,
            on: str | Iterable[str] = EventType.BAR, timeout: float | None = None,
            equity: bool = False) -> dict[str, Any]:
    """Replay ``source`` once through ``strategy(**params)`` trading on ``broker``'s account.

    Returns the run's results: the metrics (the analytics summary by default), ``events``
    replayed, ``rejected`` (signals, orders or fills the broker or portfolio refused),
    ``wall_seconds``, ``error`` (None, or what went wrong) and, with ``equity=True``, the
    equity curve. ``timeout`` (seconds) stops the replay before its next event.
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    try:
        src = source if isinstance(source, Source) else Source(source)
        types = (on,) if isinstance(on, str) else tuple(on)
        out = _replay(strategy, dict(params), src, broker or Broker(), metrics, types,
                      timeout, equity)
        error = None
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    out["wall_seconds"] = time.perf_counter() - t0
    out["error"] = error
    return out


class _Errors:
    """The ErrorEvents of one run: handler exceptions fail it, rejections are counted."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.rejected = 0
        self.first: dict[str, str] = {}
        bus.subscribe(EventType.ERROR, self.on_error, weak=False, name="sweep.errors")

    def on_error(self, error: ErrorEvent) -> None:
        if error.error_type in _REJECTIONS:
            self.rejected += 1
        elif error.handler is not None:
            self.first.setdefault(error.handler, error.message)

    def check(self) -> None:
        failed = self.bus.get_stats()["handler_errors"]
        if failed:
            name, count = next(iter(failed.items()))
            message = self.first.get(name, "an exception")
            raise RuntimeError(f"{name} raised {message} ({count:,} time(s)"
                               + (f"; also {', '.join(list(failed)[1:])}" if len(failed) > 1
                                  else "") + ")")


def _quiet(name: str, error: ErrorEvent) -> None:
    """A run's strategy errors become its ``error``; nothing to print on a worker."""


def _replay(strategy: Callable[..., Any], params: dict[str, Any], source: Source,
            broker: Broker, metrics: Metrics, on: tuple[str, ...], timeout: float | None,
            equity: bool) -> dict[str, Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    bus = EventBus(name="sweep")
    manager = EventManager(bus)
    errors = _Errors(bus)
    Strategies(manager, report=_quiet).add("strategy", strategy(**params), on)
    events = 0
    if source.warmup is not None and source.warmup != source.start:
        events += _run(source.replayer(bus, warmup=True), deadline, timeout)
    portfolio = broker.attach(manager)
    events += _run(source.replayer(bus), deadline, timeout)
    errors.check()
    fills, curve = analytics.from_portfolio(portfolio)
    out = _metrics(metrics, fills, curve)
    out.update(events=events, rejected=errors.rejected)
    if equity:
        out["equity"] = curve
    return out


def _run(replayer: Any, deadline: float | None, timeout: float | None) -> int:
    """Run ``replayer`` to its end, stopped before its next event at ``deadline``."""
    timer = None
    if deadline is not None:
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), replayer.stop, (0,))
        timer.daemon = True
        timer.start()
    try:
        summary = replayer.run()
    finally:
        if timer is not None:
            timer.cancel()
    if not summary.finished:
        raise TimeoutError(f"the run took longer than timeout={timeout} s: stopped after "
                           f"{summary.done:,} of {summary.total:,} events")
    return int(summary.events)


def _metrics(metrics: Metrics, fills: pd.DataFrame, curve: pd.Series) -> dict[str, Any]:
    if callable(metrics):
        values = metrics(fills, curve)
        if not isinstance(values, Mapping):
            raise TypeError(f"metrics(fills, equity) must return a mapping of names to "
                            f"values, got {type(values).__name__}")
        return dict(values)
    stats = analytics.summary(fills, curve)
    return {k: stats[k] for k in (stats.index if metrics is None else metrics)}
