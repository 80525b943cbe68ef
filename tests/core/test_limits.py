"""Cost control, access control, usage, 429 back-off and shutdown, through the engine and the emulator."""

import asyncio
from datetime import UTC, datetime

import pytest

from core.budget import Accountant, Limits
from core.costs import DEFAULT_PRICES, Prices, parse_overrides
from core.engine import Engine, EngineConfig
from core.events import NextTurn, ShowUsage, StartThread, ThreadKey, User
from core.failures import Forbidden, Interrupted, LimitReached
from core.policy import Policy
from core.store import Store
from tests.emulators.gemini import Status
from tests.support import until

FLASH = "gemini-2.5-flash-image"


class Clock:
    def __init__(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def make_engine(store, model, limits=None, clock=None, policy=None, **config):
    clock = clock or Clock("2026-11-22T12:00:00")
    accountant = Accountant(store, limits or Limits(), Prices(), clock)
    config = {"quota_delay_s": 0.01, "default_model": FLASH, **config}
    return Engine(store, model, EngineConfig(**config), policy=policy, accountant=accountant, clock=clock)


def key(n, space="g1", platform="discord"):
    return ThreadKey(platform, space, "c1", str(n))


async def test_fifty_simultaneous_requests_against_a_ten_image_limit(store, model, gemini):
    engine = make_engine(store, model, Limits(user_daily_images=10), max_concurrency=4)
    gemini.hold()
    running = asyncio.gather(*(engine.handle(StartThread(key(i), User("u"), f"fox {i}")) for i in range(50)))
    await until(lambda: gemini.held == 4 and engine.queue.waiting == 6, what="ten requests admitted at once")
    gemini.release()
    replies = await running
    assert sum(r.ok for r in replies) == 10 and gemini.calls == 10
    refused = [r.failure for r in replies if not r.ok]
    assert all(isinstance(f, LimitReached) and "daily limit of 10 images" in f.message for f in refused)
    assert "resets at 2026-11-23 00:00 UTC (in 12 h 0 min)" in refused[0].message


async def test_a_space_budget_holds_under_concurrency(store, model, gemini):
    price = Prices().estimate(FLASH, None)
    engine = make_engine(store, model, Limits(space_daily_usd=price * 10), max_concurrency=4)
    gemini.hold()
    running = asyncio.gather(*(engine.handle(StartThread(key(i), User(f"u{i}"), "x")) for i in range(50)))
    await until(lambda: gemini.held == 4 and engine.queue.waiting == 6, what="ten requests admitted at once")
    gemini.release()
    replies = await running
    assert sum(r.ok for r in replies) == 10
    assert "daily image budget" in next(r.failure.message for r in replies if not r.ok)


async def test_a_failed_call_releases_its_reservation(store, model, gemini):
    engine = make_engine(store, model, Limits(user_daily_images=1))
    gemini.push(Status(400, message="bad"))
    assert not (await engine.handle(StartThread(key(1), User("u"), "x"))).ok
    assert (await engine.handle(StartThread(key(2), User("u"), "x"))).ok
    assert isinstance((await engine.handle(StartThread(key(3), User("u"), "x"))).failure, LimitReached)


async def test_limits_reset_at_the_day_boundary(store, model, gemini):
    clock = Clock("2026-11-22T23:59:00")
    engine = make_engine(store, model, Limits(user_daily_images=2), clock=clock)
    for i in range(2):
        assert (await engine.handle(StartThread(key(i), User("u"), "x"))).ok
    refused = await engine.handle(StartThread(key(9), User("u"), "x"))
    assert "(in 0 h 1 min)" in refused.failure.message
    clock.now += 61
    assert (await engine.handle(StartThread(key(10), User("u"), "x"))).ok


async def test_monthly_budget_names_the_next_month(store, model, gemini):
    clock = Clock("2026-12-31T10:00:00")
    engine = make_engine(store, model, Limits(space_monthly_usd=0.05), clock=clock)
    assert (await engine.handle(StartThread(key(1), User("u"), "x"))).ok
    refused = await engine.handle(StartThread(key(2), User("v"), "x"))
    assert "monthly image budget" in refused.failure.message and "2027-01-01 00:00 UTC" in refused.failure.message


async def test_admins_are_exempt_from_user_limits(store, model, gemini):
    policy = Policy(admins=frozenset({"discord:boss"}), admin_roles=frozenset({"discord:mods"}))
    engine = make_engine(store, model, Limits(user_daily_images=1), policy=policy)
    for i in range(3):
        assert (await engine.handle(StartThread(key(i), User("boss"), "x"))).ok
        assert (await engine.handle(StartThread(key(10 + i), User("mod", roles=("mods",)), "x"))).ok


async def test_allow_lists_refuse_elsewhere_with_a_reason(store, model, gemini):
    policy = Policy(allowed_spaces=frozenset({"discord:g1", "slack:T1"}), allowed_channels=frozenset({"discord:c1"}))
    engine = make_engine(store, model, policy=policy)
    assert (await engine.handle(StartThread(key(1), User("u"), "x"))).ok
    other_server = await engine.handle(StartThread(key(2, space="g2"), User("u"), "x"))
    assert isinstance(other_server.failure, Forbidden) and "server or workspace" in other_server.failure.message
    other_channel = await engine.handle(StartThread(ThreadKey("discord", "g1", "c9", "t"), User("u"), "x"))
    assert "channel" in other_channel.failure.message
    assert (await engine.handle(StartThread(key(3, space="T1", platform="slack"), User("u"), "x"))).failure is None
    assert gemini.calls == 2


async def test_usage_matches_what_was_recorded(store, model, gemini):
    clock = Clock("2026-11-22T12:00:00")
    policy = Policy(admins=frozenset({"discord:boss"}))
    engine = make_engine(store, model, Limits(user_daily_images=5, space_daily_usd=1.0), clock=clock, policy=policy)
    for i in range(3):
        await engine.handle(StartThread(key(i), User("ann"), "x"))
    clock.now -= 86_400  # yesterday: counts for the month, not for today
    await engine.handle(StartThread(key(5), User("ann"), "x"))
    clock.now += 86_400
    await engine.handle(StartThread(key(6), User("bob"), "x"))
    each = Prices().cost(FLASH, None, 12, 1290)
    rows = await store.usage_rows("discord", "g1")
    assert [round(r[7], 6) for r in rows] == [round(each, 6)] * 5
    ann = await engine.handle(ShowUsage(key(0), User("ann")))
    assert ann.notices[0] == f"You: 3 of 5 images today (${3 * each:.2f}), 4 this month (${4 * each:.2f})."
    assert ann.notices[1] == f"This server/workspace: ${4 * each:.2f} of $1.00 today, ${5 * each:.2f} this month."
    assert len(ann.notices) == 2
    boss = await engine.handle(ShowUsage(key(0), User("boss")))
    assert boss.notices[2].startswith("Top users this month: ann 4 images") and "bob 1 images" in boss.notices[2]


def test_price_table_and_overrides():
    assert DEFAULT_PRICES["gemini-3-pro-image"].image["4K"] == 0.24
    prices = Prices.with_overrides(parse_overrides("pro:4K=0.30, flash-2.5=0.05"))
    assert prices.table["gemini-3-pro-image"].image["4K"] == 0.30
    assert prices.table[FLASH].image["1K"] == 0.05
    assert prices.cost(FLASH, None, 0, 1290) == pytest.approx(0.05)
    for bad in ("pro:8K=1", "dalle=1", "flash=-1", "flash=cheap"):
        with pytest.raises(ValueError):
            parse_overrides(bad)


async def test_a_429_pauses_the_whole_queue_then_the_request_goes_again(store, model, gemini):
    engine = make_engine(store, model, max_concurrency=2)
    gemini.push(Status(429, retry_after=0.3))
    started = asyncio.get_running_loop().time()
    first = await engine.handle(StartThread(key(1), User("u"), "x"))
    assert first.ok and gemini.calls == 2
    assert asyncio.get_running_loop().time() - started >= 0.3


async def test_quota_still_exhausted_after_every_attempt_is_explained(store, model, gemini):
    engine = make_engine(store, model, quota_attempts=3)
    gemini.push(*[Status(429)] * 3)
    reply = await engine.handle(StartThread(key(1), User("u"), "x"))
    assert reply.failure.kind == "quota" and "quota" in reply.failure.message and gemini.calls == 3


async def test_shutdown_lets_work_finish_and_refuses_new_work(store, model, gemini):
    engine = make_engine(store, model)
    gemini.hold()
    running = asyncio.create_task(engine.handle(StartThread(key(1), User("u"), "x")))
    await until(lambda: gemini.held == 1)
    gemini.release()  # the answer is on its way, not yet back: shutdown must wait for it
    await engine.shutdown(grace=5)
    assert (await running).ok
    late = await engine.handle(NextTurn(key(1), User("u"), "more"))
    assert isinstance(late.failure, Interrupted) and "restarting" in late.failure.message


async def test_shutdown_interrupts_what_outlasts_the_grace_and_keeps_the_request(store, model, gemini):
    engine = make_engine(store, model)
    gemini.hold()  # Gemini does not answer within the grace
    running = asyncio.create_task(engine.handle(StartThread(key(1), User("u"), "a slow fox")))
    await until(lambda: gemini.held == 1)
    await engine.shutdown(grace=0.1)
    reply = await asyncio.wait_for(running, 2)
    assert isinstance(reply.failure, Interrupted) and "Try again" in reply.failure.message and reply.failure.retryable
    turn = await store.get_turn(reply.turn_id)
    assert turn.status == "failed" and turn.prompt == "a slow fox"
    assert engine.stats()["failures_last_hour"] == {"interrupted": 1}


async def test_shutdown_interrupts_queued_requests_too_without_calling_gemini(store, model, gemini):
    engine = make_engine(store, model, max_concurrency=1)
    gemini.hold()  # Gemini does not answer within the grace
    running = [asyncio.create_task(engine.handle(StartThread(key(i), User(f"u{i}"), f"fox {i}"))) for i in range(3)]
    await until(lambda: gemini.held == 1 and engine.queue.waiting == 2)
    started = asyncio.get_running_loop().time()
    await engine.shutdown(grace=0.1)
    replies = await asyncio.wait_for(asyncio.gather(*running), 2)
    assert asyncio.get_running_loop().time() - started < 1.5
    assert all(isinstance(r.failure, Interrupted) for r in replies) and gemini.calls == 1
    assert [(await store.get_turn(r.turn_id)).status for r in replies] == ["failed"] * 3


async def test_a_429_on_one_process_pauses_the_other_too(postgres_url, model, gemini):
    first, second = await Store.open(postgres_url), await Store.open(postgres_url)
    try:
        engines = [make_engine(store, model) for store in (first, second)]
        gemini.push(Status(429, retry_after=0.5))
        loop = asyncio.get_running_loop()
        hit = asyncio.create_task(engines[0].handle(StartThread(key(1), User("u1"), "x")))
        await until(lambda: gemini.calls == 1, what="the 429")
        await until(first.paused_until, what="the shared pause")
        asked = loop.time()
        other = await engines[1].handle(StartThread(key(2), User("u2"), "y"))  # another process, another user
        assert other.ok and loop.time() - asked >= 0.3  # it waited out the fleet's pause
        assert (await hit).ok
    finally:
        await first.close()
        await second.close()
