"""Parameter sweeps and walk-forward studies, here or on a Dask cluster.

    frame = evlab.sweep(SmaCross, {"fast": [10, 20], "slow": [50, 100]},
                        [Source("stocks_daily", symbols="AAPL"), "session.parquet"])
    frame = evlab.sweep(..., client=Client("tcp://scheduler:8786"))   # the same, on a cluster
    handle = evlab.sweeps.start(...)    # returns at once: handle.cancel(), .frame, await handle
    study = evlab.walk_forward(SmaCross, grid, Source("stocks_daily", symbols="AAPL"),
                               train="730D", test="365D")

**A run** (:func:`run_one`) is one fresh bus, ``strategy(**params)`` registered as a strategy
(a component with ``on_bar``..., or a function returning events), a fresh ``Portfolio`` and
``PaperBroker`` (``broker=Broker(...)``), and a ``Replayer`` of one source; its row holds the
parameters, the source's label, the metrics (``metrics=``: the analytics summary by default),
``events``, ``rejected``, ``wall_seconds`` and ``error``. A run that fails (bad parameters,
a raising handler, a source that does not load, ``timeout`` passed) is a row with its error;
the sweep goes on. Runs are deterministic: the same sweep gives the same rows (but wall time),
in grid order x source order, whatever the engine and whatever order runs finish in.

**Engines** (``client=``): ``None`` runs here, one run at a time on a thread of this process
(the cell is free at once with ``start``; nothing is pickled, so any source works and a
breakpoint in the strategy stops in this kernel). A local pool is not the default: it costs
its start-up (about a second for two spawned workers on a 2-core machine) and pays only
from sweeps of several seconds; then pass ``client=ProcessPoolExecutor(2)`` or a
``LocalCluster``'s client (``benchmarks/bench_sweep.py`` measures both against serial). A
``distributed.Client`` (``pip install 'evlab[dask]'``) or a scheduler address runs on that
cluster; any ``concurrent.futures.Executor`` works too. Off this process, tasks go as
cloudpickle bytes (strategies written in a notebook cell travel by value) and sources go by
dataset name or path, never as data: each worker loads its own (a DataFrame source is refused
there with what to do instead). Each task is a few kilobytes.

**Waiting.** ``timeout`` (600 s) bounds each run (the replay stops before its next event; the
row says so); a sweep in which no run finishes for ``timeout`` + 60 s gives the rest up, so
nothing waits forever unless ``timeout=None`` asks for it. ``Ctrl-C`` (interrupting the
kernel) during ``sweep()`` cancels the runs left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from evlab.analytics import SUMMARY_FIELDS
from evlab.events import EventType
from evlab.sweeps.broker import Broker
from evlab.sweeps.engine import engine_for, pickled
from evlab.sweeps.grid import Grid, expand
from evlab.sweeps.handle import SweepHandle
from evlab.sweeps.source import Source, as_sources
from evlab.sweeps.task import RESULT_COLUMNS, Metrics, Task, run_one
from evlab.sweeps.walkforward import WalkForward, walk_forward

__all__ = ["Broker", "Source", "SweepHandle", "WalkForward", "run_one", "start", "sweep",
           "walk_forward"]

DEFAULT_TIMEOUT = 600.0
STALL_GRACE = 60.0


def start(strategy: Callable[..., Any], grid: Grid, sources: Any, *, client: Any = None,
          broker: Broker | None = None, metrics: Metrics = None,
          on: str | Iterable[str] = EventType.BAR, timeout: float | None = DEFAULT_TIMEOUT,
          progress: bool = True, max_in_flight: int = 64) -> SweepHandle:
    """Start the sweep of ``strategy`` over ``grid`` x ``sources`` and return its handle at
    once (see :func:`sweep` for the arguments; ``max_in_flight``: runs submitted at a time)."""
    params = expand(grid, reserved=_reserved(metrics))
    srcs = as_sources(sources)
    pairs = [(combo, src) for combo in params for src in srcs]
    return launch(strategy, pairs, client=client, broker=broker, metrics=metrics, on=on,
                  timeout=timeout, progress=progress, max_in_flight=max_in_flight)


def sweep(strategy: Callable[..., Any], grid: Grid, sources: Any, *, client: Any = None,
          broker: Broker | None = None, metrics: Metrics = None,
          on: str | Iterable[str] = EventType.BAR, timeout: float | None = DEFAULT_TIMEOUT,
          progress: bool = True, max_in_flight: int = 64) -> pd.DataFrame:
    """Run ``strategy(**params)`` for every parameter set of ``grid`` on every source; one row
    per run, in grid order x source order.

    ``strategy``: a strategy class or any factory called with each parameter dict.
    ``grid``: a dict of lists (their cartesian product) or a list of dicts. ``sources``: one
    or a list of dataset names, paths, Recordings, bars DataFrames (here only) or
    :class:`Source` (a selection: symbols, start/end). ``client``: None (here), a Dask
    ``Client``, a scheduler address or an ``Executor``. ``broker``: the paper account
    (:class:`Broker`). ``metrics``: None (the analytics summary), a list of its fields, or
    ``fn(fills, equity) -> dict``. ``on``: the event types the strategy gets (bars).
    ``timeout``: seconds per run. Blocks until done; :func:`start` is the same, non-blocking.
    """
    handle = start(strategy, grid, sources, client=client, broker=broker, metrics=metrics,
                   on=on, timeout=timeout, progress=progress, max_in_flight=max_in_flight)
    try:
        return handle.result()
    except BaseException:  # KeyboardInterrupt: the kernel was interrupted; stop the runs
        handle.cancel()
        raise


def launch(strategy: Callable[..., Any], pairs: list[tuple[dict[str, Any], Source]], *,
           client: Any, broker: Broker | None, metrics: Metrics, on: str | Iterable[str],
           timeout: float | None, progress: bool, max_in_flight: int, equity: bool = False,
           what: str = "sweep") -> SweepHandle:
    """Start one run per ``(params, source)`` pair (a sweep's product, walk-forward's picks)."""
    if not callable(strategy):
        raise TypeError(f"strategy: a strategy class or a factory of strategies, got "
                        f"{type(strategy).__name__}")
    broker = Broker() if broker is None else broker
    if not isinstance(broker, Broker):
        raise TypeError(f"broker: an evlab.sweeps.Broker(cash=..., fill_model=..., sizer=...), "
                        f"got {type(broker).__name__}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout: seconds per run (> 0), or None for no limit; got {timeout!r}")
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) \
            or max_in_flight < 1:
        raise ValueError(f"max_in_flight: a positive number of runs, got {max_in_flight!r}")
    types = (on,) if isinstance(on, str) else tuple(on)
    engine = engine_for(client)
    try:
        shipped: dict[int, Source] = {}
        tasks = []
        for combo, src in pairs:
            if engine.remote:
                if id(src) not in shipped:
                    shipped[id(src)] = src.shipped()
                src = shipped[id(src)]
            tasks.append(Task(strategy, combo, src, broker, metrics, types, timeout, equity))
        if engine.remote and tasks:
            pickled(tasks[0])  # a strategy that cannot travel fails here, not in every row
    except BaseException:
        engine.close()
        raise
    stall = None if timeout is None else timeout + STALL_GRACE
    return SweepHandle(tasks, [(combo, src.name) for combo, src in pairs], engine,
                       max_in_flight=max_in_flight, stall_timeout=stall, progress=progress,
                       what=what)


def _reserved(metrics: Metrics) -> list[str]:
    """The sweep's own columns (no parameter may take their names); checks ``metrics``."""
    if metrics is None:
        return ["source", *SUMMARY_FIELDS, *RESULT_COLUMNS]
    if isinstance(metrics, (list, tuple)):
        unknown = [m for m in metrics if m not in SUMMARY_FIELDS]
        if unknown:
            raise ValueError(f"metrics: unknown summary field(s) {', '.join(map(repr, unknown))}"
                             f"; fields: {', '.join(SUMMARY_FIELDS)} (or give fn(fills, "
                             "equity) -> dict)")
        return ["source", *metrics, *RESULT_COLUMNS]
    if not callable(metrics):
        raise TypeError(f"metrics: None, a list of summary fields or fn(fills, equity) -> "
                        f"dict, got {type(metrics).__name__}")
    return ["source", *RESULT_COLUMNS]
