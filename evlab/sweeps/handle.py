"""``SweepHandle``: a sweep under way; results stream in as runs finish, in any engine.

A collector thread keeps at most ``max_in_flight`` runs submitted (so neither this process nor
the scheduler holds state for every run of a long sweep), takes each result as its run
finishes (done callbacks feed a queue: the same on every engine), advances the progress bar
and forgets the future (Dask then drops the result from the cluster). Rows come out in task
order (grid order x source order), never in completion order. ``cancel()`` works from any
cell or thread; the runs not finished become rows with ``error="cancelled"``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import queue
import sys
import threading
from collections.abc import Generator, Sequence
from typing import Any

import pandas as pd

from evlab.sweeps.engine import CANCELLED, Engine
from evlab.sweeps.task import RESULT_COLUMNS, Task

__all__ = ["SweepHandle"]

_COUNTS = ("periods", "trades", "events", "rejected")
_WAKE = object()  # put on the queue by cancel(): the collector stops waiting


class SweepHandle:
    """A sweep under way: ``result()``, ``await handle``, ``cancel()``, ``frame``, ``progress``.

    Built by :func:`evlab.sweeps.start`. ``stall_timeout``: seconds without any run finishing
    after which the runs left are given up (cancelled, with an error saying so), so nothing
    waits forever by default (a lost worker, a strategy stuck inside a handler).
    """

    def __init__(self, tasks: Sequence[Task], labels: Sequence[tuple[dict[str, Any], str]],
                 engine: Engine, *, max_in_flight: int, stall_timeout: float | None,
                 progress: bool, what: str = "sweep") -> None:
        self.tasks, self.labels, self.engine = list(tasks), list(labels), engine
        self.max_in_flight, self.stall_timeout = max_in_flight, stall_timeout
        self.what = what
        self._results: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Any] = queue.Queue()  # <= max_in_flight + 1 items
        self._pending: dict[Any, int] = {}
        self._next = 0
        self._cancelled = threading.Event()
        self._done: concurrent.futures.Future[pd.DataFrame] = concurrent.futures.Future()
        self._bar = self._progress_bar() if progress else None
        _show_dashboard(engine.dashboard)
        self._thread = threading.Thread(target=self._collect, name="evlab-sweep-collector",
                                        daemon=True)
        self._thread.start()

    # --- what a notebook asks -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tasks)

    @property
    def progress(self) -> tuple[int, int]:
        """``(finished, total)`` runs."""
        return len(self._results), len(self.tasks)

    @property
    def frame(self) -> pd.DataFrame:
        """The rows of the runs finished so far, in task order (the rest come later)."""
        with self._lock:
            done = sorted(self._results.items())
        return self._frame(done)

    def done(self) -> bool:
        """True once every run has a row (finished, failed or cancelled)."""
        return self._done.done()

    def result(self, timeout: float | None = None) -> pd.DataFrame:
        """Wait for the sweep (``timeout`` s at most: then ``TimeoutError``, the sweep goes
        on) and return its frame, one row per run in task order."""
        try:
            return self._done.result(timeout)
        except concurrent.futures.TimeoutError:
            done, total = self.progress
            raise TimeoutError(f"{self.what}: {done} of {total} runs finished after {timeout} s "
                               "(it goes on: result() again, or cancel())") from None

    def outcomes(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Each run's raw result (walk-forward reads the test runs' equity curves here)."""
        self.result(timeout)
        return [self._results[i] for i in range(len(self.tasks))]

    def __await__(self) -> Generator[Any, None, pd.DataFrame]:
        return asyncio.wrap_future(self._done).__await__()

    def cancel(self) -> None:
        """Stop the sweep: no new runs start, those not finished become ``cancelled`` rows."""
        self._cancelled.set()
        self._queue.put(_WAKE)

    def __repr__(self) -> str:
        done, total = self.progress
        state = "done" if self.done() else ("cancelling" if self._cancelled.is_set()
                                             else "running")
        return f"<SweepHandle {self.what}: {done}/{total} runs, {state}, " \
               f"{self.engine.describe()}>"

    def _repr_html_(self) -> str:
        link = self.engine.dashboard
        extra = f' · <a href="{html.escape(link)}" target="_blank">Dask dashboard</a>' \
            if link else ""
        return f"<code>{html.escape(repr(self))}</code>{extra}"

    # --- the collector ------------------------------------------------------------------
    def _progress_bar(self) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=len(self.tasks), desc=f"{self.what} ({self.engine.describe()})",
                    unit="run")

    def _collect(self) -> None:
        try:
            self._submit_more()
            while self._pending and not self._cancelled.is_set():
                try:
                    future = self._queue.get(timeout=self.stall_timeout)
                except queue.Empty:
                    self._give_up(f"no run finished for {self.stall_timeout} s (a worker lost, "
                                  "or a handler stuck): given up")
                    break
                done = [future]
                while True:  # and every other run finished meanwhile: one gather for all
                    try:
                        done.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                done = [f for f in done if f is not _WAKE]
                indices = [self._pending.pop(f) for f in done]
                for index, result in zip(indices, self.engine.results(done), strict=True):
                    self._record(index, result)
                self._submit_more()
            if self._cancelled.is_set():
                self._give_up(CANCELLED)
            frame = self.frame
        except BaseException as exc:  # an engine that fails to submit: say so, end cleanly
            self._give_up(f"{type(exc).__name__}: {exc}")
            self._done.set_exception(exc)
            return
        finally:
            if self._bar is not None:
                self._bar.close()
            self.engine.close()
        self._done.set_result(frame)

    def _submit_more(self) -> None:
        while (self._next < len(self.tasks) and len(self._pending) < self.max_in_flight
               and not self._cancelled.is_set()):
            index = self._next
            future = self.engine.submit(self.tasks[index], index)
            self._next += 1
            self._pending[future] = index
            future.add_done_callback(self._queue.put)

    def _record(self, index: int, result: dict[str, Any]) -> None:
        with self._lock:
            self._results[index] = result
        if self._bar is not None:
            self._bar.update(1)

    def _give_up(self, why: str) -> None:
        pending = list(self._pending)
        self._pending.clear()
        try:
            self.engine.cancel(pending)
        finally:
            for index in range(len(self.tasks)):
                if index not in self._results:
                    self._record(index, {"wall_seconds": float("nan"), "error": why})

    def _frame(self, done: Sequence[tuple[int, dict[str, Any]]]) -> pd.DataFrame:
        params: dict[str, None] = {}
        for combo, _ in self.labels:
            params.update(dict.fromkeys(combo))
        metrics: dict[str, None] = {}
        for _, result in done:
            metrics.update(dict.fromkeys(k for k in result
                                         if k not in RESULT_COLUMNS and k != "equity"))
        columns = [*params, "source", *metrics, *RESULT_COLUMNS]
        rows = [{**self.labels[i][0], "source": self.labels[i][1],
                 **{k: v for k, v in result.items() if k != "equity"}} for i, result in done]
        frame = pd.DataFrame(rows, columns=columns, index=pd.Index([i for i, _ in done],
                                                                   name="run"))
        frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
        for name in _COUNTS:  # counts stay whole numbers beside the rows that have none
            if name in frame.columns and pd.api.types.is_numeric_dtype(frame[name]):
                frame[name] = frame[name].astype("Int64")
        return frame


def _show_dashboard(link: str | None) -> None:
    """In a notebook, a link to the Dask dashboard under the cell that starts the sweep."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if link is None or shell is None or not hasattr(shell, "kernel"):
        return
    from IPython.display import HTML, display

    display(HTML(f'Dask dashboard: <a href="{html.escape(link)}" target="_blank">'
                 f"{html.escape(link)}</a>"))


