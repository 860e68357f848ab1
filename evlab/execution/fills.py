"""The fill rules on bars, in one place, with the reasons (issue 13 item 3).

A bar tells only its open, high, low and close, not the path between them; each rule takes
the price a real order would get on the path least favourable to the trader that the bar
allows, and never a price the bar did not trade.

* **When.** An order placed while bar *t* is handled can fill from bar *t+1* on (its open is
  the first price after the decision: no look-ahead). ``fill_at="close"`` fills *market*
  orders at the close of the signal's own bar; it changes nothing else.
* **Market**: the open.
* **Limit** (a limit fills at its price or better): a buy limit ``L`` fills when
  ``low <= L`` at ``min(open, L)``; a sell limit when ``high >= L`` at ``max(open, L)``
  (a gap through the limit fills at the better open).
* **Stop** (a stop becomes a market order when touched): a buy stop ``S`` triggers when
  ``high >= S`` and fills at ``max(open, S)``; a sell stop when ``low <= S`` at
  ``min(open, S)`` (a gap through the stop fills at the worse open).
* **Stop-limit** ``(S, L)``: triggers like the stop; a buy fills at ``max(open, S)`` if that
  is ``<= L``, else it rests as a limit at ``L`` from the next bar (the bar does not say
  whether it came back to ``L`` after the trigger); mirrored for sells.
* **Trailing stop**: a sell trails ``trail_amount`` (or ``trail_bps``) below the highest
  high seen since placement (starting from the last close the broker saw), a buy the same
  above the lowest low; each bar is checked against the stop set by the bars before it,
  then the stop moves with this bar's extreme (the bar does not say which came first).
* **Several working orders in one bar**: the orders that fill at the open first (market
  orders), then protective exits (stop-losses before take-profits: when both of a bracket
  are touched in one bar the stop-loss fills, the conservative assumption), then the rest in
  the order they were placed.
* **Brackets**: the children of an entry filled at the bar's open are active for the rest of
  that bar; those of an entry filled inside the bar (a limit or a stop) from the next bar; a
  child already beyond the market when placed (a long's stop-loss above the fill price)
  fills by its own rule on the next bar.
* **Costs**: slippage applies to market and stop fills (they take the market), not to limit
  fills (a limit fills at its price or better); the commission applies to every fill.
* **Participation** (``max_volume_fraction``): a fill takes at most that share of the bar's
  volume (shared by the bar's orders); the rest stays working (a partial fill).

The fill rules on quotes and books (issue 13 item 4). A quote or a book says what a
market order can get *now*, and how much of it; these rules take that at its word and
never assume more depth than was shown.

* **Which data drives.** The first ``QuoteEvent`` or ``BookEvent`` of a symbol makes the
  quotes/books drive that symbol's fills from then on: they are the finer data, and a bar
  of the same period would fill the same order a second time, at a coarser price. Its bars
  still mark the portfolio and set the reference of trailing stops, and fill nothing. A
  symbol with a book is driven by its book alone (its quotes are the book's top, or a
  ticker that may lag it). A strategy that trades only bars pays nothing for this (one dict
  lookup per bar, and only while it has orders working).
* **The book** is the broker's own ``OrderBooks`` kept from the ``BookEvent``s it sees
  (the broker is registered ahead of any ``OrderBooks`` on the bus, so it cannot read one
  that has not applied the event yet: keeping a second book costs about a fifth more on a
  raw capture replay); a stale book (before its snapshot, after a gap) fills nothing until
  it is in sync again.
* **When** (``FillModel.latency``, ns or a timedelta, 0 by default): an order sent at event
  time *t* reaches the venue at ``t + latency`` and fills at the first market state (quote
  or book) whose event time is ``>= t + latency`` (with no latency, the state it was
  placed on, when that has the order's own time: a strategy that reacts to a quote trades
  on it). Cancels and replaces travel with the same latency on these symbols: one that
  arrives after the fill is ``CancelRejected`` / ``ReplaceRejected`` with the reason, and
  the fill stands (the race a real venue has). ``ACCEPTED`` is published when sent.
* **Market** orders take the best opposite price and walk the levels for their size:
  ``walk`` below. The walk over one market state is **one fill at the average price** of
  the levels taken (the ``FillEvent`` carries the true total quantity and average price):
  one decision executed against one book is one trade for the portfolio, one commission
  (a fixed fee per level would charge for how the venue happens to split its levels),
  and the average is what trade analysis reads. What the book cannot fill keeps working
  and fills at the next states (``PARTIALLY_FILLED``); an ``IOC`` cancels it, a ``FOK``
  that the state cannot fill whole is canceled with nothing filled.
* **Limit** orders fill when the opposite side crosses them (a buy limit ``L`` when the
  best ask ``<= L``), for the size shown at ``L`` or better, each level at its own price
  (never worse than ``L``); the rest rests. A resting limit is not filled by trades at its
  price: where it would sit in the venue's queue is unknown, so it waits for the book to
  cross it (the conservative reading).
* **Stops** trigger on the quote/book stream (a buy stop ``S`` when the best ask ``>= S``,
  a sell stop when the best bid ``<= S``: the price a market order would get reached the
  stop) and on the trade stream (a ``TickEvent`` at or through ``S``); triggered, a stop is
  a market order (a stop-limit a limit at its limit price), filled on the state that
  triggered it, or, triggered by a trade, on the first state at or after the trade.
  Trailing stops trail the best bid (sells) or ask (buys) and trade prices seen.
* **Quotes only** (no book): the quote's size is the depth at the top, one level; a size of
  ``None`` (a venue that quotes prices only) is unlimited at that price, since nothing
  says otherwise. An empty side fills nothing.
* **Our own liquidity**: what a fill takes from a level is gone for every later order while
  the venue shows that level unchanged (same price, same size), so a second order in the
  same book state cannot take it again; once the venue changes that level (a new size, a
  deletion, a snapshot, a quote with another top), its new size is the truth again (the
  venue never saw our paper order).
* **Brackets**: the children of an entry filled on a state work from the next state, with
  no latency (the venue or broker holds them).
* **Expiry**: a ``DAY`` order lives through the UTC day it reached the venue, a ``GTD``
  until ``expire_time`` (a state at or after it expires it first); ``IOC`` / ``FOK`` act on
  their first state after arrival.
* **Sizing at the fill**: a signal's order with an ``at_fill`` sizer is sized at the best
  opposite price; a buy whose walk then costs more than the cash (a thin top) is scaled
  down once by cash over cost (a smaller walk's average is no higher, so it is
  affordable), rounded down for whole units, rather than rejected.
* **Costs**: the commission as on bars; ``slippage_bps``, ``max_volume_fraction`` and
  ``fill_at`` are bar rules (a quote's price and size are the cost and the cap: adding
  either would count the spread or the depth twice).
"""

from __future__ import annotations

from collections.abc import Iterable

from evlab.events import BarEvent

__all__ = ["limit_price_on_bar", "stop_price_on_bar", "stop_touched", "takes_market", "walk"]


def limit_price_on_bar(buy: bool, limit: float, bar: BarEvent) -> float | None:
    """Where a limit fills on ``bar``, or None if the bar does not reach it."""
    if buy:
        return min(bar.open, limit) if bar.low <= limit else None
    return max(bar.open, limit) if bar.high >= limit else None


def stop_price_on_bar(buy: bool, stop: float, bar: BarEvent) -> float | None:
    """Where a stop touched on ``bar`` fills (as a market order), or None if not touched."""
    if buy:
        return max(bar.open, stop) if bar.high >= stop else None
    return min(bar.open, stop) if bar.low <= stop else None


def takes_market(order_type: str, triggered_as_limit: bool) -> bool:
    """Whether a fill of this kind pays slippage: market and stop fills do, limits do not."""
    return order_type in ("MARKET", "STOP", "TRAILING_STOP") or (
        order_type == "STOP_LIMIT" and not triggered_as_limit)


def stop_touched(buy: bool, stop: float, price: float) -> bool:
    """Whether a market price (best ask for a buy, best bid for a sell, or a trade) has
    reached a stop."""
    return price >= stop if buy else price <= stop


def walk(levels: Iterable[tuple[float, float]], quantity: float, buy: bool,
         limit: float | None = None) -> tuple[float, float, list[tuple[float, float]]]:
    """Take up to ``quantity`` from ``levels`` (the opposite side, best first, as
    ``(price, size available)``; a size may be ``math.inf``), stopping at the first level
    beyond ``limit``. Returns ``(quantity taken, its cost, [(price, taken)] per level)``:
    the fill's average price is ``cost / quantity``."""
    left = quantity
    cost = 0.0
    taken: list[tuple[float, float]] = []
    for price, size in levels:
        if left <= 0.0:
            break
        if limit is not None and (price > limit if buy else price < limit):
            break
        if size <= 0.0:
            continue
        q = left if size >= left else size
        taken.append((price, q))
        cost += q * price
        left -= q
    return quantity - left, cost, taken
