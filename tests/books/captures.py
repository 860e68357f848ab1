"""The shipped cryptofeed captures read frame by frame (the format is in their SOURCE.md).

A small reader for the tests and the benchmark; reading captures into Recordings for replay
(``load_capture``) is a later slice of issue 12.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "datasets" / "cryptofeed_captures"
BINANCE_WS, BINANCE_HTTP, COINBASE_WS = (ROOT / "BINANCE.ws.1.0", ROOT / "BINANCE.http.0.0",
                                         ROOT / "COINBASE.ws.28.0")


def _ns(text: str) -> int:
    seconds, _, fraction = text.strip().partition(".")
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])


def ws_frames(path: Path) -> list[tuple[int, str]]:
    """``(receive time ns, payload)`` of every frame received (not the client's frames)."""
    out = []
    for line in path.read_text().splitlines()[1:]:
        if not line or " <- " in line:
            continue
        stamp, sep, payload = line.partition(": ")
        if not sep:
            raise ValueError(f"{path.name}: not a frame line: {line[:80]!r}")
        out.append((_ns(stamp), payload))
    return out


def http_responses(path: Path) -> list[tuple[int, str, str]]:
    """``(receive time ns, request url, body)`` of every REST response."""
    out = []
    for line in path.read_text().splitlines():
        if not line:
            continue
        url, _, rest = line.partition(" -> ")
        stamp, _, body = rest.partition(": ")
        out.append((_ns(stamp), url, body))
    return out
