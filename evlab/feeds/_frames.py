"""The feed server's data side: bars as arrays, their frames pre-encoded once, pacing, wire bits.

Kept apart from :mod:`evlab.feeds.server` (sockets, clients, lifecycle) so that the hot path
of the server is a slice of a list of ready-made WebSocket frames.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import struct
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from evlab import datasets
from evlab.feeds.adapters import get_adapter

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


# --- symbols -------------------------------------------------------------------------------------

_PAIR = re.compile(r"^([A-Za-z0-9]+)[-/_]([A-Za-z0-9]+)$")


def default_wire_symbol(exchange: str, symbol: str) -> str:
    """The exchange's spelling of a dataset symbol: ``BTC-USD`` is binance ``BTCUSDT``,
    coinbase/polygon ``BTC-USD``, kraken/alpaca ``BTC/USD``; a stock ticker stays as it is."""
    m = _PAIR.match(symbol)
    if m is None:
        return symbol
    base, quote = m.group(1).upper(), m.group(2).upper()
    if exchange == "binance":
        return base + ("USDT" if quote == "USD" else quote)
    if exchange in ("kraken", "alpaca"):
        return f"{base}/{quote}"
    return f"{base}-{quote}"


# --- bars -------------------------------------------------------------------------------------

class BarTable:
    """A dataset's bars as plain arrays (time-sorted), with their bar length and span."""

    def __init__(self, frame: pd.DataFrame, *, symbol: str | None = None,
                 limit: int | None = None, interval_s: int | None = None) -> None:
        frame = datasets.as_bars(frame, symbol)  # the one bar normaliser
        frame = frame.iloc[np.argsort(frame.index.asi8, kind="stable")]
        if limit is not None:
            if limit <= 0:
                raise ValueError(f"limit must be positive, got {limit!r}")
            frame = frame.iloc[:limit]
        if frame.empty:
            raise ValueError("the dataset has no bars")
        self.times: np.ndarray = frame.index.asi8.copy()
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
            step = pd.Timedelta(pd.tseries.frequencies.to_offset(shipped.at[dataset, "frequency"]))
            interval = int(step.total_seconds())
    return bars, interval


class FrameCache:
    """Every bar of a table encoded once by the exchange's adapter, as ready WebSocket frames.

    Cycle ``k`` (looping) carries times shifted by ``k * table.span_ns``; the few most recent
    cycles are kept.
    """

    def __init__(self, table: BarTable, exchange: str, wire_symbols: list[str],
                 options: Mapping[str, Any], keep: int = 3) -> None:
        self.table = table
        self.exchange = exchange
        self.wire_symbols = wire_symbols
        self.options = dict(options)
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
                raise ValueError(f"{exchange} cannot stream {table.interval_s} s bars: {exc}"
                                 ) from None
        self.cycle(0)

    def _probe(self) -> None:
        """Encode the first bar: raises ValueError if the format cannot carry these bars."""
        t = self.table
        get_adapter(self.exchange, **self.options).encode_bar(
            self.wire_symbols[t.codes[0]], int(t.times[0]), *t.values[0],
            interval_s=t.interval_s, final=self.final)

    def cycle(self, k: int) -> list[bytes]:
        """The frames of every row, times shifted by ``k`` spans (encoded on first use)."""
        frames = self._cycles.get(k)
        if frames is not None:
            self._cycles.move_to_end(k)
            return frames
        adapter = get_adapter(self.exchange, **self.options)
        t = self.table
        encode, final, iv = adapter.encode_bar, self.final, t.interval_s
        shift = k * t.span_ns
        syms = [self.wire_symbols[c] for c in t.codes.tolist()]
        frames = [ws_frame(encode(s, ts + shift, *vals, interval_s=iv, final=final))
                  for s, ts, vals in zip(syms, t.times.tolist(), t.values, strict=True)]
        self._cycles[k] = frames
        while len(self._cycles) > self.keep:
            self._cycles.popitem(last=False)
        return frames


# --- exchange control frames the adapters do not cover -------------------------------------------

_conn_ids = itertools.count(1)


def _now() -> str:
    ns = time.time_ns()
    secs, frac = divmod(ns, _NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac // 1000:06d}Z"


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def welcome(exchange: str) -> list[str]:
    """What the exchange sends as soon as a client connects (alpaca, polygon, kraken)."""
    if exchange == "alpaca":
        return [_dumps([{"T": "success", "msg": "connected"}])]
    if exchange == "polygon":
        return [_dumps([{"ev": "status", "status": "connected",
                         "message": "Connected Successfully"}])]
    if exchange == "kraken":
        return [_dumps({"channel": "status", "type": "update", "data": [{
            "api_version": "v2", "connection_id": next(_conn_ids), "system": "online",
            "version": "2.0.0"}]})]
    return []


def control_reply(exchange: str, payload: str | bytes) -> list[str]:
    """Replies to the non-subscribe requests the server understands (auth, ping); else []."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(obj, dict):
        return []
    if obj.get("action") == "auth":  # any credentials are accepted
        if exchange == "alpaca":
            return [_dumps([{"T": "success", "msg": "authenticated"}])]
        if exchange == "polygon":
            return [_dumps([{"ev": "status", "status": "auth_success",
                             "message": "authenticated"}])]
    if exchange == "kraken" and obj.get("method") == "ping":
        now = _now()
        msg: dict[str, Any] = {"method": "pong", "time_in": now, "time_out": now}
        if "req_id" in obj:
            msg["req_id"] = obj["req_id"]
        return [_dumps(msg)]
    return []


def error_frame(exchange: str, message: str, req_id: Any = None) -> str:
    """An error message in the exchange's own style (each adapter parses it to ErrorEvent)."""
    if exchange == "binance":
        return _dumps({"code": 2, "msg": message, "id": req_id})
    if exchange == "coinbase":
        return _dumps({"type": "error", "message": "Failed to subscribe", "reason": message})
    if exchange == "kraken":
        now = _now()
        msg: dict[str, Any] = {"method": "subscribe", "success": False, "error": message,
                               "time_in": now, "time_out": now}
        if req_id is not None:
            msg["req_id"] = req_id
        return _dumps(msg)
    if exchange == "alpaca":
        return _dumps([{"T": "error", "code": 400, "msg": message}])
    return _dumps([{"ev": "status", "status": "error", "message": message}])


def binance_path_request(path: str) -> tuple[str, bool] | None:
    """A SUBSCRIBE request for a Binance stream URL (``/ws/<streams>`` raw or
    ``/stream?streams=<a>/<b>`` combined), and whether it is combined; None for other paths."""
    head, _, query = path.partition("?")
    if head.startswith("/ws/") and len(head) > 4:
        streams, combined = head[4:].split("/"), False
    elif head.rstrip("/") == "/stream":
        found = re.search(r"(?:^|&)streams=([^&]+)", query)
        if found is None:
            return None
        streams, combined = found.group(1).split("/"), True
    else:
        return None
    return _dumps({"method": "SUBSCRIBE", "params": [s for s in streams if s], "id": None}
                  ), combined

