"""Shared helpers for the benchmark suite: best-of-N timing and a printed table."""

from __future__ import annotations

import gc
import os
import platform
import resource
import time
from collections.abc import Callable
from typing import Any


def best_rate(run: Callable[[], Any], n: int, repeat: int) -> float:
    """Items per second of ``run()`` (which handles ``n`` items), best of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()  # start each run without garbage left by the set-up (GC stays enabled)
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return n / best


def machine() -> str:
    """One line naming the machine the numbers come from."""
    return (f"{platform.python_implementation()} {platform.python_version()}, "
            f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}")


def print_table(title: str, rows: list[tuple[str, float, str]]) -> None:
    """Print ``(name, rate, note)`` rows as an aligned table."""
    print(f"\n{title}\n{machine()}")
    width = max(len(r[0]) for r in rows)
    for name, rate, note in rows:
        print(f"  {name:<{width}}  {rate:>14,.0f} /s  {note}")


def rss_mib(pid: int | str = "self") -> float:
    """Resident set size of process ``pid`` (default: this one) now, in MiB, from Linux's
    /proc; where there is none, this process's peak RSS."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
