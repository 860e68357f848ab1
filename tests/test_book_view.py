"""evlab.plot.book_view: the live depth view of an order book and the static depth chart, on a
real bus with real OrderBooks (fake time drives the redraw throttle; nothing sleeps)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from evlab import EventBus, EventType, OrderBooks, Replayer, WebSocketHandler, create_book_event
from evlab.plot import BookView, depth_chart
from evlab.plot.book_view import depth_steps
from tests.books import load_shipped
from tests.test_plot import FakeTime

T0 = 1_700_000_000_000_000_000
BIDS = [(100.0, 1.0), (99.5, 2.0), (99.0, 3.0)]
ASKS = [(100.5, 0.5), (101.0, 1.5), (102.0, 4.0)]


@pytest.fixture
def fake():
    return FakeTime()


@pytest.fixture
def books():
    return OrderBooks(EventBus())


def snapshot(books: OrderBooks, bids=BIDS, asks=ASKS, symbol="BTCUSDT", update_id=10):
    books.bus.emit(create_book_event(symbol, T0, bids, asks, snapshot=True,
                                     last_update_id=update_id))


def view(books, fake, **kw) -> BookView:
    return BookView(books, "BTCUSDT", clock=fake, schedule=fake.schedule, **kw)


def test_depth_steps_are_cumulative_sizes_in_price_order():
    bx, by, ax, ay = depth_steps(BIDS, ASKS)
    np.testing.assert_array_equal(bx, [99.0, 99.5, 100.0])
    np.testing.assert_array_equal(by, [6.0, 3.0, 1.0])  # everything at or above the price
    np.testing.assert_array_equal(ax, [100.5, 101.0, 102.0])
    np.testing.assert_array_equal(ay, [0.5, 2.0, 6.0])  # everything at or below the price
    assert [len(a) for a in depth_steps([], [])] == [0, 0, 0, 0]


def test_the_view_draws_the_book_and_follows_its_updates(books, fake):
    v = view(books, fake)
    assert isinstance(v.figure, go.FigureWidget) and "no book yet" in v.figure.layout.title.text
    snapshot(books)
    v.flush()
    bids, asks = v.figure.data
    np.testing.assert_array_equal(bids.x, [99.0, 99.5, 100.0])
    np.testing.assert_array_equal(bids.y, [6.0, 3.0, 1.0])
    np.testing.assert_array_equal(asks.y, [0.5, 2.0, 6.0])
    assert (bids.line.shape, asks.line.shape) == ("vh", "hv")
    assert v.figure.layout.title.text == \
        "BTCUSDT: bid 100 (1), ask 100.5 (0.5), spread 0.5"
    # an update: a new best bid, a deleted ask level
    books.bus.emit(create_book_event("BTCUSDT", T0 + 1, [(100.2, 2.0)], [(100.5, 0.0)],
                                     first_update_id=11, last_update_id=11))
    v.flush()
    assert v.bids == books["BTCUSDT"].bids(20) and v.asks == books["BTCUSDT"].asks(20)
    np.testing.assert_array_equal(v.figure.data[0].x, [99.0, 99.5, 100.0, 100.2])
    np.testing.assert_array_equal(v.figure.data[1].x, [101.0, 102.0])
    np.testing.assert_array_equal(v.figure.data[1].y, [1.5, 5.5])
    assert v.redraws == 2


def test_depth_bounds_the_levels_drawn(books, fake):
    v = view(books, fake, depth=2)
    snapshot(books)
    v.flush()
    np.testing.assert_array_equal(v.figure.data[0].x, [99.5, 100.0])
    np.testing.assert_array_equal(v.figure.data[1].x, [100.5, 101.0])
    with pytest.raises(ValueError, match="depth must be a positive int"):
        view(books, fake, depth=0)


def test_updates_are_coalesced_into_one_redraw_per_frame(books, fake):
    v = view(books, fake, max_fps=10)
    snapshot(books)
    fake.advance(0.0)
    assert v.redraws == 1
    for i in range(100):
        books.bus.emit(create_book_event("BTCUSDT", T0 + i, [(99.0, 3.0 + i)], (),
                                         first_update_id=11 + i, last_update_id=11 + i))
    fake.advance(0.05)
    assert v.redraws == 1  # within the frame: nothing redrawn yet
    fake.advance(0.1)
    assert v.redraws == 2 and v.updates == 101
    assert v.figure.data[0].y[0] == 1.0 + 2.0 + 102.0  # the latest book, all its changes


def test_a_gap_shows_the_book_stale(books, fake):
    v = view(books, fake)
    snapshot(books)
    books.bus.emit(create_book_event("BTCUSDT", T0 + 1, [(99.0, 1.0)], (),
                                     first_update_id=20, last_update_id=21))  # 11..19 lost
    v.flush()
    assert books["BTCUSDT"].stale and "(stale)" in v.figure.layout.title.text


def test_other_symbols_are_not_drawn_and_close_unsubscribes(books, fake):
    v = view(books, fake)
    snapshot(books, symbol="ETHUSDT")
    v.flush()
    assert v.redraws == 0 and len(v.figure.data[0].x) == 0
    v.close()
    snapshot(books)
    v.flush()
    assert v.redraws == 0 and "closed" in repr(v)


def test_a_view_of_a_built_book_shows_it_at_once(books, fake):
    snapshot(books)
    v = view(books, fake)
    fake.advance(0.0)
    assert v.redraws == 1 and list(v.figure.data[1].x) == [100.5, 101.0, 102.0]


def test_the_books_must_be_on_a_bus():
    with pytest.raises(ValueError, match="must be on a bus"):
        BookView(OrderBooks(), "BTCUSDT")


def test_depth_chart_is_a_static_figure_of_the_book(books):
    snapshot(books)
    fig = depth_chart(books["BTCUSDT"], depth=2)
    assert type(fig) is go.Figure
    np.testing.assert_array_equal(fig.data[0].y, [3.0, 1.0])
    np.testing.assert_array_equal(fig.data[1].y, [0.5, 2.0])
    assert fig.layout.title.text.startswith("BTCUSDT: bid 100 (1)")


async def test_the_view_of_a_replayed_capture_equals_its_book(fake):
    """The shipped Binance capture, raw messages through the guide's wiring: the view holds
    the books' best levels once the replay ends."""
    bus = EventBus()
    handler = WebSocketHandler("market_data_handler")
    bus.register_async(EventType.WEBSOCKET, handler.handle)
    books = OrderBooks(bus)
    v = BookView(books, "NKNUSDT", depth=5, clock=fake, schedule=fake.schedule)
    await Replayer(load_shipped("binance"), bus, what="raw").run_async()
    v.flush()
    book = books["NKNUSDT"]
    assert not book.stale and v.updates > 100
    assert v.bids == book.bids(5) and v.asks == book.asks(5)
    bx, by, ax, ay = depth_steps(book.bids(5), book.asks(5))
    for trace, x, y in ((v.figure.data[0], bx, by), (v.figure.data[1], ax, ay)):
        np.testing.assert_array_equal(trace.x, x)
        np.testing.assert_array_equal(trace.y, y)
