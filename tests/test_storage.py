"""Recordings on disk: exact round trips, folders of sessions, bad files, crash-safe autosave."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import ClassVar

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

import evlab
from evlab.bus import EventBus
from evlab.events import (
    ErrorEvent,
    Event,
    EventType,
    PortfolioEvent,
    SystemEvent,
    WebSocketEvent,
    create_bar_update_event,
    create_error_event,
    create_system_event,
    create_tick_event,
    create_websocket_event,
)
from evlab.recording import EventRecorder, RecordingError, load_recording, open_dataset, record
from evlab.replay import Replayer
from tests.test_record import T0, QuoteEvent, bar, chain_bus, run_chain


def full_session(bus: EventBus) -> list:
    """Every kind of event, raw payloads included; returns them all in seq order."""
    seen: list = []
    bus.register_all(seen.append, priority=999)  # after the recorder, before the rest
    emitted = run_chain(bus, 3)
    emitted.append(bus.emit(create_tick_event("AAPL", T0, 100.5, 3, side="SELL", trade_id="t9")))
    emitted.append(bus.emit(create_websocket_event("binance", '{"e":"trade","p":"1.5"}', T0)))
    emitted.append(bus.emit(create_websocket_event("binance", b"\x00\xffbin", T0 + 1)))
    emitted.append(bus.emit(create_error_event("bad message", error_type="DecodeError",
                                               payload=b"\xfe garbage", source="binance")))
    emitted.append(bus.emit(create_system_event("connected", "up", {"url": "wss://x", "n": 1})))
    emitted.append(bus.emit(QuoteEvent("EURUSD", 1.1, 1.2, 1, True, None, b"q", {"a": 1},
                                       time_ns=T0)))
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    return seen


def test_save_and_load_round_trip_is_exact(tmp_path):
    bus = chain_bus()
    with record(bus) as rec:
        emitted = full_session(bus)
    path = rec.save(tmp_path / "session.parquet")
    loaded = load_recording(path)
    assert_frame_equal(loaded.frame, rec.to_frame())
    assert loaded.frame["payload"].dropna().tolist() == \
        ['{"e":"trade","p":"1.5"}', b"\x00\xffbin", b"\xfe garbage"]
    assert_frame_equal(loaded.bars("MSFT"), rec.bars("MSFT"))
    assert_frame_equal(loaded.fills(), rec.fills())
    assert_frame_equal(loaded.errors(), rec.errors())
    meta = loaded.metadata
    assert meta["version"] == evlab.__version__ and meta["session"] == rec.session
    assert meta["symbols"] == ["AAPL", "EURUSD", "MSFT"]
    assert meta["sources"] == ["", "binance", "broker", "feed", "sma"]
    assert meta["counts"]["bar"] == 3 and meta["counts"]["websocket"] == 2
    assert meta["start"] == "2024-01-02T08:00:00.000000000+00:00" and meta["rows"] == len(rec)
    assert meta["bus"] == bus.get_stats()
    assert list(pq.read_schema(path).metadata) == [b"evlab"]  # no pandas metadata, no pickle
    rebuilt = list(loaded.to_events())
    assert rebuilt == emitted  # every class, same values and event times
    assert [type(e) for e in rebuilt] == [type(e) for e in emitted]
    assert [e.payload for e in rebuilt if hasattr(e, "payload")] == \
        ['{"e":"trade","p":"1.5"}', b"\x00\xffbin", b"\xfe garbage"]


def test_empty_recording_round_trips(tmp_path):
    rec = EventRecorder(EventBus())
    loaded = load_recording(rec.save(tmp_path / "empty.parquet"))
    assert len(loaded) == 0
    assert_frame_equal(loaded.frame, rec.to_frame())
    assert list(loaded.to_events()) == []


def test_a_folder_of_sessions_reads_as_one_dataset(tmp_path):
    first_bus, second_bus = chain_bus(), EventBus()
    with record(first_bus) as first:
        run_chain(first_bus, 2)
    with record(second_bus) as second:
        for i in range(5):
            second_bus.emit(bar(100 + i, "GOOG"))
    first.save(tmp_path / "runs" / "a.parquet")
    second.save(tmp_path / "runs" / "b.parquet")
    both = load_recording(tmp_path / "runs")
    assert len(both) == 8 + 5 and both.sessions == [first.session, second.session]
    frame = both.frame
    assert frame.columns[0] == "session"
    assert frame["session"].tolist() == [first.session] * 8 + [second.session] * 5
    part = frame[frame["session"] == second.session].reset_index(drop=True)
    alone = second.to_frame()
    for name in ("seq", "event_time", "emit_time", "cause", "open", "close", "volume"):
        assert part[name].tolist() == alone[name].tolist(), name
    assert part["quantity"].isna().all()  # a column of the other session
    assert both.bars("GOOG")["close"].tolist() == [201.0, 202.0, 203.0, 204.0, 205.0]
    assert "session" in both.bars().columns
    dataset = open_dataset(tmp_path / "runs")
    assert isinstance(dataset, ds.Dataset)
    goog = dataset.to_table(filter=ds.field("symbol") == "GOOG")
    assert goog.num_rows == 5
    assert "2 sessions" in both._repr_html_()


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "noise.parquet"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(RecordingError, match=r"noise\.parquet: not a readable Parquet file"):
        load_recording(path)


def test_truncated_file_names_the_file(tmp_path):
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 50)
    data = rec.save(tmp_path / "whole.parquet").read_bytes()
    half = tmp_path / "half.parquet"
    half.write_bytes(data[:len(data) // 2])
    with pytest.raises(RecordingError, match=r"half\.parquet: not a readable Parquet file"):
        load_recording(half)
    with pytest.raises(RecordingError, match=r"half\.parquet"):  # in a folder, too
        load_recording(tmp_path)


def test_foreign_parquet_names_the_file(tmp_path):
    path = tmp_path / "prices.parquet"
    pd.DataFrame({"close": [1.0, 2.0]}).to_parquet(path)
    with pytest.raises(RecordingError, match=r"prices\.parquet: .*not an evlab recording"):
        load_recording(path)


def test_recording_with_a_missing_or_wrong_column_is_refused(tmp_path):
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 1)
    table = pq.read_table(rec.save(tmp_path / "ok.parquet"))
    pq.write_table(table.drop_columns(["open"]), tmp_path / "missing.parquet")
    with pytest.raises(RecordingError, match=r"missing\.parquet: missing column.*open"):
        load_recording(tmp_path / "missing.parquet")
    wrong = table.set_column(table.schema.get_field_index("seq"), "seq",
                             table["seq"].cast(pa.float64()))
    pq.write_table(wrong, tmp_path / "wrong.parquet")
    with pytest.raises(RecordingError, match=r"wrong\.parquet: column seq is double"):
        load_recording(tmp_path / "wrong.parquet")


def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(RecordingError, match="nothing-here"):
        load_recording(tmp_path / "nothing-here")
    with pytest.raises(RecordingError, match=r"no \*\.parquet"):
        load_recording(tmp_path)


def test_autosave_keeps_every_row_when_a_cell_raises(tmp_path):
    bus = chain_bus()
    folder = tmp_path / "autosave"
    with pytest.raises(KeyboardInterrupt), record(bus, autosave=folder, flush_every=5) as rec:
        run_chain(bus, 3)  # 12 events: parts of 5 and 5 are written as they go
        assert sorted(p.name for p in folder.iterdir()) == ["part-00001.parquet",
                                                            "part-00002.parquet"]
        raise KeyboardInterrupt  # Ctrl-C in the cell: leaving the block writes the rest
    assert sorted(p.name for p in folder.iterdir()) == \
        ["part-00001.parquet", "part-00002.parquet", "part-00003.parquet"]
    loaded = load_recording(folder)
    assert_frame_equal(loaded.frame, rec.to_frame())
    assert loaded.metadata["parts"] == 3 and loaded.metadata["rows"] == 12
    assert loaded.sessions == [rec.session]


def test_autosave_parts_survive_a_dead_kernel(tmp_path):
    bus = EventBus()
    folder = tmp_path / "autosave"
    rec = EventRecorder(bus, autosave=folder, flush_every=4)
    for i in range(10):
        bus.emit(bar(i))
    # the kernel dies here: nothing closes the recorder; the parts written so far are whole
    assert [p.name for p in sorted(folder.iterdir())] == ["part-00001.parquet",
                                                          "part-00002.parquet"]
    assert load_recording(folder).frame["seq"].tolist() == list(range(1, 9))
    rec.close()
    assert load_recording(folder).frame["seq"].tolist() == list(range(1, 11))


def test_autosave_writes_rows_before_max_events_drops_them(tmp_path):
    bus = EventBus()
    with record(bus, autosave=tmp_path, flush_every=1_000, max_events=20) as rec:
        for i in range(200):
            bus.emit(bar(i))
    assert len(rec) == 20 and rec.dropped == 180
    on_disk = load_recording(tmp_path)
    assert on_disk.frame["seq"].tolist() == list(range(1, 201))


def test_flush_interval_and_save_write_parts(tmp_path):
    bus = EventBus()
    with record(bus, autosave=tmp_path / "parts", flush_every=None, flush_interval=0.0) as rec:
        for i in range(3):
            bus.emit(bar(i))
        assert len(list((tmp_path / "parts").glob("part-*.parquet"))) == 3
        bus.emit(create_system_event("note"))
        rec.pause()
        bus.emit(bar(9))
        rec.save(tmp_path / "copy.parquet")  # also writes the pending part
        assert len(list((tmp_path / "parts").glob("part-*.parquet"))) == 4
    assert_frame_equal(load_recording(tmp_path / "parts").frame,
                       load_recording(tmp_path / "copy.parquet").frame)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_a_second_recorder_continues_the_part_numbers(tmp_path):
    bus = EventBus()
    for _ in range(2):
        with record(bus, autosave=tmp_path) as rec:
            bus.emit(bar(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00001.parquet",
                                                         "part-00002.parquet"]
    both = load_recording(tmp_path)
    assert len(both.sessions) == 2 and both.frame["seq"].tolist() == [1, 2]
    assert rec.bus is bus and "recorder" not in bus.handlers(EventType.BAR)


# --- files written by earlier versions -------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recordings"


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class LabelEvent(Event):
    """A user class whose fields collide with other classes' columns of another kind
    (``price`` is a float elsewhere, ``side`` a string): stored as ``LabelEvent_<field>``."""

    type: ClassVar[str] = "label"

    symbol: str
    price: str
    side: int = 0


def legacy_session(bus: EventBus) -> list[Event]:
    """The session stored in ``fixtures/recordings/format1-2026-12.parquet`` (every value fixed
    but the emit times): every evlab event class, raw payloads, a user class and a collision."""
    seen: list[Event] = []
    bus.register_all(seen.append, priority=999)
    run_chain(bus, 2)
    bus.emit(create_tick_event("AAPL", T0, 100.5, 3, side="SELL", trade_id="t9"))
    bus.emit(create_websocket_event("binance", '{"e":"trade","p":"1.5"}', T0))
    bus.emit(create_websocket_event("binance", b"\x00\xffbin", T0 + 1))
    bus.emit(ErrorEvent("bad message", "DecodeError", None, None, None, b"\xfe garbage",
                        time_ns=T0 + 2, source="binance"))
    bus.emit(SystemEvent("connected", "up", {"url": "wss://x", "n": 1}, time_ns=T0 + 3))
    bus.emit(QuoteEvent("EURUSD", 1.1, 1.2, 1, True, None, b"q", {"a": 1}, time_ns=T0 + 4))
    bus.emit(create_bar_update_event("AAPL", T0 + 5, 1.0, 2.0, 0.5, 1.5, 7.0))
    bus.emit(PortfolioEvent(9_000.0, 10_100.0, 50.0, 50.0, (("AAPL", 10.0, 100.0),),
                            time_ns=T0 + 6))
    bus.emit(LabelEvent("AAPL", "high", 3, time_ns=T0 + 7, source="notes"))
    return seen


def test_a_recording_written_before_the_table_consolidation_still_loads():
    path = FIXTURES / "format1-2026-12.parquet"
    loaded = load_recording(path)
    expected = legacy_session(chain_bus())  # the same session again, in this process
    frame = loaded.frame
    assert frame["seq"].tolist() == list(range(1, len(expected) + 1))
    assert frame["type"].astype(str).tolist() == [str(e.type) for e in expected]
    assert frame["cause"].tolist()[:4] == [pd.NA, 1, 2, 3]
    assert frame["LabelEvent_price"].dropna().tolist() == ["high"]
    assert frame["LabelEvent_side"].dropna().tolist() == [3]
    rebuilt = list(loaded.to_events())
    assert rebuilt == expected and [type(e) for e in rebuilt] == [type(e) for e in expected]
    assert [e.payload for e in rebuilt if isinstance(e, WebSocketEvent)] == \
        ['{"e":"trade","p":"1.5"}', b"\x00\xffbin"]
    assert loaded.bars("AAPL")["close"].tolist() == [101.0]
    assert loaded.portfolio()["equity"].tolist() == [10_100.0]
    assert Replayer(path, EventBus(), what="bars").run().by_type == {"bar": 2}


def _edited(tmp_path: Path, name: str, edit) -> Path:
    """The fixture recording with its evlab metadata changed by ``edit(meta)``: a real file."""
    table = pq.read_table(FIXTURES / "format1-2026-12.parquet")
    meta = orjson.loads(table.schema.metadata[b"evlab"])
    edit(meta)
    path = tmp_path / f"{name}.parquet"
    pq.write_table(table.replace_schema_metadata({b"evlab": orjson.dumps(meta)}), path)
    return path


def _bar_class(meta: dict) -> dict:
    return meta["classes"]["evlab.events:BarEvent"]


@pytest.mark.parametrize(("name", "edit", "field"), [
    ("classes-list", lambda m: m.__setitem__("classes", [1]), r"'classes' must be an object"),
    ("class-a-list", lambda m: m["classes"].__setitem__("evlab.events:BarEvent", [1]),
     r"'classes'\['evlab.events:BarEvent'\] must be an object"),
    ("fields-text", lambda m: _bar_class(m).__setitem__("fields", "x"),
     r"\['fields'\] must be an object"),
    ("no-fields", lambda m: _bar_class(m).pop("fields"), r"\['fields'\] must be an object"),
    ("no-columns", lambda m: m.pop("columns"), r"'columns' must be an object"),
    ("field-int", lambda m: _bar_class(m)["fields"].__setitem__("open", 3),
     r"\['fields'\]\['open'\] must be a column name"),
    ("field-unknown-column", lambda m: _bar_class(m)["fields"].__setitem__("open", "nope"),
     r"\['fields'\]\['open'\]: column 'nope' is not in 'columns'"),
    ("unknown-kind", lambda m: m["columns"].__setitem__("open", "float"),
     r"'columns'\['open'\]: unknown kind 'float'"),
    ("dropped-text", lambda m: m.__setitem__("dropped", "many"), r"'dropped' must be a whole"),
    ("session-int", lambda m: m.__setitem__("session", 5), r"'session' must be a string"),
    ("part-text", lambda m: m.__setitem__("part", "x"), r"'part' must be a whole number"),
    ("start-text", lambda m: m.__setitem__("start_ns", "x"), r"'start_ns' must be an integer"),
    ("sessions", lambda m: m.__setitem__("sessions", 3), r"'sessions' is computed"),
    ("bad-class-name", lambda m: m["classes"].__setitem__("no colon", {}),
     r"'classes'\['no colon'\]: a class name must be 'module:qualname'"),
    ("class-missing", lambda m: m["classes"].pop("evlab.events:BarEvent"),
     r"rows are of class\(es\) evlab.events:BarEvent that its evlab metadata 'classes' does "
     "not describe"),
])
def test_edited_metadata_is_refused_at_load_naming_file_and_field(tmp_path, name, edit, field):
    path = _edited(tmp_path, name, edit)
    with pytest.raises(RecordingError, match=rf"{name}\.parquet: .*{field}"):
        load_recording(path)


def test_a_class_that_does_not_resolve_names_the_file(tmp_path):
    def rename(meta: dict) -> None:
        meta["classes"]["tests.gone:LabelEvent"] = meta["classes"].pop(
            "tests.test_storage:LabelEvent")
    table = pq.read_table(FIXTURES / "format1-2026-12.parquet")
    names = table["event_class"].combine_chunks()
    renamed = pa.DictionaryArray.from_arrays(names.indices, pa.array(
        [n.replace("tests.test_storage:", "tests.gone:") for n in names.dictionary.to_pylist()]))
    table = table.set_column(table.schema.get_field_index("event_class"), "event_class", renamed)
    meta = orjson.loads(table.schema.metadata[b"evlab"])
    rename(meta)
    path = tmp_path / "renamed.parquet"
    pq.write_table(table.replace_schema_metadata({b"evlab": orjson.dumps(meta)}), path)
    loaded = load_recording(path)  # the rows load: only rebuilding that class needs it
    assert loaded.frame["event_class"].astype(str).str.startswith("tests.gone:").sum() == 1
    with pytest.raises(RecordingError, match=r"renamed\.parquet: cannot rebuild events of "
                                             r"class tests\.gone:LabelEvent: it is not loaded"):
        list(loaded.to_events())


def test_a_required_field_missing_from_the_metadata_names_file_and_field(tmp_path):
    path = _edited(tmp_path, "no-close", lambda m: _bar_class(m)["fields"].pop("close"))
    loaded = load_recording(path)
    with pytest.raises(RecordingError, match=r"no-close\.parquet: cannot rebuild events of "
                                             r"class evlab\.events:BarEvent: its required "
                                             r"field\(s\) close"):
        list(loaded.to_events())


KILLED_MID_AUTOSAVE = """
import os, signal, sys
from evlab.bus import EventBus
from evlab.recording import EventRecorder
from tests.test_record import bar
bus = EventBus()
rec = EventRecorder(bus, autosave=sys.argv[1], flush_every=4)
for i in range(4):
    bus.emit(bar(i))  # part 1: written and renamed
# the kill lands while part 2 is written: after its bytes, before its rename
os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
for i in range(4, 8):
    bus.emit(bar(i))
"""


def test_a_part_left_by_an_autosave_killed_mid_write_is_reported_then_removed(tmp_path):
    folder = tmp_path / "autosave"
    done = subprocess.run([sys.executable, "-c", KILLED_MID_AUTOSAVE, str(folder)],
                          cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert done.returncode == -signal.SIGKILL
    (orphan,) = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert orphan.name.startswith(".part-00002.parquet.")
    with pytest.warns(UserWarning, match=r"1 unfinished file\(s\) left by an autosave killed "
                                         r"mid-write, not read .*\.part-00002\.parquet\."):
        loaded = load_recording(folder)
    assert loaded.frame["seq"].tolist() == [1, 2, 3, 4] and orphan.exists()
    with pytest.warns(UserWarning, match=r"removed 1 unfinished file\(s\) .*\.part-00002"):
        rec = EventRecorder(EventBus(), autosave=folder)
    rec.close()
    assert sorted(p.name for p in folder.iterdir()) == ["part-00001.parquet"]


def test_a_temporary_file_of_a_writer_still_running_is_left_alone(tmp_path):
    bus = EventBus()
    with record(bus, autosave=tmp_path, flush_every=2):
        bus.emit(bar(0))
        bus.emit(bar(1))
    writing = tmp_path / f".part-00002.parquet.{os.getpid()}.tmp"  # this process: alive
    writing.write_bytes(b"PAR1 half")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_recording(tmp_path)) == 2
        EventRecorder(EventBus(), autosave=tmp_path).close()
    assert writing.exists()
