"""The evlab metadata of a recording file, checked against its schema when the file is read.

A file whose metadata was edited (by hand, by another tool) would otherwise load and then
fail on use, far from the file, with a ``TypeError`` that names nothing. ``check_metadata``
refuses it at load time with a ``RecordingError`` naming the file and the field.
"""

from __future__ import annotations

import re
from typing import Any

from evlab.recording.columns import KINDS
from evlab.recording.errors import RecordingError
from evlab.recording.table import SHARED

__all__ = ["check_metadata", "check_rows"]

_OPTIONAL_STR = ("version", "session", "name", "created", "start", "end")
_OPTIONAL_INT = ("rows", "dropped", "part")
_OPTIONAL_NS = ("start_ns", "end_ns")  # event times: before 1970 is negative
# keys that load_recording computes when it merges files: never taken from one file
_COMPUTED = ("sessions", "parts", "files")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_CLASS_NAME = re.compile(rf"{_IDENT}(\.{_IDENT})*:[^:\s]+")  # a qualname may hold <locals>


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_classes(classes: Any, columns: dict[str, str]) -> str | None:
    """What is wrong with ``classes`` (None if nothing)."""
    if not isinstance(classes, dict):
        return f"'classes' must be an object, got {type(classes).__name__}"
    for name, spec in classes.items():
        where = f"'classes'[{name!r}]"
        if not _CLASS_NAME.fullmatch(name):
            return f"{where}: a class name must be 'module:qualname'"
        if not isinstance(spec, dict):
            return f"{where} must be an object, got {type(spec).__name__}"
        if not isinstance(spec.get("type"), str):
            return f"{where}['type'] must be a string, got {spec.get('type')!r}"
        fields = spec.get("fields")
        if not isinstance(fields, dict):
            return f"{where}['fields'] must be an object, got {fields!r}"
        for field, column in fields.items():
            if not isinstance(column, str):
                return f"{where}['fields'][{field!r}] must be a column name, got {column!r}"
            if column not in columns and column not in SHARED:
                return (f"{where}['fields'][{field!r}]: column {column!r} is not in "
                        "'columns'")
    return None


def _problem(meta: dict[str, Any]) -> str | None:
    """The first thing wrong with ``meta`` (None if nothing)."""
    columns = meta.get("columns")
    if not isinstance(columns, dict):
        return f"'columns' must be an object, got {columns!r}"
    for column, kind in columns.items():
        if kind not in KINDS:
            return (f"'columns'[{column!r}]: unknown kind {kind!r} "
                    f"(one of {', '.join(KINDS)})")
    if (problem := _check_classes(meta.get("classes"), columns)) is not None:
        return problem
    for key in _OPTIONAL_STR:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return f"{key!r} must be a string, got {meta[key]!r}"
    for key in _OPTIONAL_INT:
        value = meta.get(key)
        if value is not None and not (_is_int(value) and value >= 0):
            return f"{key!r} must be a whole number >= 0, got {value!r}"
    for key in _OPTIONAL_NS:
        if meta.get(key) is not None and not _is_int(meta[key]):
            return f"{key!r} must be an integer (ns), got {meta[key]!r}"
    for key in ("symbols", "sources"):
        if key in meta and not _str_list(meta[key]):
            return f"{key!r} must be a list of strings, got {meta[key]!r}"
    counts = meta.get("counts", {})
    if not isinstance(counts, dict) or not all(_is_int(n) for n in counts.values()):
        return f"'counts' must map types to whole numbers, got {counts!r}"
    if meta.get("bus") is not None and not isinstance(meta["bus"], dict):
        return f"'bus' must be an object, got {meta['bus']!r}"
    for key in _COMPUTED:
        if key in meta:
            return f"{key!r} is computed when files are read; a file must not carry it"
    return None


def check_metadata(path: object, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` if it has the shape evlab writes; else ``RecordingError`` naming file and field."""
    problem = _problem(meta)
    if problem is not None:
        raise RecordingError(f"{path}: its evlab metadata is not valid: {problem}")
    return meta


def check_rows(path: object, meta: dict[str, Any], event_classes: list[str]) -> None:
    """Every class the rows name must be described in ``meta['classes']``."""
    unknown = sorted(set(event_classes) - set(meta["classes"]))
    if unknown:
        raise RecordingError(f"{path}: its rows are of class(es) {', '.join(unknown)} that "
                             "its evlab metadata 'classes' does not describe")
