"""``Recording``: a recorded session (or several) held as one Arrow table plus metadata."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

import pandas as pd
import pyarrow as pa

from evlab.events import Event
from evlab.recording.convert import canonical, iter_events, resolver, to_frame
from evlab.recording.views import FrameViews, summary_html, summary_text

__all__ = ["Recording"]


class Recording(FrameViews):
    """Recorded events, from ``load_recording()`` or ``EventRecorder.snapshot()``.

    ``frame`` is the same DataFrame as ``EventRecorder.to_frame()`` (with a ``session``
    column when it holds several sessions); ``bars()``, ``signals()`` ... are views of it.
    """

    def __init__(self, table: pa.Table, metadata: dict[str, Any]) -> None:
        self.table: pa.Table = canonical(table)
        self.metadata: dict[str, Any] = metadata

    @cached_property
    def frame(self) -> pd.DataFrame:
        """One row per event (see ``EventRecorder.to_frame``); computed once."""
        return to_frame(self.table)

    def _frame(self) -> pd.DataFrame:
        return self.frame

    def __len__(self) -> int:
        rows: int = self.table.num_rows
        return rows

    @property
    def sessions(self) -> list[str]:
        """The ids of the recorded sessions, in the order of the rows."""
        if "sessions" in self.metadata:
            return list(self.metadata["sessions"])
        return [self.metadata.get("session", "")]

    def to_events(self, classes: Mapping[str, type] | Iterable[type] = (), *,
                  validate: bool = True) -> Iterator[Event]:
        """The recorded events rebuilt, in row (seq) order: same classes, values and event
        times, unstamped, so they can be emitted again.

        ``classes`` adds user event classes not importable from an already loaded module.
        ``validate=False`` skips evlab's own classes' checks (about 4x faster): for
        recordings you trust.
        """
        return iter_events(self.table, self.metadata.get("classes", {}),
                           self.metadata.get("columns", {}), resolver(classes),
                           validate=validate)

    def __repr__(self) -> str:
        return summary_text("Recording", self.table, self._notes())

    def _repr_html_(self) -> str:
        return summary_html("Recording", self.table, self._notes())

    def _notes(self) -> list[str]:
        notes = []
        if len(self.sessions) > 1:
            notes.append(f"{len(self.sessions)} sessions")
        if self.metadata.get("dropped"):
            notes.append(f"{self.metadata['dropped']:,} dropped while recording")
        return notes
