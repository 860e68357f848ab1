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
"""

from __future__ import annotations

from evlab.events import BarEvent

__all__ = ["limit_price_on_bar", "stop_price_on_bar", "takes_market"]


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
