"""``Recording``: a recorded session (or several) held as one Arrow table plus metadata."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

import pandas as pd
import pyarrow as pa

from evlab.events import Event, EventType
from evlab.recording.convert import canonical, iter_events, resolver, to_frame
from evlab.recording.errors import RecordingError
from evlab.recording.views import Views, summary_html, summary_text

__all__ = ["Recording"]


class Recording:
    """Recorded events, from ``load_recording()`` or ``EventRecorder.snapshot()``.

    The same interface as ``EventRecorder`` (``RecordedEvents``): ``to_frame()`` is the
    same DataFrame as the recorder's (with a ``session`` column when it holds several
    sessions), ``bars()``, ``signals()`` ... are views of it, ``to_events()`` rebuilds the
    events. ``frame`` is the frame itself, computed once; ``table`` the Arrow table.
    """

    def __init__(self, table: pa.Table, metadata: dict[str, Any],
                 path: str | None = None) -> None:
        self.table: pa.Table = canonical(table)
        self.metadata: dict[str, Any] = metadata
        self.path = path  # the file or folder it was read from: errors name it

    @cached_property
    def frame(self) -> pd.DataFrame:
        """One row per event (see ``EventRecorder.to_frame``); computed once, shared."""
        return to_frame(self.table)

    def __len__(self) -> int:
        rows: int = self.table.num_rows
        return rows

    @property
    def sessions(self) -> list[str]:
        """The ids of the recorded sessions, in the order of the rows."""
        if "sessions" in self.metadata:
            return list(self.metadata["sessions"])
        return [self.metadata.get("session", "")]

    def to_arrow(self) -> pa.Table:
        """The recorded rows as an Arrow table (see ``evlab.recording.table``)."""
        return self.table

    def to_frame(self) -> pd.DataFrame:
        """One row per event, as ``EventRecorder.to_frame()``: ``frame``, as a frame of your
        own (copy-on-write: changing it leaves ``frame`` and the views as they are)."""
        return self.frame.copy(deep=False)

    def to_events(self, classes: Mapping[str, type] | Iterable[type] = (), *,
                  validate: bool = True) -> Iterator[Event]:
        """The recorded events rebuilt, in row (seq) order: same classes, values and event
        times, unstamped, so they can be emitted again.

        ``classes`` adds user event classes not importable from an already loaded module.
        ``validate=False`` skips evlab's own classes' checks (about 4x faster): for
        recordings you trust.
        """
        events = iter_events(self.table, self.metadata.get("classes", {}),
                             self.metadata.get("columns", {}), resolver(classes),
                             validate=validate)
        return events if self.path is None else self._named(events)

    def _named(self, events: Iterator[Event]) -> Iterator[Event]:
        """``events``, with the file named in a ``RecordingError`` (a class not loaded)."""
        try:
            yield from events
        except RecordingError as exc:
            raise RecordingError(f"{self.path}: {exc}") from exc

    # --- views (one implementation: ``Views``) -----------------------------------------
    def view(self, event_type: EventType | str, columns: tuple[str, ...] | None = None,
             symbol: str | None = None) -> pd.DataFrame:
        """Rows of ``event_type`` (one ``symbol`` if given), indexed by ``event_time``."""
        return Views(self.frame).view(event_type, columns, symbol)

    def bars(self, symbol: str | None = None) -> pd.DataFrame:
        """OHLCV bars (of ``symbol``, or all with a ``symbol`` column), ready to plot."""
        return Views(self.frame).bars(symbol)

    def ticks(self, symbol: str | None = None) -> pd.DataFrame:
        """Trade prints: price, size, side, trade id."""
        return Views(self.frame).ticks(symbol)

    def signals(self, symbol: str | None = None) -> pd.DataFrame:
        """Strategy signals with their seq and cause (the bar that triggered them)."""
        return Views(self.frame).signals(symbol)

    def orders(self, symbol: str | None = None) -> pd.DataFrame:
        """Orders with their seq and cause (the signal behind them)."""
        return Views(self.frame).orders(symbol)

    def order_updates(self, symbol: str | None = None) -> pd.DataFrame:
        """Each order's lifecycle (accepted, filled, canceled ...) with its cause."""
        return Views(self.frame).order_updates(symbol)

    def fills(self, symbol: str | None = None) -> pd.DataFrame:
        """Fills: quantity, price, commission, with their seq and cause (the order)."""
        return Views(self.frame).fills(symbol)

    def portfolio(self) -> pd.DataFrame:
        """Portfolio updates: cash, equity, P&L and positions (JSON), e.g. an equity curve."""
        return Views(self.frame).portfolio()

    def errors(self) -> pd.DataFrame:
        """Error events: message, failing handler, the event it failed on, raw payload."""
        return Views(self.frame).errors()

    # --- in a notebook -----------------------------------------------------------------
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
