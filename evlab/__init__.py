"""evlab: an event bus for event-driven trading research in Jupyter.

The usage guide's names are importable from here and from ``evlab.core.events``.
"""

import importlib as _importlib

from evlab.core import events as _core
from evlab.core.events import *  # noqa: F403
from evlab.core.events import __all__ as _core_all

__version__ = "0.1.0"
__all__ = [*_core_all, "__version__"]

# Heavier parts (feeds, recording, plots) are imported on first use.
_LAZY = {
    **_core._FEEDS,
    "EventRecorder": "evlab.recording", "record": "evlab.recording",
    "load_recording": "evlab.recording", "Recording": "evlab.recording",
    "RecordingError": "evlab.recording", "open_dataset": "evlab.recording",
    "Lab": "evlab.lab", "run": "evlab.aio",
    "Replayer": "evlab.replay", "ReplaySummary": "evlab.replay", "compare": "evlab.compare",
    "PaperBroker": "evlab.execution", "Portfolio": "evlab.execution",
    "Position": "evlab.execution", "FillModel": "evlab.execution",
    "FixedQuantity": "evlab.execution", "FixedCash": "evlab.execution",
    "FractionOfEquity": "evlab.execution",
    "Strategies": "evlab.strategies",
    "FeedServer": "evlab.feeds.server",
    "LiveChart": "evlab.plot", "indicator_event": "evlab.plot.indicators",
    "BusMonitor": "evlab.widgets", "EventLog": "evlab.widgets",
}
_SUBMODULES = {"aio", "analytics", "datasets", "execution", "feeds", "plot", "recording",
               "replay", "strategies", "widgets"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return _importlib.import_module(f"evlab.{name}")
    raise AttributeError(f"module 'evlab' has no attribute {name!r}")
