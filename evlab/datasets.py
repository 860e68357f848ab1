"""Real market data shipped with evlab, a loader for bar files, and gap-aware bar resampling.

Shipped datasets (files under the repository's ``datasets/`` folder; each folder's ``SOURCE.md``
gives provenance and licence, ``datasets/README.md`` the attributions):

``"btcusd_1m"``
    Coinbase BTC/USD 1-minute trade bars, 2016-10-07 to 2016-10-09 UTC, symbol ``"BTC-USD"``,
    4,216 rows. A minute without trades has no row. Apache-2.0 (QuantConnect/Lean, data by Kaiko).
``"btcusd_1s"``
    The same three days at 1-second resolution (only seconds with trades), 11,520 rows.
    ``resample(load("btcusd_1s"), "1min")`` equals ``load("btcusd_1m")`` exactly.
``"stocks_daily"``
    Daily bars of AAPL, FB, GOOG, IBM, MSFT, 2000-03-01 to 2013-03-01, 12,154 rows, public
    domain (Quandl WIKI). Prices and volume are **unadjusted** (splits show as price jumps); the
    file's ``Adj Close`` column is ignored. Each date's bar is stamped at midnight UTC of that date.

Bars are a DataFrame indexed by a UTC ``DatetimeIndex`` named ``"time"`` (the bar's open time,
nanosecond unit), with float64 columns ``open, high, low, close, volume`` and a categorical
``symbol`` column (categories sorted); ``load`` sorts them by (time, symbol). :func:`as_bars` is
the one reader of bar frames (``load``, ``Replayer`` and ``FeedServer`` use it): it says which
column names it accepts.

The folder is ``<repo>/datasets`` next to the ``evlab`` package (a source checkout or an editable
install); the environment variable ``EVLAB_DATASETS`` overrides it.

``list`` shadows the builtin inside this module, so it is an alias of :func:`list_datasets`
defined at the very end and left out of ``__all__``; use ``evlab.datasets.list()``.
"""

from __future__ import annotations

import builtins
import functools
import os
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from pandas.tseries.offsets import BaseOffset

__all__ = ["as_bars", "datasets_dir", "list_datasets", "load", "resample"]

ENV_VAR = "EVLAB_DATASETS"

#: The names (stripped, case-insensitive) ``as_bars`` reads the bar time, symbol and values from.
TIME_COLUMNS = ("time", "timestamp", "datetime", "date", "event_time")
SYMBOL_COLUMNS = ("symbol", "ticker")
VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
PRICES = VALUE_COLUMNS[:4]
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_MAX_VOLUME_DECIMALS = 9
_END_ANCHORED = (
    pd.offsets.MonthEnd,
    pd.offsets.BusinessMonthEnd,
    pd.offsets.SemiMonthEnd,
    pd.offsets.QuarterEnd,
    pd.offsets.BQuarterEnd,
    pd.offsets.YearEnd,
    pd.offsets.BYearEnd,
)


@dataclass(frozen=True)
class _Dataset:
    folder: str
    filename: str
    symbol: str | None  # the symbol of a single-symbol file without a symbol column
    frequency: str
    licence: str
    description: str


_DATASETS: dict[str, _Dataset] = {
    "btcusd_1m": _Dataset(
        "coinbase_btcusd_1m",
        "btcusd_coinbase_1m_2016-10-07_2016-10-09.csv",
        "BTC-USD",
        "1min",
        "Apache-2.0 (QuantConnect/Lean; data originally provided by Kaiko)",
        "Coinbase BTC/USD 1-minute trade bars; minutes without trades have no row",
    ),
    "btcusd_1s": _Dataset(
        "coinbase_btcusd_1s",
        "btcusd_coinbase_1s_2016-10-07_2016-10-09.csv",
        "BTC-USD",
        "1s",
        "Apache-2.0 (QuantConnect/Lean; data originally provided by Kaiko)",
        "Coinbase BTC/USD 1-second trade bars; only seconds with trades have a row",
    ),
    "stocks_daily": _Dataset(
        "quandl_wiki_stocks_daily",
        "stocks_daily_2000-03-01_2013-03-01.csv",
        None,
        "1D",
        "Public domain (Quandl WIKI Prices)",
        "US equities, daily, unadjusted OHLCV (Adj Close ignored), stamped midnight UTC",
    ),
}


def datasets_dir() -> Path:
    """The folder of the shipped datasets: ``$EVLAB_DATASETS`` if set, else ``<repo>/datasets``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "datasets"


def list_datasets() -> pd.DataFrame:
    """The shipped datasets, one row each (index ``name``), with symbols, span, row count, licence.

    Computed from the files themselves (parsed once and cached), so it cannot drift from the data.
    """
    rows = []
    for name, spec in _DATASETS.items():
        bars = _load_dataset(name)
        rows.append(
            {
                "name": name,
                "symbols": tuple(str(s) for s in bars["symbol"].cat.categories),
                "frequency": spec.frequency,
                "start": bars.index.min(),
                "end": bars.index.max(),
                "rows": len(bars),
                "licence": spec.licence,
                "description": spec.description,
            }
        )
    return pd.DataFrame(rows).set_index("name")


def load(name: str | os.PathLike[str], symbol: str | None = None) -> pd.DataFrame:
    """Bars of a shipped dataset (by name) or of a CSV/Parquet file (by path); see the module doc.

    ``symbol`` keeps only that symbol; for a file without a symbol/ticker column it names the
    file's single symbol instead (default: the file's stem). Parsed files are cached.
    """
    if isinstance(name, str) and name in _DATASETS:
        bars = _load_dataset(name)
    elif isinstance(name, os.PathLike) or (isinstance(name, str) and _looks_like_path(name)):
        path = Path(name).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        if not path.is_file():
            raise ValueError(f"{path}: not a file")
        bars = _read_bars(path, symbol if symbol is not None else path.name.split(".")[0])
    elif isinstance(name, str):
        raise ValueError(
            f"unknown dataset {name!r}; available: {', '.join(_DATASETS)} "
            f"(or pass the path of a CSV or Parquet file of bars)"
        )
    else:
        raise TypeError(f"load: expected a dataset name or a path, got {type(name).__name__}")

    if symbol is None:
        return bars.copy()
    available = builtins.list(bars["symbol"].cat.categories)
    if symbol not in available:
        raise ValueError(
            f"unknown symbol {symbol!r} in {name!s}; available: {', '.join(map(str, available))}"
        )
    out = bars[bars["symbol"] == symbol].copy()
    out["symbol"] = out["symbol"].cat.remove_unused_categories()
    return out


def resample(bars: pd.DataFrame, rule: str | pd.DateOffset) -> pd.DataFrame:
    """Aggregate bars into ``rule`` intervals (first open, max high, min low, last close, sum
    volume), per symbol if there is a ``symbol`` column; intervals without bars get no row.

    Intervals are closed on the left and labelled by their start (so period-end rules such as
    ``"ME"`` are refused: use ``"MS"``); fixed rules such as ``"5min"`` are aligned to midnight
    of the first bar's day. Volume is summed exactly when every input volume is a decimal of at
    most 9 places (0.1 + 0.2 gives 0.3), so ``btcusd_1s`` resampled to ``"1min"`` is ``btcusd_1m``
    bit for bit; other volumes get a plain float sum.
    """
    if not isinstance(bars, pd.DataFrame):
        raise TypeError(f"resample: expected a DataFrame of bars, got {type(bars).__name__}")
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise TypeError("resample: bars must have a DatetimeIndex (the bar open times)")
    missing = [c for c in VALUE_COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(f"resample: bars are missing column(s) {', '.join(missing)}")
    try:
        offset = pd.tseries.frequencies.to_offset(rule)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"resample: invalid rule {rule!r}: {exc}") from exc
    if _is_end_anchored(offset):
        raise ValueError(
            f"resample: {rule!r} is anchored on period ends, but intervals are labelled by their "
            "start; use the start-anchored rule (e.g. 'MS', 'QS', 'YS')"
        )

    has_symbol = "symbol" in bars.columns
    frame = bars.loc[:, [*VALUE_COLUMNS, *(["symbol"] if has_symbol else [])]]
    frame = frame.iloc[np.argsort(pd.DatetimeIndex(frame.index).asi8, kind="stable")]  # by time
    index_name = frame.index.name or "time"

    volume_agg: tuple[str, str]
    exact = _decimal_units(frame["volume"].to_numpy(dtype="float64"))
    if exact is not None:
        frame = frame.assign(_volume_units=exact[0])
        volume_agg = ("_volume_units", "sum")
    else:
        volume_agg = ("volume", "sum")

    keys: builtins.list[object] = [pd.Grouper(freq=offset, closed="left", label="left")]
    if has_symbol:
        keys.append("symbol")
    out = frame.groupby(keys, observed=True, sort=True).agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=volume_agg,
        _count=("open", "size"),
    )
    out = out[out["_count"] > 0].drop(columns="_count")  # gaps stay gaps
    if exact is not None:
        out["volume"] = out["volume"].to_numpy(dtype="float64") / 10.0 ** exact[1]
    out = out.astype({c: "float64" for c in VALUE_COLUMNS})

    if has_symbol:
        out = out.reset_index(level="symbol")
        out = out[[*VALUE_COLUMNS, "symbol"]]
    out.index.name = index_name
    return out


# --- internals ----------------------------------------------------------------------------------


def _is_end_anchored(offset: BaseOffset) -> bool:
    return isinstance(offset, _END_ANCHORED)


def _looks_like_path(text: str) -> bool:
    p = Path(text)
    return (
        "/" in text
        or os.sep in text
        or p.suffix.lower() in (".csv", ".gz", ".zip", ".bz2", ".xz", ".zst", *_PARQUET_SUFFIXES)
        or p.is_file()
    )


def _load_dataset(name: str) -> pd.DataFrame:
    """The cached (shared: do not mutate) bars of a shipped dataset."""
    spec = _DATASETS[name]
    path = datasets_dir() / spec.folder / spec.filename
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset {name!r}: {path} not found; set {ENV_VAR} to the folder that holds "
            f"{spec.folder}/ (the repository's datasets/ folder)"
        )
    return _read_bars(path, spec.symbol or spec.folder)


def _read_bars(path: Path, default_symbol: str) -> pd.DataFrame:
    """The cached (shared: do not mutate) bars of a file; re-read when the file changes."""
    st = path.stat()
    return _read_bars_cached(str(path.resolve()), st.st_mtime_ns, st.st_size, default_symbol)


@functools.lru_cache(maxsize=32)
def _read_bars_cached(path: str, mtime_ns: int, size: int, default_symbol: str) -> pd.DataFrame:
    del mtime_ns, size  # only part of the cache key
    return _parse_bars(_read_table(Path(path)), path, default_symbol)


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        fmt = "Parquet"
    else:
        with path.open("rb") as fh:
            fmt = "Parquet" if fh.read(4) == b"PAR1" else "CSV"
    try:
        return pd.read_parquet(path) if fmt == "Parquet" else pd.read_csv(path)
    except Exception as exc:  # parser, arrow, decoding and I/O errors alike
        raise ValueError(f"{path}: cannot read as {fmt}: {type(exc).__name__}: {exc}") from exc


def _parse_bars(raw: pd.DataFrame, path: str, default_symbol: str) -> pd.DataFrame:
    """A file's table as bars sorted by (time, symbol), unique, with errors that name the file."""
    try:
        has_symbol = _column(raw, SYMBOL_COLUMNS) is not None
        bars = as_bars(raw, None if has_symbol else default_symbol)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    bars = bars.loc[:, [*VALUE_COLUMNS, "symbol"]]
    bars = bars.sort_values(["time", "symbol"], kind="stable")
    dup = pd.MultiIndex.from_arrays([bars.index, bars["symbol"]]).duplicated()
    if dup.any():
        t, s = bars.index[dup][0], bars["symbol"][dup].iloc[0]
        raise ValueError(f"{path}: {int(dup.sum())} duplicate bars, e.g. {s} at {t}")
    return bars


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> Hashable | None:
    """The one column of ``frame`` whose name, stripped and lower-cased, is in ``names``."""
    found = [c for c in frame.columns if str(c).strip().lower() in names]
    if len(found) > 1:
        raise ValueError(f"several columns mean the same ({', '.join(map(str, found))}): "
                         "keep one")
    return found[0] if found else None


def _times(frame: pd.DataFrame, column: Hashable | None) -> pd.DatetimeIndex:
    """The bars' open times (UTC, ns) from ``column`` or the DatetimeIndex."""
    if column is None:
        raw: Any = frame.index
        what = "the index"
    else:
        raw, what = frame[column], f"column {column!r}"
        if is_numeric_dtype(raw) or is_bool_dtype(raw):
            raise ValueError(f"{what} is numeric; epoch numbers are ambiguous (s? ms? ns?): "
                             "convert them with pd.to_datetime(..., unit=...)")
    try:
        times = pd.DatetimeIndex(pd.to_datetime(raw, utc=True)).as_unit("ns")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{what}: cannot parse times: {exc}") from exc
    if times.hasnans:
        row = int(np.flatnonzero(times.isna())[0])
        raise ValueError(f"row {row}: time is missing ({what})")
    return times.rename("time")


def _numbers(frame: pd.DataFrame, column: Hashable, name: str) -> np.ndarray:
    """A value column as float64 (missing values as NaN); ValueError naming the first non-number."""
    raw = frame[column]
    if is_bool_dtype(raw):
        raise ValueError(f"column {name!r} is not numeric: it holds booleans")
    if is_numeric_dtype(raw):
        out: np.ndarray = raw.to_numpy(dtype="float64", na_value=np.nan)
        return out
    values = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() & raw.notna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise ValueError(f"column {name!r} is not numeric: row {row} holds {raw.iloc[row]!r}")
    out = values.to_numpy(dtype="float64", na_value=np.nan)
    return out


def _symbols(frame: pd.DataFrame, column: Hashable | None,
             symbol: str | None) -> pd.Categorical[str]:
    """Each row's symbol as a categorical of strings (categories sorted; missing stays missing)."""
    if column is None:
        if symbol is None:
            raise ValueError(f"no symbol column ({' or '.join(SYMBOL_COLUMNS)}); pass "
                             "symbol='...' to name the frame's symbol")
        return pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), pd.Index([symbol]))
    raw = frame[column]
    cat = raw.array if isinstance(raw.dtype, pd.CategoricalDtype) else pd.Categorical(raw)
    if not all(isinstance(c, str) for c in cat.categories):
        cat = pd.Categorical(raw.where(raw.isna(), raw.astype(str)))
    codes = np.asarray(cat.codes)
    if not (np.bincount(codes[codes >= 0], minlength=len(cat.categories)) > 0).all():
        cat = cat.remove_unused_categories()  # a sort: only when some category is unused
    names = builtins.list(cat.categories)
    return cat if names == sorted(names) else cat.reorder_categories(sorted(names))


def bad_bar(values: dict[str, np.ndarray], symbols: np.ndarray) -> tuple[int, str, str] | None:
    """The first bar that ``BarEvent`` would refuse, as ``(position, field, why)``, or None.

    ``values``: float64 arrays of open, high, low, close, volume; ``symbols``: True where a
    bar's symbol is a non-empty string. Vectorised: one pass per rule.
    """
    tests: builtins.list[tuple[str, np.ndarray, str]] = [
        ("symbol", ~symbols, "must be a non-empty string")]
    for name in PRICES:
        tests.append((name, ~(np.isfinite(values[name]) & (values[name] > 0)),
                      "must be finite and > 0"))
    volume = values["volume"]
    tests.append(("volume", ~(np.isfinite(volume) & (volume >= 0)), "must be finite and >= 0"))
    with np.errstate(invalid="ignore"):
        tests.append(("high", values["high"] < values["low"], "must be >= low"))
        for name in ("open", "close"):
            tests.append((name, (values[name] < values["low"]) | (values[name] > values["high"]),
                          "must lie in [low, high]"))
    first: tuple[int, str, str] | None = None
    for name, bad, why in tests:
        hits = np.flatnonzero(bad[:len(bad) if first is None else first[0]])
        if len(hits):
            first = (int(hits[0]), name, why)
    return first


def bad_bar_message(values: dict[str, np.ndarray], symbol: object, position: int, field: str,
                    why: str) -> str:
    """``field why, got value`` for the bar at ``position`` (with its low and high for prices)."""
    value = symbol if field == "symbol" else float(values[field][position])
    context = "" if field in ("symbol", "volume") else (
        f" (low={float(values['low'][position])!r}, high={float(values['high'][position])!r})")
    return f"{field} {why}, got {value!r}{context}"


def as_bars(frame: pd.DataFrame, symbol: str | None = None, *,
            validate: bool = True) -> pd.DataFrame:
    """Any frame of bars in evlab's bars layout: the one reader of bar frames, used by ``load``,
    ``Replayer`` and ``FeedServer`` alike.

    Accepted columns, their names compared stripped and case-insensitively (one of each):

    * the bar's open time: a column ``time``, ``timestamp``, ``datetime``, ``date`` or
      ``event_time``, else a ``DatetimeIndex``; datetimes or date strings, naive ones taken as
      UTC. Numbers are refused: an epoch's unit is ambiguous.
    * ``open``, ``high``, ``low``, ``close``, ``volume``: numbers.
    * the symbol: a column ``symbol`` or ``ticker``; without one, ``symbol=`` names every row.
      With one, ``symbol=`` keeps only that symbol's rows (ValueError if it has none).

    Other columns are kept, unchanged, after these; rows keep their order (sorting is the
    caller's choice). The result: a UTC nanosecond ``DatetimeIndex`` named ``time``, float64
    ``open, high, low, close, volume``, a categorical ``symbol`` (categories sorted), the
    other columns. ``validate`` (default) also checks every row is a bar ``BarEvent``
    accepts; ``validate=False`` skips that for frames you trust. Every ValueError names the
    column, or the row (its position in ``frame``, 0-based) with its time and symbol.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a DataFrame of bars, got {type(frame).__name__}")
    lowered = [str(c).strip().lower() for c in frame.columns]
    dupes = sorted({c for c in lowered if lowered.count(c) > 1})
    if dupes:
        raise ValueError(f"ambiguous columns (case-insensitive duplicates): {', '.join(dupes)}")
    time_col = _column(frame, TIME_COLUMNS)
    sym_col = _column(frame, SYMBOL_COLUMNS)
    value_cols = {name: _column(frame, (name,)) for name in VALUE_COLUMNS}
    missing = [name for name, col in value_cols.items() if col is None]
    if time_col is None and not isinstance(frame.index, pd.DatetimeIndex):
        missing.insert(0, f"a time column ({', '.join(TIME_COLUMNS)}) or a DatetimeIndex")
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise ValueError(f"missing column(s) {', '.join(missing)}; found {found}")
    times = _times(frame, time_col)
    values = {name: _numbers(frame, col, name) for name, col in value_cols.items()
              if col is not None}
    symbols = _symbols(frame, sym_col, symbol)
    rows = None
    if sym_col is not None and symbol is not None:
        if symbol not in symbols.categories:
            raise ValueError(f"unknown symbol {symbol!r}; available: "
                             f"{', '.join(map(str, symbols.categories))}")
        rows = np.flatnonzero(symbols.codes == symbols.categories.get_loc(symbol))
        times, symbols = times[rows], symbols[rows].remove_unused_categories()
        values = {name: v[rows] for name, v in values.items()}
    if validate:
        names = np.array([bool(c.strip()) for c in symbols.categories] + [False])
        bad = bad_bar(values, names[symbols.codes])
        if bad is not None:
            position, field, why = bad
            row = position if rows is None else int(rows[position])
            code = int(symbols.codes[position])
            name = None if code < 0 else symbols.categories[code]
            raise ValueError(f"row {row} ({times[position]}, {name!r}): "
                             f"{bad_bar_message(values, name, position, field, why)}")
    data: dict[Hashable, Any] = {name: values[name] for name in VALUE_COLUMNS}
    data["symbol"] = symbols
    used = {time_col, sym_col, *value_cols.values()}
    for column in frame.columns:
        if column not in used:
            extra = frame[column].array
            data[column] = extra if rows is None else extra[rows]
    return pd.DataFrame(data, index=times)


def _decimal_units(volume: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``(units, d)`` with ``volume == units / 10**d`` exactly for the smallest such ``d``, if any.

    Summing integer units and dividing once gives the correctly rounded decimal sum, where a
    float sum would be off by an ulp now and then.
    """
    if volume.size == 0 or not np.isfinite(volume).all():
        return None
    for d in range(_MAX_VOLUME_DECIMALS + 1):
        scale = 10.0**d
        units = np.rint(volume * scale)
        if np.abs(units).sum() >= 2.0**53:  # int sums must stay exact as float64
            return None
        if np.array_equal(units / scale, volume):
            return units.astype(np.int64), d
    return None


list = list_datasets  # the public name; this module itself uses ``builtins.list``
