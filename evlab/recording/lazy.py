"""``open_recording(path)``: a recording file or folder, read a Parquet row group at a time.

``load_recording`` reads every file into one Arrow table; a recording larger than memory
needs the opposite: open every file's footer (its evlab metadata, checked as
``load_recording`` checks it, and each row group's size and min/max statistics) and read
rows only when asked, one row group at a time. ``Replayer`` and ``compare`` take the
``LazyRecording`` this returns (see ``evlab.replay`` for the order of a streamed replay).

Holding one is cheap (the footers); ``load()`` reads it all (or only some event types) into
an ordinary ``Recording``; ``to_frame()`` does so only below ``max_rows`` and otherwise says
how big the read would be.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evlab.recording.errors import RecordingError
from evlab.recording.metadata import check_rows
from evlab.recording.recording import Recording
from evlab.recording.storage import (
    assemble,
    read_footer,
    read_metadata,
    recording_files,
    session_order,
    unified_schema,
)
from evlab.recording.table import value_counts

__all__ = ["LazyRecording", "RowGroup", "Session", "open_recording"]

TO_FRAME_ROWS = 1_000_000  # to_frame() loads up to this many rows without being told to
MAX_ROWS = 4_000_000  # rows a time-ordered replay may hold waiting (about 400 MB of bars)
_OPEN_FILES = 16  # Parquet files kept open between row-group reads


@dataclass(frozen=True)
class RowGroup:
    """One Parquet row group of one file, as its footer describes it."""

    file: Path
    index: int  # its position in the file
    of: int  # row groups in the file
    rows: int
    min_time: int | None  # event times (ns) from the statistics; None: none written
    max_time: int | None
    causes: bool  # some row has a cause (False: the cause column is all null)
    nbytes: int  # uncompressed size


@dataclass
class Session:
    """One recorded session: its files (autosave parts in part order) and their groups."""

    id: str
    metas: list[dict[str, Any]]  # each file's metadata, in part order
    files: list[Path]  # in part order
    groups: list[RowGroup]  # every file's, in order


def _stat(md: pq.RowGroupMetaData, column: int | None) -> Any:
    if column is None:
        return None
    stats = md.column(column).statistics
    return stats if stats is not None else None


def _groups(path: Path, footer: pq.FileMetaData) -> list[RowGroup]:
    names = footer.schema.names
    at = {n: names.index(n) for n in ("event_time", "cause") if n in names}
    out = []
    for i in range(footer.num_row_groups):
        md = footer.row_group(i)
        time, cause = _stat(md, at.get("event_time")), _stat(md, at.get("cause"))
        has_time = time is not None and time.has_min_max
        out.append(RowGroup(path, i, footer.num_row_groups, md.num_rows,
                            time.min_raw if has_time else None,
                            time.max_raw if has_time else None,
                            cause is None or not cause.has_null_count
                            or cause.null_count < md.num_rows,
                            md.total_byte_size))
    return out


def open_recording(path: str | os.PathLike[str], *, max_rows: int = MAX_ROWS) -> LazyRecording:
    """A recording file, an autosave folder or a folder of sessions, opened lazily.

    Every file's metadata is checked as ``load_recording`` checks it (``RecordingError``
    naming the file); no row is read until a replay, ``compare`` or ``load()`` asks.
    ``max_rows``: the most rows a replay in event-time order may hold waiting for rows that
    come before them (see ``evlab.replay.stream``).
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows: must be a positive number of rows, got {max_rows!r}")
    files = recording_files(path)
    footers = {f: read_footer(f) for f in files}
    checked = [read_metadata(f, footers[f]) for f in files]
    schema = unified_schema(Path(path), checked)
    by_session: dict[str, list[tuple[int, dict[str, Any], Path]]] = {}
    for f, (_, meta) in zip(files, checked, strict=True):
        by_session.setdefault(str(meta.get("session", "")), []).append(
            (meta.get("part") or 0, meta, f))
    sessions = {}
    for sid, parts in by_session.items():
        parts.sort(key=lambda p: p[0])
        groups = [g for _, _, f in parts for g in _groups(f, footers[f])]
        sessions[sid] = Session(sid, [m for _, m, _ in parts], [f for _, _, f in parts],
                                groups)
    order = session_order({s: sessions[s].metas for s in sessions})
    return LazyRecording(Path(path), files, schema, [sessions[s] for s in order], max_rows,
                         footers)


class LazyRecording:
    """A recording on disk, read a row group at a time (see ``open_recording``).

    ``sessions`` (earliest first, as ``load_recording`` orders them) hold their files' row
    groups in order; ``metadata`` merges the files' metadata (``columns``, ``classes``,
    ``counts``, ``rows``...). ``read(group)`` reads one row group, checked, with every
    column of the recording (missing ones null). ``load()`` reads into a ``Recording``.
    """

    def __init__(self, path: Path, files: list[Path], schema: pa.Schema,
                 sessions: list[Session], max_rows: int = MAX_ROWS,
                 footers: dict[Path, pq.FileMetaData] | None = None) -> None:
        self.path = path
        self.max_rows = max_rows
        self.files = files
        self.schema = schema
        self.sessions = sessions
        metas = [m for s in sessions for m in s.metas]
        counts: dict[str, int] = {}
        for meta in metas:
            for kind, n in meta.get("counts", {}).items():
                counts[kind] = counts.get(kind, 0) + n
        starts = [m["start_ns"] for m in metas if m.get("start_ns") is not None]
        ends = [m["end_ns"] for m in metas if m.get("end_ns") is not None]
        self.metadata: dict[str, Any] = {
            **{k: v for k, v in metas[0].items() if k not in ("part", "rows", "counts")},
            "rows": len(self), "counts": counts, "files": [str(f) for f in files],
            "start_ns": min(starts, default=None), "end_ns": max(ends, default=None),
            "columns": {}, "classes": {}}
        for meta in metas:
            self.metadata["columns"].update(meta["columns"])
            self.metadata["classes"].update(meta["classes"])
        self._meta_of = {f: m for s in sessions
                         for m, f in zip(s.metas, s.files, strict=True)}
        self._footers = footers or {}  # so a file opened again is not parsed again
        self._local = threading.local()  # open files, per thread: replays may share this

    def __len__(self) -> int:
        return sum(g.rows for s in self.sessions for g in s.groups)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its open files (a sweep ships it to workers: footers only)."""
        state = dict(self.__dict__)
        del state["_local"]
        state["_footers"] = {}  # read again where it lands
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    @property
    def row_groups(self) -> list[RowGroup]:
        """Every row group, session by session, in file (part) order."""
        return [g for s in self.sessions for g in s.groups]

    @property
    def nbytes(self) -> int:
        """The uncompressed size of every row group: about what ``load()`` would hold."""
        return sum(g.nbytes for g in self.row_groups)

    def meta_of(self, group: RowGroup) -> dict[str, Any]:
        """The evlab metadata of the file ``group`` is in."""
        return self._meta_of[group.file]

    def __repr__(self) -> str:
        return (f"<LazyRecording {self.path}: {len(self):,} rows in {len(self.files):,} "
                f"file(s), {len(self.row_groups):,} row group(s), {len(self.sessions)} "
                f"session(s); not loaded>")

    # --- reading ---------------------------------------------------------------------
    def read(self, group: RowGroup, columns: Iterable[str] | None = None) -> pa.Table:
        """The rows of ``group`` (``columns`` only, else all), with the recording's schema;
        ``RecordingError`` naming the file and the row group if they cannot be read."""
        return self._read([group], columns)

    def _read(self, groups: list[RowGroup], columns: Iterable[str] | None = None) -> pa.Table:
        """The rows of ``groups`` (of one file), read in one call."""
        fields = [self.schema.field(c) for c in columns] if columns is not None else \
            list(self.schema)
        path, rows = groups[0].file, sum(g.rows for g in groups)
        try:
            pf = self._file(path)
            names = set(pf.schema_arrow.names)
            present = [f.name for f in fields if f.name in names]
            table = pf.read_row_groups([g.index for g in groups], columns=present)
        except (pa.ArrowException, OSError) as exc:
            self.close()
            where = (f"row group {groups[0].index + 1} of {groups[0].of} ({rows:,} rows"
                     if len(groups) == 1 else f"its rows ({rows:,}")
            raise RecordingError(f"{path}: cannot read {where}; corrupt or truncated?): "
                                 f"{exc}") from exc
        if table.num_rows != rows:
            raise RecordingError(f"{path}: {table.num_rows:,} rows read, its footer says "
                                 f"{rows:,}")
        if "event_class" in table.column_names:
            check_rows(path, self._meta_of[path], list(value_counts(table["event_class"])))
        arrays = [table[f.name] if f.name in table.column_names
                  else pa.nulls(table.num_rows, f.type) for f in fields]
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def _files(self) -> dict[Path, pq.ParquetFile]:
        files: dict[Path, pq.ParquetFile] | None = getattr(self._local, "files", None)
        if files is None:
            files = self._local.files = {}
        return files

    def _file(self, path: Path) -> pq.ParquetFile:
        files = self._files()
        pf = files.get(path)
        if pf is None:
            if len(files) >= _OPEN_FILES:
                files.pop(next(iter(files))).close()
            pf = files[path] = pq.ParquetFile(path, metadata=self._footers.get(path),
                                              pre_buffer=True)  # one read per group
        return pf

    def close(self) -> None:
        """Close the files this thread keeps open between reads (reading reopens them)."""
        files = self._files()
        for pf in files.values():
            pf.close()
        files.clear()

    def batches(self, session: Session, columns: Iterable[str] | None = None
                ) -> Iterator[tuple[RowGroup, pa.Table]]:
        """``session``'s row groups read in order, one at a time."""
        cols = None if columns is None else list(columns)
        for group in session.groups:
            yield group, self.read(group, cols)

    # --- loading ---------------------------------------------------------------------
    def load(self, types: Iterable[str] | None = None) -> Recording:
        """Read the rows (of event ``types`` only, if given) into a ``Recording``, exactly as
        ``load_recording`` does (``types``: less the rows of other types, read and filtered a
        row group at a time, so only the rows kept are held)."""
        wanted = None if types is None else pa.array(sorted({str(t) for t in types}))
        read = []
        for session in self.sessions:
            of_file: dict[Path, list[RowGroup]] = {}
            for g in session.groups:
                of_file.setdefault(g.file, []).append(g)
            for meta, f in zip(session.metas, session.files, strict=True):
                groups = of_file.get(f, [])
                if not groups:
                    tables = [self.schema.empty_table()]
                elif wanted is None:
                    tables = [self._read(groups)]
                else:
                    tables = [t.filter(pc.is_in(t["type"].cast(pa.string()), wanted))
                              for t in (self.read(g) for g in groups)]
                read.append((meta, pa.concat_tables(tables).unify_dictionaries()))
        return assemble(self.path, self.files, read)

    def to_frame(self, *, max_rows: int | None = TO_FRAME_ROWS) -> pd.DataFrame:
        """``load().to_frame()``, but only up to ``max_rows`` rows (None: any size); above,
        a ``ValueError`` says how big the read would be and what to do instead."""
        if max_rows is not None and len(self) > max_rows:
            raise ValueError(
                f"LazyRecording.to_frame(): {self.path} holds {len(self):,} rows (about "
                f"{self.nbytes / 2**30:,.1f} GiB in memory, more as a DataFrame), over "
                f"max_rows={max_rows:,}: to_frame(max_rows=None) reads it all anyway, "
                "load(types=['signal']) only some event types, and Replayer / compare "
                "stream it without loading")
        return self.load().to_frame()
