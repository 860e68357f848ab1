# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Order books: a captured session replayed as a live exchange
#
# Most of what an exchange's WebSocket feed carries is not bars but trades, best bid/ask and
# order-book changes. This notebook takes a real **captured Binance session** (shipped in
# `datasets/cryptofeed_captures`: 30 seconds of spot depth diffs, `bookTicker`, `aggTrade`
# and klines for four symbols, with the REST depth snapshots taken during the session),
# serves it on 127.0.0.1 exactly as Binance served it, and connects to it as to the
# exchange: the feed fetches the REST snapshots its books need, `lab.books` builds one
# order book per symbol under Binance's sequencing rules, a live chart draws the best
# bid/ask band and the trades, a depth view follows a book. Then it records the session,
# replays the recording into fresh books and checks with `evlab.compare` that the replay
# gives **the same books and quotes**.

# %%
import tempfile
import threading
from pathlib import Path

import pandas as pd

import evlab
from evlab import EventType
from evlab.datasets import datasets_dir
from evlab.plot import depth_chart

captures = datasets_dir() / "cryptofeed_captures"
scratch = tempfile.TemporaryDirectory(prefix="evlab-06-")  # removed at the end
workdir = Path(scratch.name)

# %% [markdown]
# ## 1. Serve the capture as the exchange
#
# `lab.serve_capture(...)` starts the capture server (what `evlab serve --capture` runs) on
# the lab's background loop: each message verbatim, wrapped as the endpoint a client chose
# does it, only the streams it subscribed to, at the recorded pace times `speed` (here 20:
# the 30 seconds in 1.5), and the REST depth snapshots answered on the same port.

# %%
lab = evlab.Lab(name="books")
server = lab.serve_capture(captures / "BINANCE.ws.1.0", http=captures / "BINANCE.http.0.0",
                           speed=20)
print(server)
server.streams

# %% [markdown]
# ## 2. The books, a chart with the quote band, a depth view
#
# `lab.books` is an `evlab.OrderBooks` on the lab's bus. Make it **before** connecting: the
# feed's first events are the REST snapshots. It publishes a `QuoteEvent` (source
# `"orderbooks"`) whenever the top of a book changes; the venue's own `bookTicker` quotes
# come from the feed (source `"feed"`). `quote_source=` picks which ones the chart's band
# draws. Trades (`aggTrade`) are markers coloured by the taker's side.

# %%
books = lab.books
chart = lab.chart("NKNUSDT", quote_source="orderbooks", height=450)
chart

# %%
view = lab.book_view("NKNUSDT", depth=15)
view

# %% [markdown]
# ## 3. Connect, as to Binance
#
# `lab.connect(server)` subscribes to every captured stream on Binance's combined stream
# (`/stream` and a `SUBSCRIBE` message, as Binance's clients do); the emitter fetches
# `/api/v3/depth` for each symbol with a depth stream from the same host. `lab.wait_finished`
# blocks until the capture has been served and everything is delivered (the server closes
# normally after the last message).

# %%
feed = lab.connect(server)
stats = lab.wait_finished(feed, timeout=60)
print({k: stats[k] for k in ("received", "delivered", "rest_fetched", "rest_errors")})
assert stats["received"] == stats["delivered"] and stats["rest_fetched"] == 4
assert sorted(books) == ["BLZETH", "LRCBTC", "NKNUSDT", "RUNEEUR"]
assert not any(books[s].stale for s in books), "every book synced from its snapshot"
assert books.stats["gaps"] == 0 and not lab.errors

# %%
nkn = books["NKNUSDT"]
print(nkn)
print(f"best bid {nkn.best_bid}, best ask {nkn.best_ask}, mid {nkn.mid:.5f}, "
      f"spread {nkn.spread:.4f}")
nkn.to_frame(5)

# %% [markdown]
# The chart and the depth view redraw at most 10 times a second on the kernel's loop; the
# cell above blocked that loop, so `flush()` draws now what came in. The band holds every
# quote the books published for NKNUSDT; the view holds the book's 15 best levels a side.
# How many quotes there are depends on the race Binance's rules are written for: diffs that
# arrive before the REST snapshot are buffered, then applied with it (one quote for them
# all). The recording keeps the order things arrived in, so its replay gives the same ones.

# %%
chart.flush()
view.flush()
frame = lab.frame()
tops = frame[(frame["type"] == "quote") & (frame["source"] == "orderbooks")
             & (frame["symbol"] == "NKNUSDT")]
bid_trace = next(trace for trace in chart.figure.data if trace.name == "bid")
assert len(tops) >= 1 and list(bid_trace.y) == list(tops["bid"]), "the band: the books' quotes"
assert view.bids == nkn.bids(15) and view.asks == nkn.asks(15)
print(chart.stats["quotes"], "quotes and", chart.stats["trades"], "trade drawn;",
      view.redraws, "depth redraws")

# %% [markdown]
# `depth_chart(book)` draws a book as it is now, as a static figure (a notebook saved with
# outputs keeps it):

# %%
depth_chart(books["LRCBTC"], depth=10)

# %% [markdown]
# ## 4. Record the session, replay the recording, compare
#
# The lab recorded everything: the raw WebSocket messages **and** the REST responses the
# emitter fetched (a Binance depth snapshot names no symbol: its URL does, and the recording
# keeps it). Saved as Parquet and replayed with `what="raw"` under the guide's wiring (a
# `WebSocketHandler` for `EventType.WEBSOCKET`, an `OrderBooks` on the bus), the adapters
# and the books run again, snapshots included. The handler is async, so the replay runs
# with `run_async()` (awaiting each handler in order), driven from this cell by `evlab.run`.

# %%
recorder = lab.recorder
assert recorder is not None, "a Lab records by default"
path = recorder.save(workdir / "books-session.parquet")
lab.stop()
print(f"{path.name}: {path.stat().st_size:,} bytes")
counts = lab.frame()["type"].value_counts()
counts.to_dict()

# %%
bus = evlab.EventBus(name="replay")
decoder = evlab.WebSocketHandler("market_data_handler")
bus.register_async(EventType.WEBSOCKET, decoder.handle)
again = evlab.OrderBooks(bus)
with evlab.record(bus) as replayed:
    evlab.run(evlab.Replayer(evlab.load_recording(path), bus, what="raw").run_async())

differences = evlab.compare(recorder, replayed, types=["book", "quote", "tick"])
assert differences.empty, differences
for symbol in books:
    assert again[symbol].bids() == books[symbol].bids(), symbol
    assert again[symbol].asks() == books[symbol].asks(), symbol
assert replayed.to_frame()["type"].value_counts()["quote"] == counts["quote"]
print("the replay built the same", len(again), "books and published the same quotes")
pd.concat({"live": books["NKNUSDT"].to_frame(3), "replayed": again["NKNUSDT"].to_frame(3)},
          axis=1)

# %%
scratch.cleanup()
assert not [t for t in threading.enumerate() if t.name.startswith("evlab-")]

# %% [markdown]
# The same recording can be served again, live-like, to any client:
# `evlab serve --capture books-session.parquet --speed 10` (an evlab recording holds its
# REST responses itself).
