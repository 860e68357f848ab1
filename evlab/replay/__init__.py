"""Replay recorded or historical events on a bus, as they happened.

    rp = Replayer(load_recording("live.parquet"), bus)   # or open_recording(path), a bars
                                                         # DataFrame, a Parquet
    rp.run()                   # as fast as possible       # or CSV path, "stocks_daily"
    rp.run(speed=10)           # event-time gaps / 10 in wall time
    rp.start(speed=60); rp.pause(); rp.step(3); rp.resume(); rp.wait()   # notebook cells
    await rp.run_async()       # on the running loop, async handlers awaited in order

**Fresh events.** Every event is rebuilt unstamped with its original class, field values,
source and event time (``time_ns``); the bus stamps it anew (new seq, emit time, cause).
A signal a strategy emits while handling a replayed bar takes the bar's event time, so a
replay reproduces a live session's signals exactly (``evlab.compare`` checks it).

**What is replayed** (``what=``), from a recording:

* ``"roots"`` (default): the events whose cause is not in the recording (no cause, or a
  cause that was not recorded): the bars of a bar replay, the WebSocketEvents and feed
  SystemEvents of a live session. Everything else (decoded bars, signals, orders, fills,
  portfolio, errors) is what the handlers on the bus produce again. If the bus has no
  WEBSOCKET handler when the Replayer is made, nothing would decode the raw messages: the
  recorded bars are replayed in their place, with a warning (no bars either: a warning
  saying a WebSocketHandler is missing).
* ``"raw"``: only the root WebSocketEvents: register a ``WebSocketHandler`` on the bus and
  the exchange adapter decodes them again (replay them with ``run_async``, or ``run`` from
  plain code, so its async ``handle`` runs by the bus's rules).
* ``"bars"``: every BarEvent, whatever its cause (the bars decoded from a live session,
  whose causes were WebSocketEvents); WebSocketEvents are skipped.
* ``"all"``, an event type (``"signal"``) or a list of them (``["bar", "system"]``):
  exactly those events, whatever their cause.

**Streamed** (``evlab.open_recording(path)``, or a recording path of more than
``sources.STREAM_ROWS`` rows): the same selection and order, read a Parquet row group at a
time in bounded memory (``stream.py``; ``plan.stats`` counts what it held). Sessions are
merged by event time (ties: session order, then seq) under the floor the row groups'
statistics give; rows of a session out of seq order, or event times out of order by more
than the lazy recording's ``max_rows``, are a ``RecordingError`` naming the way on, never a
silent reordering. Bars are checked a window at a time; roots are told by ``SeqRanges``.

A DataFrame, file or dataset of bars replays its bars (``"raw"`` is an error there).
``symbols`` keeps those symbols (events without a symbol stay); ``start``/``end`` keep
event times in ``[start, end)``.

**Order.** ``order="time"`` (default): by event time; events with the same event time
(several symbols' bars of one minute) keep their original order: by ``seq`` in a
recording (several sessions: by session, earliest first, then seq), by row in a DataFrame
(or by its ``seq`` column if it has one). The sort is stable, so the order is deterministic.
``order="recorded"`` keeps a recording's rows (seq order) or a frame's rows as they are.

**Checks.** Bars are checked once, vectorised, before anything is emitted, for what
``BarEvent`` checks (symbol; finite positive prices; volume >= 0; low <= open, close <=
high): a bad row raises ``ValueError`` naming the row (or recorded seq), the field and the
value; nothing is skipped. Then they are built without ``__init__`` (see ``bars.py``).
Other recorded classes go through their constructors (``validate=False``: trusted, faster).
Unknown dataset names, frames missing columns, unreadable files raise ``ValueError``
(``RecordingError``, a ValueError, for broken recordings or unknown event classes;
``FileNotFoundError`` for a missing file) when the Replayer is made.

**Running.** ``run(speed=None)`` emits with ``bus.emit`` as fast as possible; ``speed=k``
sleeps so that event-time deltas / k elapse in wall time (anchored at the first event and
again after each pause, so a pause never makes it rush). ``start()`` runs ``run_async()`` on
a background loop (a Lab's, or one of its own on a daemon thread: handlers run there),
``run_async()`` on the running loop with ``emit_async``. ``pause()``/``resume()``/``stop()``
work from any thread, cell or handler and take effect before the next event; ``step(n)``
emits the next ``n`` (when idle, or while a background run is paused); ``progress`` is
``(done, total)``. ``stop()`` keeps the position (``run()`` goes on; ``rewind()`` starts
over). Every run returns a ``ReplaySummary`` (events per type, event-time span, wall
seconds, rate) and shows a ``tqdm.auto`` bar when it has ``Replayer.PROGRESS_MIN`` (10,000)
events or more (``progress=True/False`` to force), updated once per chunk.
"""

from evlab.replay.replayer import Progress, Replayer, ReplaySummary

__all__ = ["Progress", "ReplaySummary", "Replayer"]
