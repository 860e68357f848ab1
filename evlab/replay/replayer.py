"""``Replayer``: emit a recording, a bars DataFrame, a file or a dataset on a bus again.

See the package docstring (``evlab.replay``) for what is replayed, in which order, and how
pacing, pausing and the background thread behave.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from evlab.bus import EventBus
from evlab.events import Event, EventType
from evlab.feeds.loop import BackgroundLoop
from evlab.replay.control import Control, Pacer
from evlab.replay.sources import make_plan
from evlab.replay.summary import Progress, ReplaySummary, Tally

__all__ = ["Progress", "ReplaySummary", "Replayer"]

logger = logging.getLogger("evlab")


class Replayer:
    """Emits ``source``'s events on ``bus`` in their original order with their event times.

    ``source``: a Recording or EventRecorder, a LazyRecording (``open_recording``: streamed
    in bounded memory), a bars DataFrame, a path (recording: streamed when big; Parquet or
    CSV of bars) or a shipped dataset name. Options (see the package docstring):
    ``what`` ("roots", "raw", "bars", "all" or a list of types), ``symbols``, ``start``/
    ``end`` (event times, end excluded), ``order`` ("time" or "recorded"), ``validate``,
    ``classes`` (user event classes), ``source_name`` (bars' ``source``), ``progress``
    (None: a bar from ``PROGRESS_MIN`` events; True; False), ``progress_factory``,
    ``chunk`` (events built at a time), ``clock``/``sleep`` (pacing, for tests).
    """

    PROGRESS_MIN = 10_000

    def __init__(self, source: Any, bus: EventBus, *, what: str | Iterable[str] = "roots",
                 symbols: str | Iterable[str] | None = None, start: Any = None,
                 end: Any = None, order: str = "time", validate: bool = True,
                 classes: Any = (), source_name: str | None = None,
                 progress: bool | None = None, progress_factory: Callable[..., Any] | None = None,
                 chunk: int = 1024, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Any] | None = None) -> None:
        if not isinstance(bus, EventBus):
            raise TypeError(f"Replayer: bus must be an EventBus, got {type(bus).__name__}")
        if chunk < 1:
            raise ValueError(f"chunk: must be a positive number of events, got {chunk!r}")
        self.bus = bus
        self.plan = make_plan(source, what=what, symbols=symbols, start=start, end=end,
                              order=order, validate=validate, classes=classes,
                              source_name=source_name,
                              decodes=any(sub.event_type == EventType.WEBSOCKET
                                          for sub in bus.subscriptions))
        self.name = self.plan.name
        self.chunk = chunk
        self.progress_option = progress
        self.progress_factory = progress_factory
        self._clock, self._sleep = clock, sleep
        self._pos = 0
        self._ctl = Control()
        self._lock = threading.Lock()  # guards _active
        self._step_lock = threading.Lock()  # held by step(); the run loop unparks under it
        self._parked = threading.Event()  # set while a paused run waits for resume()
        self._active = False
        self._run_thread: int | None = None
        self._background: BackgroundLoop | None = None  # where start() runs
        self._task: concurrent.futures.Future[None] | None = None
        self._own_thread: threading.Thread | None = None  # the thread of a loop start() made
        self._error: BaseException | None = None
        self.summary: ReplaySummary | None = None

    # --- state -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.plan)

    @property
    def progress(self) -> Progress:
        """``(done, total)``: events emitted so far and in all."""
        return Progress(self._pos, len(self.plan))

    @property
    def running(self) -> bool:
        """True while a run (foreground, background or async) is under way, paused or not."""
        return self._active

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and ``resume()``."""
        return self._ctl.paused

    @property
    def state(self) -> str:
        """"ready", "running", "paused", "stopped" or "finished"."""
        if self._active:
            return "paused" if self._ctl.paused else "running"
        if self._pos >= len(self.plan):
            return "finished"
        return "stopped" if self._ctl.stopped else "ready"

    def __repr__(self) -> str:
        done, total = self.progress
        return f"<Replayer {self.name}: {done:,}/{total:,} events, {self.state}>"

    # --- control -----------------------------------------------------------------------
    def pause(self) -> None:
        """Hold the run before its next event (from any thread, cell, task or handler; a
        foreground ``run()`` can only be resumed from another thread)."""
        self._ctl.pause()

    def resume(self) -> None:
        """Go on after ``pause()``; a paced run keeps its speed from here (no catching up)."""
        self._ctl.resume()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """End the run before its next event (position kept: ``run()`` goes on from there).

        Waits up to ``timeout`` s for a background run to end (0: don't wait; never from
        its own thread); True if no run is left.
        """
        self._ctl.stop()
        background = self._background
        if background is not None and not background.in_thread() and timeout != 0:
            self.join(timeout)
        return not self._active

    def rewind(self) -> None:
        """Start again from the first event (not while running)."""
        if self._active:
            raise RuntimeError("Replayer.rewind(): stop() the run first")
        self._pos = 0

    # --- running -----------------------------------------------------------------------
    def run(self, speed: float | None = None, *, progress: bool | None = None) -> ReplaySummary:
        """Emit the events left (from ``progress.done``) with ``bus.emit``, as fast as
        possible or at ``speed`` x event time; returns the summary (also ``self.summary``).

        Called on a thread whose event loop is running (a notebook cell), the bus's async
        handlers run only once that code returns to the loop: a RuntimeWarning says so,
        naming them (``await run_async()`` runs them in step)."""
        self._warn_deferred()
        self._begin()
        try:
            return self._run(speed, progress)
        finally:
            self._end()

    def _warn_deferred(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop here: emit hands async handlers to the bus's own loop, if any
        deferred = [s.name for s in self.bus.subscriptions if s.is_async]
        if deferred:
            warnings.warn(
                f"Replayer.run() on a thread whose event loop is running: the async handlers "
                f"{', '.join(deferred)} will run only after this code returns to the loop, so "
                f"what they publish is not there yet when run() returns; use "
                f"`await replayer.run_async()` (or evlab.run(replayer.run_async()))",
                RuntimeWarning, stacklevel=3)

    async def run_async(self, speed: float | None = None, *,
                        progress: bool | None = None) -> ReplaySummary:
        """``run`` on the running loop with ``await bus.emit_async`` (async handlers
        awaited in order); pause/resume/stop from other tasks or threads."""
        self._begin()
        try:
            return await self._run_async(speed, progress)
        finally:
            self._end()

    def start(self, speed: float | None = None, *, progress: bool | None = None,
              loop: BackgroundLoop | None = None) -> Replayer:
        """Run in the background and return at once (``wait()``, ``pause()``, ``stop()``).

        The run is ``run_async`` on ``loop`` (a Lab's, shared with its feeds), or on a
        :class:`~evlab.feeds.loop.BackgroundLoop` of its own that ends with the run.
        """
        self._begin()
        self._error = None
        owned = loop is None
        background = BackgroundLoop(f"evlab-replay-{self.name}") if loop is None else loop

        async def main() -> None:
            try:
                await self._run_async(speed, progress)
            except BaseException as exc:
                self._error = exc
                logger.error("replay %s failed: %r", self.name, exc, exc_info=exc)
            finally:
                self._end()
                if owned:
                    background.stop()  # from its own thread: the loop ends after this task

        self._background = background
        self._task = background.submit(main())
        self._own_thread = background.thread if owned else None
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end (and the thread of its own loop, if it made one);
        True if it has (or none was started)."""
        task = self._task
        if task is None:
            return True
        concurrent.futures.wait([task], timeout)
        thread = self._own_thread
        if task.done() and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return task.done()

    def wait(self, timeout: float | None = None) -> ReplaySummary:
        """Wait for the background run and return its summary; re-raises its error;
        TimeoutError if it is still running after ``timeout`` s."""
        if not self.join(timeout):
            raise TimeoutError(f"replay {self.name} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        if self.summary is None:
            raise RuntimeError("Replayer.wait(): nothing was run yet")
        return self.summary

    def step(self, n: int = 1) -> list[Event]:
        """Emit the next ``n`` events now (no pacing) and return them, stamped.

        Works when no run is under way, or while a background run is paused.
        """
        if n < 0:
            raise ValueError(f"step: n must be >= 0, got {n!r}")
        if self._active:
            if not self._ctl.paused:
                raise RuntimeError("Replayer.step(): a run is under way; pause() it first")
            if self._run_thread == threading.get_ident():
                if not self._parked.is_set():
                    raise RuntimeError("Replayer.step(): the paused run has not reached its "
                                       "pause yet; let it (await asyncio.sleep(0)) first")
            elif not self._parked.wait(10.0):
                raise RuntimeError("Replayer.step(): the paused run did not stop in time")
        with self._step_lock:
            if self._active and not self._parked.is_set():
                raise RuntimeError("Replayer.step(): the run was resumed meanwhile")
            lo = self._pos
            hi = min(lo + n, len(self.plan))
            out: list[Event] = []
            emit = self.bus.emit
            for event in self.plan.chunk(lo, hi) if hi > lo else ():
                out.append(emit(event))
                self._pos += 1
            return out

    # --- internals ---------------------------------------------------------------------
    def _begin(self) -> None:
        with self._lock:
            if self._active:
                raise RuntimeError(f"replay {self.name} is already running")
            self._active = True
        self._ctl.rearm()

    def _end(self) -> None:
        self._run_thread = None
        with self._lock:
            self._active = False

    def _progress_bar(self, progress: bool | None, remaining: int) -> Any:
        show = self.progress_option if progress is None else progress
        if show is None:
            show = remaining >= self.PROGRESS_MIN
        if not show or remaining <= 0:
            return None
        factory = self.progress_factory
        if factory is None:
            from tqdm.auto import tqdm

            factory = tqdm
        return factory(total=remaining, desc=f"replay {self.name}", unit="ev")

    def _finish(self, tally: Tally, wall: float, speed: float | None,
                bar: Any) -> ReplaySummary:
        events = int(tally.counts.sum())
        names = self.plan.type_names
        self.summary = ReplaySummary(
            events=events,
            by_type={names[i]: int(c) for i, c in enumerate(tally.counts) if c},
            first_time=tally.time(tally.first), last_time=tally.time(tally.last),
            wall_seconds=wall, rate=events / wall if wall > 0 else 0.0,
            done=self._pos, total=len(self.plan), finished=self._pos >= len(self.plan),
            stopped=self._ctl.stopped, speed=speed, progress_bar=bar is not None)
        return self.summary

    def _park(self) -> None:
        with self._step_lock:
            self._parked.set()

    def _unpark(self) -> None:
        with self._step_lock:
            self._parked.clear()

    def _run(self, speed: float | None, progress: bool | None) -> ReplaySummary:
        self._run_thread = threading.get_ident()
        plan, ctl, total = self.plan, self._ctl, len(self.plan)
        pacer = None if speed is None else Pacer(speed, ctl, self._clock, self._sleep)
        tally, emit, interrupt, done = Tally(plan), self.bus.emit, ctl.interrupt, [0]
        bar = self._progress_bar(progress, total - self._pos)
        t0 = time.perf_counter()
        try:
            while not ctl.stopped and self._pos < total:
                if ctl.paused:
                    self._park()
                    ctl.wait_resumed()
                    self._unpark()
                    if pacer is not None:
                        pacer.reanchor()
                    continue
                lo = self._pos
                hi = min(lo + self.chunk, total)
                done[0] = 0
                try:
                    if pacer is None:
                        plan.pump(lo, hi, emit, interrupt, done)
                    else:
                        self._paced(plan.chunk(lo, hi), lo, pacer, emit, interrupt, done)
                finally:
                    n = done[0]
                    self._pos = lo + n
                    tally.add(lo, lo + n)
                if bar is not None:
                    bar.update(n)
        finally:
            if bar is not None:
                bar.close()
        return self._finish(tally, time.perf_counter() - t0, speed, bar)

    def _paced(self, events: list[Event], lo: int, pacer: Pacer, emit: Callable[[Event], Any],
               interrupt: list[Any], done: list[int]) -> None:
        time_at, wait = self.plan.time_at, pacer.wait
        for e in events:
            wait(time_at(lo + done[0]))
            if interrupt:
                break
            emit(e)
            done[0] += 1

    async def _run_async(self, speed: float | None, progress: bool | None) -> ReplaySummary:
        self._run_thread = threading.get_ident()
        plan, ctl, total = self.plan, self._ctl, len(self.plan)
        pacer = None if speed is None else Pacer(speed, ctl, self._clock, self._sleep)
        tally, emit, interrupt, time_at = Tally(plan), self.bus.emit_async, ctl.interrupt, \
            plan.time_at
        bar = self._progress_bar(progress, total - self._pos)
        t0 = time.perf_counter()
        try:
            while not ctl.stopped and self._pos < total:
                if ctl.paused:
                    self._park()
                    await ctl.wait_resumed_async()
                    self._unpark()
                    if pacer is not None:
                        pacer.reanchor()
                    continue
                lo = self._pos
                events = plan.chunk(lo, min(lo + self.chunk, total))
                n = 0
                try:
                    for e in events:
                        if pacer is not None:
                            await pacer.wait_async(time_at(lo + n))
                        if interrupt:
                            break
                        await emit(e)
                        n += 1
                finally:
                    self._pos = lo + n
                    tally.add(lo, lo + n)
                if bar is not None:
                    bar.update(n)
                await asyncio.sleep(0)  # the loop's other tasks (a Lab's feeds) run between chunks
        finally:
            if bar is not None:
                bar.close()
        return self._finish(tally, time.perf_counter() - t0, speed, bar)
