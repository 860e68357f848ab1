"""Streamed replay of a recording larger than memory, next to the in-memory replay.

A recording of ``n`` bars (four symbols a minute, the recorder's own schema and metadata:
taken from a real ``EventRecorder``, the rows written with pyarrow in row groups of
``storage.ROW_GROUP_ROWS``) is generated once into a cache folder (``--cache``, default
``$TMPDIR/evlab-bench``). Each contender then runs in a fresh Python process, so its peak
RSS (``ru_maxrss``) is its own:

* ``stream n``: ``Replayer(open_recording(path), bus).run()`` into a no-op handler;
* ``stream m`` / ``in memory m``: the same, and ``Replayer(load_recording(path))`` on a
  smaller recording that fits in memory (``--memory-n``), the issue's "today".

Each prints events/s after the first event and from the start, the time to the first
event (opened or loaded, counted, first row group built) and peak RSS. Targets (issue
11): streaming 50M events with peak RSS under 1 GiB at >= 1M events/s.

    python -m benchmarks.bench_stream_replay                    # 50,000,000 bars
    python -m benchmarks.bench_stream_replay -n 10000000        # a smaller run
    python -m benchmarks.bench_stream_replay --quick            # tiny inputs (the test suite)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.bench_replay import START_NS, SYMBOLS, make_frame
from benchmarks.common import machine
from evlab.bus import EventBus
from evlab.events import Event
from evlab.recording import EventRecorder, load_recording, open_recording
from evlab.recording.storage import META_KEY, ROW_GROUP_ROWS
from evlab.recording.table import _ns_iso
from evlab.replay import Replayer

RSS_TARGET_MIB = 1024
RATE_TARGET = 1_000_000
_WRITE = 1_048_576  # rows generated and written at a time


def _template() -> tuple[pa.Schema, dict[str, Any]]:
    """The schema and metadata a real recorder writes for bars."""
    bus = EventBus()
    with EventRecorder(bus) as rec:
        Replayer(make_frame(8), bus, source_name="feed", progress=False).run()
    table = rec.to_arrow()
    meta = rec.metadata(table)
    meta["bus"] = None
    return table.schema, meta


def _dictionary(codes: np.ndarray | int, values: list[str]) -> pa.DictionaryArray:
    """Dictionary strings: ``codes`` into ``values`` (an int: that many rows of code 0)."""
    if isinstance(codes, int):
        codes = np.zeros(codes, dtype=np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()),
                                          pa.array(values, type=pa.string()))


def generate(path: Path, n: int) -> Path:
    """Write a recording of ``n`` bars at ``path`` (atomically); reuse it if it is there."""
    if path.exists():
        try:
            if len(open_recording(path)) == n:
                return path
        except ValueError:
            pass
    schema, meta = _template()
    minutes = -(-n // len(SYMBOLS))
    meta.update(rows=n, counts={"bar": n}, start_ns=START_NS, start=_ns_iso(START_NS),
                end_ns=START_NS + (minutes - 1) * 60_000_000_000,
                end=_ns_iso(START_NS + (minutes - 1) * 60_000_000_000))
    schema = schema.with_metadata({META_KEY: orjson.dumps(meta)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd", write_statistics=True) as writer:
        for lo in range(0, n, _WRITE):
            i = np.arange(lo, min(lo + _WRITE, n), dtype=np.int64)
            base = 100.0 + (i % 97) * 0.5
            t = pa.array(START_NS + (i // len(SYMBOLS)) * 60_000_000_000,
                         type=pa.timestamp("ns", tz="UTC"))
            columns = {
                "seq": pa.array(i + 1), "type": _dictionary(len(i), ["bar"]),
                "event_time": t, "emit_time": t,
                "source": _dictionary(len(i), ["feed"]),
                "cause": pa.nulls(len(i), pa.int64()),
                "symbol": _dictionary(i % len(SYMBOLS), list(SYMBOLS)),
                "open": pa.array(base), "high": pa.array(base + 1.0),
                "low": pa.array(base - 1.0), "close": pa.array(base + 0.25),
                "volume": pa.array(1000.0 + i % 13),
                "event_class": _dictionary(len(i), ["evlab.events:BarEvent"]),
            }
            writer.write_table(pa.table(columns, schema=schema), row_group_size=ROW_GROUP_ROWS)
    os.replace(tmp, path)
    return path


def noop(event: Event) -> None:
    pass


def replay(path: str, mode: str) -> dict[str, Any]:
    """One replay of ``path`` in this process (``mode``: "stream" or "memory")."""
    t0 = time.perf_counter()
    source = open_recording(path) if mode == "stream" else load_recording(path)
    bus = EventBus()
    bus.register("bar", noop)
    rp = Replayer(source, bus, progress=False)
    rp.step(1)  # the first event: opened (or loaded), counted, first row group read
    t1 = time.perf_counter()
    summary = rp.run()
    t2 = time.perf_counter()
    events = summary.events + 1
    stats = getattr(rp.plan, "stats", {})
    return {"mode": mode, "events": events, "first_event": t1 - t0, "run": t2 - t1,
            "rate": summary.events / (t2 - t1), "rate_with_setup": events / (t2 - t0),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "stats": stats}


def _child(path: Path, mode: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_stream_replay", "--replay",
                           str(path), "--mode", mode], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parent.parent)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(n: int = 50_000_000, memory_n: int = 2_000_000, cache: Path | None = None,
        show: bool = True) -> dict[str, Any]:
    """Generate (or reuse) the recordings, replay each in a fresh process; print, return."""
    folder = cache or Path(tempfile.gettempdir()) / "evlab-bench"
    t0 = time.perf_counter()
    big = generate(folder / f"bars-{n}.parquet", n)
    small = generate(folder / f"bars-{memory_n}.parquet", memory_n)
    made = time.perf_counter() - t0
    results = {f"stream {n:,}": _child(big, "stream"),
               f"stream {memory_n:,}": _child(small, "stream"),
               f"in memory {memory_n:,}": _child(small, "memory")}
    streamed = results[f"stream {n:,}"]
    met = streamed["peak_rss_mib"] < RSS_TARGET_MIB and streamed["rate"] >= RATE_TARGET
    if show:
        print(f"\nreplay recorded bars into a bus with one no-op handler, each in a fresh "
              f"process\n{machine()}; recordings ready in {made:.1f} s "
              f"({big.stat().st_size / 2**20:,.0f} MiB for {n:,} bars)")
        width = max(map(len, results))
        for name, r in results.items():
            first = f"{r['first_event']:.2f} s"
            print(f"  {name:<{width}}  {r['rate']:>12,.0f} ev/s  (with setup "
                  f"{r['rate_with_setup']:>10,.0f}/s)  first event after {first:>8}  "
                  f"peak RSS {r['peak_rss_mib']:>7,.0f} MiB")
        held = streamed["stats"]
        print(f"\n  streamed: {held.get('row_groups_read', 0):,} row groups read, at most "
              f"{held.get('max_rows_held', 0):,} rows held at once")
        print(f"  stream {n:,}: peak RSS target < {RSS_TARGET_MIB:,} MiB, rate target >= "
              f"{RATE_TARGET:,}/s: {'met' if met else 'not met'}")
    return {"n": n, "memory_n": memory_n, "results": results, "met": met}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs")
    parser.add_argument("-n", type=int, default=50_000_000, help="bars streamed")
    parser.add_argument("--memory-n", type=int, default=2_000_000,
                        help="bars of the recording replayed both ways")
    parser.add_argument("--cache", type=Path, default=None, help="where recordings are kept")
    parser.add_argument("--replay", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="stream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        print(json.dumps(replay(args.replay, args.mode)))
    elif args.quick:
        run(n=20_000, memory_n=5_000, cache=args.cache)
    else:
        run(n=args.n, memory_n=args.memory_n, cache=args.cache)


if __name__ == "__main__":
    main()
