"""What a replay reports: ``Progress`` (done, total) and the ``ReplaySummary`` of a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = ["Progress", "ReplaySummary", "Tally"]


class Progress(NamedTuple):
    """Events emitted so far (by runs and steps) out of all the replay holds."""

    done: int
    total: int

    @property
    def fraction(self) -> float:
        """``done / total`` (1.0 for an empty replay)."""
        return self.done / self.total if self.total else 1.0


@dataclass(frozen=True)
class ReplaySummary:
    """What one ``run()`` did: events emitted per type, event-time span, wall time, rate."""

    events: int
    by_type: dict[str, int]
    first_time: pd.Timestamp | None
    last_time: pd.Timestamp | None
    wall_seconds: float
    rate: float  # events per wall-clock second
    done: int  # position reached (events of the whole replay emitted so far)
    total: int
    finished: bool  # the end of the replay was reached
    stopped: bool  # stop() ended the run early
    speed: float | None = None
    progress_bar: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The summary as a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        kinds = ", ".join(f"{n:,} {t}" for t, n in self.by_type.items())
        span = f" {self.first_time} .. {self.last_time}" if self.events else ""
        state = "finished" if self.finished else "stopped" if self.stopped else "incomplete"
        return (f"replayed {self.events:,} events ({kinds or 'none'}){span} in "
                f"{self.wall_seconds:.3f} s ({self.rate:,.0f}/s); {self.done:,}/{self.total:,}"
                f" {state}")


class Tally:
    """Events emitted by one run: counts per type and the event times spanned."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.counts = np.zeros(len(plan.type_names), dtype=np.int64)
        self.first: int | None = None  # event times (ns): a streamed plan forgets positions
        self.last: int | None = None

    def add(self, lo: int, hi: int) -> None:
        if hi > lo:
            self.counts += np.bincount(self.plan.kind_codes(lo, hi), minlength=len(self.counts))
            if self.first is None:
                self.first = self.plan.time_at(lo)
            self.last = self.plan.time_at(hi - 1)

    def time(self, ns: int | None) -> pd.Timestamp | None:
        return None if ns is None else pd.Timestamp(ns, tz="UTC")
