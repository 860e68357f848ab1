"""Typed views (``bars()``, ``signals()`` ...) and the notebook summary, written once.

``EventRecorder`` (live) and ``Recording`` (loaded) share one interface, ``RecordedEvents``:
each answers a view with ``Views`` made on its own frame, and its summary with
``summary_text``/``summary_html`` on its own Arrow table.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evlab.events import Event, EventType
from evlab.recording.table import describe, value_counts

__all__ = ["RecordedEvents", "Views", "summary_html", "summary_text"]

_COLUMNS: dict[str, tuple[str, ...]] = {
    EventType.BAR: ("open", "high", "low", "close", "volume"),
    EventType.BAR_UPDATE: ("open", "high", "low", "close", "volume"),
    EventType.TICK: ("price", "size", "side", "trade_id", "seq"),
    EventType.SIGNAL: ("signal_type", "price", "strength", "strategy_id", "seq", "cause"),
    EventType.ORDER: ("side", "quantity", "order_type", "limit_price", "stop_price",
                      "time_in_force", "take_profit", "stop_loss", "oco_group", "parent_id",
                      "order_id", "strategy_id", "seq", "cause"),
    EventType.ORDER_UPDATE: ("order_id", "status", "filled_quantity", "remaining_quantity",
                             "avg_price", "reason", "stop_price", "seq", "cause"),
    EventType.FILL: ("side", "quantity", "price", "commission", "order_id", "seq", "cause"),
    EventType.PORTFOLIO: ("cash", "equity", "realized_pnl", "unrealized_pnl", "positions",
                          "seq", "cause"),
    EventType.ERROR: ("message", "error_type", "handler", "original_seq", "original_type",
                      "payload", "source", "seq", "cause"),
}
_NO_SYMBOL = {EventType.ERROR, EventType.SYSTEM, EventType.WEBSOCKET, EventType.PORTFOLIO}


class Views:
    """The typed views of one frame of recorded events: tidy per-type frames indexed by event
    time. ``EventRecorder`` and ``Recording`` both answer ``bars()``, ``signals()`` ... with
    one of these, made on their frame (the one implementation)."""

    __slots__ = ("frame",)

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def view(self, event_type: EventType | str, columns: tuple[str, ...] | None = None,
             symbol: str | None = None) -> pd.DataFrame:
        """Rows of ``event_type`` (one ``symbol`` if given), indexed by ``event_time``."""
        frame = self.frame
        rows = frame["type"] == str(event_type)
        if symbol is not None:
            rows &= frame["symbol"] == symbol
        part = frame.loc[rows]
        if columns is None:
            columns = tuple(c for c in part.columns if part[c].notna().any())
        wanted = [c for c in columns if c not in ("event_time", "type")]
        if symbol is None and event_type not in _NO_SYMBOL and "symbol" not in wanted:
            wanted.insert(0, "symbol")
        if "session" in frame.columns and "session" not in wanted:
            wanted.insert(0, "session")
        out = part.reindex(columns=wanted)
        out.index = pd.DatetimeIndex(part["event_time"], name="event_time")
        for name in ("symbol", "session", "source"):
            if name in out.columns and isinstance(out[name].dtype, pd.CategoricalDtype):
                out[name] = out[name].cat.remove_unused_categories()
        return out

    def bars(self, symbol: str | None = None) -> pd.DataFrame:
        """OHLCV bars (of ``symbol``, or all with a ``symbol`` column), ready to plot."""
        return self.view(EventType.BAR, _COLUMNS[EventType.BAR], symbol)

    def ticks(self, symbol: str | None = None) -> pd.DataFrame:
        """Trade prints: price, size, side, trade id."""
        return self.view(EventType.TICK, _COLUMNS[EventType.TICK], symbol)

    def signals(self, symbol: str | None = None) -> pd.DataFrame:
        """Strategy signals with their seq and cause (the bar that triggered them)."""
        return self.view(EventType.SIGNAL, _COLUMNS[EventType.SIGNAL], symbol)

    def orders(self, symbol: str | None = None) -> pd.DataFrame:
        """Orders with their seq and cause (the signal behind them)."""
        return self.view(EventType.ORDER, _COLUMNS[EventType.ORDER], symbol)

    def order_updates(self, symbol: str | None = None) -> pd.DataFrame:
        """Each order's lifecycle (accepted, filled, canceled ...) with its cause."""
        return self.view(EventType.ORDER_UPDATE, _COLUMNS[EventType.ORDER_UPDATE], symbol)

    def fills(self, symbol: str | None = None) -> pd.DataFrame:
        """Fills: quantity, price, commission, with their seq and cause (the order)."""
        return self.view(EventType.FILL, _COLUMNS[EventType.FILL], symbol)

    def portfolio(self) -> pd.DataFrame:
        """Portfolio updates: cash, equity, P&L and positions (JSON), e.g. an equity curve."""
        return self.view(EventType.PORTFOLIO, _COLUMNS[EventType.PORTFOLIO])

    def errors(self) -> pd.DataFrame:
        """Error events: message, failing handler, the event it failed on, raw payload."""
        return self.view(EventType.ERROR, _COLUMNS[EventType.ERROR])


class RecordedEvents(Protocol):
    """What ``EventRecorder`` (live) and ``Recording`` (loaded) both offer: type a function
    that takes either with it."""

    def __len__(self) -> int: ...
    def to_arrow(self) -> pa.Table: ...
    def to_frame(self) -> pd.DataFrame: ...
    def to_events(self, classes: Mapping[str, type] | Iterable[type] = (), *,
                  validate: bool = True) -> Iterator[Event]: ...
    def view(self, event_type: EventType | str, columns: tuple[str, ...] | None = None,
             symbol: str | None = None) -> pd.DataFrame: ...
    def bars(self, symbol: str | None = None) -> pd.DataFrame: ...
    def ticks(self, symbol: str | None = None) -> pd.DataFrame: ...
    def signals(self, symbol: str | None = None) -> pd.DataFrame: ...
    def orders(self, symbol: str | None = None) -> pd.DataFrame: ...
    def order_updates(self, symbol: str | None = None) -> pd.DataFrame: ...
    def fills(self, symbol: str | None = None) -> pd.DataFrame: ...
    def portfolio(self) -> pd.DataFrame: ...
    def errors(self) -> pd.DataFrame: ...


def _last_errors(table: pa.Table, k: int = 3) -> list[str]:
    if "message" not in table.column_names or table.num_rows == 0:
        return []
    errors = table.filter(pc.equal(table["type"].cast(pa.string()), "error"))
    return [m for m in errors["message"].to_pylist()[-k:] if m is not None]


def summary_text(title: str, table: pa.Table, notes: list[str]) -> str:
    """One line: events, span, counts per type."""
    info = describe(table)
    counts = ", ".join(f"{t} {n:,}" for t, n in info["counts"].items())
    span = f" {info['start']} .. {info['end']}" if info["rows"] else ""
    extra = "".join(f", {n}" for n in notes)
    return f"<{title}: {info['rows']:,} events{span}{extra}{' (' + counts + ')' if counts else ''}>"


def _table(head: str, counts: dict[str, int]) -> str:
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td style='text-align:right'>{n:,}</td>"
                   "</tr>" for k, n in counts.items())
    return (f"<table style='display:inline-block;vertical-align:top;margin-right:1em'>"
            f"<tr><th>{head}</th><th>events</th></tr>{rows}</table>")


def summary_html(title: str, table: pa.Table, notes: list[str]) -> str:
    """A compact notebook summary: counts per type and per symbol, time span, errors."""
    info = describe(table)
    lines = [f"<b>{html.escape(title)}</b>: {info['rows']:,} events",
             *(html.escape(n) for n in notes)]
    if info["rows"]:
        lines.append(f"{info['start']} &rarr; {info['end']}")
    parts = [" &middot; ".join(lines), "<br>"]
    if info["counts"]:
        parts.append(_table("type", info["counts"]))
    symbols = value_counts(table["symbol"])
    if symbols:
        parts.append(_table("symbol", symbols))
    errors = info["counts"].get("error", 0)
    if errors:
        last = "".join(f"<li>{html.escape(m)}</li>" for m in _last_errors(table))
        parts.append(f"<div style='color:#b00'><b>{errors:,} errors</b>, last:<ul>{last}</ul>"
                     "</div>")
    return f"<div class='evlab-recording'>{''.join(parts)}</div>"

