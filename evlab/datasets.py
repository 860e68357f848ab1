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
``symbol`` column (categories sorted), sorted by (time, symbol).

The folder is ``<repo>/datasets`` next to the ``evlab`` package (a source checkout or an editable
install); the environment variable ``EVLAB_DATASETS`` overrides it.

``list`` shadows the builtin inside this module, so it is an alias of :func:`list_datasets`
defined at the very end and left out of ``__all__``; use ``evlab.datasets.list()``.
"""

from __future__ import annotations

import builtins
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

__all__ = ["datasets_dir", "list_datasets", "load", "resample"]

ENV_VAR = "EVLAB_DATASETS"

_TIME_COLUMNS = ("timestamp", "time", "date", "datetime")
_SYMBOL_COLUMNS = ("symbol", "ticker")
_VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
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
    missing = [c for c in _VALUE_COLUMNS if c not in bars.columns]
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
    frame = bars.loc[:, [*_VALUE_COLUMNS, *(["symbol"] if has_symbol else [])]]
    frame = frame.iloc[np.argsort(frame.index.asi8, kind="stable")]  # first/last by time
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
    out = out.astype({c: "float64" for c in _VALUE_COLUMNS})

    if has_symbol:
        out = out.reset_index(level="symbol")
        out = out[[*_VALUE_COLUMNS, "symbol"]]
    out.index.name = index_name
    return out


# --- internals ----------------------------------------------------------------------------------


def _is_end_anchored(offset: pd.DateOffset) -> bool:
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
    """Normalise a raw table into the bars layout, with errors that name the file."""
    lowered = [str(c).strip().lower() for c in raw.columns]
    dupes = sorted({c for c in lowered if lowered.count(c) > 1})
    if dupes:
        raise ValueError(f"{path}: ambiguous columns (case-insensitive duplicates): {dupes}")
    raw = raw.set_axis(lowered, axis=1)

    time_col = next((c for c in _TIME_COLUMNS if c in raw.columns), None)
    missing = [c for c in _VALUE_COLUMNS if c not in raw.columns]
    if time_col is None and not isinstance(raw.index, pd.DatetimeIndex):
        missing.insert(0, "timestamp (or time/date/datetime)")
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, raw.columns)) or 'none'}"
        )

    raw_times = raw[time_col] if time_col is not None else raw.index.to_series()
    if is_numeric_dtype(raw_times) or is_bool_dtype(raw_times):
        raise ValueError(
            f"{path}: column {time_col!r} is numeric; epoch numbers are ambiguous, "
            "store ISO-8601 times or datetimes"
        )
    try:
        times = pd.DatetimeIndex(pd.to_datetime(raw_times, utc=True))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{path}: column {time_col!r}: cannot parse times: {exc}") from exc
    if times.hasnans:
        raise ValueError(f"{path}: column {time_col!r} has {int(times.isna().sum())} empty times")
    times = times.as_unit("ns").rename("time")

    data: dict[str, object] = {}
    for col in _VALUE_COLUMNS:
        try:
            values = pd.to_numeric(raw[col], errors="raise").to_numpy(dtype="float64")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: column {col!r} is not numeric: {exc}") from exc
        n_missing = int(np.isnan(values).sum())
        if n_missing:
            raise ValueError(f"{path}: column {col!r} has {n_missing} missing values")
        data[col] = values

    sym_col = next((c for c in _SYMBOL_COLUMNS if c in raw.columns), None)
    if sym_col is None:
        symbols = pd.Series(default_symbol, index=raw.index, dtype="str")
    else:
        if raw[sym_col].isna().any():
            raise ValueError(f"{path}: column {sym_col!r} has missing symbols")
        symbols = raw[sym_col].astype("str")
    data["symbol"] = pd.Categorical(
        symbols.to_numpy(), categories=sorted(symbols.unique()), ordered=False
    )

    bars = pd.DataFrame(data, index=times)
    bars = bars.sort_values(["time", "symbol"], kind="stable")
    dup = pd.MultiIndex.from_arrays([bars.index, bars["symbol"]]).duplicated()
    if dup.any():
        t, s = bars.index[dup][0], bars["symbol"][dup].iloc[0]
        raise ValueError(f"{path}: {int(dup.sum())} duplicate bars, e.g. {s} at {t}")
    return bars


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
