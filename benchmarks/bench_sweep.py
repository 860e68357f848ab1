"""A sweep on a 2-worker Dask LocalCluster against the same sweep run serially in one process.

Three measurements, in one run, on the same machine:

* **speed-up**: ``runs`` (>= 40) real runs (``SmaCross`` over a grid x AAPL, IBM, MSFT daily
  bars, each a few thousand bars) with ``client=None`` (one after another, in this process)
  and with ``client=`` a ``LocalCluster(n_workers=2, threads_per_worker=1)``; the cluster is
  started and warmed (workers import evlab and load the dataset once) before timing.
  Target: cluster time <= 0.65x serial time. A peer: the same sweep on a stdlib
  ``ProcessPoolExecutor(2)`` (spawned), with and without its start-up, which says whether a
  local process pool would pay for ``client=None``.
* **per-run overhead** of the cluster path: ``empty`` near-empty runs (a strategy that does
  nothing, five bars each), in a sweep (runs pipelined, as a sweep sends them) and one at a
  time (``max_in_flight=1``: the whole round trip), minus the same runs in this process.
  Target: < 50 ms.
* **scheduler memory**: the scheduler process's RSS and the tasks it still holds after each
  of ``batches`` sweeps of ``batch`` near-empty runs (after one such sweep to warm it up:
  its first runs import code and fill Dask's bounded logs). Target: flat in the number of
  runs (a sweep keeps at most ``max_in_flight`` runs on the cluster and drops each result
  as it arrives).

    python -m benchmarks.bench_sweep            # 48 + 48 longer runs, 400 empty, 4 x 500
    python -m benchmarks.bench_sweep --quick    # tiny inputs (what the test suite runs)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from typing import Any

import evlab
from benchmarks.common import machine
from evlab.examples import SmaCross
from evlab.sweeps import Source

SOURCES = [Source("stocks_daily", symbols="AAPL", start="2005-03-01"),
           Source("stocks_daily", symbols="IBM"), Source("stocks_daily", symbols="MSFT")]
EMPTY = Source("stocks_daily", symbols="IBM", end="2000-03-08")  # five bars
# Longer runs, as research sweeps' are: 11,520 one-second bars and 4,216 minute bars.
LONG = [Source("btcusd_1s"), Source("btcusd_1m")]
TARGET_RATIO, TARGET_OVERHEAD = 0.65, 0.050


def idle(**params: Any) -> Any:
    """A strategy that does nothing: a run is then the sweep's own cost and a tiny replay."""
    def on_bar(bar: Any) -> None:
        return None
    return on_bar


def grid(runs: int, sources: Sequence[Source] = SOURCES) -> list[dict[str, int]]:
    """``runs`` runs' worth of SmaCross parameters over ``sources``."""
    pairs = [(fast, slow) for slow in (60, 100, 150, 200) for fast in range(5, 50, 3)]
    n = -(-runs // len(sources))
    return [{"fast": f, "slow": s} for f, s in pairs[:n]]


def timed(client: Any, strategy: Any, params: Sequence[dict[str, Any]], sources: Any,
          **options: Any) -> float:
    """Wall seconds of one sweep; every run must succeed."""
    t0 = time.perf_counter()
    frame = evlab.sweep(strategy, list(params), sources, client=client, progress=False,
                        **options)
    wall = time.perf_counter() - t0
    errors = frame["error"].dropna()
    assert errors.empty, f"runs failed: {errors.iloc[0]}"
    return wall


def scheduler_state(client: Any) -> tuple[float, int]:
    """The scheduler process's RSS (MiB) and how many tasks it holds."""
    def probe(dask_scheduler: Any) -> tuple[float, int]:
        import psutil

        return psutil.Process().memory_info().rss / 2**20, len(dask_scheduler.tasks)
    rss, tasks = client.run_on_scheduler(probe)
    return float(rss), int(tasks)


def run(runs: int = 48, empty: int = 400, batch: int = 500, batches: int = 4,
        long_runs: int = 0) -> dict[str, Any]:
    """Measure and print; returns the numbers. ``long_runs``: the speed-up again on runs
    about four times longer (the BTC bars), where the cluster's fixed cost counts less."""
    from distributed import Client, LocalCluster

    params = grid(runs)
    n = len(params) * len(SOURCES)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        startup = time.perf_counter() - t0
        timed(client, SmaCross, params[:2], SOURCES)  # warm: imports, dataset cache
        timed(None, SmaCross, params[:2], SOURCES)
        serial = timed(None, SmaCross, params, SOURCES)
        parallel = timed(client, SmaCross, params, SOURCES)
        long_params = grid(long_runs, LONG)
        if long_runs:
            timed(client, SmaCross, long_params[:1], LONG)  # warm the BTC datasets' cache
            long_serial = timed(None, SmaCross, long_params, LONG)
            long_parallel = timed(client, SmaCross, long_params, LONG)
        t0 = time.perf_counter()
        with concurrent.futures.ProcessPoolExecutor(
                2, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool_first = timed(pool, SmaCross, params, SOURCES)
            pool_started = time.perf_counter() - t0
            pool_warm = timed(pool, SmaCross, params, SOURCES)

        nothing: list[dict[str, Any]] = [{}] * empty
        timed(client, idle, nothing[:20], EMPTY)
        local_empty = timed(None, idle, nothing, EMPTY) / empty
        piped = timed(client, idle, nothing, EMPTY) / empty
        single = timed(client, idle, nothing[: max(1, empty // 4)], EMPTY,
                       max_in_flight=1) / max(1, empty // 4)

        timed(client, idle, [{}] * batch, EMPTY)  # warm the scheduler up
        memory = [(0, *scheduler_state(client))]
        for k in range(1, batches + 1):
            timed(client, idle, [{}] * batch, EMPTY)
            memory.append((k * batch, *scheduler_state(client)))

    ratio = parallel / serial
    print(f"\nsweep: {n} SmaCross runs, serial in one process vs a 2-worker LocalCluster\n"
          f"{machine()}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} "
          "after (above ~0.5 other work takes cores from the workers)\n"
          f"  cluster start-up (not counted)        {startup:8.2f} s\n"
          f"  serial, client=None                   {serial:8.2f} s   {serial / n * 1e3:7.1f} "
          f"ms/run\n"
          f"  LocalCluster, 2 workers               {parallel:8.2f} s   "
          f"{parallel / n * 1e3:7.1f} ms/run\n"
          f"  ratio cluster / serial                {ratio:8.2f}x  (target <= {TARGET_RATIO}x:"
          f" {'met' if ratio <= TARGET_RATIO else 'NOT met'})\n"
          f"  ProcessPoolExecutor(2), incl. start-up {pool_started:7.2f} s   "
          f"{pool_started / serial:7.2f}x serial (first sweep {pool_first:.2f} s)\n"
          f"  ProcessPoolExecutor(2), started       {pool_warm:8.2f} s   "
          f"{pool_warm / serial:7.2f}x serial")
    long = {}
    if long_runs:
        m = len(long_params) * len(LONG)
        long = {"long_runs": m, "long_serial": long_serial, "long_parallel": long_parallel,
                "long_ratio": long_parallel / long_serial}
        print(f"\nthe same, {m} longer runs (SmaCross over BTC 1-second and 1-minute bars)\n"
              f"  serial, client=None                   {long_serial:8.2f} s   "
              f"{long_serial / m * 1e3:7.1f} ms/run\n"
              f"  LocalCluster, 2 workers               {long_parallel:8.2f} s   "
              f"{long_parallel / m * 1e3:7.1f} ms/run\n"
              f"  ratio cluster / serial                {long['long_ratio']:8.2f}x  (target <= "
              f"{TARGET_RATIO}x: {'met' if long['long_ratio'] <= TARGET_RATIO else 'NOT met'})")
    overhead, round_trip = piped - local_empty / 2, single - local_empty
    print(f"\nper-run overhead of the cluster path, {empty} near-empty runs (5 bars each)\n"
          f"  in this process                       {local_empty * 1e3:8.2f} ms/run\n"
          f"  on the cluster, pipelined (a sweep)   {piped * 1e3:8.2f} ms/run wall; overhead "
          f"{overhead * 1e3:.2f} ms/run over 2 workers' share\n"
          f"  on the cluster, one at a time         {single * 1e3:8.2f} ms/run; round trip "
          f"adds {round_trip * 1e3:.2f} ms (target < {TARGET_OVERHEAD * 1e3:.0f} ms: "
          f"{'met' if round_trip < TARGET_OVERHEAD else 'NOT met'})")
    print(f"\nscheduler after sweeps of {batch} near-empty runs each, once warm "
          "(flat = nothing kept per run)")
    for count, rss, tasks in memory:
        print(f"  after {count:>6,} more runs   RSS {rss:8.1f} MiB   tasks held {tasks}")
    slope = (memory[-1][1] - memory[0][1]) / (memory[-1][0] / 1000)
    later = ((memory[-1][1] - memory[1][1]) / ((memory[-1][0] - memory[1][0]) / 1000)
             if len(memory) > 2 else slope)
    print(f"  growth: {slope:+.2f} MiB per 1,000 runs in all, {later:+.2f} after the first "
          "batch")
    return {**long, "runs": n, "serial": serial, "parallel": parallel, "ratio": ratio,
            "startup": startup, "pool_started": pool_started, "pool_warm": pool_warm,
            "local_empty": local_empty, "pipelined": piped,
            "one_at_a_time": single, "overhead": overhead, "round_trip": round_trip,
            "memory": memory, "growth_per_1000": slope,
            "growth_later": later}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs")
    parser.add_argument("--runs", type=int, default=48)
    args = parser.parse_args()
    if args.quick:
        run(runs=3, empty=8, batch=4, batches=2, long_runs=2)
    else:
        run(runs=max(40, args.runs), long_runs=max(40, args.runs))


if __name__ == "__main__":
    main()
