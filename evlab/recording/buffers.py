"""``Buffers``: every column one recorder holds, and the operations on all of them at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from evlab.events import Event
from evlab.recording.assemble import build_table
from evlab.recording.columns import Column, Strings
from evlab.recording.layout import Group, Shared, make_appender, make_group

__all__ = ["Buffers"]


class Buffers:
    """The shared columns plus one column group per recorded event class."""

    def __init__(self) -> None:
        self.shared = Shared()
        self.groups: list[Group] = []  # index == the class code in ``shared.cls``
        self.by_cls: dict[type, Group] = {}
        self.kinds: dict[str, str] = {}  # field column -> kind, in first-seen order
        self.strings: dict[str, Strings] = {}  # dictionary of each ``cat`` column

    @property
    def stage(self) -> list[Any]:
        """The staged seq values: its length is the number of rows not yet committed."""
        return self.shared.seq.stage

    def __len__(self) -> int:
        return len(self.shared.seq)

    def appender(self, cls: type) -> Callable[[Event], None]:
        """``put(event)`` for events of ``cls`` (a new column group the first time)."""
        group = self.by_cls.get(cls)
        if group is None:
            group = make_group(cls, len(self.groups), self.kinds, self.strings)
            self.groups.append(group)
            self.by_cls[cls] = group
        return make_appender(self.shared, group)

    def columns(self) -> list[Column]:
        return [*self.shared.columns(), *(c for g in self.groups for c in g.columns)]

    def commit(self) -> int:
        """Commit every staged row; returns the number of rows held."""
        for column in self.columns():
            column.commit()
        return self.shared.seq.committed

    def repair(self) -> None:
        """Undo a partly appended row (a value of the wrong type, or an interrupt)."""
        columns = self.shared.columns()
        rows = min(len(c) for c in columns)
        cls = self.shared.cls
        while True:
            staged = Counter(cls.stage[:rows - cls.committed])
            if all(len(c) >= c.committed + staged[g.code] for g in self.groups
                   for c in g.columns):
                break
            rows -= 1
        for c in columns:
            c.truncate(rows)
        for g in self.groups:
            for c in g.columns:
                c.truncate(c.committed + staged[g.code])

    def drop_oldest(self, k: int) -> None:
        """Forget the ``k`` oldest (committed) rows."""
        counts = np.bincount(self.shared.cls.values(0, k), minlength=max(len(self.groups), 1))
        for column in self.shared.columns():
            column.drop(k)
        for g in self.groups:
            for column in g.columns:
                column.drop(int(counts[g.code]))

    def reset(self) -> None:
        """Forget every row (the classes and string tables stay)."""
        for column in self.columns():
            column.reset()

    def nbytes(self) -> int:
        """Bytes held by the chunks and the stage lists."""
        return sum(c.nbytes() for c in self.columns())

    def table(self, lo: int, hi: int) -> pa.Table:
        """Committed rows ``[lo, hi)`` as an Arrow table (see ``assemble``)."""
        return build_table(self.shared, self.groups, self.kinds, lo, hi)

    def classes(self) -> dict[str, Any]:
        """``{module:qualname: {"type": ..., "fields": {field: column}}}`` for the metadata."""
        return {g.name: {"type": g.type, "fields": g.fields} for g in self.groups}
