"""Column buffers: cheap appends for one recorded field, then typed immutable chunks.

A column takes new values in a Python list (``stage``: ``list.append`` is the cheapest
append CPython has). Every ``CHUNK`` rows the recorder *commits* the stage into one typed
chunk: a numpy array (floats, the shared int columns: visible to ``tracemalloc``) or an
Arrow array (everything else). Committed chunks go to Arrow without copying, and the
oldest rows are dropped by dropping (or slicing) chunks. The kinds are in ``kinds.py``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["CHUNK", "ArrowColumn", "Column", "NumpyColumn", "Strings", "dict_array"]

logger = logging.getLogger("evlab")

CHUNK = 16_384  # rows per committed chunk (and the most rows a stage holds)
_CONVERT_ERRORS = (TypeError, ValueError, OverflowError, pa.ArrowException)


def dict_array(codes: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    """Dictionary strings from int32 codes (-1: missing)."""
    missing = codes < 0
    indices = pa.array(codes, type=pa.int32(), mask=missing if missing.any() else None)
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, type=pa.string()))


class Strings:
    """A string -> code table shared by every column of one name (codes never change)."""

    __slots__ = ("index", "values")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def add(self, value: Any) -> int:
        """The code of ``value`` (a new one if unseen); the slow path of the inlined lookups."""
        code = self.index.get(value)
        if code is None:
            if not isinstance(value, str):
                raise TypeError(f"expected a str, got {type(value).__name__} {value!r}")
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code

class Column:
    """One field's rows: new ones in ``stage``, committed ones in ``chunks``."""

    kind = ""
    missing: Any = None  # what a value that cannot be stored becomes (see ``commit``)

    def __init__(self, name: str) -> None:
        self.name = name
        self.stage: list[Any] = []
        self.fast = self.stage.append  # for values known to fit (validated event fields)
        self.chunks: list[Any] = []
        self.committed = 0

    def put(self, value: Any) -> None:
        """Append one value, checking that it fits the column (TypeError if not)."""
        self.fast(value)

    def __len__(self) -> int:
        return self.committed + len(self.stage)

    def _convert(self, values: list[Any]) -> Any:
        raise NotImplementedError

    def _concat(self, first: Any, second: Any) -> Any:
        raise NotImplementedError

    def commit(self) -> None:
        """Move the staged values into a typed chunk (merged into a short last chunk)."""
        if not self.stage:
            return
        try:
            chunk = self._convert(self.stage)
        except _CONVERT_ERRORS:
            chunk = self._convert(self._salvage())
        if self.chunks and len(self.chunks[-1]) < CHUNK:
            chunk = self._concat(self.chunks[-1], chunk)
            self.chunks[-1] = chunk
        else:
            self.chunks.append(chunk)
        self.committed += len(self.stage)
        self.stage.clear()  # the same list: ``fast`` stays bound to it

    def _salvage(self) -> list[Any]:
        values = []
        for value in self.stage:
            try:
                self._convert([value])
                values.append(value)
            except _CONVERT_ERRORS:
                logger.warning("recorder: column %s cannot hold %r; stored as missing",
                               self.name, value)
                values.append(self.missing)
        return values

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows (``n`` >= committed rows): undoes a partial row."""
        del self.stage[max(n - self.committed, 0):]

    def reset(self) -> None:
        """Forget every row."""
        self.stage.clear()
        self.chunks.clear()
        self.committed = 0

    def drop(self, k: int) -> None:
        """Forget the ``k`` oldest committed rows (a chunk's memory goes with its last row)."""
        self.committed -= k
        while k:
            first = self.chunks[0]
            if len(first) <= k:
                k -= len(first)
                self.chunks.pop(0)
            else:
                self.chunks[0], k = first[k:], 0

    def pieces(self, lo: int, hi: int) -> list[Any]:
        """Views of the committed chunks covering rows ``[lo, hi)``."""
        out, start = [], 0
        for chunk in self.chunks:
            end = start + len(chunk)
            if end > lo and start < hi:
                out.append(chunk[max(lo - start, 0):min(hi, end) - start])
            start = end
            if start >= hi:
                break
        return out

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.chunks) + sys.getsizeof(self.stage)

    def arrays(self, lo: int, hi: int) -> list[tuple[str, pa.ChunkedArray]]:
        raise NotImplementedError


class NumpyColumn(Column):
    """Fixed-width values in numpy chunks (visible to tracemalloc, zero-copy to Arrow)."""

    def __init__(self, name: str, dtype: str, missing: Any = -1) -> None:
        super().__init__(name)
        self.dtype = np.dtype(dtype)
        self.missing = missing

    def _convert(self, values: list[Any]) -> Any:
        return np.fromiter(values, dtype=self.dtype, count=len(values))

    def _concat(self, first: Any, second: Any) -> Any:
        return np.concatenate([first, second])

    def values(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``[lo, hi)`` as one array (a copy)."""
        parts = self.pieces(lo, hi)
        return np.concatenate(parts) if parts else np.empty(0, self.dtype)

class ArrowColumn(Column):
    """Values in Arrow chunks (nulls for ``None``)."""

    arrow_type: pa.DataType = pa.null()

    def _convert(self, values: list[Any]) -> Any:
        return pa.array(values, type=self.arrow_type)

    def _concat(self, first: Any, second: Any) -> Any:
        return pa.concat_arrays([first, second])

    def arrays(self, lo: int, hi: int) -> list[tuple[str, pa.ChunkedArray]]:
        return [(self.name, pa.chunked_array(self.pieces(lo, hi), type=self.arrow_type))]
