"""Tests of evlab.datasets: the shipped real data, the bar loader and gap-aware resampling."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evlab
from evlab import datasets

NAMES = ["btcusd_1m", "btcusd_1s", "stocks_daily"]
FOLDERS = {
    "btcusd_1m": "coinbase_btcusd_1m",
    "btcusd_1s": "coinbase_btcusd_1s",
    "stocks_daily": "quandl_wiki_stocks_daily",
}
STOCK_COUNTS = {"AAPL": 3270, "FB": 196, "GOOG": 2148, "IBM": 3270, "MSFT": 3270}
COLUMNS = ["open", "high", "low", "close", "volume", "symbol"]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def assert_bars_layout(bars: pd.DataFrame) -> None:
    assert list(bars.columns) == COLUMNS
    for col in COLUMNS[:5]:
        assert bars[col].dtype == np.float64, col
    assert isinstance(bars["symbol"].dtype, pd.CategoricalDtype)
    assert isinstance(bars.index, pd.DatetimeIndex)
    assert bars.index.name == "time"
    assert str(bars.index.tz) == "UTC"
    keys = pd.DataFrame({"t": bars.index.asi8, "s": bars["symbol"].astype(str).to_numpy()})
    assert keys.equals(keys.sort_values(["t", "s"], ignore_index=True)), "not sorted"
    assert not keys.duplicated().any()


def make_bars(rows: list[tuple[str, float, float, float, float, float]], **cols) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    for name, values in cols.items():
        frame[name] = values
    return frame.set_index("time")


# --- the shipped files ----------------------------------------------------------------------------


def test_datasets_dir_is_repo_folder_with_unchanged_files_and_readme():
    root = Path(evlab.__file__).resolve().parent.parent / "datasets"
    assert datasets.datasets_dir() == root
    readme = (root / "README.md").read_text()
    for name, folder in FOLDERS.items():
        source = (root / folder / "SOURCE.md").read_text()
        assert f"{folder}/SOURCE.md" in readme and f"`{name}`" in readme
        (csv,) = (root / folder).glob("*.csv")
        expected = re.search(r"sha256 of this CSV: `([0-9a-f]{64})`", source)
        if expected is None:  # the stock file records its uncompressed sha256 instead
            expected = re.search(r"uncompressed sha256\s+`([0-9a-f]{64})`", source)
        assert expected is not None
        assert hashlib.sha256(csv.read_bytes()).hexdigest() == expected.group(1)
    assert "Apache-2.0" in readme and "public domain" in readme.lower()


def test_list_describes_the_shipped_datasets():
    table = datasets.list()
    assert datasets.list is datasets.list_datasets
    assert table.index.name == "name"
    assert list(table.index) == NAMES
    assert {"symbols", "frequency", "start", "end", "rows", "licence"} <= set(table.columns)
    assert table.loc["btcusd_1m", "symbols"] == ("BTC-USD",)
    assert table.loc["btcusd_1s", "symbols"] == ("BTC-USD",)
    assert table.loc["stocks_daily", "symbols"] == ("AAPL", "FB", "GOOG", "IBM", "MSFT")
    assert table["rows"].to_dict() == {"btcusd_1m": 4216, "btcusd_1s": 11520, "stocks_daily": 12154}
    assert table["frequency"].to_dict() == {
        "btcusd_1m": "1min",
        "btcusd_1s": "1s",
        "stocks_daily": "1D",
    }
    assert table.loc["btcusd_1m", "start"] == utc("2016-10-07 00:00:00")
    assert table.loc["btcusd_1m", "end"] == utc("2016-10-09 23:59:00")
    assert table.loc["btcusd_1s", "start"] == utc("2016-10-07 00:00:04")
    assert table.loc["btcusd_1s", "end"] == utc("2016-10-09 23:59:58")
    assert table.loc["stocks_daily", "start"] == utc("2000-03-01")
    assert table.loc["stocks_daily", "end"] == utc("2013-03-01")
    assert "Apache-2.0" in table.loc["btcusd_1m", "licence"]
    assert "Public domain" in table.loc["stocks_daily", "licence"]


# --- load: shipped datasets -----------------------------------------------------------------------


def test_load_btcusd_1m():
    bars = datasets.load("btcusd_1m")
    assert_bars_layout(bars)
    assert len(bars) == 4216
    assert bars.groupby(bars.index.date).size().tolist() == [1419, 1400, 1397]
    assert bars.index[0] == utc("2016-10-07 00:00") and bars.index[-1] == utc("2016-10-09 23:59")
    assert list(bars["symbol"].cat.categories) == ["BTC-USD"]
    assert bars.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [
        611.78,
        611.91,
        611.78,
        611.9,
        1.13872,
    ]
    assert bars["low"].min() == 609.89 and bars["high"].max() == 620.0
    assert round(bars["volume"].sum(), 5) == 10243.80633  # SOURCE.md's figure, rounded
    assert bars["volume"].sum() == pytest.approx(10243.80633049, abs=1e-9)
    assert (bars["volume"] > 0).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars[["open", "close"]].max(axis=1) <= bars["high"]).all()
    minutes = pd.date_range("2016-10-07", "2016-10-09 23:59", freq="1min", tz="UTC")
    assert len(minutes.difference(bars.index)) == 104  # minutes without trades: no row


def test_load_btcusd_1s():
    bars = datasets.load("btcusd_1s")
    assert_bars_layout(bars)
    assert len(bars) == 11520
    assert bars.groupby(bars.index.date).size().tolist() == [4063, 3453, 4004]
    assert bars.index[0] == utc("2016-10-07 00:00:04")
    assert bars.index[-1] == utc("2016-10-09 23:59:58")
    assert bars.iloc[1][["open", "high", "low", "close", "volume"]].tolist() == [
        611.9,
        611.91,
        611.89,
        611.9,
        0.53826,
    ]


def test_load_stocks_daily_unadjusted_at_midnight_utc():
    bars = datasets.load("stocks_daily")
    assert_bars_layout(bars)
    assert len(bars) == 12154
    assert bars["symbol"].value_counts().to_dict() == STOCK_COUNTS
    assert list(bars["symbol"].cat.categories) == sorted(STOCK_COUNTS)
    assert (bars.index == bars.index.normalize()).all()
    assert bars.index[0] == utc("2000-03-01") and bars.index[-1] == utc("2013-03-01")
    first = bars.iloc[0]
    assert first["symbol"] == "AAPL"
    assert first[["open", "high", "low", "close", "volume"]].tolist() == [
        118.56,
        132.06,
        118.5,
        130.31,
        9616100.0,
    ]
    starts = bars.reset_index().groupby("symbol", observed=True)["time"].min()
    assert starts["GOOG"] == utc("2004-08-19") and starts["FB"] == utc("2012-05-18")
    # Unadjusted: AAPL's 2-for-1 split on 2000-06-21 shows as a price halving.
    aapl = bars[bars["symbol"] == "AAPL"]["close"]
    assert aapl[utc("2000-06-20")] > 95 and aapl[utc("2000-06-21")] < 60
    assert "adj close" not in [c.lower() for c in bars.columns]


def test_load_one_symbol():
    fb = datasets.load("stocks_daily", symbol="FB")
    assert_bars_layout(fb)
    assert len(fb) == 196
    assert list(fb["symbol"].cat.categories) == ["FB"]
    assert fb.index[0] == utc("2012-05-18")
    btc = datasets.load("btcusd_1m", symbol="BTC-USD")
    pd.testing.assert_frame_equal(btc, datasets.load("btcusd_1m"), check_exact=True)


def test_load_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="unknown dataset 'btcusd_1h'") as info:
        datasets.load("btcusd_1h")
    for name in NAMES:
        assert name in str(info.value)


def test_load_unknown_symbol_lists_the_symbols():
    with pytest.raises(ValueError, match="unknown symbol 'TSLA'") as info:
        datasets.load("stocks_daily", symbol="TSLA")
    assert "AAPL, FB, GOOG, IBM, MSFT" in str(info.value)
    with pytest.raises(ValueError, match="BTC-USD"):
        datasets.load("btcusd_1m", symbol="ETH-USD")


def test_load_is_cached_and_returns_independent_copies():
    datasets.load("btcusd_1s")
    hits = datasets._read_bars_cached.cache_info().hits
    first = datasets.load("btcusd_1s")
    assert datasets._read_bars_cached.cache_info().hits == hits + 1
    first.iloc[0, 0] = -1.0
    first["volume"] = 0.0
    again = datasets.load("btcusd_1s")
    assert again.iloc[0, 0] == 611.78
    assert again["volume"].iloc[0] == 0.60046


def test_env_var_overrides_the_datasets_folder(tmp_path, monkeypatch):
    folder = tmp_path / "coinbase_btcusd_1m"
    folder.mkdir()
    src = datasets.datasets_dir() / "coinbase_btcusd_1m"
    (csv,) = src.glob("*.csv")
    lines = csv.read_text().splitlines()[:11]  # header + 10 bars
    (folder / csv.name).write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("EVLAB_DATASETS", str(tmp_path))
    assert datasets.datasets_dir() == tmp_path
    bars = datasets.load("btcusd_1m")
    assert len(bars) == 10
    with pytest.raises(FileNotFoundError, match="EVLAB_DATASETS"):
        datasets.load("stocks_daily")


# --- load: files ----------------------------------------------------------------------------------


def test_load_csv_path_case_insensitive_columns(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "Ticker,Timestamp,OPEN,High,low,Close,Volume,Extra\n"
        "XYZ,2024-01-02T00:01:00Z,2,3,1,2.5,10,x\n"
        "ABC,2024-01-02T00:01:00Z,5,6,4,5.5,7,y\n"
        "ABC,2024-01-02T00:00:00Z,1,2,0.5,1.5,3,z\n"
    )
    bars = datasets.load(path)
    assert_bars_layout(bars)
    assert list(bars.index) == [utc("2024-01-02 00:00"), *[utc("2024-01-02 00:01")] * 2]
    assert bars["symbol"].tolist() == ["ABC", "ABC", "XYZ"]
    assert bars["close"].tolist() == [1.5, 5.5, 2.5]
    assert bars["volume"].tolist() == [3.0, 7.0, 10.0]
    xyz = datasets.load(str(path), symbol="XYZ")
    assert len(xyz) == 1 and xyz["open"].iloc[0] == 2.0
    with pytest.raises(ValueError, match="ABC, XYZ"):
        datasets.load(path, symbol="QQQ")


def test_load_csv_without_symbol_column_uses_stem_or_given_symbol(tmp_path):
    path = tmp_path / "eurusd.csv"
    path.write_text("date,open,high,low,close,volume\n2024-03-01,1,2,0.5,1.5,100\n")
    bars = datasets.load(path)
    assert bars["symbol"].tolist() == ["eurusd"]
    assert bars.index[0] == utc("2024-03-01")
    assert datasets.load(path, symbol="EUR/USD")["symbol"].tolist() == ["EUR/USD"]


def test_load_parquet_path_round_trips(tmp_path):
    original = datasets.load("stocks_daily", symbol="IBM").iloc[:50]
    indexed = tmp_path / "ibm.parquet"
    original.to_parquet(indexed)  # DatetimeIndex "time" stored as the index
    pd.testing.assert_frame_equal(datasets.load(indexed), original, check_exact=True)

    flat = tmp_path / "bars.pq"
    frame = original.reset_index().rename(columns={"time": "Date", "symbol": "TICKER"})
    frame["TICKER"] = frame["TICKER"].astype(str)
    frame["Date"] = frame["Date"].dt.tz_localize(None)  # naive times are taken as UTC
    frame.iloc[::-1].to_parquet(flat, index=False)
    pd.testing.assert_frame_equal(datasets.load(flat), original, check_exact=True)


def test_corrupt_parquet_names_the_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(np.random.default_rng(7).bytes(2048))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        datasets.load(path)


def test_csv_missing_a_column_names_the_file_and_column(tmp_path):
    path = tmp_path / "novolume.csv"
    path.write_text("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,2,0.5,1.5\n")
    with pytest.raises(ValueError, match=re.escape(str(path))) as info:
        datasets.load(path)
    assert "missing column(s) volume" in str(info.value)


def test_bad_file_contents_give_clear_errors(tmp_path):
    bad_time = tmp_path / "badtime.csv"
    bad_time.write_text("time,open,high,low,close,volume\nnot-a-time,1,2,0.5,1.5,1\n")
    with pytest.raises(ValueError, match=f"{re.escape(str(bad_time))}.*cannot parse times"):
        datasets.load(bad_time)
    bad_num = tmp_path / "badnum.csv"
    bad_num.write_text("time,open,high,low,close,volume\n2024-01-01,1,2,oops,1.5,1\n")
    with pytest.raises(ValueError, match=f"{re.escape(str(bad_num))}.*'low' is not numeric"):
        datasets.load(bad_num)
    dup = tmp_path / "dup.csv"
    dup.write_text(
        "time,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,1\n2024-01-01,1,2,0.5,1.5,1\n"
    )
    with pytest.raises(ValueError, match=f"{re.escape(str(dup))}.*duplicate bars"):
        datasets.load(dup)
    with pytest.raises(FileNotFoundError, match=r"nothere\.csv"):
        datasets.load(tmp_path / "nothere.csv")


# --- resample -------------------------------------------------------------------------------------


def test_resample_1s_to_1min_rebuilds_the_shipped_1min_file_exactly():
    seconds = datasets.load("btcusd_1s")
    minutes = datasets.load("btcusd_1m")
    rebuilt = datasets.resample(seconds, "1min")
    assert len(rebuilt) == 4216
    assert rebuilt.index.equals(minutes.index)
    pd.testing.assert_frame_equal(rebuilt, minutes, check_exact=True)


def test_resample_1s_and_1min_agree_on_days():
    by_day_from_seconds = datasets.resample(datasets.load("btcusd_1s"), "1D")
    by_day_from_minutes = datasets.resample(datasets.load("btcusd_1m"), "1D")
    assert list(by_day_from_minutes.index) == [utc(f"2016-10-0{d}") for d in (7, 8, 9)]
    pd.testing.assert_frame_equal(by_day_from_seconds, by_day_from_minutes, check_exact=True)


def test_resample_gap_stays_a_gap():
    bars = make_bars(
        [
            ("2024-01-01 00:00:10", 10, 12, 9, 11, 1),
            ("2024-01-01 00:00:50", 11, 15, 10, 14, 2),
            ("2024-01-01 00:03:20", 20, 21, 19, 19.5, 4),
        ]
    )
    out = datasets.resample(bars, "1min")
    assert list(out.index) == [utc("2024-01-01 00:00"), utc("2024-01-01 00:03")]
    assert out.loc[utc("2024-01-01 00:00")].tolist() == [10, 15, 9, 14, 3]
    assert out.loc[utc("2024-01-01 00:03")].tolist() == [20, 21, 19, 19.5, 4]
    assert not out.isna().any().any()
    # The shipped minute data has 104 missing minutes; resampling keeps them missing.
    minutes = datasets.load("btcusd_1m")
    assert len(datasets.resample(minutes, "1min")) == 4216


def test_resample_is_closed_left_labelled_by_start_and_time_ordered():
    bars = make_bars(
        [
            ("2024-01-01 00:05:00", 3, 3, 3, 3, 1),  # starts the 00:05 interval
            ("2024-01-01 00:00:00", 1, 1, 1, 1, 1),
            ("2024-01-01 00:04:59", 2, 2, 2, 2, 1),
        ]
    )
    out = datasets.resample(bars, "5min")
    assert list(out.index) == [utc("2024-01-01 00:00"), utc("2024-01-01 00:05")]
    assert out["open"].tolist() == [1, 3]  # first by time even though the input was unsorted
    assert out["close"].tolist() == [2, 3]
    assert out["volume"].tolist() == [2, 1]
    assert out.index.name == "time"


def test_resample_per_symbol():
    bars = make_bars(
        [
            ("2024-01-01 00:00:00", 100, 101, 99, 100.5, 5),
            ("2024-01-01 00:00:00", 10, 11, 9, 10.5, 50),
            ("2024-01-01 00:00:30", 100.5, 103, 100, 102, 5),
            ("2024-01-01 00:02:00", 10.5, 12, 8, 9, 50),
        ],
        symbol=pd.Categorical(["BBB", "AAA", "BBB", "AAA"]),
    )
    out = datasets.resample(bars, "1min")
    assert list(out.columns) == COLUMNS
    assert isinstance(out["symbol"].dtype, pd.CategoricalDtype)
    assert out.reset_index()[["time", "symbol"]].astype(str).values.tolist() == [
        ["2024-01-01 00:00:00+00:00", "AAA"],
        ["2024-01-01 00:00:00+00:00", "BBB"],
        ["2024-01-01 00:02:00+00:00", "AAA"],
    ]
    assert out.iloc[0][COLUMNS[:5]].tolist() == [10, 11, 9, 10.5, 50]
    assert out.iloc[1][COLUMNS[:5]].tolist() == [100, 103, 99, 102, 10]
    assert out.iloc[2][COLUMNS[:5]].tolist() == [10.5, 12, 8, 9, 50]


def test_resample_stocks_to_months_matches_a_direct_computation():
    stocks = datasets.load("stocks_daily")
    months = datasets.resample(stocks, "MS")
    assert_bars_layout(months)
    assert months["symbol"].value_counts()["FB"] == 11  # 2012-05 .. 2013-03
    start = utc("2008-10-01")
    aapl = stocks[(stocks["symbol"] == "AAPL") & (stocks.index >= start)]
    aapl = aapl[aapl.index < utc("2008-11-01")]
    row = months[(months.index == start) & (months["symbol"] == "AAPL")].iloc[0]
    assert row["open"] == aapl["open"].iloc[0] and row["close"] == aapl["close"].iloc[-1]
    assert row["high"] == aapl["high"].max() and row["low"] == aapl["low"].min()
    assert row["volume"] == aapl["volume"].sum()


def test_resample_volume_sum_is_exact_for_decimals():
    assert 0.1 + 0.2 != 0.3
    bars = make_bars(
        [("2024-01-01 00:00:00", 1, 1, 1, 1, 0.1), ("2024-01-01 00:00:01", 1, 1, 1, 1, 0.2)]
    )
    assert datasets.resample(bars, "1min")["volume"].iloc[0] == 0.3
    third = make_bars(
        [("2024-01-01 00:00:00", 1, 1, 1, 1, 1 / 3), ("2024-01-01 00:00:01", 1, 1, 1, 1, 1 / 7)]
    )
    assert datasets.resample(third, "1min")["volume"].iloc[0] == pytest.approx(1 / 3 + 1 / 7)


def test_resample_rejects_bad_input():
    bars = datasets.load("btcusd_1m").iloc[:5]
    with pytest.raises(ValueError, match="missing column"):
        datasets.resample(bars.drop(columns="volume"), "5min")
    with pytest.raises(TypeError, match="DatetimeIndex"):
        datasets.resample(bars.reset_index(), "5min")
    with pytest.raises(ValueError, match="invalid rule"):
        datasets.resample(bars, "fortnightly")
    with pytest.raises(ValueError, match="'MS'"):
        datasets.resample(bars, "ME")


# --- as_bars: the one reader of bar frames ----------------------------------------------------

T = ["2024-01-02T00:00:00Z", "2024-01-02T00:01:00Z", "2024-01-02T00:02:00Z"]
OHLCV = {"open": [2.0, 3.0, 4.0], "high": [3.0, 4.0, 5.0], "low": [1.0, 2.0, 3.0],
         "close": [2.5, 3.5, 4.5], "volume": [10.0, 0.0, 7.5]}


def spelled(kind: str) -> pd.DataFrame:
    """The same three AAPL/MSFT bars, with the time and names spelled in one accepted way."""
    symbols = ["AAPL", "MSFT", "AAPL"]
    if kind == "timestamp column":
        return pd.DataFrame({"timestamp": T, **OHLCV, "symbol": symbols})
    if kind == "index, odd case":
        frame = pd.DataFrame({f" {k.upper()} ": v for k, v in OHLCV.items()},
                             index=pd.DatetimeIndex(pd.to_datetime(T, utc=True)))
        return frame.assign(Ticker=symbols)
    if kind == "naive date column":
        times = pd.to_datetime(T).tz_localize(None)
        return pd.DataFrame({"Date": times, **OHLCV, "symbol": pd.Categorical(symbols)})
    if kind == "event_time column, other zone":
        times = pd.to_datetime(T, utc=True).tz_convert("America/New_York")
        return pd.DataFrame({"event_time": times, **OHLCV, "SYMBOL": symbols})
    raise AssertionError(kind)


SPELLINGS = ["timestamp column", "index, odd case", "naive date column",
             "event_time column, other zone"]


@pytest.mark.parametrize("kind", SPELLINGS)
def test_as_bars_reads_every_accepted_spelling_the_same(kind):
    bars = datasets.as_bars(spelled(kind))
    assert list(bars.columns) == COLUMNS
    assert bars.index.name == "time" and str(bars.index.dtype) == "datetime64[ns, UTC]"
    assert bars.index.tolist() == [utc(t) for t in T]
    assert bars["symbol"].tolist() == ["AAPL", "MSFT", "AAPL"]
    assert list(bars["symbol"].cat.categories) == ["AAPL", "MSFT"]
    for name, values in OHLCV.items():
        assert bars[name].dtype == np.float64 and bars[name].tolist() == values


def test_as_bars_keeps_row_order_and_other_columns_and_filters_by_symbol():
    frame = spelled("timestamp column").iloc[::-1].assign(seq=[30, 20, 10], note=["a", "b", "c"])
    bars = datasets.as_bars(frame)
    assert bars["seq"].tolist() == [30, 20, 10] and bars["note"].tolist() == ["a", "b", "c"]
    aapl = datasets.as_bars(frame, symbol="AAPL")
    assert aapl["seq"].tolist() == [30, 10] and list(aapl["symbol"].cat.categories) == ["AAPL"]
    named = datasets.as_bars(frame.drop(columns="symbol"), symbol="X")
    assert named["symbol"].tolist() == ["X"] * 3
    with pytest.raises(ValueError, match="unknown symbol 'IBM'; available: AAPL, MSFT"):
        datasets.as_bars(frame, symbol="IBM")


def bad(name: str) -> pd.DataFrame:
    """A frame ``as_bars`` refuses (its message: ``REFUSED[name]``)."""
    frame = spelled("timestamp column")
    if name == "no volume":
        return frame.drop(columns="volume")
    if name == "no time":
        return frame.drop(columns="timestamp")
    if name == "epoch numbers":
        return frame.assign(timestamp=pd.to_datetime(T).asi8)
    if name == "two time columns":
        return frame.assign(date=T)
    if name == "unparsable time":
        return frame.assign(timestamp=["2024-01-02", "soon", "2024-01-03"])
    if name == "missing time":
        return frame.assign(timestamp=[T[0], None, T[2]])
    if name == "text price":
        return frame.assign(low=["1", "2", "two"])
    if name == "no symbol":
        return frame.drop(columns="symbol")
    if name == "high below low":
        return frame.assign(high=[3.0, 1.5, 5.0])
    if name == "negative volume":
        return frame.assign(volume=[1.0, 1.0, -1.0])
    if name == "missing close":
        return frame.assign(close=[2.5, np.nan, 4.5])
    if name == "empty symbol":
        return frame.assign(symbol=["AAPL", " ", "AAPL"])
    raise AssertionError(name)


REFUSED = {
    "no volume": r"missing column\(s\) volume; found timestamp, open",
    "no time": r"missing column\(s\) a time column \(time, timestamp, .*\) or a DatetimeIndex",
    "epoch numbers": r"column 'timestamp' is numeric; epoch numbers are ambiguous",
    "two time columns": r"several columns mean the same \(timestamp, date\)",
    "unparsable time": r"column 'timestamp': cannot parse times",
    "missing time": r"row 1: time is missing",
    "text price": r"column 'low' is not numeric: row 2 holds 'two'",
    "no symbol": r"no symbol column \(symbol or ticker\); pass symbol=",
    "high below low": r"row 1 \(2024-01-02 00:01:00\+00:00, 'MSFT'\): high must be >= low, "
                      r"got 1.5 \(low=2.0, high=1.5\)",
    "negative volume": r"row 2 \(2024-01-02 00:02:00\+00:00, 'AAPL'\): volume must be finite "
                       r"and >= 0, got -1.0",
    "missing close": r"row 1 .*: close must be finite and > 0, got nan",
    "empty symbol": r"row 1 .*: symbol must be a non-empty string, got ' '",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_as_bars_refuses_with_a_message_naming_the_column_or_row(name):
    with pytest.raises(ValueError, match=REFUSED[name]):
        datasets.as_bars(bad(name))


def test_as_bars_validate_false_skips_only_the_value_checks():
    assert datasets.as_bars(bad("high below low"), validate=False)["high"].tolist()[1] == 1.5
    with pytest.raises(ValueError, match="epoch numbers"):
        datasets.as_bars(bad("epoch numbers"), validate=False)


def replayed(frame: pd.DataFrame) -> pd.DataFrame:
    """What a Replayer emits for ``frame``, as a bars frame in emission order."""
    from evlab.bus import EventBus
    from evlab.replay import Replayer

    bus = EventBus()
    seen: list = []
    bus.register("bar", seen.append)
    Replayer(frame, bus, progress=False).run()
    return pd.DataFrame({"open": [b.open for b in seen], "high": [b.high for b in seen],
                         "low": [b.low for b in seen], "close": [b.close for b in seen],
                         "volume": [b.volume for b in seen],
                         "symbol": [b.symbol for b in seen]},
                        index=pd.DatetimeIndex([b.time_ns for b in seen], tz="UTC", name="time"))


def in_time_order(bars: pd.DataFrame) -> pd.DataFrame:
    out = bars.iloc[np.argsort(bars.index.asi8, kind="stable")].loc[:, COLUMNS]
    return out.assign(symbol=out["symbol"].astype(str))


@pytest.mark.parametrize("kind", SPELLINGS)
def test_replayer_accepts_what_as_bars_accepts_and_replays_those_bars(kind):
    pd.testing.assert_frame_equal(replayed(spelled(kind)),
                                  in_time_order(datasets.as_bars(spelled(kind))))


@pytest.mark.parametrize("name", list(REFUSED))
def test_replayer_refuses_what_as_bars_refuses_with_the_same_message(name):
    from evlab.bus import EventBus
    from evlab.replay import Replayer

    with pytest.raises(ValueError, match=f"^bars DataFrame: {REFUSED[name]}"):
        Replayer(bad(name), EventBus())


@pytest.mark.parametrize("kind", SPELLINGS)
def test_feed_server_accepts_what_as_bars_accepts_and_serves_those_bars(kind):
    from evlab.feeds.server import FeedServer

    server = FeedServer(spelled(kind), exchange="coinbase")  # AAPL/MSFT: wire = dataset names
    pd.testing.assert_frame_equal(server.bars.astype({"symbol": str}),
                                  in_time_order(datasets.as_bars(spelled(kind))),
                                  check_index_type=False)


@pytest.mark.parametrize("name", list(REFUSED))
def test_feed_server_refuses_what_as_bars_refuses_with_the_same_message(name):
    from evlab.feeds.server import FeedServer

    with pytest.raises(ValueError, match=REFUSED[name]):
        FeedServer(bad(name), exchange="coinbase")


def test_readme_data_block_runs_as_pasted(capsys):
    readme = (Path(evlab.__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("\n## Data\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})  # the project's own documentation
    printed = capsys.readouterr().out
    assert "time" in printed and "XYZ" in printed and "10.3" in printed
    assert "2024-01-02 09:30:00+00:00" in printed
