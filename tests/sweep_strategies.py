"""Strategies the sweep tests send to workers: importable by name (module-level), so a
LocalCluster's worker processes unpickle them by reference."""

from __future__ import annotations

import threading
import time

from evlab.events import BarEvent
from evlab.examples import SmaCross


class Raises(SmaCross):
    """SmaCross that raises on its ``fail_at``-th bar (a strategy bug, mid-run)."""

    def __init__(self, fail_at: int = 10, **params: int) -> None:
        super().__init__(**params)
        self.fail_at, self.seen = fail_at, 0

    def on_bar(self, bar: BarEvent) -> None:
        self.seen += 1
        if self.seen >= self.fail_at:
            raise ZeroDivisionError(f"bar {self.seen}")
        super().on_bar(bar)


class Slow(SmaCross):
    """SmaCross that takes ``pause`` seconds per bar (to meet a run's timeout)."""

    def __init__(self, pause: float = 0.01, **params: int) -> None:
        super().__init__(**params)
        self.pause = pause

    def on_bar(self, bar: BarEvent) -> None:
        time.sleep(self.pause)  # the work of a slow strategy, not a synchronisation
        super().on_bar(bar)


RELEASE = threading.Event()  # set by a test to free Hung's handler


class Hung(SmaCross):
    """SmaCross stuck in its first bar's handler until RELEASE is set (a hung strategy)."""

    def on_bar(self, bar: BarEvent) -> None:
        RELEASE.wait(120)
        super().on_bar(bar)


def nothing(**params: object) -> object:
    """A factory of a strategy that does nothing (near-empty runs)."""
    def on_bar(bar: BarEvent) -> None:
        return None
    return on_bar
