"""evlab.run drives a coroutine from sync code, with or without a running loop, and leaves
the caller's loop and asyncio exactly as they were (tests/test_kernel.py checks it in a
real kernel)."""

import asyncio

import pytest

import evlab
from evlab.aio import run


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


def test_run_without_a_loop_runs_the_coroutine() -> None:
    assert run(answer()) == 42
    assert evlab.run is run


async def test_run_inside_a_running_loop_leaves_no_trace() -> None:
    # what a notebook cell does: sync code called while the kernel's loop runs
    loop = asyncio.get_running_loop()
    loop_class = dict(vars(type(loop)))
    asyncio_names = dict(vars(asyncio))

    def sync_api() -> int:
        return run(answer())

    assert sync_api() == 42
    assert asyncio.get_running_loop() is loop
    assert dict(vars(type(loop))) == loop_class, "the loop's class is not patched"
    assert dict(vars(asyncio)) == asyncio_names, "asyncio is not patched"
    coro = answer()
    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        asyncio.run(coro)
    coro.close()


async def test_run_nests_inside_a_coroutine_it_drives() -> None:
    async def outer() -> tuple[int, int]:
        inner = run(answer())  # sync code inside a coroutine run by evlab.run
        return inner, await answer()

    def sync_api() -> tuple[int, int]:
        return run(outer())

    assert sync_api() == (42, 42)


async def test_the_callers_loop_comes_back_after_an_error() -> None:
    loop = asyncio.get_running_loop()

    async def fails() -> None:
        await asyncio.sleep(0)
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        run(fails())
    assert asyncio.get_running_loop() is loop
    assert await answer() == 42


async def test_a_future_of_the_callers_loop_is_refused_not_awaited_forever() -> None:
    pending = asyncio.get_running_loop().create_future()

    async def waits() -> None:
        await pending

    with pytest.raises(RuntimeError, match="different loop"):
        run(waits())
    pending.cancel()


def test_tasks_left_behind_are_cancelled_as_by_asyncio_run() -> None:
    started: list[asyncio.Task[None]] = []

    async def leaves_a_task() -> None:
        started.append(asyncio.create_task(asyncio.sleep(3600)))
        await asyncio.sleep(0)

    run(leaves_a_task())
    assert started[0].cancelled()
