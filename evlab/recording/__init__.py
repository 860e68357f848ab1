"""Record what a bus emits, look at it as DataFrames, keep it as Parquet, read it back.

    with evlab.record(bus, autosave="runs/today") as rec:   # or EventRecorder(bus)
        ...                                                  # emit, run strategies
    rec.to_frame()          # one row per event, in seq order
    rec.bars("AAPL")        # OHLCV indexed by event time; also ticks/signals/orders/fills/errors
    rec.save("run.parquet")
    rec2 = evlab.load_recording("run.parquet")   # or a folder: many sessions, autosave parts
    big = evlab.open_recording("runs/")          # lazy: footers only; Replayer/compare stream it
    rec2.to_frame(), rec2.bars("AAPL"), list(rec2.to_events())   # the recorder's interface

Where things are: ``recorder.py`` (``EventRecorder``, ``record``), ``table.py`` (its in-memory
table: the columns of each event class, appenders, the table as Arrow), ``columns.py`` (one
field's column and its kinds), ``convert.py`` (Arrow table -> DataFrame, -> events again),
``tape.py`` (the bus's tape the recorder reads), ``views.py`` (``bars()``, ``signals()`` ...
and the notebook summary, written once for both classes), ``recording.py`` (``Recording``),
``storage.py`` (Parquet files and folders),
``lazy.py`` (``open_recording``: a recording read a row group at a time),
``metadata.py`` (the metadata of a file, checked when it is read), ``errors.py``
(``RecordingError``).

How it works (and why):

* **Order, and the tape.** The recorder does not subscribe to its bus: the dispatch core
  appends every event it dispatches to the bus's *tape* (one C ``list.append``) before any
  handler runs, whatever their priority (``priority=`` is accepted and has no effect), so
  rows come in dispatch order: depth-first, a thread's events in seq order. Emits from
  several threads may interleave; the table is then sorted by seq. The tape is made into
  rows in bulk (``tape.py``): when it holds 1,024 events or a flush or trim is due, at the
  end of the ``emit`` that filled it (after that event's handlers), and before anything is
  read from the recorder (``len()``, ``to_frame()``, ``save()``, ``metadata()`` ...). The
  tape holds at most that many events (plus the emits still nested when it fills).
* **Columns, not objects.** Every row has shared columns: seq, event time, emit time,
  cause (-1 for none), class code, symbol and source codes (one dict lookup each, into
  string tables). Each event class has its own column group (bars: OHLCV), filled by an
  appender function made once per class. The numbers of the numpy columns (the shared
  ones, float fields) go to a typed stage per column (``evlab._core.Stage``: float64,
  int64, int32 or int16 in one buffer, kept from chunk to chunk), written straight from C
  by a compiled row plan; other values to one Python list per column (``list.append`` is
  the cheapest append CPython has). Every 16,384 rows they are committed to typed chunks
  (numpy int64/int32/int16/float64: one copy of the stage; Arrow arrays for strings,
  nullable ints, raw bytes). A bar then holds 82 bytes.
* **Any event class.** Classes evlab does not know (user subclasses, PortfolioEvent) are
  recorded from ``dataclasses.fields``: floats, ints, bools, strings (dictionary-encoded),
  ``str | bytes`` exactly (the bytes + a str/bytes flag), anything else as JSON text
  (``orjson``; ``repr`` where JSON can't say it). Nothing is ever pickled. A value that
  does not fit its column (a str in a float field) is found when the tape is made into
  rows: no part of that row is kept, every other row is; it is logged, counted in
  ``unrecorded``, and an ``ErrorEvent`` (``handler`` the recorder's name, caused by the
  event) is published once the rows are made, so it follows the events recorded with it
  and is itself recorded. Events given to ``append`` (no bus) are made into rows the same
  way: a bad one is left out, logged and counted.
* **To pandas.** ``to_frame()`` hands the chunks to Arrow without copying (dictionary arrays
  for type/symbol/source/...; categories are the values present, sorted) and calls
  ``to_pandas``. Parquet files store the same Arrow table, so a save/load round trip is
  exact: dtypes, UTC nanosecond times, seqs, causes, raw payloads.
* **Bounded.** ``max_events=N`` keeps the newest N rows: the buffers grow to N + N/4 rows,
  then the oldest are dropped in one step (memory is given back a chunk at a time);
  ``to_frame()`` always shows exactly the newest N and ``dropped`` counts the rest.
  ``pause()``/``resume()``, ``clear()`` and ``types=[...]`` change what is kept; ``close()``
  (or leaving the ``with`` block) unsubscribes. The bus holds the recorder weakly, like any
  bound method: keep a reference (or use ``with``), or it stops when garbage-collected.
* **Threads.** The tape is drained under its lock, a chunk at a time and in order, then each
  recorder's lock: rows from several threads never mix, and a read from another thread
  sees every event dispatched before it.
* **Crash safety.** With ``autosave=folder`` the recorder writes ``part-00001.parquet``,
  ... from its own record path whenever ``flush_every`` new rows (default 10,000) or
  ``flush_interval`` seconds (checked as events arrive) have accumulated, and the last part
  on ``close()``, ``save()`` or interpreter exit. Each part is written to a temporary file,
  fsynced and renamed, so a part is whole or absent. An exception or Ctrl-C inside a
  ``with`` block closes the recorder, so everything recorded is on disk; if the kernel
  dies, at most the rows since the last part are lost. ``load_recording(folder)`` reads the
  parts back as one session. Files are written in row groups of at most 131,072 rows with
  min/max statistics (seq and event time included), which ``open_recording`` streams. A
  part whose writer was killed mid-write stays a hidden
  ``.part-*.tmp``: loading warns about it, the next autosave to that folder removes it
  (with a warning naming it). With ``max_events``, rows reach a part before leaving memory.
* **Back to events.** ``Recording.to_events()`` rebuilds the events from the columns, a
  batch at a time, for replays (about 3 us an event through the validating constructors,
  under 1 us with ``validate=False``).
"""

from evlab.recording.errors import RecordingError
from evlab.recording.lazy import LazyRecording, open_recording
from evlab.recording.recorder import RECORDER_PRIORITY, EventRecorder, record
from evlab.recording.recording import Recording
from evlab.recording.storage import load_recording, open_dataset
from evlab.recording.views import RecordedEvents

__all__ = ["RECORDER_PRIORITY", "EventRecorder", "LazyRecording", "RecordedEvents",
           "Recording", "RecordingError", "load_recording", "open_dataset", "open_recording",
           "record"]
