"""evlab: an event bus for event-driven trading research in Jupyter.

The usage guide's names are importable from here and from ``evlab.core.events``.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

from evlab.core import events as _guide
from evlab.core.events import *  # noqa: F403
from evlab.core.events import __all__ as _core_all

__version__ = "0.1.0"

# Heavier parts (feeds, recording, plots) are imported on first use.
_LAZY = {
    **_guide._FEEDS,
    "EventRecorder": "evlab.recording", "record": "evlab.recording",
    "load_recording": "evlab.recording", "Recording": "evlab.recording",
    "RecordingError": "evlab.recording", "open_dataset": "evlab.recording",
    "open_recording": "evlab.recording", "LazyRecording": "evlab.recording",
    "Lab": "evlab.lab", "run": "evlab.aio",
    "Replayer": "evlab.replay", "ReplaySummary": "evlab.replay", "compare": "evlab.compare",
    "PaperBroker": "evlab.execution", "Portfolio": "evlab.execution",
    "Position": "evlab.execution", "FillModel": "evlab.execution",
    "FixedQuantity": "evlab.execution", "FixedCash": "evlab.execution",
    "FractionOfEquity": "evlab.execution",
    "Strategies": "evlab.strategies", "OrderBooks": "evlab.books", "OrderBook": "evlab.books",
    "FeedServer": "evlab.feeds.server",
    "load_capture": "evlab.captures", "CaptureError": "evlab.captures",
    "LiveChart": "evlab.plot", "indicator_event": "evlab.plot.indicators",
    "BusMonitor": "evlab.widgets", "EventLog": "evlab.widgets",
    "sweep": "evlab.sweeps", "walk_forward": "evlab.sweeps",
}
# What __getattr__ loads on first use, as type checkers must see it (`X as X`: exported
# under mypy --strict too); tests/test_package.py checks this list and _LAZY agree.
if TYPE_CHECKING:
    from evlab import aio as aio
    from evlab import analytics as analytics
    from evlab import books as books
    from evlab import datasets as datasets
    from evlab import execution as execution
    from evlab import feeds as feeds
    from evlab import plot as plot
    from evlab import recording as recording
    from evlab import replay as replay
    from evlab import strategies as strategies
    from evlab import sweeps as sweeps
    from evlab import widgets as widgets
    from evlab.aio import run as run
    from evlab.books import OrderBook as OrderBook
    from evlab.books import OrderBooks as OrderBooks
    from evlab.captures import CaptureError as CaptureError
    from evlab.captures import load_capture as load_capture
    from evlab.compare import compare as compare
    from evlab.execution import FillModel as FillModel
    from evlab.execution import FixedCash as FixedCash
    from evlab.execution import FixedQuantity as FixedQuantity
    from evlab.execution import FractionOfEquity as FractionOfEquity
    from evlab.execution import PaperBroker as PaperBroker
    from evlab.execution import Portfolio as Portfolio
    from evlab.execution import Position as Position
    from evlab.feeds.emitter import WebSocketEmitter as WebSocketEmitter
    from evlab.feeds.handler import WebSocketHandler as WebSocketHandler
    from evlab.feeds.server import FeedServer as FeedServer
    from evlab.lab import Lab as Lab
    from evlab.plot import LiveChart as LiveChart
    from evlab.plot.indicators import indicator_event as indicator_event
    from evlab.recording import EventRecorder as EventRecorder
    from evlab.recording import LazyRecording as LazyRecording
    from evlab.recording import Recording as Recording
    from evlab.recording import RecordingError as RecordingError
    from evlab.recording import load_recording as load_recording
    from evlab.recording import open_dataset as open_dataset
    from evlab.recording import open_recording as open_recording
    from evlab.recording import record as record
    from evlab.replay import Replayer as Replayer
    from evlab.replay import ReplaySummary as ReplaySummary
    from evlab.strategies import Strategies as Strategies
    from evlab.sweeps import sweep as sweep
    from evlab.sweeps import walk_forward as walk_forward
    from evlab.widgets import BusMonitor as BusMonitor
    from evlab.widgets import EventLog as EventLog

_SUBMODULES = {"aio", "analytics", "books", "datasets", "execution", "feeds", "plot", "recording",
               "replay", "strategies", "sweeps", "widgets"}


__all__ = [*_core_all, *_LAZY, "__version__"]  # `from evlab import *` and IPython see all


def __dir__() -> list[str]:
    """Every public name, loaded or not yet, so ``dir(evlab)`` and completion list them."""
    return sorted({*globals(), *__all__, *_SUBMODULES} - {"TYPE_CHECKING"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return _importlib.import_module(f"evlab.{name}")
    raise AttributeError(f"module 'evlab' has no attribute {name!r}")
