"""FilterHandler and ChainHandler beyond the guide's examples."""

import datetime as dt

import pytest

from evlab import ChainHandler, EventBus, EventType, FilterHandler, create_bar_event

T0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def bar(symbol, close):
    return create_bar_event(symbol, T0, close, close, close, close, 1)


def test_chain_stops_at_the_first_false_and_none_lets_events_through():
    calls = []
    chain = ChainHandler("c", [
        lambda e: calls.append("log"),  # returns None: the event goes on
        FilterHandler("big", lambda e: e.close > 100, lambda e: calls.append("big")),
        lambda e: calls.append("end"),
    ])
    bus = EventBus()
    bus.register(EventType.BAR, chain.handle)
    bus.emit(bar("AAPL", 150))
    bus.emit(bar("AAPL", 50))
    assert calls == ["log", "big", "end", "log"]
    assert (chain.completed, chain.stopped) == (1, 1)


def test_chains_nest_and_filters_report_counts():
    inner = ChainHandler("inner", [FilterHandler("aapl", lambda e: e.symbol == "AAPL",
                                                 lambda e: True)])
    seen = []
    outer = ChainHandler("outer", [inner, seen.append])
    for symbol in ("AAPL", "MSFT", "AAPL"):
        outer.handle(bar(symbol, 10))
    assert [e.symbol for e in seen] == ["AAPL", "AAPL"]
    assert "aapl" in repr(inner) and "2 passed, 1 rejected" in repr(inner.handlers[0])


def test_bad_handlers_are_rejected_at_construction():
    with pytest.raises(TypeError, match="must be callable"):
        FilterHandler("f", "not callable", print)
    with pytest.raises(TypeError, match="is not a handler"):
        ChainHandler("c", [42])
