"""One recorded field's column: cheap appends, then typed immutable chunks; and its kinds.

A column takes new values in its ``stage``: the numbers of a numpy column (floats, the
shared int columns) in a typed ``evlab._core.Stage``, written straight from C by a compiled
row plan and reused from chunk to chunk; every other value in a Python list (``list.append``
is the cheapest append CPython has). Every ``CHUNK`` rows the recorder *commits* the stage
into one typed chunk: a numpy array (visible to ``tracemalloc``) or an Arrow array. Committed
chunks go to Arrow without copying, and the oldest rows are dropped by dropping (or slicing)
chunks.

The kinds of field column, each a ``Column`` whose ``put`` checks the value:

``f8``   float64 (numpy); ``None`` is stored as NaN, and NaN reads back as missing.
``i8``   int64 with nulls (Arrow); pandas ``Int64``.
``bool`` bool with nulls (Arrow); pandas ``boolean``.
``cat``  dictionary-encoded strings: int32 codes (Arrow) into a ``Strings`` table shared by
         every column of that name; pandas ``category``.
``text`` UTF-8 strings (Arrow large_string): ids and messages.
``json`` ``orjson`` text of any value (``repr`` where JSON can't say it); never pickle.
``raw``  exact ``str | bytes``: Arrow columns ``name`` (large_binary) and ``name_is_text``.
"""

from __future__ import annotations

import logging
import math
import numbers
import sys
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from evlab._accel import core

__all__ = ["CHUNK", "INT64", "KINDS", "ArrowColumn", "Column", "NumpyColumn", "Strings",
           "arrow_types", "dict_array", "make_column"]

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
        self.stage: Any = []  # a list, or a Stage (NumpyColumn); never replaced
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

    def _staged(self) -> Any:
        """The staged values as one typed chunk."""
        try:
            return self._convert(self.stage)
        except _CONVERT_ERRORS:
            return self._convert(self._salvage())

    def commit(self) -> None:
        """Move the staged values into a typed chunk (merged into a short last chunk)."""
        if not len(self.stage):
            return
        chunk = self._staged()
        if self.chunks and len(self.chunks[-1]) < CHUNK:
            chunk = self._concat(self.chunks[-1], chunk)
            self.chunks[-1] = chunk
        else:
            self.chunks.append(chunk)
        self.committed += len(self.stage)
        self.stage.clear()  # the same stage: ``fast`` stays bound to it

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
        held: int = sum(c.nbytes for c in self.chunks)
        return held + sys.getsizeof(self.stage)

    def arrays(self, lo: int, hi: int) -> list[tuple[str, pa.ChunkedArray]]:
        raise NotImplementedError


#: the ``Stage`` type code of each numpy column's dtype
_STAGE_CODES = {"f8": "d", "i8": "q", "i4": "i", "i2": "h"}


class NumpyColumn(Column):
    """Fixed-width values in numpy chunks (visible to tracemalloc, zero-copy to Arrow),
    staged in a typed ``Stage``: a value that does not fit is refused at its append
    (TypeError or OverflowError: its row is left out and reported), never at commit."""

    def __init__(self, name: str, dtype: str) -> None:
        super().__init__(name)
        self.dtype = np.dtype(dtype)
        self.stage = core.Stage(_STAGE_CODES[self.dtype.str[1:]])
        self.fast = self.stage.append

    def _staged(self) -> Any:
        return np.frombuffer(self.stage.buf, dtype=self.dtype, count=len(self.stage)).copy()

    def staged(self) -> np.ndarray:
        """The staged values (a view: valid until the next append or commit)."""
        return np.frombuffer(self.stage.buf, dtype=self.dtype, count=len(self.stage))

    def truncate(self, n: int) -> None:
        self.stage.truncate(n - self.committed)

    def nbytes(self) -> int:
        held: int = sum(c.nbytes for c in self.chunks)
        return held + len(self.stage.buf)

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


# --- the kinds of field column ------------------------------------------------------------

KINDS = ("f8", "i8", "bool", "cat", "text", "json", "raw")
_DICT = pa.dictionary(pa.int32(), pa.string())
_JSON_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
INT64 = (-(2**63), 2**63)  # the int64 range, [lo, hi)


def arrow_types(name: str, kind: str) -> list[tuple[str, pa.DataType]]:
    """The Arrow column(s) that a field of ``kind`` is stored as."""
    if kind == "raw":
        return [(name, pa.large_binary()), (f"{name}_is_text", pa.bool_())]
    return [(name, {"f8": pa.float64(), "i8": pa.int64(), "bool": pa.bool_(), "cat": _DICT,
                    "text": pa.large_string(), "json": pa.large_string()}[kind])]

def _type_error(expected: str, value: Any) -> TypeError:
    return TypeError(f"expected {expected}, got {type(value).__name__} {value!r}")

class Float(NumpyColumn):
    kind = "f8"

    def __init__(self, name: str) -> None:
        super().__init__(name, "f8")

    def put(self, value: Any) -> None:
        if value is None:
            self.fast(math.nan)
        elif isinstance(value, float | int) and not isinstance(value, bool):
            self.fast(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
            self.fast(float(value))
        else:
            raise _type_error("a number", value)

    def arrays(self, lo: int, hi: int) -> list[tuple[str, pa.ChunkedArray]]:
        out = []
        for piece in self.pieces(lo, hi):
            missing = np.isnan(piece)
            out.append(pa.array(piece, mask=missing if missing.any() else None))
        return [(self.name, pa.chunked_array(out, type=pa.float64()))]

class Int(ArrowColumn):
    kind = "i8"
    arrow_type = pa.int64()

    def put(self, value: Any) -> None:
        if value is not None:
            if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_):
                raise _type_error("an int", value)
            value = int(value)
            if not INT64[0] <= value < INT64[1]:
                raise OverflowError(f"{value} does not fit in int64")
        self.fast(value)


class Bool(ArrowColumn):
    kind = "bool"
    arrow_type = pa.bool_()

    def put(self, value: Any) -> None:
        if value is not None and not isinstance(value, bool | np.bool_):
            raise _type_error("a bool", value)
        self.fast(None if value is None else bool(value))


class Cat(ArrowColumn):
    kind = "cat"
    arrow_type = pa.int32()

    def __init__(self, name: str, strings: Strings) -> None:
        super().__init__(name)
        self.strings = strings

    def put(self, value: Any) -> None:
        if value is None:
            self.fast(None)
        else:
            code = self.strings.index.get(value)
            self.fast(self.strings.add(value) if code is None else code)

    def arrays(self, lo: int, hi: int) -> list[tuple[str, pa.ChunkedArray]]:
        values = pa.array(self.strings.values, type=pa.string())
        chunks = [pa.DictionaryArray.from_arrays(p, values) for p in self.pieces(lo, hi)]
        return [(self.name, pa.chunked_array(chunks, type=_DICT))]


class Text(ArrowColumn):
    kind = "text"
    arrow_type = pa.large_string()

    def put(self, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise _type_error("a str", value)
        self.fast(value)


class Json(Text):
    kind = "json"

    def put(self, value: Any) -> None:
        self.fast(None if value is None else self.encode(value))

    @staticmethod
    def encode(value: Any) -> str:
        """The JSON text of ``value`` (of its ``repr`` where JSON can't say it); never
        raises. The compiled row plan calls it too (``evlab._core.row_plan``, kind J)."""
        try:
            text = orjson.dumps(value, default=repr, option=_JSON_OPTS)
        except (TypeError, orjson.JSONEncodeError):
            text = orjson.dumps(repr(value))
        return text.decode()


class Raw(Column):
    """Exact ``str | bytes`` (raw WebSocket payloads): the bytes, and whether it was a str."""

    kind = "raw"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.data = ArrowColumn(name)
        self.data.arrow_type = pa.large_binary()
        self.is_text = ArrowColumn(f"{name}_is_text")
        self.is_text.arrow_type = pa.bool_()
        self.stage = self.data.stage  # for ``len`` and the recorder's bookkeeping
        self._add, self._flag = self.data.fast, self.is_text.fast

    def put(self, value: Any) -> None:
        if isinstance(value, str):
            self._add(value.encode("utf-8", "surrogatepass"))
            self._flag(True)
        elif value is None:
            self._add(None)
            self._flag(None)
        elif isinstance(value, bytes | bytearray | memoryview):
            self._add(bytes(value))
            self._flag(False)
        else:
            raise _type_error("str or bytes", value)

    def __len__(self) -> int:
        return min(len(self.data), len(self.is_text))

    def commit(self) -> None:
        self.data.commit()
        self.is_text.commit()
        self.committed = self.data.committed

    def truncate(self, n: int) -> None:
        self.data.truncate(n)
        self.is_text.truncate(n)

    def reset(self) -> None:
        self.data.reset()
        self.is_text.reset()
        self.committed = 0

    def drop(self, k: int) -> None:
        self.data.drop(k)
        self.is_text.drop(k)
        self.committed = self.data.committed

    def nbytes(self) -> int:
        return self.data.nbytes() + self.is_text.nbytes()

    def arrays(self, lo: int, hi: int) -> list[tuple[str, pa.ChunkedArray]]:
        return [*self.data.arrays(lo, hi), *self.is_text.arrays(lo, hi)]


def make_column(name: str, kind: str, strings: Strings | None = None) -> Column:
    """A new empty column of ``kind`` (``cat`` columns share ``strings``)."""
    if kind == "cat":
        return Cat(name, strings if strings is not None else Strings())
    return {"f8": Float, "i8": Int, "bool": Bool, "text": Text, "json": Json,
            "raw": Raw}[kind](name)
