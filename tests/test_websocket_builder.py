"""``_new_websocket`` (``evlab._builders.WebSocketBuilder``, compiled where a compiler exists):
what ``create_websocket_event`` and a feed's reader build, once per message. The usual
message is made without ``__init__``; it must be the event the class would build, and every
other one must still meet the class's own check, compiled and interpreted alike."""

from __future__ import annotations

from typing import Any

import pytest

import evlab.events
from evlab import _accel

#: the interpreted builders, and the compiled ones where they were built
EVENTS = [pytest.param(_accel.interpreted_copy().events, id="interpreted")] + (
    [pytest.param(evlab.events, id="compiled")] if _accel.COMPILED else [])


def fields_of(event: Any) -> tuple[Any, ...]:
    return (type(event).__name__, event.payload, event.received_ns, event.time_ns,
            event.source, event.seq, event.cause, event.emit_time_ns, event._bus, event._depth)


@pytest.mark.parametrize("events", EVENTS)
@pytest.mark.parametrize("payload", ['{"x": 1}', b'\x00{"x"', ""])
def test_the_usual_message_is_the_event_its_class_builds(events: Any, payload: Any) -> None:
    fast = events._new_websocket("feed", payload, 123)
    slow = events.WebSocketEvent(payload, 123, time_ns=123, source="feed")
    assert type(fast) is events.WebSocketEvent
    assert fields_of(fast) == fields_of(slow) == (
        "WebSocketEvent", payload, 123, 123, "feed", None, None, None, None, None)
    assert fast == slow
    made = events.create_websocket_event("feed", payload, 123)
    assert fields_of(made) == fields_of(fast)


@pytest.mark.parametrize("events", EVENTS)
@pytest.mark.parametrize("payload", [42, None, bytearray(b"{}"), ["{}"]])
def test_a_payload_that_is_not_str_or_bytes_meets_the_class_check(events: Any,
                                                                  payload: Any) -> None:
    with pytest.raises(ValueError, match="payload"):
        events._new_websocket("feed", payload, 123)
    with pytest.raises(ValueError, match="payload"):
        events.create_websocket_event("feed", payload, 123)


@pytest.mark.parametrize("events", EVENTS)
def test_other_payload_types_and_times_go_through_the_class(events: Any) -> None:
    class Text(str):
        pass

    sub = events._new_websocket("feed", Text("{}"), 5)  # a str subclass: the class accepts it
    assert type(sub.payload) is Text and (sub.time_ns, sub.received_ns) == (5, 5)
    with pytest.raises((ValueError, TypeError)) as fast:
        events._new_websocket("feed", "{}", "soon")
    with pytest.raises((ValueError, TypeError)) as slow:
        events.WebSocketEvent("{}", "soon", time_ns="soon", source="feed")
    assert (type(fast.value), str(fast.value)) == (type(slow.value), str(slow.value))
    now = events.create_websocket_event("feed", "{}")  # no time: now
    assert now.received_ns == now.time_ns and isinstance(now.time_ns, int)
