"""The recorder's tape: rows made in bulk from what the bus dispatched, the same rows as
recording each event as it is dispatched, values that cannot be stored reported at a sane
point, and the tape's bookkeeping (several recorders, pause, reads, flushes, limits)."""

from __future__ import annotations

import dataclasses
import threading
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    Event,
    EventType,
    PortfolioEvent,
    SignalEvent,
    create_error_event,
    create_fill_event,
    create_order_event,
    create_signal_event,
    create_system_event,
    create_tick_event,
    create_websocket_event,
)
from evlab.recording import EventRecorder, record
from evlab.recording.columns import CHUNK
from evlab.recording.convert import to_frame
from evlab.recording.table import EventTable
from evlab.recording.tape import TAPE_EVENTS
from tests.test_record import T0, QuoteEvent, bar


@dataclasses.dataclass(frozen=True, repr=False)
class LooseEvent(Event):
    """A user's event class declared without ``slots=True``: its fields live in a dict."""

    type: ClassVar[str] = "loose"

    symbol: str
    value: float
    note: str = ""


class PerEvent:
    """The reference: each event recorded the moment it is dispatched, by the table's own
    appenders (what the recorder did before the tape); a row that does not fit is undone
    and skipped (the tape's recorder reports those: the reports are events here too)."""

    def __init__(self, bus: EventBus) -> None:
        self.table = EventTable()
        self.puts: dict[type, Any] = {}
        self.refused: list[int] = []
        bus.subscribe(None, self.record, priority=10**9, weak=False)

    def record(self, event: Event) -> None:
        put = self.puts.get(type(event))
        if put is None:
            put = self.puts[type(event)] = self.table.appender(type(event))
        try:
            put(event)
        except (TypeError, ValueError, OverflowError):
            self.table.repair()
            self.refused.append(event.seq)

    def frame(self) -> pd.DataFrame:
        rows = self.table.commit()
        return to_frame(self.table.to_arrow(0, rows))


def mixed_stream(bus: EventBus, n: int) -> None:
    """Every kind of event and value the recorder knows, bad ones included, nested chains
    (bar -> signal -> order -> fill) and handler errors, over ``n`` rounds."""
    def on_bar(b: Any) -> None:
        if b.seq % 3 == 0:
            bus.emit(create_signal_event(SignalEvent.BUY, b.close, b.symbol, "sma"))

    def on_signal(s: Any) -> None:
        order = bus.emit(create_order_event(s.symbol, "BUY", 2, order_id=f"o{s.seq}"))
        bus.emit(create_fill_event(s.symbol, "BUY", 2, s.price, 0.1, order_id=order.order_id))

    def broken(t: Any) -> None:
        raise RuntimeError("tick handler failed")

    bus.register(EventType.BAR, on_bar)
    bus.register(EventType.SIGNAL, on_signal)
    bus.register(EventType.TICK, broken)
    for i in range(n):
        bus.emit(bar(i, ("AAPL", "MSFT", "BTC-USD")[i % 3]))
        if i % 7 == 0:
            bus.emit(create_tick_event("AAPL", T0 + i, 100.5 + i, 3, side="BUY",
                                       trade_id=f"t{i}"))
        if i % 11 == 0:
            bus.emit(QuoteEvent("EURUSD", np.float64(1.1), Fraction(5, 4), 2**40, True,  # type: ignore[arg-type]
                                "ebs", b"\x00raw", {"k": [i, "x"]}, time_ns=T0 + i))
            bus.emit(QuoteEvent("EURUSD", 1.2, None, None, None, None,  # type: ignore[arg-type]
                                time_ns=T0 + i, source="fx"))
        if i % 13 == 0:
            bus.emit(QuoteEvent("EURUSD", "bad", 1.0, time_ns=T0 + i))  # type: ignore[arg-type]
            bus.emit(QuoteEvent("EURUSD", 1.0, 1.0, 2**63, time_ns=T0 + i))  # int64 overflow
            bus.emit(LooseEvent("X", 0.5 + i, note=f"n{i}", time_ns=T0 + i))
            bus.emit(LooseEvent("X", "bad", time_ns=T0 + i))  # type: ignore[arg-type]
        if i % 29 == 0:  # stamps at the edges of int64 and of CPython's 30-bit digits
            for t in (0, -1, 2**30 - 1, 2**30, 2**60 - 1, 2**60 + 3, 2**62 + 5, 2**63 - 1,
                      -(2**63), -(2**62) - 7):
                bus.emit(BarEvent("AAPL", 1.0, 2.0, 1.0, 1.5, 3, time_ns=t))
        if i % 17 == 0:
            bus.emit(PortfolioEvent(9_000.0, 10_000.0 + i, 5.0, 0.0,
                                    (("AAPL", 1.0, 100.0 + i),), time_ns=T0 + i))
            bus.emit(create_system_event("gap", "feed gap", {"missing": [i]}))
            bus.emit(create_websocket_event("ws", "é" if i % 2 else b"\x81", received_ns=T0))
            bus.emit(create_error_event("an error from a feed", original=None))


def test_tape_rows_equal_recording_each_event_as_it_is_dispatched():
    bus = EventBus()
    reference = PerEvent(bus)  # subscribed first: sees the recorder's reports too
    rec = EventRecorder(bus)
    mixed_stream(bus, CHUNK // 3 + 500)  # several bulk commits on the way
    frame = rec.to_frame()
    expected = reference.frame()
    assert len(frame) > CHUNK + 1000
    assert_frame_equal(frame, expected)
    # the bad rows are the only ones missing, each reported once, caused by its event
    bad = sorted(reference.refused)
    assert rec.unrecorded == len(bad) > 0
    reports = frame[(frame["type"] == "error") & (frame["handler"] == "recorder")]
    assert sorted(reports["original_seq"].tolist()) == bad == sorted(reports["cause"].tolist())
    assert set(frame["seq"]).isdisjoint(bad)
    assert reports["message"].str.contains("cannot record (?:QuoteEvent|LooseEvent)").all()
    # a user class without slots=True is recorded like any other
    loose = frame[frame["type"] == "loose"]
    assert loose["value"].tolist() == [0.5 + i for i in range(0, CHUNK // 3 + 500, 13)]


def test_a_report_goes_out_after_the_events_it_was_found_with(tmp_path):
    bus = EventBus()
    seen: list[tuple[str, Any]] = []
    # a flush interval looks at the clock at every event: the tape is made into rows at
    # the end of every emit
    rec = EventRecorder(bus, autosave=tmp_path, flush_interval=3600)
    bus.register(EventType.ERROR, lambda e: seen.append(("error", e.original_seq)))

    def on_quote(q: Any) -> None:
        seen.append(("quote", q.seq))
        bus.emit(create_system_event("after", "emitted by the quote's handler"))
        seen.append(("quote handler done", q.seq))

    bus.register("quote", on_quote)
    bus.register(EventType.SYSTEM, lambda s: seen.append(("system", s.seq)))
    bus.emit(QuoteEvent("EURUSD", "bad", 1.0, time_ns=T0))  # type: ignore[arg-type]
    # the report goes out once the system event (the first emit to end) is dispatched:
    # never inside the stamping or the handlers of another event
    assert seen == [("quote", 1), ("system", 2), ("error", 1), ("quote handler done", 1)]
    assert rec.unrecorded == 1 and rec.to_frame()["seq"].tolist() == [2, 3]
    rec.close()


def test_a_report_found_at_a_read_is_part_of_what_the_read_returns():
    bus = EventBus()
    rec = EventRecorder(bus)
    bus.emit(QuoteEvent("EURUSD", "bad", 1.0, time_ns=T0))  # type: ignore[arg-type]
    assert len(rec) == 1  # the report, recorded before len() answers
    assert rec.to_frame()["type"].tolist() == ["error"]


def test_the_tape_runs_before_every_handler_whatever_its_priority():
    bus = EventBus()
    order: list[str] = []
    rec = EventRecorder(bus, priority=-5)  # accepted, no effect
    bus.register(EventType.BAR, lambda b: order.append(f"handler saw {len(rec._tape.events)}"),
                 priority=10**9)
    bus.emit(bar(0))
    assert order == ["handler saw 1"]  # the bar was on the tape before the first handler
    assert "recorder" not in bus.handlers(EventType.BAR)


def test_several_recorders_pause_and_close_on_one_bus():
    bus = EventBus()
    a, b = EventRecorder(bus), EventRecorder(bus, types=["bar"])
    bus.emit(bar(0))
    bus.emit(create_tick_event("AAPL", T0, 1.0, 1))
    b.pause()
    bus.emit(bar(2))
    c = EventRecorder(bus)  # sees only what comes after it
    b.resume()
    bus.emit(bar(3))
    a.close()
    bus.emit(bar(4))
    assert a.to_frame()["seq"].tolist() == [1, 2, 3, 4]
    assert b.to_frame()["seq"].tolist() == [1, 4, 5]
    assert c.to_frame()["seq"].tolist() == [4, 5]
    del c, b
    import gc

    gc.collect()
    assert bus._tape is None  # nobody reads: dispatch no longer fills a tape
    bus.emit(bar(5))
    assert len(a) == 4


def test_the_tape_is_bounded_and_emptied_at_its_limit():
    bus = EventBus()
    rec = EventRecorder(bus)
    sizes = []
    bus.register(EventType.BAR, lambda b: sizes.append(len(rec._tape.events)))
    for i in range(3 * CHUNK):
        bus.emit(bar(i))
    assert max(sizes) == TAPE_EVENTS and len(rec._tape.events) < TAPE_EVENTS
    assert len(rec) == 3 * CHUNK and rec.to_frame()["seq"].tolist() == list(range(1, 3 * CHUNK + 1))


def test_reads_from_other_threads_while_emitting_lose_and_duplicate_nothing():
    bus = EventBus()
    rec = EventRecorder(bus, max_events=5_000)
    done = threading.Event()
    lengths: list[int] = []

    def read() -> None:
        while not done.is_set():
            lengths.append(len(rec))
            rec.metadata()

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20_000):
        bus.emit(bar(i))
    done.set()
    reader.join()
    assert lengths and max(lengths) <= 5_000
    assert rec.to_frame()["seq"].tolist() == list(range(15_001, 20_001))
    assert rec.dropped == 15_000


def test_autosave_with_the_tape_writes_every_row_once(tmp_path):
    from evlab.recording import load_recording

    bus = EventBus()
    with record(bus, autosave=tmp_path, flush_every=1_000, max_events=2_500) as rec:
        for i in range(7_000):
            bus.emit(bar(i))
        assert len(list(tmp_path.glob("part-*.parquet"))) >= 6  # written as it goes
    loaded = load_recording(tmp_path)
    assert loaded.frame["seq"].tolist() == list(range(1, 7_001))
    assert rec.to_frame()["seq"].tolist() == list(range(4_501, 7_001))


def test_a_user_class_without_slots_is_emitted_copied_and_recorded():
    bus = EventBus()
    rec = EventRecorder(bus)
    first = bus.emit(LooseEvent("X", 1.5, note="a", time_ns=T0))
    again = bus.emit(first)  # emitted before: the bus emits a copy, stamped anew
    assert (first.seq, first.cause, again.seq, again.cause) == (1, None, 2, None)
    assert again == first and again is not first and first.seq == 1
    frame = rec.to_frame()
    assert frame["seq"].tolist() == [1, 2] and frame["value"].tolist() == [1.5, 1.5]
    assert frame["note"].tolist() == ["a", "a"]
    assert list(rec.snapshot().to_events()) == [first, first]


def test_compiled_rows_are_read_at_the_slots_where_a_class_allows_it():
    from evlab import _accel
    from evlab.events import BarEvent

    bus = EventBus()
    rec = EventRecorder(bus)
    bus.emit(bar(0))
    bus.emit(LooseEvent("X", 1.0, time_ns=T0))
    bus.emit(PortfolioEvent(1.0, 1.0, 0.0, 0.0, (("A", 1.0, 2.0),), time_ns=T0))
    bus.emit(create_websocket_event("ws", b"\x00"))
    assert len(rec) == 4
    # compiled, a bar's or a portfolio's row is read at its slots' offsets (the positions
    # made JSON by the column's own encoder); interpreted the generated put makes every
    # row; a class without slots, or with a raw field, always takes the put
    from evlab.events import WebSocketEvent

    assert (rec._plans[BarEvent][0] is not None) == _accel.COMPILED
    assert (rec._plans[PortfolioEvent][0] is not None) == _accel.COMPILED
    assert rec._plans[LooseEvent][0] is None and rec._plans[WebSocketEvent][0] is None
    assert rec.to_frame()["positions"].tolist()[2] == '[["A",1.0,2.0]]'


def test_json_text_is_remembered_only_for_a_value_that_cannot_change():
    from evlab.events import SystemEvent

    bus = EventBus()
    rec = EventRecorder(bus)
    held = (("A", 1.0, 2.0),)  # a portfolio's positions: one tuple until the next fill
    data = {"missing": [1]}  # a dict can change between two events that carry it
    for i in range(3):
        bus.emit(PortfolioEvent(1.0, 1.0 + i, 0.0, 0.0, held, time_ns=T0))
        bus.emit(create_system_event("gap", "feed gap", data))
        assert len(rec) == 2 * (i + 1)  # the rows are made now
        data["missing"].append(i)
    frame = rec.to_frame()
    assert frame["positions"].dropna().tolist() == ['[["A",1.0,2.0]]'] * 3
    assert frame["data"].dropna().tolist() == ['{"missing":[1]}', '{"missing":[1,0]}',
                                               '{"missing":[1,0,1]}']
    from evlab import _accel

    assert (rec._plans[SystemEvent][0] is not None) == _accel.COMPILED


def test_staged_numbers_are_what_numpy_makes_of_them_compiled_and_interpreted():
    from evlab import _accel
    from evlab.recording.columns import NumpyColumn

    cores = [_accel.core, _accel.interpreted_copy().core]
    cases = [("f8", "d", [1.5, 2, np.float64(-0.25), float("nan"), float("inf"), 10**300, True]),
             ("i8", "q", [0, -1, 2**63 - 1, -(2**63), np.int64(3), True, 2**30 - 1, 2**30,
                          -(2**30), 2**60 - 1, 2**60 + 3, -(2**60) - 3, 2**62 + 5,
                          -(2**62) - 7, 1_765_000_000_123_456_789]),
             ("i4", "i", [2**31 - 1, -(2**31)]), ("i2", "h", [2**15 - 1, -(2**15), 7])]
    for dtype, code, values in cases:
        expected = np.fromiter(values, dtype=dtype, count=len(values))
        for core in cores:
            stage = core.Stage(code, 2)  # grows as it goes
            for v in values:
                stage.append(v)
            got = np.frombuffer(stage.buf, dtype=dtype, count=len(stage))
            np.testing.assert_array_equal(got, expected)
        column = NumpyColumn("x", dtype)
        for v in values:
            column.fast(v)
        column.commit()
        np.testing.assert_array_equal(column.values(0, len(values)), expected)
        assert len(column.stage) == 0 and column.stage.capacity >= len(values)  # kept
    # what a stage cannot hold is refused at once, the same way compiled and interpreted
    for code, value, error in [("h", 2**15, OverflowError), ("i", -(2**31) - 1, OverflowError),
                               ("q", 2**63, OverflowError), ("d", 10**400, OverflowError),
                               ("q", 1.5, TypeError), ("d", "1.5", TypeError),
                               ("d", Fraction(1, 2), TypeError), ("q", None, TypeError)]:
        for core in cores:
            stage = core.Stage(code)
            with pytest.raises(error):
                stage.append(value)
            assert len(stage) == 0
    with pytest.raises(ValueError, match="d, q, i or h"):
        _accel.core.Stage("f")


def test_appended_events_are_made_into_rows_in_bulk_and_a_bad_one_is_counted(caplog):
    import logging

    bus = EventBus()  # stamps the events; the recorder does not read it
    events = [bus.emit(bar(i)) for i in range(TAPE_EVENTS + 10)]
    bad = bus.emit(QuoteEvent("EURUSD", "bad", 1.0, time_ns=T0))  # type: ignore[arg-type]
    rec = EventRecorder()
    for e in events[:TAPE_EVENTS - 1]:
        rec.append(e)
    assert len(rec._table) == 0  # held, not yet rows
    rec.append(events[TAPE_EVENTS - 1])
    assert len(rec._table) == TAPE_EVENTS  # a full batch is made into rows at once
    rec.append(bad)
    rec.pause()  # what came before the pause is recorded; what comes while paused is not
    rec.append(events[TAPE_EVENTS])
    rec.resume()
    for e in events[TAPE_EVENTS + 1:]:
        rec.append(e)
    with caplog.at_level(logging.ERROR, logger="evlab"):
        frame = rec.to_frame()
    expected = [e.seq for e in events[:TAPE_EVENTS]] + [e.seq for e in events[TAPE_EVENTS + 1:]]
    assert frame["seq"].tolist() == expected
    assert rec.unrecorded == 1 and "cannot record QuoteEvent" in caplog.text


def test_appended_events_are_flushed_and_trimmed_as_they_go(tmp_path):
    from evlab.recording import load_recording

    bus = EventBus()
    events = [bus.emit(bar(i)) for i in range(40)]
    rec = EventRecorder(autosave=tmp_path, flush_every=5, max_events=20)
    for e in events:
        rec.append(e)
    # no read yet: the parts were written as the appends went
    assert len(list(tmp_path.glob("part-*.parquet"))) >= 7
    rec.close()
    assert load_recording(tmp_path).frame["seq"].tolist() == list(range(1, 41))
    assert rec.to_frame()["seq"].tolist() == list(range(21, 41)) and rec.dropped == 20
