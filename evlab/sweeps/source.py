"""``Source``: what one run of a sweep replays, in a form a worker can load by itself.

A source is anything :class:`~evlab.replay.Replayer` takes (a shipped dataset name, a path
to a recording or to a Parquet/CSV file of bars, a Recording, a bars DataFrame), with the
Replayer's selection (``symbols``, ``start``/``end``, other options). On a cluster only
names and paths travel: a Recording goes as the path it was loaded from, and a DataFrame or
anything that pickles large is refused with what to do instead (save it, pass the path).
Paths must be readable where the workers run (the same machine, or a shared filesystem).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from evlab.bus import EventBus
from evlab.events import to_ns

__all__ = ["MAX_SHIPPED", "Source", "as_sources", "time_label"]

MAX_SHIPPED = 256 * 1024  # bytes: a source that pickles larger is data, not a name


def time_label(value: Any) -> str:
    """A time as a source's label shows it: the date, or the date and time."""
    ts = pd.Timestamp(to_ns(value), tz="UTC")
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M:%S}"


def _describe(source: Any) -> str:
    from evlab.recording import EventRecorder, Recording

    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, Recording):
        return str(source.path) if source.path is not None else "recording"
    if isinstance(source, EventRecorder):
        return "recorder"
    if isinstance(source, pd.DataFrame):
        return "bars DataFrame"
    return getattr(source, "name", None) or type(source).__name__


@dataclass(frozen=True)
class Source:
    """One source of a sweep: ``source`` as the Replayer takes it, and what of it to replay.

    ``symbols``, ``start``/``end`` (event times, end excluded) and ``options`` (other Replayer
    keywords: ``what``, ``order``, ``classes``...) go to the Replayer. ``warmup``: a time
    before ``start``; the events in ``[warmup, start)`` reach the strategy alone (it builds
    its state), the account trades from ``start`` (walk-forward test windows use it).
    ``label`` names it in the results (default: the name or path, symbols and times).
    """

    source: Any
    symbols: str | tuple[str, ...] | None = None
    start: Any = None
    end: Any = None
    warmup: Any = None
    label: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.source, Source):
            raise TypeError("Source(Source(...)): give the inner source, or use "
                            "dataclasses.replace to change one field")
        if self.symbols is not None and not isinstance(self.symbols, str):
            object.__setattr__(self, "symbols", tuple(str(s) for s in self.symbols))
        for name in ("start", "end", "warmup"):
            value = getattr(self, name)
            if value is not None:
                try:
                    to_ns(value)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"Source.{name}: not a time: {value!r} ({exc})") from exc
        if self.warmup is not None and (self.start is None
                                        or to_ns(self.warmup) > to_ns(self.start)):
            raise ValueError(f"Source.warmup ({self.warmup!r}) must be a time at or before "
                             f"start ({self.start!r})")
        taken = {"symbols", "start", "end"} & set(self.options)
        if taken:
            raise ValueError(f"Source.options: give {', '.join(sorted(taken))} as Source's "
                             "own arguments")

    @property
    def name(self) -> str:
        """The label of this source in a sweep's results."""
        if self.label is not None:
            return self.label
        text = _describe(self.source)
        if self.symbols is not None:
            symbols = [self.symbols] if isinstance(self.symbols, str) else self.symbols
            text += f"[{','.join(symbols)}]"
        if self.start is not None or self.end is not None:
            lo = "" if self.start is None else time_label(self.start)
            hi = "" if self.end is None else time_label(self.end)
            text += f" {lo}..{hi}"
        return text

    def replayer(self, bus: EventBus, *, warmup: bool = False) -> Any:
        """A Replayer of this source on ``bus`` (no progress bar: a sweep shows its own);
        ``warmup=True``: of the warm-up stretch ``[warmup, start)`` instead."""
        from evlab.replay import Replayer

        start, end = (self.warmup, self.start) if warmup else (self.start, self.end)
        options = {"progress": False, **self.options}
        return Replayer(self.source, bus, symbols=self.symbols, start=start, end=end,
                        **options)

    def times(self) -> np.ndarray:
        """The distinct event times (ns, sorted) this source replays: walk-forward cuts its
        windows on them. Read here, in this process, through the Replayer's own plan."""
        from evlab.replay.sources import make_plan

        plan = make_plan(self.source, symbols=self.symbols, start=self.start, end=self.end,
                         **self.options)
        return plan.distinct_times()  # a streamed recording: read a window at a time

    def shipped(self) -> Source:
        """This source as a remote worker gets it: by name or path, never the data."""
        from evlab.recording import EventRecorder, Recording

        source = self.source
        if isinstance(source, Recording):
            if source.path is None:
                raise ValueError(f"source {self.name!r}: a Recording built in this process; on "
                                 "a cluster each worker loads its source itself: save it "
                                 "(rec.save('session.parquet')) and pass the path")
            return replace(self, source=os.fspath(source.path), label=self.name)
        if isinstance(source, EventRecorder):
            raise ValueError(f"source {self.name!r}: a live EventRecorder; on a cluster each "
                             "worker loads its source itself: save it (rec.save("
                             "'session.parquet')) and pass the path")
        if isinstance(source, pd.DataFrame):
            raise ValueError(f"source {self.name!r}: a DataFrame held in this process; on a "
                             "cluster each worker loads its source itself: save it "
                             "(frame.to_parquet('bars.parquet')) and pass the path, or run "
                             "the sweep locally (client=None)")
        from evlab.sweeps._pickle import dumps

        size = len(dumps(self))
        if size > MAX_SHIPPED:
            raise ValueError(f"source {self.name!r}: pickles to {size:,} bytes (more than "
                             f"MAX_SHIPPED = {MAX_SHIPPED:,}); on a cluster each worker loads "
                             "its source itself: pass a dataset name or a path")
        return replace(self, label=self.name)


def as_sources(sources: Any) -> list[Source]:
    """``sources`` (a list or tuple of sources, or one source: anything else, so a source
    that can be iterated is never taken apart) as Sources, with distinct labels."""
    items = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not items:
        raise ValueError("sources: an empty list leaves no run")
    out = [s if isinstance(s, Source) else Source(s) for s in items]
    seen: dict[str, int] = {}
    for i, s in enumerate(out):
        if s.name in seen:
            raise ValueError(f"sources: #{seen[s.name]} and #{i} are both named {s.name!r}; "
                             "give them labels: Source(..., label='...')")
        seen[s.name] = i
    return out
