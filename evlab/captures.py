"""Captured exchange sessions (cryptofeed's raw-data format) read into a ``Recording``.

    rec = evlab.load_capture("BINANCE.ws.1.0", http="BINANCE.http.0.0")
    Replayer(rec, bus, what="raw").run()     # the guide's wiring decodes it again

cryptofeed's collector writes one line per frame (see ``datasets/cryptofeed_captures/SOURCE.md``):

* ``<url> <-> <unix time>``: a connection opened -> a SYSTEM event ``kind="connected"``
  (``data={"url", "connections"}``, as a ``WebSocketEmitter`` publishes);
* ``<url> <- <unix time>: <payload>``: a frame the client sent (its subscriptions) -> a SYSTEM
  event ``kind="sent"`` (``data={"url", "payload"}``);
* ``<unix time>: <payload>``: a frame received -> a ``WebSocketEvent`` (payload verbatim,
  ``received_ns`` and event time = the receive time);
* in the ``.http`` file, ``<request url> -> <unix time>: <body>`` -> a ``RestResponseEvent``
  (body verbatim, the URL it answered, its receive time).

Every event's ``source`` is the exchange, named by the file (``BINANCE.ws.1.0`` -> ``binance``)
unless ``source=`` says otherwise; a ``WebSocketHandler`` without an adapter decodes a source
named for an exchange with that exchange's adapter. The events come in receive order (the two
files merged; at equal times the socket's first). A line that fits none of the forms, or whose
time is not a plain decimal number of seconds, raises ``CaptureError`` naming the file and the
line number: a capture is read whole or not at all. Blank lines are skipped (the files end
with some).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from evlab.bus import EventBus
from evlab.events import (
    Event,
    SystemEvent,
    create_rest_event,
    create_websocket_event,
)
from evlab.recording import EventRecorder, Recording

__all__ = ["CaptureError", "load_capture"]

_TIME = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,18}))?\Z")


class CaptureError(ValueError):
    """A capture file could not be read: the message names the file and the line."""


def load_capture(ws_path: str | os.PathLike[str], http: str | os.PathLike[str] | None = None,
                 *, source: str | None = None) -> Recording:
    """The frames of cryptofeed capture ``ws_path`` (and the REST responses of ``http``) as a
    ``Recording`` in receive order (see the module doc); ``source``: the events' source
    (default: the exchange the file is named for)."""
    ws = Path(ws_path)
    name = source if source is not None else ws.name.split(".")[0].lower()
    if not isinstance(name, str) or not name:
        raise ValueError(f"source: must be a non-empty string, got {name!r}")
    events = _ws_events(ws, name)
    if http is not None:
        events += _http_events(Path(http), name)
    events.sort(key=lambda item: item[0])  # stable: file order at equal times, socket first
    bus = EventBus()
    recorder = EventRecorder(bus, name=f"capture {ws.name}")
    for _, _, event in events:
        bus.emit(event)
    recorder.close()
    return recorder.snapshot()


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"capture file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise CaptureError(f"{path}: not a text capture (not UTF-8 at byte {exc.start})"
                           ) from None


def _ns(path: Path, lineno: int, text: str) -> int:
    """A capture's ``<seconds>.<fraction>`` time in ns, exactly (no float rounding)."""
    found = _TIME.match(text.strip())
    if found is None:
        raise CaptureError(f"{path}:{lineno}: the time {text.strip()[:40]!r} is not a number "
                           "of seconds")
    seconds, fraction = found.group(1), found.group(2) or ""
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])


def _bad(path: Path, lineno: int, line: str, want: str) -> CaptureError:
    return CaptureError(f"{path}:{lineno}: expected {want}, got {line[:80]!r}")


def _ws_events(path: Path, source: str) -> list[tuple[int, int, Event]]:
    out: list[tuple[int, int, Event]] = []
    connections = 0
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        head, sep, payload = line.partition(": ")
        if " <-> " in head and not sep:  # a connection opened
            url, _, stamp = line.rpartition(" <-> ")
            connections += 1
            t = _ns(path, lineno, stamp)
            out.append((t, 0, _system("connected", f"{source}: connected to {url}",
                                      {"url": url, "connections": connections}, t, source)))
            continue
        if not sep:
            raise _bad(path, lineno, line, "'<time>: <payload>', '<url> <- <time>: <payload>' "
                       "or '<url> <-> <time>'")
        if " <- " in head:  # a frame the client sent
            url, _, stamp = head.rpartition(" <- ")
            t = _ns(path, lineno, stamp)
            out.append((t, 0, _system("sent", f"{source}: sent to {url}",
                                      {"url": url, "payload": payload}, t, source)))
            continue
        t = _ns(path, lineno, head)
        out.append((t, 0, create_websocket_event(source, payload, t)))
    return out


def _http_events(path: Path, source: str) -> list[tuple[int, int, Event]]:
    out: list[tuple[int, int, Event]] = []
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        url, arrow, rest = line.partition(" -> ")
        stamp, sep, body = rest.partition(": ")
        if not arrow or not sep or not url:
            raise _bad(path, lineno, line, "'<request url> -> <time>: <body>'")
        t = _ns(path, lineno, stamp)
        out.append((t, 1, create_rest_event(source, url, body, t)))
    return out


def _system(kind: str, message: str, data: dict[str, Any], t: int, source: str) -> SystemEvent:
    return SystemEvent(kind, message, data, time_ns=t, source=source)
