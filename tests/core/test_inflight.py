"""Work in flight: shutdown waits for it for the configured grace, then stops what is left."""

from __future__ import annotations

import asyncio

from core.inflight import InFlight


async def test_drain_waits_for_handlers_and_background_work_that_finish_in_time() -> None:
    work, done = InFlight(), []

    async def handler() -> None:
        async with work.tracked():
            await asyncio.sleep(0.05)
            done.append("handler")

    async def background() -> None:
        await asyncio.sleep(0.1)
        done.append("background")

    running = asyncio.create_task(handler())
    work.spawn(background())
    await asyncio.sleep(0)
    assert await work.drain(5) and sorted(done) == ["background", "handler"]
    await running


async def test_drain_stops_background_work_still_running_after_the_grace() -> None:
    work, stopped = InFlight(), asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.set()

    task = work.spawn(slow())
    assert not await work.drain(0.05)
    assert stopped.is_set() and task.cancelled()


async def test_a_listener_counts_itself_and_drain_never_waits_for_its_own_task() -> None:
    work = InFlight()

    async def listener() -> bool:
        work.track()
        return await work.drain(5)  # the caller's own task is not waited for

    assert await asyncio.wait_for(listener(), 2)
