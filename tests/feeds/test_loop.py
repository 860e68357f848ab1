"""BackgroundLoop: the one asyncio-loop-on-a-thread helper of feeds, servers, replays, Labs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from evlab.feeds.loop import BackgroundLoop
from tests.feeds.support import SAFETY


def test_run_returns_the_result_and_raises_the_error_from_the_loops_thread():
    bg = BackgroundLoop("evlab-test-loop")
    try:
        async def where() -> str:
            await asyncio.sleep(0)
            return threading.current_thread().name

        assert bg.run(where()) == "evlab-test-loop"
        assert bg.running and bg.thread is not None and bg.thread.daemon

        async def fail() -> None:
            raise KeyError("boom")

        with pytest.raises(KeyError, match="boom"):
            bg.run(fail())
        assert bg.submit(where()).result(SAFETY) == "evlab-test-loop"
    finally:
        bg.stop()
    assert not bg.running


def test_everything_submitted_shares_one_thread_and_can_talk_across_tasks():
    bg = BackgroundLoop("evlab-test-loop")
    try:
        queue_ready = bg.run(_make_queue())

        async def consumer() -> list[int]:
            return [await queue_ready.get() for _ in range(3)]

        async def producer() -> None:
            for i in range(3):
                await queue_ready.put(i)

        got = bg.submit(consumer())
        bg.run(producer())
        assert got.result(SAFETY) == [0, 1, 2]
    finally:
        bg.stop()


async def _make_queue() -> asyncio.Queue[int]:
    return asyncio.Queue()


def test_a_timeout_cancels_the_coroutine_and_stop_cancels_what_is_left():
    bg = BackgroundLoop("evlab-test-loop")
    cancelled = []
    seen, waiting = threading.Event(), threading.Event()

    async def forever(tag: str) -> None:
        waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(tag)
            seen.set()
            raise

    with pytest.raises(TimeoutError, match="not done within"):
        bg.run(forever("timed out"), timeout=0.01)
    assert seen.wait(SAFETY) and cancelled == ["timed out"]
    waiting.clear()
    left = bg.submit(forever("left"))
    assert waiting.wait(SAFETY)
    thread = bg.thread
    bg.stop()
    assert thread is not None and not thread.is_alive()
    assert cancelled == ["timed out", "left"] and left.cancelled()


def test_run_from_the_loops_own_thread_is_refused_and_call_awaits_in_place():
    bg = BackgroundLoop("evlab-test-loop")
    try:
        async def value() -> int:
            return 7

        async def nested() -> tuple[str, int]:
            coro = value()
            try:
                bg.run(coro)
            except RuntimeError as exc:
                refused = str(exc)
            return refused, await bg.call(value())

        refused, got = bg.run(nested())
        assert "would wait for itself" in refused and got == 7
    finally:
        bg.stop()


async def test_call_from_another_loop_runs_there_and_stop_can_restart():
    bg = BackgroundLoop("evlab-test-loop")
    try:
        async def where() -> str:
            return threading.current_thread().name

        assert await bg.call(where()) == "evlab-test-loop"
        bg.stop()
        assert not bg.running
        assert await bg.call(where()) == "evlab-test-loop"  # started again on first use
    finally:
        bg.stop()


def test_a_background_replay_runs_on_a_loop_of_its_own_that_ends_with_it():
    from evlab import EventBus, EventType, datasets
    from evlab.replay import Replayer

    bus = EventBus()
    threads = set()
    bus.register(EventType.BAR, lambda bar: threads.add(threading.current_thread()))
    replay = Replayer(datasets.load("btcusd_1m").iloc[:50], bus).start()
    assert replay.wait(SAFETY).events == 50
    [thread] = threads
    assert thread.name.startswith("evlab-replay-") and not thread.is_alive()


def test_started_stops_its_loop_when_the_start_fails_and_finish_always_stops_it():
    """What start_in_thread of both feed servers relies on: no thread outlives a failure."""
    async def fails() -> None:
        raise OSError("address already in use")

    before = {t.name for t in threading.enumerate()}
    with pytest.raises(OSError, match="already in use"):
        BackgroundLoop.started("evlab-test-failing", fails(), SAFETY)
    assert {t.name for t in threading.enumerate()} == before

    async def ok() -> str:
        return "started"

    background = BackgroundLoop.started("evlab-test-ok", ok(), SAFETY)
    assert background.running
    with pytest.raises(OSError):
        background.finish(fails(), SAFETY)  # the stop fails: the loop still ends
    assert not background.running and "evlab-test-ok" not in {
        t.name for t in threading.enumerate()}


def test_a_capture_server_on_a_port_in_use_leaves_no_thread_behind():
    import socket

    from evlab.feeds.capture_server import CaptureServer
    from tests.books import CAPTURES

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = CaptureServer(CAPTURES / "BINANCE.ws.1.0", port=port)
        with pytest.raises(OSError):
            server.start_in_thread(SAFETY)
    assert not [t for t in threading.enumerate() if t.name.startswith("evlab-capture-")]
