"""Recordings on disk: Parquet files with the evlab metadata in their schema; no pickle.

One file per ``save()`` and one per autosave part. The schema metadata key ``b"evlab"``
holds JSON: ``format``, ``version``, ``session``, ``created``, ``rows``, ``start``/``end``
(event time), ``symbols``, ``sources``, ``counts`` (per type), ``dropped``, ``columns``
(field column -> kind), ``classes`` (``module:qualname`` -> type and field -> column),
``bus`` (``bus.get_stats()`` at writing time) and ``part`` (autosave parts only).

Files are written to a hidden temporary name, flushed to disk, then renamed over the
target (``os.replace``), so a crash mid-write never leaves a truncated recording. Rows go in
row groups of at most ``ROW_GROUP_ROWS`` with min/max statistics on every column (seq and
event time included): what ``open_recording`` streams, a row group at a time, and orders
by without reading ahead.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from evlab.recording.columns import arrow_types, dict_array
from evlab.recording.errors import RecordingError
from evlab.recording.metadata import check_metadata
from evlab.recording.recording import Recording
from evlab.recording.table import base_schema, describe

__all__ = ["FORMAT", "META_KEY", "ROW_GROUP_ROWS", "assemble", "load_recording", "open_dataset",
           "orphans", "read_footer", "read_metadata", "remove_orphans", "session_order",
           "unified_schema", "write_table"]

META_KEY = b"evlab"
FORMAT = 1
# Rows per Parquet row group: what a streaming reader holds at once (~13 MB of bars), and
# large enough that a group's fixed cost (a footer entry, a read call) stays negligible.
ROW_GROUP_ROWS = 131_072
_TMP = ".tmp"  # a file being written is ``.<name>.<pid>.tmp`` until its rename


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def orphans(folder: str | os.PathLike[str]) -> list[Path]:
    """Temporary files in ``folder`` whose writer is dead (killed mid-write): never renamed,
    so never part of the recording. A writer still running is left alone."""
    found = []
    for tmp in sorted(Path(folder).glob(f".*.parquet.*{_TMP}")):
        pid = tmp.name.removesuffix(_TMP).rpartition(".")[2]
        if pid.isdigit() and not _alive(int(pid)):
            found.append(tmp)
    return found


def remove_orphans(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete ``orphans(folder)`` (a warning names them); returns what was removed."""
    removed = orphans(folder)
    for tmp in removed:
        tmp.unlink(missing_ok=True)
    if removed:
        warnings.warn(f"{folder}: removed {len(removed)} unfinished file(s) left by an autosave "
                      f"killed mid-write (their rows were not saved): "
                      f"{', '.join(t.name for t in removed)}", UserWarning, stacklevel=3)
    return removed


def write_table(table: pa.Table, metadata: dict[str, Any], path: str | os.PathLike[str], *,
                row_group_rows: int = ROW_GROUP_ROWS) -> Path:
    """Write ``table`` with ``metadata`` to ``path`` atomically (temp file, fsync, rename),
    in row groups of at most ``row_group_rows`` rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = table.replace_schema_metadata({META_KEY: orjson.dumps(metadata)})
    tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP}")
    try:
        with open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd", row_group_size=row_group_rows,
                           write_statistics=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _expected(meta: dict[str, Any]) -> list[tuple[str, pa.DataType]]:
    base = base_schema()
    fields = [t for col, kind in meta["columns"].items() for t in arrow_types(col, kind)]
    return [*base[:-1], *fields, base[-1]]


def read_footer(path: str | os.PathLike[str]) -> pq.FileMetaData:
    """The Parquet footer of ``path`` (RecordingError if there is none to read)."""
    try:
        return pq.read_metadata(path)
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such file") from None
    except (pa.ArrowException, OSError) as exc:
        raise RecordingError(f"{path}: not a readable Parquet file "
                             f"(corrupt or truncated?): {exc}") from exc


def read_metadata(path: str | os.PathLike[str], footer: pq.FileMetaData | None = None
                  ) -> tuple[pa.Schema, dict[str, Any]]:
    """The schema and evlab metadata of one recording file (from its ``footer`` if read
    already), checked (RecordingError if bad)."""
    try:
        schema = (footer or read_footer(path)).schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as exc:
        raise RecordingError(f"{path}: not a readable Parquet file "
                             f"(corrupt or truncated?): {exc}") from exc
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise RecordingError(f"{path}: a Parquet file but not an evlab recording "
                             "(no 'evlab' metadata in its schema)")
    try:
        meta = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"{path}: its evlab metadata is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else meta
        raise RecordingError(f"{path}: unsupported evlab recording format {got!r} "
                             f"(this evlab reads format {FORMAT})")
    check_metadata(path, meta)
    expected = _expected(meta)
    missing = [n for n, _ in expected if schema.get_field_index(n) < 0]
    if missing:
        raise RecordingError(f"{path}: missing column(s) {', '.join(missing)}")
    for name, type in expected:
        if schema.field(name).type != type:
            raise RecordingError(f"{path}: column {name} is {schema.field(name).type}, "
                                 f"expected {type}")
    return schema, meta


def recording_files(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself, or every ``*.parquet`` under the folder ``path`` (sorted)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.parquet") if f.is_file())
        left = [t for d in {p, *(f.parent for f in files)} for t in orphans(d)]
        if left:  # reading does not delete: the next autosave to the folder does
            warnings.warn(f"{p}: {len(left)} unfinished file(s) left by an autosave killed "
                          f"mid-write, not read (the next autosave here removes them): "
                          f"{', '.join(str(t.relative_to(p)) for t in sorted(left))}",
                          UserWarning, stacklevel=3)
        if not files:
            raise RecordingError(f"{p}: no *.parquet recordings in this folder")
        return files
    if not p.exists():
        raise RecordingError(f"{p}: no such file or folder")
    return [p]


def unified_schema(where: Path, checked: list[tuple[pa.Schema, dict[str, Any]]]) -> pa.Schema:
    """One schema for the files ``checked`` (schema, metadata): every column any has."""
    try:
        unified = pa.unify_schemas([s.remove_metadata() for s, _ in checked])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise RecordingError(f"{where}: its recordings disagree on column types: {exc}") from exc
    columns: dict[str, str] = {}
    for _, meta in checked:
        columns.update(meta["columns"])
    return pa.schema([unified.field(n) for n, _ in _expected({"columns": columns})])


def open_dataset(path: str | os.PathLike[str]) -> ds.Dataset:
    """A folder (or file) of recordings as one lazy ``pyarrow.dataset`` (every file checked)."""
    files = recording_files(path)
    schema = unified_schema(Path(path), [read_metadata(f) for f in files])
    return ds.dataset([str(f) for f in files], schema=schema, format="parquet")


def _in_seq_order(table: pa.Table) -> pa.Table:
    seq = table["seq"].to_numpy()
    if len(seq) > 1 and not bool(np.all(seq[1:] > seq[:-1])):
        table = table.take(np.unique(seq, return_index=True)[1])  # sorted; repeats dropped
    return table


def _merge(metas: list[dict[str, Any]], table: pa.Table) -> dict[str, Any]:
    if len(metas) == 1:
        return metas[0]
    merged = {**metas[-1], **describe(table), "created": metas[0].get("created"),
              "parts": len(metas), "columns": {}, "classes": {}}
    merged.pop("part", None)
    for meta in metas:
        merged["columns"].update(meta["columns"])
        merged["classes"].update(meta["classes"])
    return merged


def load_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording file, an autosave folder, or a folder of many sessions.

    Rows of one session come back in seq order; several sessions come back one after the
    other (earliest first) with a ``session`` column. Raises ``RecordingError`` naming the
    file for anything that is not a readable evlab recording. (``open_recording(path)``
    reads the same lazily; this is its ``load()``: one reader for both.)
    """
    from evlab.recording.lazy import open_recording

    return open_recording(path).load()


def session_order(parts: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Session ids, earliest first (first event time, creation time, id): the order of a
    folder of sessions, loaded or streamed. ``parts``: each session's file metadata."""
    def key(sid: str) -> tuple[int, str, str]:
        starts = [m["start_ns"] for m in parts[sid] if m.get("start_ns") is not None]
        first = min(parts[sid], key=lambda m: m.get("part") or 0)
        return (min(starts) if starts else 0, str(first.get("created")), sid)
    return sorted(parts, key=key)


def assemble(path: str | os.PathLike[str], files: list[Path],
             read: list[tuple[dict[str, Any], pa.Table]]) -> Recording:
    """One Recording of the tables read from ``files`` (with each file's metadata): a
    session's parts in part then seq order, several sessions one after the other."""
    sessions: dict[str, list[tuple[int, dict[str, Any], pa.Table]]] = {}
    for meta, table in read:
        sessions.setdefault(str(meta.get("session", "")), []).append(
            (meta.get("part") or 0, meta, table))
    tables, metas = {}, {}
    for sid, parts in sessions.items():
        parts.sort(key=lambda p: p[0])
        tables[sid] = _in_seq_order(pa.concat_tables([t for _, _, t in parts]))
        metas[sid] = _merge([m for _, m, _ in parts], tables[sid])
    if len(sessions) == 1:
        (sid,) = sessions
        return Recording(tables[sid], metas[sid], str(path))
    order = session_order({s: [m for _, m, _ in parts] for s, parts in sessions.items()})
    table = pa.concat_tables([tables[s] for s in order])
    lengths = [tables[s].num_rows for s in order]
    codes = np.repeat(np.arange(len(order), dtype="i4"), lengths)
    table = table.add_column(0, "session", dict_array(codes, order))
    columns: dict[str, str] = {}
    classes: dict[str, Any] = {}
    for s in order:
        columns.update(metas[s]["columns"])
        classes.update(metas[s]["classes"])
    meta = {"format": FORMAT, **describe(table), "columns": columns, "classes": classes,
            "sessions": {s: metas[s] for s in order}, "files": [str(f) for f in files]}
    return Recording(table, meta, str(path))
