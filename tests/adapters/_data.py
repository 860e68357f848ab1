"""Shared test data: the documented fixtures and a few real bars from the shipped datasets."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "exchanges"
_DATASETS = [ROOT / "datasets", Path("/work/shared/datasets")]


def fixture(exchange: str, name: str) -> bytes:
    """The raw bytes of a documented example message."""
    return (FIXTURES / exchange / name).read_bytes()


def fixture_obj(exchange: str, name: str):
    """A documented example message, decoded."""
    return orjson.loads(fixture(exchange, name))


def ns(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> int:
    """ns since the epoch for a UTC wall time (independent of the adapters' parser)."""
    t = dt.datetime(y, mo, d, h, mi, s, us, tzinfo=dt.UTC)
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1) * 1000


def _csv(folder: str) -> Path:
    for base in _DATASETS:
        found = sorted((base / folder).glob("*.csv"))
        if found:
            return found[0]
    raise FileNotFoundError(folder)


def btc_bars(resolution: str = "1m", n: int = 8) -> list[tuple[int, float, float, float, float,
                                                                 float]]:
    """The first ``n`` rows of the Coinbase BTC/USD dataset as (time_ns, o, h, l, c, v)."""
    out = []
    with _csv(f"coinbase_btcusd_{resolution}").open() as f:
        for row in csv.DictReader(f):
            t = dt.datetime.strptime(row["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
            out.append((ns(t.year, t.month, t.day, t.hour, t.minute, t.second),
                        float(row["open"]), float(row["high"]), float(row["low"]),
                        float(row["close"]), float(row["volume"])))
            if len(out) == n:
                break
    return out


def stock_days(symbol: str = "AAPL", n: int = 5) -> list[tuple[int, float, float, float, float,
                                                               float]]:
    """The first ``n`` daily bars of ``symbol`` from the stocks dataset."""
    out = []
    with _csv("quandl_wiki_stocks_daily").open() as f:
        for row in csv.DictReader(f):
            if row["Ticker"] != symbol:
                continue
            y, mo, d = map(int, row["Date"].split("-"))
            out.append((ns(y, mo, d), float(row["Open"]), float(row["High"]), float(row["Low"]),
                        float(row["Close"]), float(row["Volume"])))
            if len(out) == n:
                break
    return out


def same_bar(event, symbol: str, row) -> bool:
    """True when ``event`` carries exactly ``row`` for ``symbol`` (floats compared exactly)."""
    t, o, h, low, c, v = row
    return (event.symbol, event.time_ns, event.open, event.high, event.low, event.close,
            event.volume) == (symbol, t, o, h, low, c, v)
