"""Reconnection delays: exponential backoff with jitter, bounded, optionally limited in retries.

Attempt ``n`` (1, 2, 3, ...) waits ``min(maximum, initial * factor ** (n - 1))`` seconds
shrunk by a random fraction of at most ``jitter``: the delay lies in
``[d * (1 - jitter), d]``, so it never exceeds ``maximum`` and many clients dropped at once
do not reconnect in lockstep. ``max_retries=None`` retries forever; ``0`` never reconnects.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Backoff", "backoff_delay"]


def backoff_delay(attempt: int, *, initial: float = 0.5, factor: float = 2.0,
                  maximum: float = 30.0, jitter: float = 0.5,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before reconnection ``attempt`` (1-based): pure given a seeded ``rng``."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt!r}")
    try:
        base = initial * factor ** (attempt - 1)
    except OverflowError:
        base = math.inf
    capped = min(maximum, base)
    if jitter:
        capped *= 1.0 - jitter * (rng or random).random()
    return capped


@dataclass(frozen=True, slots=True)
class Backoff:
    """A reconnection policy: the delay parameters and how many retries (None: forever)."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.5
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if not (self.initial >= 0 and math.isfinite(self.initial)):
            raise ValueError(f"Backoff.initial must be >= 0 and finite, got {self.initial!r}")
        if not self.factor >= 1:
            raise ValueError(f"Backoff.factor must be >= 1, got {self.factor!r}")
        if not (self.maximum >= self.initial and math.isfinite(self.maximum)):
            raise ValueError(f"Backoff.maximum must be finite and >= initial ({self.initial}), "
                             f"got {self.maximum!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Backoff.jitter must lie in [0, 1], got {self.jitter!r}")
        if self.max_retries is not None and (
                not isinstance(self.max_retries, int) or self.max_retries < 0):
            raise ValueError(f"Backoff.max_retries must be None or an int >= 0, "
                             f"got {self.max_retries!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before reconnection ``attempt`` (1-based) under this policy."""
        return backoff_delay(attempt, initial=self.initial, factor=self.factor,
                             maximum=self.maximum, jitter=self.jitter, rng=rng)

    def allows(self, attempt: int) -> bool:
        """Whether reconnection ``attempt`` (1-based) may be made."""
        return self.max_retries is None or attempt <= self.max_retries

    def schedule(self, rng: random.Random | None = None) -> Iterator[float]:
        """The successive delays this policy allows (endless when ``max_retries`` is None)."""
        attempt = 1
        while self.allows(attempt):
            yield self.delay(attempt, rng)
            attempt += 1
