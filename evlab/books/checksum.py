"""Book checksum rules: how a venue computes the checksum it sends with its book, by name.

A ``BookEvent`` names its rule in ``checksum_rule`` as ``"<name>:<arguments>"`` (Kraken v2:
``"kraken:<price decimals>:<size decimals>:<depth>"``); the adapter that decodes the venue's
messages registers the rule's factory under its name (``register_checksum("kraken",
factory)``), so ``OrderBooks`` can check its own book after each event without knowing any
venue. A rule is a plain string in the event, so recordings keep it and replays check again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from evlab.books.book import OrderBook

__all__ = ["ChecksumRule", "checksum_rule", "register_checksum"]


@dataclass(frozen=True, slots=True)
class ChecksumRule:
    """One venue's checksum of a book: ``compute(book)`` gives the number the venue sends.

    ``depth``: the venue keeps its subscribers' books at this many levels a side and sends no
    deletion for a level pushed out of range, so ``OrderBooks`` trims the book to it first.
    """

    name: str
    compute: Callable[[OrderBook], int]
    depth: int | None = None


_FACTORIES: dict[str, Callable[[str], ChecksumRule]] = {}


def register_checksum(name: str, factory: Callable[[str], ChecksumRule]) -> None:
    """Make ``"<name>:<arguments>"`` rules mean ``factory("<arguments>")`` (ValueError on bad
    arguments). Registering a name again replaces its factory."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"a checksum rule name must be a non-empty string without ':', "
                         f"got {name!r}")
    _FACTORIES[name] = factory
    checksum_rule.cache_clear()


@lru_cache(maxsize=256)
def checksum_rule(spec: str) -> ChecksumRule:
    """The rule a ``BookEvent.checksum_rule`` names; ValueError naming what is unknown."""
    name, _, args = spec.partition(":")
    factory = _FACTORIES.get(name)
    if factory is None:  # the adapters register theirs when imported (a replay may not have)
        import evlab.feeds.adapters  # noqa: F401

        factory = _FACTORIES.get(name)
    if factory is None:
        known = ", ".join(sorted(_FACTORIES)) or "none"
        raise ValueError(f"unknown book checksum rule {spec!r} (registered: {known})")
    return factory(args)
