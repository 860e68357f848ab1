"""evlab.sweep: a grid of parameters x sources, one fresh run each, here or on a real Dask
LocalCluster (two worker processes, shared by this module's tests)."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import evlab
from evlab import EventBus, EventManager, EventType, analytics
from evlab.examples import SmaCross
from evlab.execution import FillModel, FixedQuantity, FractionOfEquity, PaperBroker, Portfolio
from evlab.replay import Replayer
from evlab.sweeps import Broker, Source, run_one, start
from evlab.sweeps.engine import pickled
from evlab.sweeps.grid import expand
from evlab.sweeps.task import Task
from tests.sweep_strategies import RELEASE, Hung, Raises, Slow
from tests.test_kernel import Kernel

AAPL = Source("stocks_daily", symbols="AAPL", start="2005-03-01")
IBM = Source("stocks_daily", symbols="IBM")
GRID = {"fast": [10, 20], "slow": [50, 100]}
COSTS = Broker(fill_model=FillModel(commission=1.0, slippage_bps=5))


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """A real LocalCluster: 2 worker processes of 1 thread, closed at the end."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as c:
        yield c


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="wall_seconds"),
                                  b.drop(columns="wall_seconds"))


# --- the grid ---------------------------------------------------------------------------
def test_a_dict_grid_is_its_cartesian_product_first_key_slowest() -> None:
    assert expand({"fast": [5, 10], "slow": [50, 100, 200]}) == [
        {"fast": 5, "slow": 50}, {"fast": 5, "slow": 100}, {"fast": 5, "slow": 200},
        {"fast": 10, "slow": 50}, {"fast": 10, "slow": 100}, {"fast": 10, "slow": 200}]
    assert expand([{"fast": 3}, {"slow": 9}]) == [{"fast": 3}, {"slow": 9}]
    assert expand({}) == [{}]


@pytest.mark.parametrize(("grid", "message"), [
    ({"fast": 10}, r"grid\['fast'\]: give a list"),
    ({"fast": "10"}, r"grid\['fast'\]: give a list"),
    ({"fast": []}, "empty list"),
    ([], "empty list"),
    ([{"fast": 1}, 5], r"grid\[1\]: a dict"),
    ("fast", "a dict of lists or a list of dicts"),
    ({"sharpe": [1]}, "'sharpe' has the name of a result column"),
    ({"source": [1]}, "'source' has the name of a result column"),
    ({"not a name": [1]}, "keyword arguments"),
])
def test_a_bad_grid_is_refused_naming_what_is_wrong(grid: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        start(SmaCross, grid, [IBM])  # type: ignore[arg-type]


def test_bad_sources_metrics_and_options_are_refused_before_any_run() -> None:
    with pytest.raises(ValueError, match="both named 'stocks_daily\\[IBM\\]'"):
        start(SmaCross, GRID, [IBM, Source("stocks_daily", symbols=["IBM"])])
    with pytest.raises(ValueError, match="empty list"):
        start(SmaCross, GRID, [])
    with pytest.raises(ValueError, match=r"unknown summary field.*'sharp'"):
        start(SmaCross, GRID, [IBM], metrics=["sharp"])
    with pytest.raises(TypeError, match="client: None"):
        start(SmaCross, GRID, [IBM], client=42)
    with pytest.raises(TypeError, match=r"broker: an evlab\.sweeps\.Broker"):
        start(SmaCross, GRID, [IBM], broker=PaperBroker(Portfolio()))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        start(SmaCross, GRID, [IBM], timeout=0)
    with pytest.raises(ValueError, match=r"Source\.start: not a time"):
        Source("stocks_daily", start="yesterday-ish")
    with pytest.raises(ValueError, match="warmup"):
        Source("stocks_daily", start="2005-01-01", warmup="2006-01-01")
    with pytest.raises(ValueError, match=r"Broker\.cash"):
        Broker(cash=0)


# --- local runs -------------------------------------------------------------------------
def test_rows_come_in_grid_order_by_source_order_and_repeat_exactly() -> None:
    first = evlab.sweep(SmaCross, GRID, [AAPL, IBM], broker=COSTS, progress=False)
    assert list(first.columns[:3]) == ["fast", "slow", "source"]
    assert list(first.columns[-4:]) == ["events", "rejected", "wall_seconds", "error"]
    assert set(analytics.SUMMARY_FIELDS) <= set(first.columns)
    assert first[["fast", "slow", "source"]].values.tolist() == [
        [10, 50, AAPL.name], [10, 50, IBM.name], [10, 100, AAPL.name], [10, 100, IBM.name],
        [20, 50, AAPL.name], [20, 50, IBM.name], [20, 100, AAPL.name], [20, 100, IBM.name]]
    assert first["error"].isna().all() and (first["wall_seconds"] > 0).all()
    assert first["sharpe"].nunique() == 8, "each run is its own"
    again = evlab.sweep(SmaCross, GRID, [AAPL, IBM], broker=COSTS, progress=False)
    same_rows(first, again)


def test_a_row_is_exactly_a_replay_run_by_hand() -> None:
    row = evlab.sweep(SmaCross, {"fast": [20], "slow": [50]}, [AAPL], broker=COSTS,
                      progress=False).iloc[0]
    bus = EventBus()
    manager = EventManager(bus)
    portfolio = Portfolio(100_000)
    manager.register_component("portfolio", portfolio, [EventType.BAR, EventType.FILL],
                               priority=20)
    broker = PaperBroker(portfolio, FillModel(commission=1.0, slippage_bps=5),
                         FractionOfEquity(0.95))
    manager.register_component("broker", broker, [EventType.BAR, EventType.SIGNAL], priority=10)
    manager.register_component("sma", SmaCross(fast=20, slow=50), [EventType.BAR])
    replayed = Replayer("stocks_daily", bus, symbols="AAPL", start="2005-03-01").run()
    stats = analytics.summary(*analytics.from_portfolio(portfolio))
    assert stats["trades"] > 10 and tuple(stats.index) == analytics.SUMMARY_FIELDS
    for field in analytics.SUMMARY_FIELDS:
        assert row[field] == stats[field] or (pd.isna(row[field]) and pd.isna(stats[field])), \
            field
    assert row["events"] == replayed.events and row["rejected"] == 0
    by_hand = run_one(SmaCross, {"fast": 20, "slow": 50}, AAPL, broker=COSTS)
    assert by_hand["final_equity"] == stats["final_equity"] and by_hand["error"] is None


def test_a_failing_run_is_a_row_with_its_error_and_the_sweep_goes_on(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.parquet"
    frame = evlab.sweep(Raises, [{"fail_at": 10**9, "fast": 20, "slow": 50},
                                 {"fail_at": 300, "fast": 20, "slow": 50},
                                 {"fail_at": 10**9, "fast": 50, "slow": 20}],
                        [IBM, str(missing)], progress=False)
    ok, raised, refused = frame.iloc[0], frame.iloc[2], frame.iloc[4]
    assert ok["error"] is None and ok["trades"] > 0
    assert "strategy.on_bar raised ZeroDivisionError: bar 300" in raised["error"]
    assert "2,971 time(s)" in raised["error"], "every failing bar counted"
    assert pd.isna(raised["sharpe"])
    assert refused["error"] == "ValueError: SmaCross needs 0 < fast < slow, got fast=50, slow=20"
    assert all("nowhere.parquet" in e for e in frame.iloc[[1, 3]]["error"])
    assert frame.iloc[5]["error"] == refused["error"], "the strategy is made first"
    assert len(frame) == 6


def test_a_run_past_its_timeout_is_stopped_and_says_so() -> None:
    frame = evlab.sweep(Slow, {"pause": [0.01]}, [IBM], timeout=0.3, progress=False)
    error = frame.iloc[0]["error"]
    assert error.startswith("TimeoutError: the run took longer than timeout=0.3 s: stopped "
                            "after ")
    assert error.endswith(" of 3,270 events")


def test_metrics_pick_summary_fields_or_come_from_a_function() -> None:
    picked = evlab.sweep(SmaCross, GRID, IBM, metrics=["sharpe", "trades"], progress=False)
    assert list(picked.columns) == ["fast", "slow", "source", "sharpe", "trades", "events",
                                    "rejected", "wall_seconds", "error"]

    def final(fills: pd.DataFrame, equity: pd.Series) -> dict[str, float]:
        return {"final": float(equity.iloc[-1]), "fills": len(fills)}

    own = evlab.sweep(SmaCross, GRID, IBM, metrics=final, progress=False)
    full = evlab.sweep(SmaCross, GRID, IBM, progress=False)
    assert own["final"].tolist() == full["final_equity"].tolist()
    assert (own["fills"] >= 2 * full["trades"]).all()


def test_the_broker_sets_each_runs_account() -> None:
    one = Broker(cash=50_000, sizer=FixedQuantity(10))
    frame = evlab.sweep(SmaCross, {"fast": [20], "slow": [50]}, IBM, broker=one,
                        progress=False)
    assert frame.iloc[0]["initial_equity"] == 50_000
    assert frame.iloc[0]["final_equity"] != evlab.sweep(
        SmaCross, {"fast": [20], "slow": [50]}, IBM, progress=False).iloc[0]["final_equity"]


def test_a_dataframe_source_runs_here_and_on_a_thread_pool() -> None:
    bars = evlab.datasets.load("stocks_daily", symbol="IBM")
    here = evlab.sweep(SmaCross, GRID, Source(bars, label="ibm"), progress=False)
    assert here["error"].isna().all()
    same_rows(here.drop(columns="source"),
              evlab.sweep(SmaCross, GRID, IBM, progress=False).drop(columns="source"))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        threads = evlab.sweep(SmaCross, GRID, Source(bars, label="ibm"), client=pool,
                              progress=False)
    same_rows(here, threads)


def test_a_process_pool_runs_the_same_rows() -> None:
    import multiprocessing

    local = evlab.sweep(SmaCross, GRID, [AAPL, IBM], progress=False)
    with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = evlab.sweep(SmaCross, GRID, [AAPL, IBM], client=pool, progress=False)
    same_rows(local, pooled)


def test_the_progress_bar_counts_runs(capsys: pytest.CaptureFixture[str]) -> None:
    evlab.sweep(SmaCross, GRID, IBM)
    err = capsys.readouterr().err
    assert "sweep (in this process)" in err and "4/4" in err


async def test_a_started_sweep_can_be_awaited() -> None:
    handle = start(SmaCross, GRID, IBM, progress=False)
    frame = await handle
    assert handle.done() and len(frame) == 4 and frame["error"].isna().all()
    assert handle.frame.equals(frame)
    assert "4/4 runs, done" in repr(handle)


def test_a_sweep_cancelled_from_another_thread_ends_with_cancelled_rows() -> None:
    handle = start(Slow, {"pause": [0.002] * 20}, IBM, progress=False)
    canceller = concurrent.futures.ThreadPoolExecutor(1)
    canceller.submit(handle.cancel).result()  # as another cell would
    canceller.shutdown()
    frame = handle.result(timeout=60)
    assert len(frame) == 20
    cancelled = frame["error"] == "cancelled"
    assert cancelled.sum() >= 18, "at most the run under way finished"
    assert frame[~cancelled]["error"].isna().all()


def test_a_sweep_where_no_run_finishes_for_the_stall_timeout_gives_the_rest_up() -> None:
    from evlab.sweeps.engine import ExecutorEngine
    from evlab.sweeps.handle import SweepHandle

    pool = concurrent.futures.ThreadPoolExecutor(1)
    tasks = [Task(Hung, {}, IBM, Broker()) for _ in range(3)]
    try:
        handle = SweepHandle(tasks, [({}, IBM.name)] * 3, ExecutorEngine(pool),
                             max_in_flight=2, stall_timeout=0.5, progress=False)
        frame = handle.result(timeout=60)
    finally:
        RELEASE.set()
        pool.shutdown()
    assert frame["error"].tolist() == [
        "no run finished for 0.5 s (a worker lost, or a handler stuck): given up"] * 3


# --- on a LocalCluster ------------------------------------------------------------------
def test_on_a_cluster_the_rows_are_the_local_rows(client: object) -> None:
    local = evlab.sweep(SmaCross, GRID, [AAPL, IBM], broker=COSTS, progress=False)
    remote = evlab.sweep(SmaCross, GRID, [AAPL, IBM], broker=COSTS, client=client,
                         progress=False)
    same_rows(local, remote)
    failing = evlab.sweep(Raises, {"fail_at": [300]}, IBM, client=client, progress=False)
    assert "ZeroDivisionError: bar 300" in failing.iloc[0]["error"]


def test_a_handle_on_a_cluster_links_its_dashboard(client: object) -> None:
    handle = start(SmaCross, GRID, IBM, client=client, progress=False)
    handle.result()
    link = client.dashboard_link  # type: ignore[attr-defined]
    assert link.startswith("http://127.0.0.1:")
    assert f'<a href="{link}" target="_blank">Dask dashboard</a>' in handle._repr_html_()
    assert "dask tcp://127.0.0.1:" in repr(handle)


def test_a_strategy_that_cannot_be_sent_fails_before_any_run(client: object) -> None:
    import threading

    lock = threading.Lock()

    def holds_a_lock(**params: object) -> SmaCross:
        with lock:
            return SmaCross()

    with pytest.raises(TypeError, match=r"cannot send the run of .*holds_a_lock"):
        start(holds_a_lock, GRID, IBM, client=client)
    assert len(evlab.sweep(holds_a_lock, GRID, IBM, progress=False)) == 4, "fine here"


def test_a_scheduler_address_works_like_its_client(client: object) -> None:
    address = client.scheduler.address  # type: ignore[attr-defined]
    by_address = evlab.sweep(SmaCross, GRID, IBM, client=address, progress=False)
    same_rows(by_address, evlab.sweep(SmaCross, GRID, IBM, progress=False))


def test_a_cluster_gets_names_and_paths_never_data(client: object, tmp_path: Path) -> None:
    bars = evlab.datasets.load("stocks_daily", symbol="IBM")
    with pytest.raises(ValueError, match=r"a DataFrame held in this process.*to_parquet"):
        start(SmaCross, GRID, Source(bars, label="ibm"), client=client)
    bus = EventBus()
    with evlab.record(bus) as rec:
        Replayer("stocks_daily", bus, symbols="IBM").run()
    with pytest.raises(ValueError, match=r"a live EventRecorder.*save"):
        start(SmaCross, GRID, Source(rec, label="live"), client=client)
    rec.save(tmp_path / "ibm.parquet")
    loaded = evlab.load_recording(tmp_path / "ibm.parquet")
    shipped = Source(loaded).shipped()
    assert shipped.source == str(tmp_path / "ibm.parquet") and shipped.name == Source(loaded).name
    task = Task(SmaCross, {"fast": 20, "slow": 50}, shipped, Broker())
    assert len(pickled(task)) < 2_000, "a task is its names, not its data"
    remote = evlab.sweep(SmaCross, GRID, loaded, client=client, progress=False)
    local = evlab.sweep(SmaCross, GRID, loaded, progress=False)
    same_rows(local, remote)
    assert remote["error"].isna().all()
    bars.to_parquet(tmp_path / "ibm_bars.parquet")  # a Parquet file of bars, by its path
    from_file = evlab.sweep(SmaCross, GRID, str(tmp_path / "ibm_bars.parquet"), client=client,
                            progress=False)
    from_frame = evlab.sweep(SmaCross, GRID, Source(bars, label="ibm"), progress=False)
    same_rows(from_file.drop(columns="source"), from_frame.drop(columns="source"))


def test_a_strategy_from_a_notebook_cell_runs_on_the_cluster(client: object,
                                                             tmp_path: Path) -> None:
    """Defined in ``__main__`` of a real kernel, sent to the cluster's worker processes by
    value, and the rows equal the same sweep run in the kernel itself."""
    kernel = Kernel(str(tmp_path))
    address = client.scheduler.address  # type: ignore[attr-defined]
    try:
        kernel.run("""
            import json
            from distributed import Client
            import evlab
            from evlab.sweeps import Source

            class Breakout:
                def __init__(self, days):
                    self.days, self.highs, self.bus, self.long = days, [], None, False
                def set_event_bus(self, bus):
                    self.bus = bus
                def on_bar(self, bar):
                    if len(self.highs) >= self.days:
                        top = max(self.highs[-self.days:])
                        if bar.close > top and not self.long:
                            self.long = True
                            self.bus.emit(evlab.create_signal_event("BUY", bar.close,
                                                                    bar.symbol, "breakout"))
                        elif bar.close < min(self.highs[-self.days:]) * 1.02 and self.long:
                            self.long = False
                            self.bus.emit(evlab.create_signal_event("EXIT", bar.close,
                                                                    bar.symbol, "breakout"))
                    self.highs.append(bar.high)
            """)
        out = kernel.run(f"""
            src = Source("stocks_daily", symbols="MSFT")
            with Client({address!r}) as client:
                remote = evlab.sweep(Breakout, {{"days": [20, 60]}}, src, client=client,
                                     progress=False)
            local = evlab.sweep(Breakout, {{"days": [20, 60]}}, src, progress=False)
            from evlab.sweeps import Broker
            from evlab.sweeps.engine import pickled
            from evlab.sweeps.task import Task
            sent = len(pickled(Task(Breakout, {{"days": 20}}, src.shipped(), Broker())))
            print(json.dumps({{"module": Breakout.__module__, "sent": sent,
                              "errors": remote["error"].tolist(),
                              "trades": remote["trades"].tolist(),
                              "same": remote.drop(columns="wall_seconds").equals(
                                  local.drop(columns="wall_seconds"))}}))
            """, timeout=120)
    finally:
        kernel.shutdown()
    result = out.json()
    assert result["module"] == "__main__"
    assert 1_000 < result["sent"] < 10_000, "the class by value, a few kilobytes"
    assert result["errors"] == [None, None]
    assert all(t > 0 for t in result["trades"]) and result["same"] is True


# --- packaging --------------------------------------------------------------------------
def test_importing_evlab_does_not_import_dask() -> None:
    code = ("import sys, evlab; evlab.sweep; evlab.walk_forward; import evlab.sweeps; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout.replace("'", '"')) == []


def test_an_address_without_dask_installed_says_how_to_install_it() -> None:
    code = ("import sys; sys.modules['distributed'] = None\n"
            "import evlab\n"
            "from evlab.examples import SmaCross\n"
            "try:\n"
            "    evlab.sweep(SmaCross, {}, 'stocks_daily', client='tcp://x:8786')\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "needs dask distributed, which is not installed: pip install 'evlab[dask]'" \
        in done.stdout


# --- walk-forward -----------------------------------------------------------------------
WF_GRID = {"fast": [10, 20], "slow": [50, 100]}


def test_windows_by_time_span_tile_the_data_and_by_bars_count_bar_times() -> None:
    from evlab.sweeps.windows import cut, span

    times = IBM.times()
    by_time = cut(times, span("train", "730D"), span("test", "365D"), span("step", "365D"),
                  "ibm")
    assert len(by_time) == 11
    day = 86_400 * 10**9
    for a, b in itertools.pairwise(by_time):
        assert a.test_end == b.test_start, "test windows tile, no gap, no overlap"
    assert all(w.train_end - w.train_start == 730 * day for w in by_time)
    by_bars = cut(times, span("train", 500), span("test", 250), span("step", 250), "ibm")
    for w in by_bars:
        in_train = ((times >= w.train_start) & (times < w.train_end)).sum()
        in_test = ((times >= w.test_start) & (times < w.test_end)).sum()
        assert (in_train, in_test) == (500, 250)
    assert len(by_bars) == (len(times) - 500) // 250


@pytest.mark.parametrize(("options", "message"), [
    ({"train": "7300D", "test": "365D"}, "no window fits.*3,270 bar times from 2000-03-01"),
    ({"train": 0, "test": 10}, "train: a positive number of bars"),
    ({"train": "soon", "test": 10}, "train: a number of bars or a time span"),
    ({"train": "730D", "test": "-1D"}, "test: a positive time span"),
    ({"train": "730D", "test": "365D", "step": "100D"}, "test windows would overlap"),
    ({"train": "1D", "test": "365D"}, "has 1 bar time.* to train on"),
    ({"train": "730D", "test": "365D", "objective": "sharp"}, "objective: a metric"),
])
def test_walk_forward_windows_that_do_not_fit_are_clear_errors(options: dict[str, object],
                                                                message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        evlab.walk_forward(SmaCross, WF_GRID, IBM, progress=False, **options)  # type: ignore[arg-type]


def test_walk_forward_picks_the_best_on_training_and_trades_it_on_the_next_window() -> None:
    study = evlab.walk_forward(SmaCross, WF_GRID, IBM, train="730D", test="365D",
                               progress=False)
    choices = study.choices
    assert len(choices) == 11 and choices["error"].isna().all()
    for k in (0, 5, 10):  # a window's choice is the best of a sweep on its training span
        w = choices.loc[k]
        window = Source("stocks_daily", symbols="IBM", start=w["train_start"],
                        end=w["train_end"])
        fit = evlab.sweep(SmaCross, WF_GRID, window, progress=False)
        best = fit.loc[fit["sharpe"].idxmax()]
        assert (w["param_fast"], w["param_slow"]) == (best["fast"], best["slow"])
        assert w["train_sharpe"] == best["sharpe"]
        test = Source("stocks_daily", symbols="IBM", start=w["test_start"],
                      end=w["test_end"], warmup=w["train_start"])
        chosen = {"fast": int(best["fast"]), "slow": int(best["slow"])}
        by_hand = run_one(SmaCross, chosen, test, equity=True)
        assert w["test_sharpe"] == by_hand["sharpe"]
        assert study.test.loc[k, "final_equity"] == by_hand["final_equity"]
    equity = study.equity
    assert equity.index.is_monotonic_increasing and equity.index.is_unique
    assert equity.index[0] == choices.loc[0, "test_start"]
    growth = (1 + study.test["total_return"]).prod()
    assert equity.iloc[-1] == pytest.approx(100_000 * growth), "the test runs compounded"
    fig = study.plot()
    assert fig.data[0].name == "out-of-sample equity" and len(fig.layout.shapes) == 11
    assert "fast=" in fig.layout.annotations[0].text


def test_walk_forward_by_bar_counts_without_warmup_and_on_a_cluster(client: object) -> None:
    options = {"train": 500, "test": 500, "warmup": None, "progress": False}
    here = evlab.walk_forward(SmaCross, WF_GRID, AAPL, **options)  # type: ignore[arg-type]
    there = evlab.walk_forward(SmaCross, WF_GRID, AAPL, client=client,
                               **options)  # type: ignore[arg-type]
    same_rows(here.train, there.train)
    pd.testing.assert_frame_equal(here.choices, there.choices)
    pd.testing.assert_series_equal(here.equity, there.equity)
    assert (here.test["events"] == 500).all(), "no warm-up: the test bars only"
    lowest = evlab.walk_forward(SmaCross, WF_GRID, AAPL, objective="max_drawdown",
                                maximize=False, **options)  # type: ignore[arg-type]
    assert (lowest.choices["train_max_drawdown"] <= here.train.groupby("window")[
        "max_drawdown"].max().to_numpy()).all()


def test_a_lazy_recording_sweeps_and_walks_forward_as_the_loaded_one(
        client: object, tmp_path: Path) -> None:
    """A recording opened lazily (streamed from its row groups) is a source like any other:
    on the cluster it travels as its footers, and walk-forward reads its times a window at a
    time; the rows are the loaded recording's."""
    bus = EventBus()
    with evlab.record(bus) as rec:
        Replayer("stocks_daily", bus, symbols="IBM").run()
    rec.save(tmp_path / "ibm.parquet")
    lazy = evlab.open_recording(tmp_path / "ibm.parquet")
    loaded = evlab.load_recording(tmp_path / "ibm.parquet")
    assert type(lazy).__name__ == "LazyRecording"
    task = Task(SmaCross, {"fast": 20, "slow": 50}, Source(lazy).shipped(), Broker())
    assert len(pickled(task)) < 20_000, "a lazy recording travels as its footers"
    same_rows(evlab.sweep(SmaCross, GRID, Source(lazy, label="ibm"), client=client,
                          progress=False),
              evlab.sweep(SmaCross, GRID, Source(loaded, label="ibm"), progress=False))
    streamed = evlab.walk_forward(SmaCross, WF_GRID, Source(lazy, label="ibm"), train="730D",
                                  test="365D", progress=False)
    in_memory = evlab.walk_forward(SmaCross, WF_GRID, Source(loaded, label="ibm"),
                                   train="730D", test="365D", progress=False)
    pd.testing.assert_frame_equal(streamed.choices, in_memory.choices)
    pd.testing.assert_series_equal(streamed.equity, in_memory.equity)
