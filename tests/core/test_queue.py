"""The fair queue: a cap in flight, round-robin between users, bounded, cancellable, paused by a 429."""

import asyncio
import time

import pytest

from core.events import Options, Progress, StartThread, ThreadKey, User
from core.failures import Busy, Cancelled
from core.queue import FairQueue
from tests.support import until


async def hold(queue, owner, log, release, ticket=None, positions=None):
    notify = positions.append if positions is not None else None
    async with queue.slot(owner, ticket=ticket, notify=notify):
        log.append(owner if ticket is None else ticket)
        await release.wait()


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_busy_user_cannot_starve_another():
    queue, log, release = FairQueue(capacity=1), [], asyncio.Event()
    tasks = [asyncio.create_task(hold(queue, "alice", log, release, ticket=f"a{i}")) for i in range(5)]
    await settle()
    tasks.append(asyncio.create_task(hold(queue, "bob", log, release, ticket="b0")))
    await settle()
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert log == ["a0", "a1", "b0", "a2", "a3", "a4"]
    assert queue.in_flight == 0 and queue.waiting == 0


async def test_a_full_queue_refuses_at_once():
    queue, log, release = FairQueue(capacity=1, max_waiting=2), [], asyncio.Event()
    tasks = [asyncio.create_task(hold(queue, f"u{i}", log, release)) for i in range(3)]
    await settle()
    with pytest.raises(Busy) as info:
        async with queue.slot("late"):
            pass
    assert "Try again in a minute" in info.value.message
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_waiters_hear_their_place_and_cancel_withdraws_one():
    queue, log, release = FairQueue(capacity=1), [], asyncio.Event()
    positions = {name: [] for name in ("b", "c")}
    first = asyncio.create_task(hold(queue, "a", log, release))
    await settle()
    second = asyncio.create_task(hold(queue, "b", log, release, ticket="b", positions=positions["b"]))
    third = asyncio.create_task(hold(queue, "c", log, release, ticket="c", positions=positions["c"]))
    await settle()
    assert positions == {"b": [1], "c": [2]}
    assert queue.cancel("b") and not queue.cancel("b") and not queue.cancel("unknown")
    with pytest.raises(Cancelled):
        await asyncio.wait_for(second, 1)
    assert positions["c"] == [2, 1]
    release.set()
    await asyncio.wait_for(asyncio.gather(first, third), 5)
    assert log == ["a", "c"] and queue.in_flight == 0


async def test_a_cancelled_task_gives_back_its_place():
    queue, log, release = FairQueue(capacity=1), [], asyncio.Event()
    first = asyncio.create_task(hold(queue, "a", log, release))
    await settle()
    waiting = asyncio.create_task(hold(queue, "b", log, release))
    await settle()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert queue.waiting == 0
    release.set()
    await first
    assert queue.in_flight == 0


async def test_pause_holds_every_grant_until_it_passes():
    queue = FairQueue(capacity=2)
    queue.pause(0.2)
    started = time.monotonic()
    async with queue.slot("a"):
        waited = time.monotonic() - started
    assert waited >= 0.18


async def test_engine_reports_queue_place_then_generating(store, model, gemini):
    from core.engine import Engine, EngineConfig

    engine = Engine(store, model, EngineConfig(max_concurrency=1, progress_interval=0.05))
    gemini.hold()
    seen: list[Progress] = []

    async def progress(update: Progress) -> None:
        seen.append(update)

    key = ThreadKey("console", "local", "console", "{}")
    first = asyncio.create_task(engine.handle(StartThread(ThreadKey("x", "s", "c", "1"), User("a"), "one")))
    await until(lambda: gemini.held == 1)
    asked = StartThread(key, User("b"), "two", options=Options())
    second = asyncio.create_task(engine.handle(asked, progress=progress))
    await until(lambda: seen, what="the place in line")
    gemini.release(1)  # the first answers; the second gets the slot and reaches Gemini
    await until(lambda: gemini.held == 1 and [p.stage for p in seen].count("generating") >= 2, what="generating, twice")
    gemini.release()
    reply = await second
    assert (await first).ok and reply.ok
    stages = [p.stage for p in seen]
    assert stages[0] == "queued" and seen[0].position == 1 and "generating" in stages
    assert stages.index("generating") > 0 and all(s == "generating" for s in stages[stages.index("generating"):])
    assert seen[-1].elapsed > seen[stages.index("generating")].elapsed > 0  # generating is re-reported as time goes


async def test_engine_cancel_by_ticket(store, model, gemini):
    from core.engine import Engine, EngineConfig

    engine = Engine(store, model, EngineConfig(max_concurrency=1))
    gemini.hold()
    first = asyncio.create_task(engine.handle(StartThread(ThreadKey("x", "s", "c", "1"), User("a"), "one")))
    await until(lambda: gemini.held == 1)
    second = asyncio.create_task(
        engine.handle(StartThread(ThreadKey("x", "s", "c", "2"), User("b"), "two"), ticket="t-2")
    )
    await until(lambda: engine.queue.waiting == 1)
    assert engine.cancel("t-2")
    reply = await second
    gemini.release()
    assert isinstance(reply.failure, Cancelled) and (await first).ok
    assert gemini.calls == 1
    assert (await store.get_turn(reply.turn_id)).status == "failed"  # the request is kept for a reroll


async def test_engine_serves_a_second_user_before_the_first_users_backlog(store, model, gemini):
    from core.engine import Engine, EngineConfig

    engine = Engine(store, model, EngineConfig(max_concurrency=1))
    gemini.hold()
    alice = [asyncio.create_task(engine.handle(StartThread(ThreadKey("x", "s", "c", f"a{i}"), User("alice"), f"a{i}")))
             for i in range(6)]
    await until(lambda: gemini.held == 1 and engine.queue.waiting == 5)
    asked = asyncio.create_task(engine.handle(StartThread(ThreadKey("x", "s", "c", "b"), User("bob"), "bob's fox")))
    await until(lambda: engine.queue.waiting == 6, what="bob in line behind alice's backlog")
    gemini.release()
    bob = await asked
    assert bob.ok
    order = [wire.prompt for wire in gemini.requests]
    assert order.index("bob's fox") <= 2, order  # behind at most the one running and the one next in rotation
    assert all(reply.ok for reply in await asyncio.gather(*alice))
