"""The C emit is built and used, and behaves like the Python one (the rest of the suite runs
against both: `make test` runs the core tests again with EVLAB_PURE_PYTHON=1)."""

import os

import evlab
from evlab._accel import speedups


def test_the_c_emit_is_in_use_unless_pure_python_is_asked_for():
    bus = evlab.EventBus()
    if os.environ.get("EVLAB_PURE_PYTHON"):
        assert speedups is None and bus.emit.__func__ is evlab.EventBus.emit
    else:
        assert speedups is not None, "evlab._speedups was not built: is a C compiler installed?"
        assert type(bus.emit).__name__ == "builtin_function_or_method"


def test_stamps_are_shared_between_emit_and_emit_async():
    import asyncio

    bus = evlab.EventBus()
    seen = []
    bus.register_all(seen.append)
    bar = evlab.create_bar_event("AAPL", 0, 1.0, 1.0, 1.0, 1.0, 1)
    bus.emit(bar)
    asyncio.run(bus.emit_async(bar.copy()))
    bus.emit(bar.copy())
    assert [e.seq for e in seen] == [1, 2, 3]
    assert all(e._bus is bus for e in seen)
    assert bus.get_stats()["events_emitted"] == {"bar": 3}
