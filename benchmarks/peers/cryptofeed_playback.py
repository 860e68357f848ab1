"""cryptofeed's own playback of captures, timed: run on cryptofeed's interpreter (its venv).

    python cryptofeed_playback.py EXCHANGE REPEAT DIR [DIR ...]

Each DIR holds one session's files: its configuration file (``BINANCE.0``), and its ``.http.``
and ``.ws.`` files, which playback takes in that order. Prints one JSON line: for each DIR the
best of REPEAT wall-clock (``time.perf_counter``) times of ``playback(...)``, the L2_BOOK
callbacks of one playback and playback's own counts; and cryptofeed's version. Not named like
a package it imports (this folder comes first on ``sys.path``).
"""

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

from cryptofeed.defines import L2_BOOK
from cryptofeed.raw_data_collection import playback


def session_files(folder: Path) -> list[str]:
    """The folder's files in playback's order: configuration, then .http., then .ws."""
    def rank(path: Path) -> int:
        return 2 if ".ws." in path.name else 1 if ".http." in path.name else 0
    return [str(f) for f in sorted(folder.iterdir(), key=lambda f: (rank(f), f.name))]


def timed(exchange: str, files: list[str], repeat: int) -> dict:
    best, books, stats = float("inf"), 0, {}
    counted = [0]

    async def book(*_args: object, **_kwargs: object) -> None:
        counted[0] += 1

    for _ in range(repeat):
        counted[0] = 0
        t0 = time.perf_counter()
        stats = playback(exchange, list(files), callbacks={L2_BOOK: book})
        best = min(best, time.perf_counter() - t0)
        books = counted[0]
    return {"seconds": best, "book_callbacks": books, "playback": stats}


def main() -> None:
    exchange, repeat, folders = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    runs = [timed(exchange, session_files(Path(f)), repeat) for f in folders]
    print(json.dumps({"runs": runs, "version": version("cryptofeed")}))


if __name__ == "__main__":
    main()
