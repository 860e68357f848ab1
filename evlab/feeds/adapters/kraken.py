"""Kraken spot WebSocket API v2 (wss://ws.kraken.com/v2): ``ohlc`` and ``trade`` channels.

Format (https://docs.kraken.com/api/docs/websocket-v2/ohlc, .../trade, .../status,
.../heartbeat): JSON objects ``{"channel", "type": "snapshot"|"update", "data": [...]}``;
prices and quantities are JSON *numbers*; times are RFC 3339 strings (nanoseconds allowed).

OHLC finality: Kraken sends the running candle again on every trade ("updates are generated
on trade events") and has no "closed" flag, so a candle is read as final (``BarEvent``) when

* the message's own ``timestamp`` is at or after ``interval_begin + interval`` (e.g. the
  snapshot's already-closed candles), or
* a candle with a later ``interval_begin`` arrives for the same symbol and interval: a trade
  in a later interval means the earlier candle can no longer change, so its last update is
  emitted again as the final ``BarEvent``.

Otherwise it is an in-progress ``BarUpdateEvent``. Candles already emitted as final are not
emitted again (a re-sent snapshot). The deprecated per-candle ``timestamp`` is ignored.

Trades: ``side`` is the taker side; ``timestamp`` is the trade time. ``heartbeat``, an
``online`` ``status`` and successful method responses (subscribe acks, pong) give [];
a ``status`` with another ``system`` state gives a ``SystemEvent``; ``success: false``
gives an ``ErrorEvent``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

import orjson

from evlab.events import Event, create_error_event, create_system_event

from . import _common as c
from .base import AdapterError, ExchangeAdapter, Subscribe, split_pair

INTERVALS_MIN = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
_NS = 1_000_000_000


def interval_minutes(interval_s: int) -> int:
    """Kraken's ``interval`` (minutes) for a bar length in seconds."""
    minutes, rest = divmod(interval_s, 60)
    if rest or minutes not in INTERVALS_MIN:
        raise ValueError(f"kraken has no ohlc interval of {interval_s} s "
                         f"(minutes: {', '.join(map(str, INTERVALS_MIN))})")
    return minutes


def _now() -> str:
    """The wall clock as Kraken writes ``time_in``/``time_out``: RFC 3339, microseconds."""
    return c.rfc3339(time.time_ns() // 1000 * 1000, 6)


class KrakenAdapter(ExchangeAdapter):
    """Kraken v2 ohlc/trade channels (see the module docstring for bar finality)."""

    name = "kraken"

    def __init__(self) -> None:
        """A fresh adapter with no running candles."""
        self._closer = c.BarCloser()
        self._ids = itertools.count(1)
        self._connections = itertools.count(1)  # server side: the status greeting's ids

    def reset(self) -> None:
        """Forget the running candles."""
        self._closer.reset()

    def repeated_bars(self) -> int:
        """Bars re-sent after they were final (a reconnect's snapshot), dropped by parse."""
        return self._closer.repeated

    # --- client side ----------------------------------------------------------------------
    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one v2 channel message or method response."""
        n = self.name
        obj = c.loads(n, payload)
        src = self._source(source)
        if not isinstance(obj, dict):
            raise AdapterError(f"{n}: expected a JSON object, got {c.excerpt(obj)!r}")
        channel = obj.get("channel")
        if channel == "ohlc":
            return self._ohlc(obj, src)
        if channel == "trade":
            out: list[Event] = []
            for t in c.get_list(n, obj, "data"):
                out.append(c.tick(n, c.get_str(n, t, "symbol"), c.get_time(n, t, "timestamp"),
                                  c.get_num(n, t, "price"), c.get_num(n, t, "qty"),
                                  c.taker_side(n, t, "side"), str(c.get_int(n, t, "trade_id")),
                                  src, t))
            return out
        if channel == "heartbeat":
            return []
        if channel == "status":
            data = c.get_list(n, obj, "data")
            system = c.get_str(n, data[0], "system") if data else "online"
            if system == "online":
                return []
            text = f"kraken trading engine is {system}"
            return [create_system_event("exchange_status", text, data[0], source=src)]
        if channel is None and "method" in obj:
            if obj.get("success", True) is False:
                text = f"kraken {obj['method']} failed: {obj.get('error', '')}"
                return [create_error_event(text, error_type="ExchangeError", payload=payload,
                                           source=src)]
            return []  # subscribe/unsubscribe ack, pong
        raise AdapterError(f"{n}: unknown channel {channel!r} in {c.excerpt(obj)!r}")

    def _ohlc(self, obj: dict[str, Any], src: str) -> list[Event]:
        n = self.name
        now = c.get_time(n, obj, "timestamp")
        out: list[Event] = []
        for k in c.get_list(n, obj, "data"):
            minutes = c.get_int(n, k, "interval")
            if minutes <= 0:
                raise AdapterError(f"{n}: field 'interval' must be positive in {c.excerpt(k)!r}")
            vals = (c.get_num(n, k, "open"), c.get_num(n, k, "high"), c.get_num(n, k, "low"),
                    c.get_num(n, k, "close"), c.get_num(n, k, "volume"))
            out.extend(self._closer.push(n, minutes * 60 * _NS, now, c.get_str(n, k, "symbol"),
                                         c.get_time(n, k, "interval_begin"), vals, src, k))
        return out

    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """One ``subscribe`` per channel: ``ohlc`` (with ``interval``) and/or ``trade``."""
        chans = self._channels(channels)
        syms = list(self._symbols(symbols))
        out = []
        if "bars" in chans:
            out.append(c.dumps({"method": "subscribe", "params": {
                "channel": "ohlc", "symbol": syms, "interval": interval_minutes(interval_s)},
                "req_id": next(self._ids)}))
        if "trades" in chans:
            out.append(c.dumps({"method": "subscribe", "params": {
                "channel": "trade", "symbol": syms}, "req_id": next(self._ids)}))
        return out

    # --- server side ----------------------------------------------------------------------
    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """The symbols/channel of a v2 ``subscribe`` request (None for other methods)."""
        n = self.name
        obj = c.loads(n, payload)
        if not isinstance(obj, dict) or obj.get("method") != "subscribe":
            return None
        params = c.field(n, obj, "params")
        channel = c.get_str(n, params, "channel")
        symbols = c.get_list(n, params, "symbol")
        if not symbols or not all(isinstance(s, str) and s for s in symbols):
            raise AdapterError(f"{n}: 'symbol' must list currency pairs in {c.excerpt(obj)!r}")
        if channel == "ohlc":
            minutes = params.get("interval", 1)
            if type(minutes) is not int or minutes not in INTERVALS_MIN:
                raise AdapterError(f"{n}: unsupported ohlc interval {minutes!r}")
            return Subscribe(tuple(symbols), ("bars",), obj.get("req_id"), minutes * 60)
        if channel == "trade":
            return Subscribe(tuple(symbols), ("trades",), obj.get("req_id"))
        raise AdapterError(f"{n}: unsupported channel {channel!r} in {c.excerpt(obj)!r}")

    def subscribe_ack(self, request: Subscribe) -> list[str]:
        """One acknowledgement per symbol, as Kraken sends."""
        now = _now()
        out = []
        for ch in request.channels:
            for sym in request.symbols:
                result: dict[str, Any] = {"channel": "ohlc" if ch == "bars" else "trade"}
                if ch == "bars":
                    result["interval"] = (request.interval_s or 60) // 60
                result.update(snapshot=ch == "bars", symbol=sym)
                msg: dict[str, Any] = {"method": "subscribe", "result": result,
                                       "success": True, "time_in": now, "time_out": now}
                if request.req_id is not None:
                    msg["req_id"] = request.req_id
                out.append(c.dumps(msg))
        return out

    def welcome(self) -> list[str]:
        """The v2 ``status`` update Kraken greets every connection with."""
        return [c.dumps({"channel": "status", "type": "update", "data": [{
            "api_version": "v2", "connection_id": next(self._connections), "system": "online",
            "version": "2.0.0"}]})]

    def control_reply(self, payload: str | bytes) -> list[str]:
        """``pong`` to a ``ping`` (echoing its ``req_id``)."""
        obj = c.request(payload)
        if obj is None or obj.get("method") != "ping":
            return []
        now = _now()
        msg: dict[str, Any] = {"method": "pong", "time_in": now, "time_out": now}
        if "req_id" in obj:
            msg["req_id"] = obj["req_id"]
        return [c.dumps(msg)]

    def error_frame(self, message: str, req_id: int | str | None = None) -> str:
        """A failed ``subscribe`` method response (``success: false``)."""
        now = _now()
        msg: dict[str, Any] = {"method": "subscribe", "success": False, "error": message,
                               "time_in": now, "time_out": now}
        if req_id is not None:
            msg["req_id"] = req_id
        return c.dumps(msg)

    @classmethod
    def wire_symbol(cls, symbol: str) -> str:
        """``BTC-USD`` is ``BTC/USD`` (v2 writes pairs with a slash)."""
        pair = split_pair(symbol)
        return symbol if pair is None else f"{pair[0]}/{pair[1]}"

    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes:
        """An ``ohlc`` update; a final bar is stamped at its end, an open one at its start."""
        minutes = interval_minutes(interval_s)
        end = time_ns + interval_s * _NS
        candle = {"symbol": symbol, "open": float(open), "high": float(high),
                  "low": float(low), "close": float(close), "trades": 0,
                  "volume": float(volume), "vwap": float(close),
                  "interval_begin": c.rfc3339(time_ns, 9), "interval": minutes,
                  "timestamp": c.rfc3339(end, 6)}
        return orjson.dumps({"channel": "ohlc", "type": "update",
                             "timestamp": c.rfc3339(end if final else time_ns, 9),
                             "data": [candle]})

