"""EventManager: components by name, on_<type> methods, replacement without duplicates."""

import datetime as dt
import gc
import weakref

import pytest

from evlab import EventBus, EventManager, EventType, create_bar_event, create_signal_event

T0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def bar():
    return create_bar_event("AAPL", T0, 150.0, 152.0, 149.0, 151.0, 100)


class Counter:
    def __init__(self):
        self.bars, self.signals, self.bus = [], [], None

    def set_event_bus(self, bus):
        self.bus = bus

    def on_bar(self, event):
        self.bars.append(event)

    async def on_signal(self, event):
        self.signals.append(event)


def test_register_maps_types_to_on_methods_and_sets_the_bus():
    bus = EventBus()
    manager = EventManager(bus)
    comp = manager.register_component("c", Counter(), [EventType.BAR, "signal"])
    assert comp.bus is bus
    bus.emit(bar())
    assert len(comp.bars) == 1
    assert manager.components == {"c": ("bar", "signal")}
    assert manager.list_components() == [{"name": "c", "class": "Counter",
                                          "event_types": ["bar", "signal"], "errors": 0}]
    assert bus.handlers(EventType.BAR) == ["c.on_bar"]


async def test_async_on_methods_are_awaited():
    bus = EventBus()
    comp = EventManager(bus).register_component("c", Counter(), [EventType.SIGNAL])
    await bus.emit_async(create_signal_event("BUY", 1.0, "AAPL", "s"))
    assert len(comp.signals) == 1


def test_registering_a_name_again_replaces_the_old_component():
    bus = EventBus()
    manager = EventManager(bus)
    old = manager.register_component("strategy", Counter(), [EventType.BAR])
    new = manager.register_component("strategy", Counter(), [EventType.BAR])
    bus.emit(bar())
    assert (len(old.bars), len(new.bars)) == (0, 1)
    assert bus.get_stats()["active_handlers"] == 1 and len(manager) == 1
    probe = weakref.ref(old)
    del old
    gc.collect()
    assert probe() is None  # the replaced component is not kept alive by anyone


def test_manager_owns_its_components_until_unregistered():
    bus = EventBus(use_weak_refs=True)
    manager = EventManager(bus)
    manager.register_component("c", Counter(), [EventType.BAR])  # no other reference
    gc.collect()
    bus.emit(bar())
    comp = manager.get_component("c")
    assert len(comp.bars) == 1
    assert manager.unregister_component("c") is True
    assert manager.unregister_component("c") is False
    bus.emit(bar())
    assert len(comp.bars) == 1 and "c" not in manager
    with pytest.raises(KeyError, match="no component registered as 'c'"):
        manager.get_component("c")


def test_a_missing_method_fails_at_registration_not_at_emit():
    bus = EventBus()
    manager = EventManager(bus)
    with pytest.raises(AttributeError, match=r"'c' \(Counter\) has no on_order\(\) method"):
        manager.register_component("c", Counter(), [EventType.BAR, EventType.ORDER])
    assert bus.get_stats()["active_handlers"] == 0 and len(manager) == 0
    with pytest.raises(ValueError, match="at least one event type"):
        manager.register_component("c", Counter(), [])
    with pytest.raises(TypeError, match="needs an EventBus"):
        EventManager(object())


def test_errors_are_listed_per_component():
    bus = EventBus()
    manager = EventManager(bus)

    class Broken:
        def on_bar(self, event):
            raise RuntimeError("x")

    manager.register_component("broken", Broken(), [EventType.BAR])
    bus.emit(bar())
    assert manager.list_components()[0]["errors"] == 1
    assert bus.get_stats()["handler_errors"] == {"broken.on_bar": 1}


def test_replacement_is_atomic_for_emitters_on_other_threads():
    import threading

    bus = EventBus()
    manager = EventManager(bus)
    delivered = []

    class Shared:
        def on_bar(self, event):
            delivered.append(event.seq)

    manager.register_component("s", Shared(), [EventType.BAR])
    done = threading.Event()
    swapping = threading.Event()

    def emitter():
        swapping.wait(10)  # emit while the other thread keeps replacing the strategy
        for _ in range(3000):
            bus.emit(bar())
        done.set()

    thread = threading.Thread(target=emitter)
    thread.start()
    swaps = 0
    while not done.is_set():
        manager.register_component("s", Shared(), [EventType.BAR])
        swaps += 1
        swapping.set()
    thread.join()
    # each emission reached exactly one strategy: none in a gap between old and new, none twice
    assert sorted(delivered) == list(range(1, 3001)) and swaps > 0
