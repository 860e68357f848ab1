"""EventRecorder: what it records, in which order, with which dtypes, and its views."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import threading
from typing import Any, ClassVar

import pandas as pd
import pytest

from benchmarks import bench_record
from evlab.bus import EventBus
from evlab.events import (
    BarEvent,
    Event,
    EventType,
    PortfolioEvent,
    SignalEvent,
    create_bar_event,
    create_fill_event,
    create_order_event,
    create_signal_event,
    create_system_event,
    create_tick_event,
    create_websocket_event,
)
from evlab.recording import EventRecorder, RecordedEvents, Recording, load_recording, record
from evlab.recording.columns import CHUNK, NumpyColumn
from evlab.recording.convert import canonical

T0 = 1_704_182_400_000_000_000  # 2024-01-02 08:00 UTC
MINUTE = 60_000_000_000


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class QuoteEvent(Event):
    """A user-defined event class: recorded through the generic path."""

    type: ClassVar[str] = "quote"

    symbol: str
    bid: float
    ask: float
    level: int = 0
    firm: bool = False
    venue: str | None = None
    raw: bytes = b""
    extra: dict[str, Any] | None = None


def bar(i: int, symbol: str = "AAPL") -> BarEvent:
    return create_bar_event(symbol, T0 + i * MINUTE, 100 + i, 102 + i, 99 + i, 101 + i, 1000 + i,
                            source="feed")


def chain_bus() -> EventBus:
    """A bus where each bar leads, depth-first, to a signal, an order and a fill."""
    bus = EventBus()
    bus.register(EventType.BAR, lambda b: bus.emit(
        create_signal_event(SignalEvent.BUY, b.close, b.symbol, "sma")))
    bus.register(EventType.SIGNAL, lambda s: bus.emit(
        create_order_event(s.symbol, "BUY", 10, order_id=f"o{s.seq}", source="broker")))
    bus.register(EventType.ORDER, lambda o: bus.emit(
        create_fill_event(o.symbol, "BUY", o.quantity, 101.0, 0.5, order_id=o.order_id,
                          source="broker")))
    return bus


def run_chain(bus: EventBus, n: int = 2) -> list[Event]:
    return [bus.emit(bar(i, ("AAPL", "MSFT")[i % 2])) for i in range(n)]


def test_rows_follow_seq_order_and_causes_of_a_depth_first_chain():
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 2)
    frame = rec.to_frame()
    assert frame["seq"].tolist() == list(range(1, 9))
    assert frame["type"].tolist() == ["bar", "signal", "order", "fill"] * 2
    assert frame["cause"].tolist() == [pd.NA, 1, 2, 3, pd.NA, 5, 6, 7]
    assert frame["symbol"].tolist() == ["AAPL"] * 4 + ["MSFT"] * 4
    # the signal, order and fill carry their bar's event time
    assert frame["event_time"].tolist() == [pd.Timestamp(T0, tz="UTC")] * 4 + \
        [pd.Timestamp(T0 + MINUTE, tz="UTC")] * 4
    assert frame.loc[0, ["open", "high", "low", "close", "volume"]].tolist() == \
        [100.0, 102.0, 99.0, 101.0, 1000.0]
    assert frame.loc[2, "order_id"] == "o2" and frame.loc[3, "commission"] == 0.5
    assert pd.isna(frame.loc[1, "open"]) and pd.isna(frame.loc[0, "quantity"])


def test_frame_dtypes():
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 1)
        bus.emit(create_websocket_event("ws", b"\x01"))
    dtypes = rec.to_frame().dtypes
    assert str(dtypes["event_time"]) == str(dtypes["emit_time"]) == "datetime64[ns, UTC]"
    for name in ("type", "symbol", "source", "side", "signal_type", "event_class"):
        assert isinstance(dtypes[name], pd.CategoricalDtype), name
    for name in ("open", "high", "low", "close", "volume", "price", "quantity", "limit_price"):
        assert dtypes[name] == "float64", name
    assert dtypes["seq"] == "int64"
    assert dtypes["cause"] == "Int64" and dtypes["received_ns"] == "Int64"
    assert dtypes["payload"].kind == "O"
    assert list(rec.to_frame().columns[:7]) == ["seq", "type", "event_time", "emit_time",
                                                "source", "cause", "symbol"]


def test_typed_views_are_indexed_by_event_time():
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 4)
    aapl = rec.bars("AAPL")
    assert list(aapl.columns) == ["open", "high", "low", "close", "volume"]
    assert aapl.index.name == "event_time" and str(aapl.index.dtype) == "datetime64[ns, UTC]"
    assert aapl.index.tolist() == [pd.Timestamp(T0, tz="UTC"),
                                   pd.Timestamp(T0 + 2 * MINUTE, tz="UTC")]
    assert aapl["close"].tolist() == [101.0, 103.0]
    both = rec.bars()
    assert list(both.columns[:2]) == ["symbol", "open"] and len(both) == 4
    assert list(both["symbol"].cat.categories) == ["AAPL", "MSFT"]
    signals = rec.signals()
    assert signals["signal_type"].tolist() == ["BUY"] * 4
    frame = rec.to_frame()
    assert signals["cause"].tolist() == frame.loc[frame["type"] == "bar", "seq"].tolist()
    orders, fills = rec.orders("MSFT"), rec.fills()
    assert len(orders) == 2 and orders["quantity"].tolist() == [10.0, 10.0]
    assert fills["cause"].tolist() == rec.orders()["seq"].tolist()
    assert rec.errors().empty and "message" in rec.errors().columns


def test_errors_view_shows_failing_handlers():
    bus = EventBus()

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.register(EventType.BAR, broken, name="broken")
    with record(bus) as rec:
        bus.emit(bar(0))
    errors = rec.errors()
    assert errors["message"].tolist() == ["RuntimeError: boom"]
    assert errors["handler"].tolist() == ["broken"]
    assert errors["original_seq"].tolist() == [1] and errors["cause"].tolist() == [1]
    assert "1 errors" in rec._repr_html_() and "RuntimeError: boom" in rec._repr_html_()


def test_websocket_payloads_str_and_bytes_are_kept_exactly():
    bus = EventBus()
    payloads = ['{"p": "65000.5", "s": "BTCUSDT", "n": "é€"}', b"\x00\x81\xff{binary}", "",
                b"", "\ud800 lone surrogate"]
    with record(bus) as rec:
        for p in payloads:
            bus.emit(create_websocket_event("binance", p, received_ns=T0))
    values = rec.to_frame()["payload"].tolist()
    assert values == payloads
    assert [type(v) for v in values] == [type(p) for p in payloads]
    rebuilt = list(rec.snapshot().to_events())
    assert [e.payload for e in rebuilt] == payloads


def test_pause_resume_clear_and_close():
    bus = EventBus()
    rec = EventRecorder(bus)
    bus.emit(bar(0))
    rec.pause()
    assert rec.paused
    bus.emit(bar(1))
    rec.resume()
    bus.emit(bar(2))
    assert rec.to_frame()["seq"].tolist() == [1, 3]
    rec.clear()
    assert len(rec) == 0 and rec.to_frame().empty and rec
    bus.emit(bar(3))
    assert rec.to_frame()["seq"].tolist() == [4]
    rec.close()
    assert rec.closed
    bus.emit(bar(4))
    assert len(rec) == 1 and "recorder" not in bus.handlers(EventType.BAR)


def test_types_filter_records_only_those_types():
    bus = chain_bus()
    with record(bus, types=[EventType.BAR, "fill"]) as rec:
        run_chain(bus, 2)
    frame = rec.to_frame()
    assert frame["type"].tolist() == ["bar", "fill", "bar", "fill"]
    assert frame["cause"].tolist() == [pd.NA, 3, pd.NA, 7]


def test_max_events_keeps_the_newest_rows_and_counts_the_dropped():
    bus = EventBus()
    with record(bus, max_events=50) as rec:
        for i in range(300):
            bus.emit(bar(i))
            assert len(rec) == min(i + 1, 50)
    assert rec.dropped == 250
    assert rec.to_frame()["seq"].tolist() == list(range(251, 301))
    assert rec.bars()["close"].iloc[-1] == 101 + 299


def test_rows_across_many_chunks_and_partial_commits():
    rec = EventRecorder()
    bus = EventBus()
    events = [bus.emit(bar(i, ("A", "B", "C")[i % 3])) for i in range(CHUNK + 1000)]
    for e in events[:10]:
        rec.append(e)
    assert len(rec.to_frame()) == 10  # commits a short chunk, merged later
    for e in events[10:]:
        rec.append(e)
    frame = rec.to_frame()
    assert frame["seq"].tolist() == list(range(1, CHUNK + 1001))
    assert frame["close"].tolist() == [e.close for e in events]
    # the rows: a few numbers' worth each; the typed stages keep the room of one chunk (the
    # bar's 82 bytes a row), reused after every commit instead of regrown
    room = sum(len(c.stage.buf) for c in rec._table.columns() if isinstance(c, NumpyColumn))
    assert (rec.nbytes - room) / len(rec) < 120
    assert room <= CHUNK * 82


def test_threads_emitting_concurrently_lose_and_duplicate_nothing():
    bus = EventBus()
    rec = EventRecorder(bus)
    per_thread, threads = 2_000, 4
    start = threading.Barrier(threads)

    def emit_many(k: int) -> None:
        start.wait()
        for i in range(per_thread):
            bus.emit(bar(i, f"S{k}"))

    workers = [threading.Thread(target=emit_many, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    frame = rec.to_frame()
    assert frame["seq"].tolist() == list(range(1, per_thread * threads + 1))
    assert frame["symbol"].value_counts().to_dict() == {f"S{k}": per_thread
                                                        for k in range(threads)}
    for k in range(threads):  # each row's fields stayed together
        rows = frame[frame["symbol"] == f"S{k}"]
        assert rows["close"].tolist() == [101.0 + i for i in range(per_thread)]


def test_to_events_rebuilds_equal_events_in_seq_order():
    bus = chain_bus()
    with record(bus) as rec:
        emitted = run_chain(bus, 3)
        emitted.append(bus.emit(create_tick_event("AAPL", T0, 100.5, 3, side="BUY",
                                                  trade_id="t1")))
        emitted.append(bus.emit(create_system_event("gap", "feed gap", {"missing": [1, 2]})))
    rebuilt = list(rec.snapshot().to_events())
    frame = rec.to_frame()
    assert [type(e).__name__ for e in rebuilt] == \
        [c.split(":")[1] for c in frame["event_class"].tolist()]
    assert all(e.seq is None for e in rebuilt)
    originals = {e.seq: e for e in emitted}
    assert rebuilt[0] == originals[1] and rebuilt[-1].data == {"missing": [1, 2]}
    assert rebuilt[-2] == originals[frame["seq"].iloc[-2]]
    assert [e.time_ns for e in rebuilt] == [t.value for t in frame["event_time"]]
    fast = list(rec.snapshot().to_events(validate=False))  # evlab's classes, slots filled
    assert fast == rebuilt and [type(e) for e in fast] == [type(e) for e in rebuilt]
    assert all(e.seq is None and e.cause is None and e.emit_time_ns is None for e in fast)


def test_portfolio_events_and_their_view():
    bus = EventBus()
    update = PortfolioEvent(9_000.0, 10_100.0, 50.0, 50.0, (("AAPL", 10.0, 100.0),
                                                            ("MSFT", -5.0, 200.0)), time_ns=T0)
    with record(bus) as rec:
        bus.emit(update)
    view = rec.portfolio()
    assert view["equity"].tolist() == [10_100.0]
    assert view["positions"].tolist() == ['[["AAPL",10.0,100.0],["MSFT",-5.0,200.0]]']
    assert list(rec.snapshot().to_events()) == [update]


def test_user_defined_event_classes_are_recorded_generically():
    bus = EventBus()
    quotes = [QuoteEvent("EURUSD", 1.1, 1.2, 2, True, "ebs", b"\x00raw", {"k": [1, "x"]},
                         time_ns=T0, source="fx"),
              QuoteEvent("EURUSD", 1.15, 1.25, time_ns=T0 + 1, source="fx")]
    with record(bus) as rec:
        bus.emit(bar(0))
        for q in quotes:
            bus.emit(q)
    frame = rec.to_frame()
    assert frame["type"].tolist() == ["bar", "quote", "quote"]
    assert frame["bid"].tolist()[1:] == [1.1, 1.15] and frame["symbol"].tolist()[1] == "EURUSD"
    assert frame["level"].dtype == "Int64" and frame["firm"].dtype == "boolean"
    assert isinstance(frame["venue"].dtype, pd.CategoricalDtype)
    assert frame["raw"].tolist()[1:] == [b"\x00raw", b""]
    assert frame["extra"].tolist()[1] == '{"k":[1,"x"]}'
    assert list(rec.snapshot().to_events())[1:] == quotes
    assert "quote" in rec._repr_html_()


def test_the_record_paths_inlined_checks_store_what_put_stores():
    # numpy floats, ints and None take the appender's inlined path, a Fraction and a str
    # subclass the column's checked put; the frame must not tell them apart
    from fractions import Fraction

    import numpy as np

    class Venue(str):
        pass

    bus = EventBus()
    values = [(np.float64(1.5), 7, 3, True, "ebs", {"a": 1}),
              (Fraction(1, 4), None, None, None, Venue("lmax"), None),
              (2, np.int64(9), 2**62, False, None, [1])]
    with record(bus) as rec:
        for bid, ask, level, firm, venue, extra in values:
            bus.emit(QuoteEvent("EURUSD", bid, ask, level, firm, venue,  # type: ignore[arg-type]
                                extra=extra, time_ns=T0))
        bus.emit(QuoteEvent("EURUSD", 1.0, 1.0, 2**63, time_ns=T0))  # too big for int64
    frame = rec.to_frame()
    quotes = frame[frame["type"] == "quote"]
    assert quotes["bid"].tolist() == [1.5, 0.25, 2.0]
    assert quotes["ask"].tolist()[::2] == [7.0, 9.0] and pd.isna(quotes["ask"].iloc[1])
    assert quotes["level"].tolist() == [3, pd.NA, 2**62]
    assert quotes["firm"].tolist() == [True, pd.NA, False]
    assert quotes["venue"].tolist()[:2] == ["ebs", "lmax"] and pd.isna(quotes["venue"].iloc[2])
    assert quotes["extra"].tolist()[::2] == ['{"a":1}', "[1]"] and pd.isna(quotes["extra"].iloc[1])
    assert frame["type"].tolist()[-1] == "error" and "int64" in frame["message"].iloc[-1]


def test_a_value_that_does_not_fit_is_refused_whole_and_reported():
    bus = EventBus()
    with record(bus) as rec:
        bus.emit(QuoteEvent("EURUSD", 1.1, 1.2, time_ns=T0))
        bus.emit(QuoteEvent("EURUSD", "not a price", 1.2, time_ns=T0))  # type: ignore[arg-type]
        bus.emit(QuoteEvent("EURUSD", 1.3, 1.4, time_ns=T0))
    frame = rec.to_frame()
    # found when the tape is made into rows (here: at the read), reported then, after the
    # events recorded with it; the bad row is left out whole, nothing else is lost
    assert frame["type"].tolist() == ["quote", "quote", "error"]
    assert frame["seq"].tolist() == [1, 3, 4]
    assert frame["bid"].tolist()[:2] == [1.1, 1.3]
    error = frame.iloc[2]
    assert "cannot record QuoteEvent" in error["message"] and error["handler"] == "recorder"
    assert error["cause"] == 2 == error["original_seq"] and error["error_type"] == "TypeError"
    assert rec.unrecorded == 1 and "1 unrecorded" in repr(rec)


def test_unstamped_events_are_refused():
    with pytest.raises(TypeError, match="no seq"):
        EventRecorder().append(bar(0))


def test_a_value_numpy_cannot_hold_leaves_its_row_out_and_is_reported(caplog):
    bus = EventBus()
    rec = EventRecorder(bus)
    bus.emit(bar(0))
    bus.emit(BarEvent("AAPL", 1.0, 1.0, 1.0, 1.0, 1.0, time_ns=2**70))
    bus.emit(bar(2))
    with caplog.at_level(logging.WARNING, logger="evlab"):
        frame = rec.to_frame()
    # refused by the typed stage at its append (not at commit): the bad row whole
    assert frame["seq"].tolist() == [1, 3, 4] and frame["type"].tolist()[-1] == "error"
    assert "does not fit in int64" in frame["message"].iloc[-1] and rec.unrecorded == 1
    assert "cannot record BarEvent" in caplog.text


def test_repr_html_counts_types_and_symbols():
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 3)
    html = rec._repr_html_()
    assert "<b>EventRecorder</b>: 12 events" in html
    assert "<td>bar</td><td style='text-align:right'>3</td>" in html
    assert "<td>AAPL</td><td style='text-align:right'>8</td>" in html
    assert "<td>MSFT</td><td style='text-align:right'>4</td>" in html
    assert "2024-01-02T08:00:00" in html
    assert repr(rec).startswith("<EventRecorder: 12 events")


def test_recorder_benchmark_runs_every_contender(capsys):
    result = bench_record.run(n=300, show=True, repeat=1)
    assert set(result["rates"]) >= {"recorder", "pyarrow floor", "list of dicts",
                                    "recorder via bus"}
    assert all(rate > 0 for rate in result["rates"].values())
    assert all(b > 0 for name, b in result["bytes_per_bar"].items() if name != "arrow pool")
    assert result["ratio"] > 0 and "x floor" in capsys.readouterr().out


# --- one interface, live and loaded ------------------------------------------------------------

INTERFACE = ("to_arrow", "to_frame", "to_events", "view", "bars", "ticks", "signals", "orders",
             "fills", "portfolio", "errors")


def test_recorder_and_recording_share_one_interface():
    for name in INTERFACE:
        protocol = inspect.signature(getattr(RecordedEvents, name))
        for cls in (EventRecorder, Recording):
            assert inspect.signature(getattr(cls, name)) == protocol, (cls.__name__, name)
            assert getattr(cls, name).__doc__, (cls.__name__, name)


def test_recorder_and_its_recording_answer_every_view_the_same(tmp_path):
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 4)
        bus.emit(create_tick_event("MSFT", T0, 100.5, 3, side="BUY", trade_id="t1"))
        bus.emit(PortfolioEvent(9_000.0, 10_100.0, 50.0, 50.0, (), time_ns=T0))
    loaded = load_recording(rec.save(tmp_path / "run.parquet"))

    def answers(r: RecordedEvents) -> list[Any]:
        return [r.to_frame(), r.view("order"), r.view(EventType.FILL, ("price",), "MSFT"),
                r.bars(), r.bars("AAPL"), r.ticks(), r.signals("MSFT"), r.orders(), r.fills(),
                r.portfolio(), r.errors()]

    for live, kept in zip(answers(rec), answers(loaded), strict=True):
        pd.testing.assert_frame_equal(live, kept)
    same_rows = canonical(rec.to_arrow())  # a loaded table's dictionaries are sorted
    assert same_rows.equals(loaded.to_arrow().replace_schema_metadata(None))
    assert list(rec.to_events()) == list(loaded.to_events()) and len(rec) == len(loaded) == 18


def test_a_recordings_frame_is_computed_once_and_to_frame_gives_your_own():
    bus = chain_bus()
    with record(bus) as rec:
        run_chain(bus, 1)
    snap = rec.snapshot()
    assert snap.frame is snap.frame  # the alias: computed once
    mine = snap.to_frame()
    mine["note"] = "x"
    mine.loc[0, "close"] = -1.0
    assert "note" not in snap.frame.columns and snap.frame.loc[0, "close"] == 101.0
    assert snap.bars()["close"].tolist() == [101.0]
