"""Every code block of the usage guide, run as written (``core.events`` -> ``evlab.core.events``).

The WebSocket block lives in tests/test_guide_websocket.py, with the feed server it needs.
"""

import asyncio
import datetime
import unittest

from evlab.core.events import (
    BarEvent,
    ChainHandler,
    Event,
    EventBus,
    EventManager,
    EventType,
    FilterHandler,
    SignalEvent,
    create_bar_event,
)
from tests.guide_components import (
    AsyncExecutor,
    AsyncStrategy,
    MyStrategy,
    SimpleExecutor,
    SimpleStrategy,
)


def test_setting_up_the_event_system():
    event_bus = EventBus(use_weak_refs=True)  # Use weak references for memory safety
    event_manager = EventManager(event_bus)
    assert event_manager.event_bus is event_bus
    assert event_bus.get_stats()["active_handlers"] == 0


def test_registering_components_and_emitting_events():
    event_bus = EventBus(use_weak_refs=True)
    event_manager = EventManager(event_bus)

    # Create components
    strategy = SimpleStrategy('AAPL')
    executor = SimpleExecutor()

    # Register components with event manager
    event_manager.register_component('strategy', strategy, [EventType.BAR])
    event_manager.register_component('executor', executor, [EventType.SIGNAL])

    # Create a bar event
    bar = create_bar_event(
        'AAPL',
        datetime.datetime.now(),
        150.0,  # Open
        152.0,  # High
        149.0,  # Low
        151.0,  # Close
        10000   # Volume
    )

    # Emit the event
    event_bus.emit(bar)

    assert strategy.event_bus is event_bus
    assert len(executor.signals) == 1
    signal = executor.signals[0]
    assert isinstance(signal, SignalEvent)
    assert (signal.signal_type, signal.price, signal.symbol) == ("BUY", 151.0, "AAPL")
    assert signal.strategy_id == "simple_strategy"
    assert signal.cause == bar.seq if bar.seq else True


async def setup_async_system():
    # Create the event bus
    event_bus = EventBus()

    # Create the event manager
    event_manager = EventManager(event_bus)

    # Create async components
    strategy = AsyncStrategy('AAPL')
    executor = AsyncExecutor()

    # Register components
    event_manager.register_component('strategy', strategy, [EventType.BAR])
    event_manager.register_component('executor', executor, [EventType.SIGNAL])

    return event_bus, event_manager


async def test_async_setup_and_flow():
    event_bus, event_manager = await setup_async_system()
    strategy = event_manager.get_component("strategy")
    executor = event_manager.get_component("executor")
    assert isinstance(strategy, AsyncStrategy) and strategy.event_bus is event_bus
    bar = create_bar_event('AAPL', datetime.datetime.now(), 150, 152, 149, 151, 10000)
    await event_bus.emit_async(bar)
    assert [s.price for s in executor.signals] == [151]
    assert executor.signals[0].cause == bar.seq


def test_event_filtering(capsys):
    event_bus = EventBus()

    # Create a filter that only passes AAPL events
    def is_apple(event):
        return hasattr(event, 'get_symbol') and event.get_symbol() == 'AAPL'

    # Create handler for filtered events
    def handle_apple_events(event):
        print(f"Apple event: {event.get_close()}")
        return True

    # Create filter handler
    apple_filter = FilterHandler("apple_filter", is_apple, handle_apple_events)

    # Register filter with event bus
    event_bus.register(EventType.BAR, apple_filter.handle)

    event_bus.emit(create_bar_event('AAPL', datetime.datetime.now(), 150, 152, 149, 151, 10))
    event_bus.emit(create_bar_event('MSFT', datetime.datetime.now(), 50, 52, 49, 51, 10))
    assert capsys.readouterr().out == "Apple event: 151\n"
    assert (apple_filter.passed, apple_filter.rejected) == (1, 1)


def test_chaining_handlers():
    event_bus = EventBus()
    seen = []

    def is_apple(event):
        return hasattr(event, 'get_symbol') and event.get_symbol() == 'AAPL'

    def price_above_150(event):
        return event.get_close() > 150

    def handle_apple(event):
        seen.append(("apple", event.get_close()))
        return True

    def handle_high_price(event):
        seen.append(("high", event.get_close()))
        return True

    # Create multiple filters
    apple_filter = FilterHandler("apple_filter", is_apple, handle_apple)
    high_price_filter = FilterHandler("high_price", price_above_150, handle_high_price)

    # Chain them together
    chain = ChainHandler("filter_chain", [apple_filter, high_price_filter])

    # Register chain with event bus
    event_bus.register(EventType.BAR, chain.handle)

    now = datetime.datetime.now()
    event_bus.emit(create_bar_event('AAPL', now, 150, 152, 149, 151, 10))   # both
    event_bus.emit(create_bar_event('AAPL', now, 140, 142, 139, 141, 10))   # apple only
    event_bus.emit(create_bar_event('MSFT', now, 160, 162, 159, 161, 10))   # stopped at once
    assert seen == [("apple", 151), ("high", 151), ("apple", 141)]
    assert (chain.completed, chain.stopped) == (1, 2)


def test_memory_management(capsys):
    # Create event bus with weak references
    event_bus = EventBus(use_weak_refs=True)
    strategy = SimpleStrategy('AAPL')
    event_bus.register(EventType.BAR, strategy.on_bar)

    # Force cleanup of dead references
    event_bus.cleanup()

    # Get statistics
    stats = event_bus.get_stats()
    print(f"Active handlers: {stats['active_handlers']}")
    assert capsys.readouterr().out == "Active handlers: 1\n"


class TestMyStrategy(unittest.TestCase):
    def setUp(self):
        self.event_bus = EventBus()
        self.strategy = MyStrategy('AAPL')
        self.strategy.set_event_bus(self.event_bus)

        # Track emitted events
        self.signal_events = []
        self.event_bus.register(EventType.SIGNAL, lambda e: self.signal_events.append(e))

    def test_strategy_generates_signal(self):
        # Create a bar event
        bar = create_bar_event('AAPL', datetime.datetime.now(), 150, 152, 149, 151, 10000)

        # Process the bar
        self.strategy.on_bar(bar)

        # Check if signal was generated
        self.assertEqual(len(self.signal_events), 1)
        self.assertEqual(self.signal_events[0].get_symbol(), 'AAPL')


class TestAsyncStrategy(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.event_bus = EventBus()
        self.strategy = AsyncStrategy('AAPL')
        self.strategy.set_event_bus(self.event_bus)

        # Track emitted events
        self.signal_events = []
        self.event_bus.register_async(EventType.SIGNAL, self.collect_signal)

    async def collect_signal(self, event):
        self.signal_events.append(event)

    async def test_strategy_generates_signal(self):
        # Create a bar event
        bar = create_bar_event('AAPL', datetime.datetime.now(), 150, 152, 149, 151, 10000)

        # Process the bar
        await self.strategy.on_bar(bar)

        # Check if signal was generated
        self.assertEqual(len(self.signal_events), 1)


def test_guide_names_are_importable_from_evlab_too():
    import evlab

    for name in ("EventBus", "EventManager", "EventType", "Event", "BarEvent", "SignalEvent",
                 "FilterHandler", "ChainHandler", "create_bar_event", "create_signal_event"):
        assert getattr(evlab, name) is globals().get(name, getattr(evlab, name))
    assert issubclass(BarEvent, Event)
    assert asyncio.iscoroutinefunction(EventBus.emit_async)
