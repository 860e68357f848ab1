"""The feed server's data side: bars as arrays, their frames pre-encoded once, wire framing.

Kept apart from :mod:`evlab.feeds.server` (sockets, clients, lifecycle) so that the hot path
of the server is a slice of a list of ready-made WebSocket frames. Nothing here knows an
exchange: the frames are whatever the exchange's adapter encodes.
"""

from __future__ import annotations

import math
import os
import struct
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from evlab import datasets
from evlab.feeds.adapters import ExchangeAdapter

_NS = 1_000_000_000
_VALUES = ("open", "high", "low", "close", "volume")


# --- WebSocket frames --------------------------------------------------------------------------

def ws_frame(payload: bytes | str, *, binary: bool = False) -> bytes:
    """One complete, unmasked (server-to-client) WebSocket frame carrying ``payload``."""
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    head = 0x82 if binary else 0x81
    n = len(data)
    if n < 126:
        return bytes((head, n)) + data
    if n < 1 << 16:
        return struct.pack("!BBH", head, 126, n) + data
    return struct.pack("!BBQ", head, 127, n) + data


def frame_payload(frame: bytes) -> tuple[bytes, bool]:
    """The payload of a frame made by :func:`ws_frame`, and whether it is a text frame."""
    n = frame[1] & 0x7F
    start = 2 if n < 126 else 4 if n == 126 else 10
    return frame[start:], frame[0] & 0x0F == 1


# --- bars -------------------------------------------------------------------------------------

class BarTable:
    """A dataset's bars as plain arrays (time-sorted), with their bar length and span."""

    def __init__(self, frame: pd.DataFrame, *, symbol: str | None = None,
                 limit: int | None = None, interval_s: int | None = None) -> None:
        frame = datasets.as_bars(frame, symbol)  # the one bar normaliser
        times = pd.DatetimeIndex(frame.index).asi8
        frame = frame.iloc[np.argsort(times, kind="stable")]
        if limit is not None:
            if limit <= 0:
                raise ValueError(f"limit must be positive, got {limit!r}")
            frame = frame.iloc[:limit]
        if frame.empty:
            raise ValueError("the dataset has no bars")
        self.times: np.ndarray = pd.DatetimeIndex(frame.index).asi8.copy()
        self.values: list[tuple[float, float, float, float, float]] = list(
            zip(*(frame[c].to_numpy(dtype="float64").tolist() for c in _VALUES), strict=True))
        names = frame["symbol"].astype(str).to_numpy()
        self.symbols: list[str] = list(dict.fromkeys(names.tolist()))
        lookup = {s: i for i, s in enumerate(self.symbols)}
        self.codes: np.ndarray = np.fromiter((lookup[s] for s in names), dtype=np.int32,
                                             count=len(names))
        self.interval_s = interval_s if interval_s is not None else self._infer_interval()
        if self.interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {self.interval_s!r}")
        #: How far each loop cycle shifts the bar times: first bar to one interval past the last.
        self.span_ns = int(self.times[-1] - self.times[0]) + self.interval_s * _NS

    def __len__(self) -> int:
        return len(self.times)

    def _infer_interval(self) -> int:
        """The largest step every gap between a symbol's bars is a multiple of (60 s alone)."""
        step = 0
        for code in range(len(self.symbols)):
            gaps = np.diff(self.times[self.codes == code])
            gaps = gaps[gaps > 0]
            if gaps.size:
                step = math.gcd(step, int(np.gcd.reduce(gaps)))
        if step == 0:
            return 60
        if step % _NS:
            raise ValueError(f"bars are {step} ns apart, not whole seconds: pass interval_s")
        return step // _NS

    def rows(self, codes: frozenset[int]) -> np.ndarray | None:
        """Row numbers of the bars of the symbols ``codes``, in time order (None: every row)."""
        if len(codes) == len(self.symbols):
            return None
        return np.flatnonzero(np.isin(self.codes, np.fromiter(codes, dtype=np.int32)))


def load_bars(dataset: str | os.PathLike[str] | pd.DataFrame,
              symbol: str | None) -> tuple[pd.DataFrame, int | None]:
    """A shipped dataset (by name), a CSV/Parquet file (by path) or a DataFrame, as bars, and
    the bar length in seconds when the dataset documents it (shipped datasets)."""
    if isinstance(dataset, pd.DataFrame):
        return dataset, None
    if isinstance(dataset, Path):
        dataset = str(dataset)
    bars = datasets.load(dataset, symbol=symbol)
    interval = None
    if isinstance(dataset, str):
        shipped = datasets.list_datasets()
        if dataset in shipped.index:
            frequency = str(shipped.at[dataset, "frequency"])
            step = pd.Timedelta(pd.tseries.frequencies.to_offset(frequency).nanos, unit="ns")
            interval = int(step.total_seconds())
    return bars, interval


class FrameCache:
    """Every bar of a table encoded once by an exchange's adapter, as ready WebSocket frames.

    ``make_adapter`` builds the encoding adapter (a fresh one per cycle: adapters number their
    messages). Cycle ``k`` (looping) carries times shifted by ``k * table.span_ns``; the few
    most recent cycles are kept.
    """

    def __init__(self, table: BarTable, wire_symbols: list[str],
                 make_adapter: Callable[[], ExchangeAdapter], keep: int = 3) -> None:
        self.table = table
        self.wire_symbols = wire_symbols
        self.make_adapter = make_adapter
        self.keep = keep
        self._cycles: OrderedDict[int, list[bytes]] = OrderedDict()
        self.final = True
        try:
            self._probe()
        except ValueError:
            self.final = False  # e.g. alpaca carries daily bars only as partial "d" bars
            try:
                self._probe()
            except ValueError as exc:
                name = make_adapter().name
                raise ValueError(f"{name} cannot stream {table.interval_s} s bars: {exc}"
                                 ) from None
        self.cycle(0)

    def _probe(self) -> None:
        """Encode the first bar: raises ValueError if the format cannot carry these bars."""
        t = self.table
        self.make_adapter().encode_bar(
            self.wire_symbols[t.codes[0]], int(t.times[0]), *t.values[0],
            interval_s=t.interval_s, final=self.final)

    def cycle(self, k: int) -> list[bytes]:
        """The frames of every row, times shifted by ``k`` spans (encoded on first use)."""
        frames = self._cycles.get(k)
        if frames is not None:
            self._cycles.move_to_end(k)
            return frames
        adapter = self.make_adapter()
        t = self.table
        encode, final, iv = adapter.encode_bar, self.final, t.interval_s
        shift = k * t.span_ns
        syms = [self.wire_symbols[c] for c in t.codes.tolist()]
        binary = adapter.binary
        frames = [ws_frame(encode(s, ts + shift, *vals, interval_s=iv, final=final),
                           binary=binary)
                  for s, ts, vals in zip(syms, t.times.tolist(), t.values, strict=True)]
        self._cycles[k] = frames
        while len(self._cycles) > self.keep:
            self._cycles.popitem(last=False)
        return frames
