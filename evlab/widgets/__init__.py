"""Notebook widgets: the bus observability panel and the live event log."""

from evlab.widgets.log import EventLog
from evlab.widgets.monitor import BusMonitor

__all__ = ["BusMonitor", "EventLog"]
