"""The components the usage guide uses, written exactly as it shows them (import path
``evlab.core.events``), plus the executors it mentions without showing."""

from evlab.core.events import BarEvent, SignalEvent, create_signal_event


class SimpleStrategy:
    def __init__(self, symbol):
        self.symbol = symbol
        self.event_bus = None

    def set_event_bus(self, event_bus):
        self.event_bus = event_bus

    def on_bar(self, event):
        if not isinstance(event, BarEvent) or event.get_symbol() != self.symbol:
            return

        # Process bar data and generate signals
        price = event.get_close()

        # Example signal generation
        signal = create_signal_event(
            SignalEvent.BUY, price, self.symbol, 'simple_strategy'
        )

        # Emit signal event
        if self.event_bus:
            self.event_bus.emit(signal)


class SimpleExecutor:
    def __init__(self):
        self.signals = []

    def on_signal(self, event):
        self.signals.append(event)


class AsyncStrategy:
    def __init__(self, symbol):
        self.symbol = symbol
        self.event_bus = None

    def set_event_bus(self, event_bus):
        self.event_bus = event_bus

    async def on_bar(self, event):
        if not isinstance(event, BarEvent) or event.get_symbol() != self.symbol:
            return

        # Process bar data and generate signals
        price = event.get_close()

        # Example signal generation
        signal = create_signal_event(
            SignalEvent.BUY, price, self.symbol, 'async_strategy'
        )

        # Emit signal event
        if self.event_bus:
            await self.event_bus.emit_async(signal)


class AsyncExecutor:
    def __init__(self):
        self.signals = []

    async def on_signal(self, event):
        self.signals.append(event)


MyStrategy = SimpleStrategy
