"""Polygon.io (now Massive) stocks WebSocket (wss://socket.polygon.io/stocks).

Format (https://massive.com/docs/websocket/stocks/aggregates-per-minute and the official spec
https://api.polygon.io/specs/websocket.json, copied in github.com/polygon-io/client-python
``.polygon/websocket.json``): every frame is a JSON *array* of objects tagged by ``"ev"``;
prices are JSON numbers, times are integer Unix *milliseconds*.

* ``"AM"`` (per-minute) and ``"A"`` (per-second) aggregates are emitted once per finished
  window: final ``BarEvent``; the event time is ``s``, the window's start;
* ``"T"`` trade -> ``TickEvent`` at ``t`` (no aggressor side in the feed), id ``i`` (the spec
  types it a string, older feeds sent a number: both are read);
* ``"Q"`` quote -> ``QuoteEvent`` (``bp``/``bs``, ``ap``/``as``) at ``t``;
* ``"status"`` messages ``connected``, ``auth_success`` and ``success`` (subscribed) give [];
  ``auth_failed``/``auth_timeout``/``error`` and ``max_connections`` (sent just before the
  server closes a connection over the account's limit) give an ``ErrorEvent``; any other
  status a SYSTEM event ``kind="exchange_status"`` (so none is dropped unseen).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from evlab.events import Event, create_error_event, create_system_event

from . import _common as c
from .base import AdapterError, ExchangeAdapter, Subscribe, split_batch

_MS = 1_000_000
_BAR_EVS = {"AM": 60, "A": 1}  # event type -> window length in seconds
_PREFIX = {60: "AM", 1: "A"}
_FAILED = ("auth_failed", "auth_timeout", "error", "max_connections")
_FINE = ("connected", "auth_success", "success")
_TOPICS = {"T": "trades", "Q": "quotes"}  # besides the aggregates (bars)


class PolygonAdapter(ExchangeAdapter):
    """Polygon stocks aggregates (AM/A), trades (T), quotes (Q) and status messages."""

    name = "polygon"

    def parse(self, payload: str | bytes, *, source: str = "") -> list[Event]:
        """Decode one frame (an array of events and status messages)."""
        n = self.name
        arr = c.loads(n, payload)
        src = source or self.name  # the events' source: the feed's, else the venue's
        if not isinstance(arr, list):
            raise AdapterError(f"{n}: expected a JSON array of events, got {c.excerpt(arr)!r}")
        out: list[Event] = []
        for obj in arr:
            ev = c.get_str(n, obj, "ev")
            if ev in _BAR_EVS:
                out.append(c.bar(n, True, c.get_str(n, obj, "sym"), c.get_time_ms(n, obj, "s"),
                                 c.get_num(n, obj, "o"), c.get_num(n, obj, "h"),
                                 c.get_num(n, obj, "l"), c.get_num(n, obj, "c"),
                                 c.get_num(n, obj, "v"), src, obj))
            elif ev == "T":
                tid = c.field(n, obj, "i")
                if not isinstance(tid, (str, int)) or isinstance(tid, bool):
                    raise AdapterError(f"{n}: field 'i' must be a trade id in {c.excerpt(obj)!r}")
                out.append(c.tick(n, c.get_str(n, obj, "sym"), c.get_time_ms(n, obj, "t"),
                                  c.get_num(n, obj, "p"), c.get_num(n, obj, "s"), None,
                                  str(tid), src, obj))
            elif ev == "Q":
                out.append(c.quote(n, c.get_str(n, obj, "sym"), c.get_time_ms(n, obj, "t"),
                                   c.get_num(n, obj, "bp"), c.get_num(n, obj, "ap"),
                                   c.get_num(n, obj, "bs"), c.get_num(n, obj, "as"), src, obj))
            elif ev == "status":
                status = c.get_str(n, obj, "status")
                text = f"polygon {status}: {obj.get('message', '')}"
                if status in _FAILED:
                    out.append(create_error_event(text, error_type="ExchangeError",
                                                  payload=payload, source=src))
                elif status not in _FINE:
                    out.append(create_system_event("exchange_status", text, obj, source=src))
            else:
                raise AdapterError(f"{n}: unknown event type {ev!r} in {c.excerpt(obj)!r}")
        return out

    def subscribe_messages(self, symbols: Sequence[str], channels: Sequence[str] = ("bars",),
                           *, interval_s: int = 60) -> list[str]:
        """One ``subscribe`` action: ``AM.<sym>`` (or ``A.`` for 1 s bars) and ``T.<sym>``."""
        chans = self._channels(channels)
        params = []
        for sym in self._symbols(symbols):
            if "bars" in chans:
                params.append(f"{_prefix(interval_s)}.{sym}")
            if "trades" in chans:
                params.append(f"T.{sym}")
        return [c.dumps({"action": "subscribe", "params": ",".join(params)})]

    def parse_subscribe(self, payload: str | bytes) -> Subscribe | None:
        """The topics of a ``subscribe`` or ``unsubscribe`` action (``AM.``/``A.`` bars,
        ``T.`` trades, ``Q.`` quotes), streams the topics as written; another topic refuses
        the whole request (AdapterError); None for ``auth`` and others."""
        n = self.name
        obj = c.loads(n, payload)
        if not isinstance(obj, dict) or obj.get("action") not in ("subscribe", "unsubscribe"):
            return None
        symbols: dict[str, None] = {}
        chans: dict[str, None] = {}
        streams: dict[str, None] = {}
        interval = None
        for topic in c.get_str(n, obj, "params").split(","):
            ev, _, sym = topic.strip().partition(".")
            if not sym:
                raise AdapterError(f"{n}: bad topic {topic!r} in {c.excerpt(obj)!r}")
            if ev in _BAR_EVS:
                chans["bars"] = None
                interval = _BAR_EVS[ev]
            elif ev in _TOPICS:
                chans[_TOPICS[ev]] = None
            else:
                raise AdapterError(f"{n}: unsupported topic {topic!r} in {c.excerpt(obj)!r}")
            symbols[sym] = None
            streams[f"{ev}.{sym}"] = None
        return Subscribe(tuple(symbols), tuple(chans), None, interval, tuple(streams),
                         obj["action"] == "unsubscribe")

    def subscribe_ack(self, request: Subscribe) -> list[str]:
        """One ``success`` status per topic of the request, in one frame."""
        topics = list(request.streams)
        if not topics:  # a feed server's grant: channels and symbols
            for sym in request.symbols:
                if "bars" in request.channels:
                    topics.append(f"{_prefix(request.interval_s or 60)}.{sym}")
                if "trades" in request.channels:
                    topics.append(f"T.{sym}")
        verb = "unsubscribed" if request.unsubscribe else "subscribed"
        return [c.dumps([{"ev": "status", "status": "success", "message": f"{verb} to: {t}"}
                         for t in topics])]

    def capture_streams(self, payload: str | bytes) -> list[tuple[str, str, str | bytes]]:
        """A recorded frame's events by topic (``T.MSFT``, ``Q.MSFT``, ``AM.MSFT``), verbatim
        when the frame holds one topic's (see ``split_batch``); status messages are not
        served."""
        arr = c.loads(self.name, payload)
        if not isinstance(arr, list):
            return []

        def stream_of(obj: Any) -> str | None:
            ev = obj.get("ev") if isinstance(obj, dict) else None
            if ev not in _BAR_EVS and ev not in _TOPICS:
                return None
            return f"{ev}.{c.get_str(self.name, obj, 'sym')}"

        return split_batch(payload, arr, stream_of, c.dumps)

    def capture_client(self, streams: Sequence[str]) -> tuple[str, list[str | bytes]]:
        """``/stocks``, an ``auth`` (any key: a local server) and one ``subscribe`` of the
        ``streams`` (topics)."""
        if not streams:
            raise ValueError(f"{self.name}: no streams to subscribe to")
        return "/stocks", [c.dumps({"action": "auth", "params": "evlab"}),
                           c.dumps({"action": "subscribe", "params": ",".join(streams)})]

    def stream_wildcard(self, key: str) -> str | None:
        """``T.*`` is every ``T.<symbol>``."""
        return key[:-1] if key.endswith(".*") else None

    def authenticates(self, payload: str | bytes) -> bool:
        """An ``auth`` action (a local server accepts any key)."""
        obj = c.request(payload)
        return obj is not None and obj.get("action") == "auth"

    def unauthenticated_frame(self) -> str:
        """An ``error`` status (``not authorized``): a subscribe before ``auth``."""
        # Checked against polygon-io/client-python @ 5d9c756 (massive/websocket/__init__.py,
        # .massive/websocket.json): the client always authenticates first and only tests
        # status == "auth_failed"; the spec lists auth_success / auth_timeout / auth_failed
        # and a free-text "message" for other statuses. The pre-auth reply's text is in
        # neither, so this one is evlab's (an "error" status, as the spec allows).
        return self.error_frame("not authorized: authenticate first "
                                '({"action":"auth","params":"<key>"})')

    def welcome(self) -> list[str]:
        """The ``connected`` status, sent on connect."""
        return [c.dumps([{"ev": "status", "status": "connected",
                          "message": "Connected Successfully"}])]

    def control_reply(self, payload: str | bytes) -> list[str]:
        """``auth_success`` to an ``auth`` action (a local server accepts any key)."""
        if not self.authenticates(payload):
            return []
        return [c.dumps([{"ev": "status", "status": "auth_success",
                          "message": "authenticated"}])]

    def error_frame(self, message: str, req_id: int | str | None = None) -> str:
        """An ``error`` status message."""
        return c.dumps([{"ev": "status", "status": "error", "message": message}])

    def encode_bar(self, symbol: str, time_ns: int, open: float, high: float, low: float,
                   close: float, volume: float, *, interval_s: int = 60,
                   final: bool = True) -> bytes:
        """An ``AM`` (60 s) or ``A`` (1 s) aggregate; Polygon has no in-progress bars."""
        ev = _prefix(interval_s)
        if not final:
            raise ValueError("polygon sends only finished aggregates (final=True)")
        s = c.whole(time_ns, _MS, "polygon aggregate")
        agg: dict[str, Any] = {"ev": ev, "sym": symbol, "v": c.num(volume), "o": float(open),
                               "c": float(close), "h": float(high), "l": float(low),
                               "s": s, "e": s + interval_s * 1000}
        return orjson.dumps([agg])

def _prefix(interval_s: int) -> str:
    try:
        return _PREFIX[interval_s]
    except KeyError:
        raise ValueError(f"polygon streams 60 s (AM) and 1 s (A) aggregates, not {interval_s} s"
                         ) from None
