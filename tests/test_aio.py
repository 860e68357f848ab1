"""evlab.run drives a coroutine from sync code, with or without a running loop."""

import asyncio

import evlab
from evlab.aio import run


async def answer():
    await asyncio.sleep(0)
    return 42


def test_run_without_a_loop_is_asyncio_run():
    assert run(answer()) == 42


async def test_run_inside_a_running_loop_nests_it():
    # what a notebook cell does: sync code called while the kernel's loop runs
    def sync_api():
        return run(answer())

    assert sync_api() == 42
    assert evlab.run is run
