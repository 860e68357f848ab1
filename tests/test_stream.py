"""Streamed replays: a LazyRecording (open_recording) through Replayer and compare, read a
row group at a time from real Parquet files, in bounded memory (counted: row groups read,
most rows held), in the same order and with the same events as the loaded recording."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import evlab
from evlab import datasets
from evlab.bus import EventBus
from evlab.compare import compare
from evlab.events import BarEvent, Event, EventType, create_bar_event
from evlab.recording import (
    EventRecorder,
    LazyRecording,
    RecordingError,
    load_recording,
    open_recording,
    record,
)
from evlab.recording.storage import ROW_GROUP_ROWS, write_table
from evlab.replay import Replayer, sources
from evlab.replay.roots import SeqRanges
from evlab.replay.stream import StreamPlan
from tests import test_parity as parity
from tests.test_replay import Gate, Sma, collect

MINUTE = 60_000_000_000
T0 = 1_704_182_400_000_000_000  # 2024-01-02 08:00 UTC


def save(rec: EventRecorder, path, rows: int):
    """``rec``'s rows as a recording file in row groups of ``rows`` rows."""
    table = rec.to_arrow()
    return write_table(table, rec.metadata(table), path, row_group_rows=rows)


def bars_session(times: list[int], symbol: str | list[str], *,
                 strategy: bool = False) -> EventRecorder:
    """A session that emitted one bar at each of ``times``, of ``symbol`` (or of each of a
    list of symbols in turn), and, with ``strategy``, the SMA's signals."""
    bus = EventBus()
    if strategy:
        Sma(bus)
    rec = EventRecorder(bus)
    symbols = [symbol] if isinstance(symbol, str) else symbol
    for i, t in enumerate(times):
        price = 100.0 + (i * 7919 % 101) / 10
        bus.emit(create_bar_event(symbols[i % len(symbols)], t, price, price + 1, price - 1,
                                  price + 0.5, 1000 + i, source="feed"))
    rec.close()
    return rec


def replayed(source, **options) -> tuple[list[Event], Replayer]:
    bus = EventBus()
    out: list[Event] = []
    bus.register_all(out.append)
    rp = Replayer(source, bus, progress=False, **options)
    rp.run()
    return out, rp


def key(events: list[Event]) -> list[tuple]:
    return [(type(e).__name__, e.time_ns, getattr(e, "symbol", None),
             getattr(e, "close", getattr(e, "price", None)), e.source) for e in events]


# --- one file, many row groups --------------------------------------------------------------

def test_a_lazy_recording_replays_exactly_as_the_loaded_one_holding_a_row_group(tmp_path):
    rec = bars_session([T0 + i * MINUTE for i in range(2_500)], "AAPL", strategy=True)
    path = save(rec, tmp_path / "s.parquet", rows=500)
    lazy = open_recording(path)
    assert isinstance(lazy, LazyRecording) and len(lazy) == len(rec)
    assert len(lazy.row_groups) == -(-len(rec) // 500)
    streamed, rp = replayed(lazy)
    loaded, _ = replayed(load_recording(path))
    assert isinstance(rp.plan, StreamPlan)
    assert key(streamed) == key(loaded) and len(streamed) == 2_500  # bars only: the roots
    assert rp.summary.by_type == {"bar": 2_500} and rp.summary.finished
    assert rp.summary.first_time == pd.Timestamp(T0, tz="UTC")
    assert rp.plan.stats["row_groups_read"] == len(lazy.row_groups)
    # held at most: a row group read ahead, and the windows under one chunk of the replay
    assert rp.plan.stats["max_rows_held"] <= 2 * 500 + rp.chunk


def test_symbols_window_and_types_select_as_in_memory(tmp_path):
    rec = bars_session([T0 + (i // 2) * MINUTE for i in range(1_000)], ["AAPL", "MSFT"],
                       strategy=True)
    path = save(rec, tmp_path / "s.parquet", rows=128)
    for options in ({"start": pd.Timestamp(T0 + 100 * MINUTE, tz="UTC"),
                     "end": pd.Timestamp(T0 + 300 * MINUTE, tz="UTC")},
                    {"what": "all"}, {"what": "signal"}, {"what": "bars"},
                    {"what": ["bar", "signal"], "order": "recorded"},
                    {"symbols": "AAPL", "end": pd.Timestamp(T0 + 50 * MINUTE, tz="UTC")}):
        streamed, rp = replayed(open_recording(path), **options)
        loaded, mem = replayed(load_recording(path), **options)
        assert key(streamed) == key(loaded), options
        assert rp.summary.by_type == mem.summary.by_type and len(rp) == len(mem)
    _, rp = replayed(open_recording(path), start=pd.Timestamp(T0 + 400 * MINUTE, tz="UTC"))
    assert rp.plan.stats["row_groups_read"] < len(open_recording(path).row_groups)  # skipped


def test_roots_whose_causes_were_not_recorded_are_replayed(tmp_path):
    bus = EventBus()
    Sma(bus)
    with EventRecorder(bus, types=["signal"]) as only_signals:  # their bars are not recorded
        Replayer(datasets.load("btcusd_1m").iloc[:600], bus, progress=False).run()
    path = save(only_signals, tmp_path / "signals.parquet", rows=4)
    streamed, rp = replayed(open_recording(path))
    loaded, _ = replayed(load_recording(path))
    assert key(streamed) == key(loaded) and rp.summary.by_type == {"signal": len(only_signals)}


def test_seq_ranges_tell_recorded_seqs_through_gaps():
    ranges = SeqRanges()
    ranges.add(np.array([1, 2, 3, 7, 8]))
    ranges.add(np.array([9, 10, 20]))  # 9 continues the run 7..8
    assert len(ranges) == 3 and ranges.last == 20
    found = ranges.contains(np.array([0, 1, 3, 4, 6, 7, 10, 11, 19, 20, 21]))
    assert found.tolist() == [False, True, True, False, False, True, True, False, False,
                              True, False]
    assert SeqRanges.of(np.array([5, 3, 4, 4])).contains(np.array([3, 5, 6])).tolist() == \
        [True, True, False]


# --- several files: order ------------------------------------------------------------------

def test_a_folder_of_sessions_is_merged_by_event_time_then_session_then_seq(tmp_path):
    folder = tmp_path / "sessions"
    sessions = {"A": [T0 + i * 2 * MINUTE for i in range(400)],  # even minutes
                "B": [T0 + MINUTE + i * 2 * MINUTE for i in range(400)],  # odd: interleaved
                "C": [T0 + 10 * MINUTE + i * MINUTE for i in range(300)]}  # ties with A and B
    for name, times in sessions.items():
        save(bars_session(times, name), folder / f"{name}.parquet", rows=64)
    lazy = open_recording(folder)
    assert len(lazy.sessions) == 3 and len(lazy) == 1_100
    streamed, rp = replayed(lazy)
    loaded, _ = replayed(load_recording(folder))
    assert key(streamed) == key(loaded)
    times = [e.time_ns for e in streamed]
    assert times == sorted(times)
    tie = [e.symbol for e in streamed if e.time_ns == T0 + 10 * MINUTE]
    assert tie == ["A", "C"]  # same event time: session order (A started first), then seq
    assert rp.plan.stats["max_rows_held"] <= 3 * 64 + 64 + rp.chunk  # a group per session
    recorded, _ = replayed(lazy, order="recorded")
    assert [e.symbol for e in recorded] == ["A"] * 400 + ["B"] * 400 + ["C"] * 300


def test_autosave_parts_stream_as_one_session_with_statistics(tmp_path):
    folder = tmp_path / "auto"
    bus = EventBus()
    Sma(bus)
    with EventRecorder(bus, autosave=folder, flush_every=250):
        Replayer(datasets.load("btcusd_1m").iloc[:1_000], bus, progress=False).run()
    parts = sorted(folder.glob("part-*.parquet"))
    assert len(parts) >= 4
    for part in parts:
        md = pq.ParquetFile(part).metadata
        names = md.schema.names
        for g in range(md.num_row_groups):
            assert md.row_group(g).num_rows <= ROW_GROUP_ROWS
            for column in ("seq", "event_time"):
                stats = md.row_group(g).column(names.index(column)).statistics
                assert stats is not None and stats.has_min_max
    lazy = open_recording(folder)
    assert len(lazy.sessions) == 1 and lazy.files == parts
    streamed, rp = replayed(lazy)
    loaded, _ = replayed(load_recording(folder))
    assert key(streamed) == key(loaded) and rp.summary.by_type == {"bar": 1_000}


# --- event times out of order within a file --------------------------------------------------

def test_event_times_that_go_back_within_a_file_are_put_right_in_bounded_memory(tmp_path):
    rng = np.random.default_rng(7)
    times = [T0 + (i + int(rng.integers(-20, 20))) * MINUTE for i in range(2_000)]
    rec = bars_session(times, "AAPL")
    path = save(rec, tmp_path / "jitter.parquet", rows=100)
    streamed, rp = replayed(open_recording(path))
    loaded, _ = replayed(load_recording(path))
    assert key(streamed) == key(loaded)
    assert [e.time_ns for e in streamed] == sorted(times)
    assert rp.plan.stats["max_rows_held"] <= 2 * 100 + rp.chunk


def test_a_live_session_streamed_with_what_all_matches_the_loaded_order(live, tmp_path):
    """Decoded bars carry 2016 times, the raw messages their 2026 receive times: in event
    time order every bar comes before every message, so the merge holds the rows back."""
    path = tmp_path / "live.parquet"
    write_table(live.table, live.metadata, path, row_group_rows=64)
    bus, rec, _keep = parity.fresh(raw=True)
    streamed, _ = replayed(open_recording(path), what="all")
    loaded, _ = replayed(load_recording(path), what="all")
    assert key(streamed) == key(loaded) and len(streamed) == len(live)
    with pytest.raises(RecordingError, match=r"live.parquet: replaying in event-time order "
                                             r"would hold more than 100 rows .*"
                                             r"order='recorded'"):
        replayed(open_recording(path, max_rows=100), what="all")
    seq_order, _ = replayed(open_recording(path, max_rows=100), what="all", order="recorded")
    assert len(seq_order) == len(live)  # in seq order, nothing held back
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Replayer(open_recording(path), bus).run()  # the roots: raw messages, decoded again
    assert compare(open_recording(path), rec, types=("bar", "signal")).empty


live = parity.live


def test_rows_out_of_seq_order_are_refused_with_a_hint(tmp_path):
    rec = bars_session([T0 + i * MINUTE for i in range(300)], "AAPL")
    table = rec.to_arrow()
    shuffled = table.take(np.random.default_rng(1).permutation(table.num_rows))
    path = write_table(shuffled, rec.metadata(table), tmp_path / "shuffled.parquet",
                       row_group_rows=100)
    assert len(replayed(load_recording(path))[0]) == 300  # in memory: sorted
    with pytest.raises(RecordingError, match=r"shuffled.parquet: rows are not in seq order "
                                             r".*load_recording\(path\)"):
        replayed(open_recording(path))


# --- broken files ---------------------------------------------------------------------------

def corrupt_row_group(path, group: int) -> None:
    """Overwrite the bytes of every column chunk of row group ``group`` (0-based)."""
    md = pq.ParquetFile(path).metadata
    data = bytearray(path.read_bytes())
    for c in range(md.num_columns):
        column = md.row_group(group).column(c)
        start = column.dictionary_page_offset or column.data_page_offset
        data[start:start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    path.write_bytes(bytes(data))


def test_a_corrupt_row_group_mid_stream_names_the_file_after_the_events_before_it(tmp_path):
    rec = bars_session([T0 + i * MINUTE for i in range(1_000)], "AAPL")
    path = save(rec, tmp_path / "damaged.parquet", rows=200)
    corrupt_row_group(path, 3)
    with pytest.raises(RecordingError, match=r"damaged\.parquet"):
        load_recording(path)
    bus = EventBus()
    bars = collect(bus)
    rp = Replayer(open_recording(path), bus, progress=False)  # the footer is intact
    with pytest.raises(RecordingError, match=r"damaged.parquet: cannot read row group 4 of 5 "
                                             r"\(200 rows; corrupt or truncated\?\)"):
        rp.run()
    assert len(bars) == 600 and rp.progress.done == 600  # delivered and counted
    assert [b.time_ns for b in bars] == [T0 + i * MINUTE for i in range(600)]
    with pytest.raises(RecordingError, match="row group 4 of 5"):
        rp.run()  # trying again fails at the same place, skipping nothing
    assert rp.progress.done == 600 and len(bars) == 600


def test_a_truncated_file_in_a_folder_is_named_before_anything_is_read(tmp_path):
    folder = tmp_path / "runs"
    save(bars_session([T0 + i * MINUTE for i in range(300)], "A"), folder / "a.parquet", 100)
    good = save(bars_session([T0 + i * MINUTE for i in range(300)], "B"), tmp_path / "b", 100)
    (folder / "b.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(RecordingError, match=r"b.parquet: not a readable Parquet file "
                                             r"\(corrupt or truncated\?\)"):
        open_recording(folder)


def test_edited_metadata_is_refused_as_load_recording_refuses_it(tmp_path):
    rec = bars_session([T0, T0 + MINUTE], "A")
    meta = rec.metadata()
    meta["columns"] = {"open": "complex"}
    path = write_table(rec.to_arrow(), meta, tmp_path / "edited.parquet")
    with pytest.raises(RecordingError, match=r"edited.parquet: its evlab metadata is not "
                                             r"valid: 'columns'\['open'\]: unknown kind"):
        open_recording(path)
    with pytest.raises(RecordingError, match="no such file"):
        open_recording(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="max_rows: must be a positive number"):
        open_recording(path, max_rows=0)


# --- loading is explicit --------------------------------------------------------------------

def test_to_frame_loads_small_recordings_and_names_the_size_of_big_ones(tmp_path):
    rec = bars_session([T0 + i * MINUTE for i in range(400)], "AAPL", strategy=True)
    path = save(rec, tmp_path / "s.parquet", rows=50)
    lazy = open_recording(path)
    pd.testing.assert_frame_equal(lazy.to_frame(), load_recording(path).to_frame())
    with pytest.raises(ValueError, match=r"holds \d+ rows \(about .* GiB in memory.*over "
                                         r"max_rows=100: to_frame\(max_rows=None\) reads it "
                                         r"all anyway, load\(types=\['signal'\]\)"):
        lazy.to_frame(max_rows=100)
    signals = lazy.load(types=["signal"])
    pd.testing.assert_frame_equal(signals.signals(), load_recording(path).signals())
    assert set(signals.frame["type"].astype(str)) == {"signal"}
    assert "not loaded" in repr(lazy) and "11 row group(s)" in repr(lazy)


def test_compare_takes_a_lazy_recording_and_loads_only_the_compared_types(tmp_path):
    rec = bars_session([T0 + i * MINUTE for i in range(600)], "AAPL", strategy=True)
    path = save(rec, tmp_path / "s.parquet", rows=50)
    bus = EventBus()
    Sma(bus)
    with record(bus) as again:
        Replayer(open_recording(path), bus, progress=False).run()
    assert compare(open_recording(path), again).empty
    assert compare(open_recording(path), again, types=("bar", "signal")).empty
    assert compare(again, open_recording(path), types=None).empty
    other = bars_session([T0 + i * MINUTE for i in range(600)], "AAPL", strategy=True)
    other_path = save(other, tmp_path / "o.parquet", rows=50)
    assert compare(open_recording(path), open_recording(other_path)).empty
    with pytest.warns(UserWarning, match=r"compare: b has no events of type signal .*"
                                         r"b holds: bar"):
        diff = compare(open_recording(path), bars_session([T0], "AAPL"))
    assert (diff["status"] == "only_a").all()


# --- the replayer's controls on a lazy source ------------------------------------------------

def test_step_rewind_stop_and_run_again_on_a_lazy_source(tmp_path):
    times = [T0 + i * MINUTE for i in range(1_000)]
    path = save(bars_session(times, "AAPL"), tmp_path / "s.parquet", rows=128)
    bus = EventBus()
    bars = collect(bus)
    rp = Replayer(open_recording(path), bus, progress=False, chunk=100)
    assert len(rp) == 1_000 and rp.state == "ready"
    stepped = rp.step(130)  # across a row group
    assert [e.time_ns for e in stepped] == times[:130] and rp.progress == (130, 1_000)
    summary = rp.run()
    assert summary.events == 870 and [b.time_ns for b in bars] == times
    assert summary.first_time == pd.Timestamp(times[130], tz="UTC")
    rp.rewind()
    assert [e.time_ns for e in rp.step(3)] == times[:3]  # from the start again
    bars.clear()
    rp.rewind()
    assert rp.run().events == 1_000 and [b.time_ns for b in bars] == times
    for what in ("bars", "bar", ["bar", "signal"]):  # counted from the files' metadata
        only = Replayer(open_recording(path), EventBus(), what=what, progress=False)
        assert len(only) == 1_000 and only.run().events == 1_000
    assert only.plan.stats["row_groups_read"] == 8  # the count read nothing


def test_pause_step_resume_in_the_background_on_a_lazy_source(tmp_path):
    times = [T0 + i * MINUTE for i in range(600)]
    path = save(bars_session(times, "AAPL"), tmp_path / "s.parquet", rows=64)
    bus = EventBus()
    gate = Gate(bus, 100)
    rp = Replayer(open_recording(path), bus, progress=False).start()
    assert gate.reached.wait(30)
    rp.pause()
    gate.go.set()
    stepped = rp.step(2)
    assert [e.time_ns for e in stepped] == times[100:102]
    rp.resume()
    summary = rp.wait(30)
    assert [b.time_ns for b in gate.bars] == times and summary.finished
    assert threading.get_ident() in gate.threads


def test_stop_keeps_the_position_and_speed_paces_a_lazy_source(tmp_path):
    times = [T0 + i * MINUTE for i in range(300)]
    path = save(bars_session(times, "AAPL"), tmp_path / "s.parquet", rows=64)
    bus = EventBus()
    rp = Replayer(open_recording(path), bus, progress=False)
    seen: list[int] = []

    def handler(bar: BarEvent) -> None:
        seen.append(bar.time_ns)
        if len(seen) == 150:
            rp.stop(timeout=0)

    bus.register(EventType.BAR, handler)
    first = rp.run()
    assert first.stopped and rp.progress.done == 150
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    paced = Replayer(open_recording(path), EventBus(), progress=False, clock=lambda: clock[0],
                     sleep=sleep)
    summary = paced.run(speed=60.0)  # a minute of event time per second
    assert summary.events == 300 and sum(slept) == pytest.approx(299.0)
    rest = rp.run()
    assert rest.events == 150 and seen == times


async def test_run_async_on_a_lazy_source(tmp_path):
    times = [T0 + i * MINUTE for i in range(500)]
    path = save(bars_session(times, "AAPL"), tmp_path / "s.parquet", rows=64)
    bus = EventBus()
    got: list[int] = []

    async def handler(bar: BarEvent) -> None:
        got.append(bar.time_ns)

    bus.register_async(EventType.BAR, handler)
    summary = await Replayer(open_recording(path), bus, progress=False).run_async()
    assert summary.events == 500 and got == times


# --- a path streams when it is big -----------------------------------------------------------

def test_a_big_recording_path_streams_and_a_small_one_loads(tmp_path, monkeypatch):
    times = [T0 + i * MINUTE for i in range(500)]
    path = save(bars_session(times, "AAPL"), tmp_path / "s.parquet", rows=64)
    assert not isinstance(Replayer(path, EventBus()).plan, StreamPlan)
    monkeypatch.setattr(sources, "STREAM_ROWS", 499)
    rp = Replayer(path, EventBus(), progress=False)
    assert isinstance(rp.plan, StreamPlan)
    assert rp.run().events == 500 and rp.plan.stats["max_rows_held"] <= 2 * 64 + rp.chunk
    assert evlab.open_recording is open_recording


# --- the README -------------------------------------------------------------------------------

def test_readme_larger_than_memory_block_runs_as_pasted(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("\n### Recordings larger than memory\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)  # the block autosaves to runs/day where it runs
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)  # the project's own documentation
    out = capsys.readouterr().out.splitlines()
    rows = len(datasets.load("btcusd_1s"))
    assert out[0].startswith(f"<LazyRecording runs/day: {rows:,} rows in 6 file(s)")
    assert out[1].startswith(f"replayed {rows:,} events ({rows:,} bar)")
    assert out[2] == str(names["replay"].plan.stats) and out[3] == "True"
    assert names["replay"].plan.stats["row_groups_read"] == 6
    pd.testing.assert_frame_equal(names["last"], load_recording("runs/day").bars().tail(3))


def test_a_bad_bar_mid_stream_is_named_after_the_events_before_it(tmp_path):
    rec = bars_session([T0 + i * MINUTE for i in range(500)], "AAPL")
    table = rec.to_arrow()
    close = table["close"].to_numpy().copy()
    close[321] = -1.0  # seq 322, in the fourth row group of 100
    bad = table.set_column(table.schema.get_field_index("close"), "close",
                           pa.array(close))
    path = write_table(bad, rec.metadata(table), tmp_path / "bad.parquet", row_group_rows=100)
    with pytest.raises(ValueError, match=r"bar seq 322: .*close must be finite and > 0"):
        Replayer(load_recording(path), EventBus())  # loaded: before the first event
    bus = EventBus()
    bars = collect(bus)
    rp = Replayer(open_recording(path), bus, progress=False)
    with pytest.raises(ValueError, match=r"bar seq 322: .*close must be finite and > 0"):
        rp.run()
    assert len(bars) == rp.progress.done == 300  # the windows before its own
    assert Replayer(open_recording(path), EventBus(), validate=False).run().events == 500


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("evlab-stream-")]


def test_the_read_ahead_thread_ends_with_the_replay_or_when_it_is_dropped(tmp_path):
    import gc

    path = save(bars_session([T0 + i * MINUTE for i in range(1_000)], "AAPL"),
                tmp_path / "s.parquet", rows=100)
    before = set(stream_threads())
    rp = Replayer(open_recording(path), EventBus(), progress=False)
    assert set(stream_threads()) == before  # nothing read until the replay asks
    rp.run()
    assert set(stream_threads()) == before  # finished: the thread has ended
    rp = Replayer(open_recording(path), EventBus(), progress=False)
    rp.step(5)  # the thread reads ahead, then waits for room
    (thread,) = set(stream_threads()) - before
    del rp
    gc.collect()
    thread.join(30)
    assert not thread.is_alive()


def test_files_without_statistics_stream_while_in_order_and_refuse_disorder(tmp_path):
    """Without min/max statistics the floor is the latest time read: in-order files stream
    as before; times that go back across row groups are refused, never misordered."""
    in_order = bars_session([T0 + i * MINUTE for i in range(300)], "AAPL")
    table = in_order.to_arrow()
    plain = tmp_path / "plain.parquet"
    pq.write_table(table.replace_schema_metadata(
        {b"evlab": orjson.dumps(in_order.metadata(table))}), plain, row_group_size=100,
        write_statistics=False)
    assert open_recording(plain).row_groups[0].min_time is None
    streamed, _ = replayed(open_recording(plain))
    assert [e.time_ns for e in streamed] == [T0 + i * MINUTE for i in range(300)]
    back = bars_session([T0 + ((i + 150) % 300) * MINUTE for i in range(300)], "AAPL")
    table = back.to_arrow()
    mixed = tmp_path / "mixed.parquet"
    pq.write_table(table.replace_schema_metadata(
        {b"evlab": orjson.dumps(back.metadata(table))}), mixed, row_group_size=100,
        write_statistics=False)
    with pytest.raises(RecordingError, match=r"mixed.parquet: its row groups' statistics do "
                                             r"not bound .*order='recorded'"):
        replayed(open_recording(mixed))
    assert len(replayed(open_recording(mixed), order="recorded")[0]) == 300
    assert len(replayed(load_recording(mixed))[0]) == 300


def test_a_lazy_recording_pickles_without_its_rows(tmp_path):
    """A sweep ships sources to workers: a lazy recording goes as its footers, small."""
    import pickle

    times = [T0 + i * MINUTE for i in range(5_000)]
    path = save(bars_session(times, "AAPL"), tmp_path / "s.parquet", rows=500)
    lazy = open_recording(path)
    replayed(lazy)  # files opened on this thread (and the read-ahead's)
    shipped = pickle.dumps(lazy)
    assert len(shipped) < path.stat().st_size / 4
    streamed, rp = replayed(pickle.loads(shipped))
    assert [e.time_ns for e in streamed] == times and len(rp) == 5_000


def test_user_event_classes_and_bars_mixed_across_windows(tmp_path):
    import dataclasses

    @dataclasses.dataclass(frozen=True, slots=True, repr=False)
    class Note(Event):
        type = "note"
        text: str = ""
        level: int = 0

    bus = EventBus()
    with record(bus) as rec:
        for i in range(700):
            if i % 3 == 0:
                bus.emit(Note(text=f"note {i}", level=i, time_ns=T0 + i * MINUTE))
            else:
                bus.emit(create_bar_event("AAPL", T0 + i * MINUTE, 10.0, 11.0, 9.0, 10.5, i))
    path = save(rec, tmp_path / "notes.parquet", rows=64)
    with pytest.raises(RecordingError, match="Note: it is not loaded"):
        Replayer(open_recording(path), EventBus(), what="all")  # before any event
    streamed, rp = replayed(open_recording(path), what="all", classes=[Note], chunk=100)
    loaded, _ = replayed(load_recording(path), what="all", classes=[Note], chunk=100)
    assert [(type(e), e.time_ns, getattr(e, "text", None), getattr(e, "volume", None))
            for e in streamed] == [(type(e), e.time_ns, getattr(e, "text", None),
                                    getattr(e, "volume", None)) for e in loaded]
    assert rp.summary.by_type == {"bar": 466, "note": 234}
    assert [e.level for e in streamed if isinstance(e, Note)] == list(range(0, 700, 3))
