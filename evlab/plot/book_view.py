"""Depth views of an order book: ``BookView`` follows one book live, ``depth_chart`` draws one.

    view = BookView(books, "NKNUSDT", depth=20)   # books: an evlab.OrderBooks on a bus
    depth_chart(books["NKNUSDT"], depth=20)       # a go.Figure of the book as it is now

Both draw the same figure: the best ``depth`` levels of each side as cumulative depth steps
(bids left of the spread, asks right of it; the height at a price is the size one would
trade down, or up, to it), the top and the spread in the title, "stale" while the book is
not known to be right (before its snapshot, after a gap).

``BookView`` copies the ``depth`` best levels when a ``BookEvent`` of its symbol has been
applied (its handler runs after the books', on the thread that emits: a feed's, a
replay's), so the redraw, on the drawing thread, never reads a book being changed; a
``Coalescer`` redraws at most ``max_fps`` times a second, from the latest copy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go

from evlab.books import OrderBook, OrderBooks
from evlab.events import BookEvent, EventType, SystemEvent
from evlab.plot._figure import ASK_COLOUR, BID_COLOUR
from evlab.plot._follow import Follower, mimebundle
from evlab.plot.coalesce import Schedule

__all__ = ["BookView", "depth_chart", "depth_steps"]

Levels = list[tuple[float, float]]
BIDS, ASKS = 0, 1  # trace indices


def depth_steps(bids: Levels, asks: Levels) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray]:
    """``(bid prices, cumulative bid sizes, ask prices, cumulative ask sizes)``, prices
    ascending, from levels best first (as ``OrderBook.bids(n)`` / ``.asks(n)`` give them)."""
    b = np.array(bids, np.float64).reshape(-1, 2)
    a = np.array(asks, np.float64).reshape(-1, 2)
    return b[::-1, 0], np.cumsum(b[:, 1])[::-1], a[:, 0], np.cumsum(a[:, 1])


def _title(symbol: str, bids: Levels, asks: Levels, stale: bool) -> str:
    top = []
    if bids:
        top.append(f"bid {bids[0][0]:.8g} ({bids[0][1]:.6g})")
    if asks:
        top.append(f"ask {asks[0][0]:.8g} ({asks[0][1]:.6g})")
    if bids and asks:
        top.append(f"spread {asks[0][0] - bids[0][0]:.6g}")
    state = " (stale)" if stale else ""
    return f"{symbol}{state}: {', '.join(top) if top else 'empty book'}"


def _figure(symbol: str, *, widget: bool, height: int) -> go.Figure:
    """An empty depth chart: bid steps then ask steps, each filled down to zero."""
    traces = [
        # bids: a price's height is the size of every bid at or above it, the step on the
        # right point ("vh"); asks: at or below it, the step on the left point ("hv")
        go.Scatter(name="bids", x=[], y=[], mode="lines", line_shape="vh", fill="tozeroy",
                   line={"color": BID_COLOUR, "width": 1.5}, fillcolor="rgba(46, 125, 50, 0.25)",
                   hovertemplate="bid %{x}: %{y} up to here<extra></extra>"),
        go.Scatter(name="asks", x=[], y=[], mode="lines", line_shape="hv", fill="tozeroy",
                   line={"color": ASK_COLOUR, "width": 1.5}, fillcolor="rgba(198, 40, 40, 0.25)",
                   hovertemplate="ask %{x}: %{y} up to here<extra></extra>"),
    ]
    layout = go.Layout(
        title={"text": f"{symbol}: no book yet", "x": 0.01, "xanchor": "left"}, height=height,
        uirevision=symbol, margin={"l": 50, "r": 20, "t": 60, "b": 40}, hovermode="closest",
        xaxis={"title": "price"}, yaxis={"title": "cumulative size", "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"})
    return (go.FigureWidget if widget else go.Figure)(data=traces, layout=layout)


def _draw(fig: go.Figure, symbol: str, bids: Levels, asks: Levels, stale: bool) -> None:
    bx, by, ax, ay = depth_steps(bids, asks)
    fig.data[BIDS].update(x=bx, y=by)
    fig.data[ASKS].update(x=ax, y=ay)
    fig.layout.title.text = _title(symbol, bids, asks, stale)


def _check_depth(depth: Any) -> int:
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    return depth


def depth_chart(book: OrderBook, depth: int = 20, *, height: int = 400) -> go.Figure:
    """A ``go.Figure`` of ``book``'s best ``depth`` levels a side as cumulative depth."""
    depth = _check_depth(depth)
    fig = _figure(book.symbol, widget=False, height=height)
    _draw(fig, book.symbol, book.bids(depth), book.asks(depth), book.stale)
    return fig


class BookView:
    """A live depth view (a plotly ``FigureWidget``) of ``books[symbol]``, redrawn at most
    ``max_fps`` times a second as ``BookEvent``s change it (see the module doc).

    ``books`` must be on a bus (``OrderBooks(bus)``); the symbol need not have a book yet.
    The view holds its handlers strongly: it follows the bus until ``close()``.
    """

    def __init__(self, books: OrderBooks, symbol: str, *, depth: int = 20,
                 max_fps: float = 10.0, height: int = 400,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Schedule | None = None) -> None:
        if books.bus is None:
            raise ValueError("BookView: the OrderBooks must be on a bus (OrderBooks(bus))")
        self.books = books
        self.symbol = symbol
        self.depth = _check_depth(depth)
        self.figure: go.FigureWidget = _figure(symbol, widget=True, height=height)
        self.redraws = 0
        self.updates = 0  # book changes seen (BookEvents of the symbol, gaps)
        self._lock = threading.Lock()
        self._levels: tuple[Levels, Levels, bool] | None = None  # the latest copy
        self._version = 0
        self._drawn = 0
        cls = type(self)
        self._follow = Follower(books.bus, self, f"BookView[{symbol}]",
                                [(EventType.BOOK, cls._on_book),
                                 (EventType.SYSTEM, cls._on_system)],
                                self._redraw, max_fps=max_fps, clock=clock, schedule=schedule)
        if symbol in books:  # a book already built: show it now
            self._copy()
            self._follow.coalescer.request()

    # --- handlers: copy the top of the book and ask for a redraw -----------------------
    def _on_book(self, e: BookEvent) -> None:
        if e.symbol == self.symbol:
            self._copy()
            self._follow.coalescer.request()

    def _on_system(self, e: SystemEvent) -> None:
        if e.kind == "book_gap" and isinstance(e.data, dict) and \
                e.data.get("symbol") == self.symbol:
            self._copy()
            self._follow.coalescer.request()

    def _copy(self) -> None:
        if self.symbol not in self.books:  # updates buffered before the first snapshot
            return
        book = self.books[self.symbol]
        levels = (book.bids(self.depth), book.asks(self.depth), book.stale)
        with self._lock:
            self._levels = levels
            self._version += 1
            self.updates += 1

    # --- drawing ------------------------------------------------------------------------
    def flush(self) -> None:
        """Redraw now with the latest book (tests, the end of a replay)."""
        self._follow.coalescer.flush()

    def _redraw(self) -> None:
        with self._lock:
            levels, version = self._levels, self._version
        if levels is None or version == self._drawn:
            return
        with self.figure.batch_update():
            _draw(self.figure, self.symbol, *levels)
        self._drawn = version
        self.redraws += 1

    @property
    def bids(self) -> Levels:
        """The bid levels of the latest change seen (best first): what the next redraw draws."""
        return [] if self._levels is None else list(self._levels[0])

    @property
    def asks(self) -> Levels:
        """The ask levels of the latest change seen (best first)."""
        return [] if self._levels is None else list(self._levels[1])

    # --- the rest -----------------------------------------------------------------------
    def close(self) -> None:
        """Stop following the bus (the figure keeps what it shows)."""
        self._follow.close()

    def __enter__(self) -> BookView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return mimebundle(self.figure, **kwargs)

    def __repr__(self) -> str:
        return (f"<BookView {self.symbol!r} depth {self.depth}: {self.redraws} redraws"
                f"{'' if self._follow.following else ', closed'}>")
