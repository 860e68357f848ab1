"""Is an event's cause recorded? The seqs of a session as runs, for ``what="roots"``.

A bus numbers its events 1, 2, 3 ...; a recorder keeps them all unless told otherwise
(``types=``, ``pause()``, ``max_events``), so a session's seqs are a few runs of
consecutive numbers. ``SeqRanges`` holds those runs (16 bytes per gap in the numbering,
nothing per row), so a streamed replay can tell roots from effects in bounded memory: a
cause is emitted before its effect, so by the time a row is read every seq its cause can be
has been seen. The in-memory replay asks the same question of the same structure.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SeqRanges"]


class SeqRanges:
    """Sorted, disjoint runs ``[start, end]`` of seqs, added in increasing order."""

    def __init__(self) -> None:
        self._starts = np.empty(16, dtype=np.int64)
        self._ends = np.empty(16, dtype=np.int64)
        self._n = 0

    @classmethod
    def of(cls, seqs: np.ndarray) -> SeqRanges:
        """The runs of ``seqs`` (any order, repeats allowed)."""
        ranges = cls()
        ranges.add(np.unique(seqs) if len(seqs) > 1 and not bool(np.all(seqs[1:] > seqs[:-1]))
                   else seqs)
        return ranges

    def __len__(self) -> int:
        """The number of runs (what this holds: two int64 each)."""
        return self._n

    @property
    def last(self) -> int | None:
        """The largest seq added so far."""
        return int(self._ends[self._n - 1]) if self._n else None

    def add(self, seqs: np.ndarray) -> None:
        """Add strictly increasing ``seqs``, all above ``last``."""
        if not len(seqs):
            return
        seqs = seqs.astype(np.int64, copy=False)
        breaks = np.flatnonzero(np.diff(seqs) != 1)
        starts = seqs[np.concatenate(([0], breaks + 1))]
        ends = seqs[np.concatenate((breaks, [len(seqs) - 1]))]
        if self._n and starts[0] == self._ends[self._n - 1] + 1:
            self._ends[self._n - 1] = ends[0]
            starts, ends = starts[1:], ends[1:]
        need = self._n + len(starts)
        if need > len(self._starts):
            size = max(need, 2 * len(self._starts))
            self._starts = np.resize(self._starts, size)
            self._ends = np.resize(self._ends, size)
        self._starts[self._n:need] = starts
        self._ends[self._n:need] = ends
        self._n = need

    def contains(self, values: np.ndarray) -> np.ndarray:
        """For each value, whether it is one of the seqs added."""
        if not self._n:
            return np.zeros(len(values), dtype=bool)
        starts, ends = self._starts[:self._n], self._ends[:self._n]
        at = np.searchsorted(starts, values, side="right") - 1
        found: np.ndarray = (at >= 0) & (values <= ends[np.maximum(at, 0)])
        return found
