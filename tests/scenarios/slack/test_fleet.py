"""Scenario: two Slack HTTP workers behind a load balancer, each with its own engine and its own connections to one
PostgreSQL: events spread over both, a retry delivered to the other worker is answered once, a thread started on
one goes on on the other with its history, and a budget holds across both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import pytest

from adapters.slack.app import SlackBot
from core.budget import Accountant, Limits
from core.costs import Prices
from core.engine import Engine, EngineConfig
from core.model import GeminiModel
from core.store import Store
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator, serve_bolt_app
from tests.scenarios.slack.harness import CH, imagine, settings_for
from tests.support import gemini_config, until

pytestmark = pytest.mark.scenario


@dataclass
class Worker:
    engine: Engine
    bot: SlackBot
    url: str


@asynccontextmanager
async def fleet(
    database: str, gemini: GeminiEmulator, emu: SlackEmulator, limits: Limits | None = None, count: int = 2
) -> AsyncIterator[list[Worker]]:
    """`count` workers on one database, each served on its own port (as separate processes would be)."""
    async with AsyncExitStack() as stack:
        workers = []
        for _ in range(count):
            store = await Store.open(database)
            stack.push_async_callback(store.close)
            model = GeminiModel(gemini_config(gemini))
            stack.push_async_callback(model.aclose)
            engine = Engine(store, model, EngineConfig(quota_delay_s=0.01),
                            accountant=Accountant(store, limits or Limits(), Prices()))
            bot = SlackBot(engine, settings_for(emu))
            stack.push_async_callback(bot.aclose)
            url = await stack.enter_async_context(serve_bolt_app(bot.app))
            workers.append(Worker(engine, bot, url))
        emu.app_url = workers[0].url
        yield workers


def answered(emu: SlackEmulator, thread_ts: str) -> Callable[[], int]:
    return lambda: len([u for u in emu.uploads if u.thread_ts == thread_ts])


async def test_events_spread_over_two_workers_are_each_answered_once(postgres_url, gemini, slack_emu):
    async with fleet(postgres_url, gemini, slack_emu) as (a, b):
        for worker in (a, b, a, b):
            await slack_emu.send_slash_command("/imagine", f"a fox from {worker.url[-20:]}", url=worker.url)
        await until(lambda: len(slack_emu.uploads) == 4, timeout=15, what="four images")
        assert len(gemini.requests) == 4
        assert a.engine.stats()["active_requests"] == b.engine.stats()["active_requests"] == 0


async def test_one_slack_event_delivered_to_both_workers_is_answered_once(postgres_url, gemini, slack_emu):
    async with fleet(postgres_url, gemini, slack_emu) as (a, b):
        root_ts, _ = await imagine(slack_emu, "a red fox")
        event = slack_emu.user_message(CH, "make it night", thread_ts=root_ts)
        # Slack's retry of the same event reaches the other worker while the first is still at work.
        await asyncio.gather(
            slack_emu.send_event(event, event_id="Ev1", url=a.url),
            slack_emu.send_event(event, event_id="Ev1", url=b.url),
        )
        await until(lambda: answered(slack_emu, root_ts)() == 2, timeout=15, what="the answer")
        await asyncio.sleep(0.3)  # a double answer would have been uploaded by now
        assert answered(slack_emu, root_ts)() == 2 and len(gemini.requests) == 2


async def test_a_thread_started_on_one_worker_is_refined_on_the_other_with_its_history(
    postgres_url, gemini, slack_emu
):
    async with fleet(postgres_url, gemini, slack_emu) as (a, b):
        slack_emu.app_url = a.url
        root_ts, _ = await imagine(slack_emu, "a red fox")
        await slack_emu.send_event(slack_emu.user_message(CH, "make it night", thread_ts=root_ts), url=b.url)
        await until(lambda: answered(slack_emu, root_ts)() == 2, timeout=15, what="the refinement")
        first, second = gemini.requests
        assert len(first.contents) == 1 and len(second.contents) == 3  # the fox, its image, then "make it night"
        assert second.contents[0]["parts"][0]["text"] == "a red fox"


async def test_twenty_requests_over_two_workers_hold_a_budget_of_five_and_a_half_images(
    postgres_url, gemini, slack_emu
):
    price = Prices().estimate(EngineConfig().default_model, None)
    async with fleet(postgres_url, gemini, slack_emu, Limits(space_daily_usd=5.5 * price)) as workers:
        gemini.hold()  # every reservation is taken (or refused) before any image is made
        acks = await asyncio.gather(*(
            slack_emu.send_slash_command("/imagine", f"fox number {i}", url=workers[i % 2].url) for i in range(20)
        ))
        # A request that arrives once the budget is already held is refused in the command's own answer, before
        # any root message; one admitted earlier is refused in its thread when its reservation does not fit.
        at_once = sum("daily image budget" in (ack.body or "") for ack in acks)

        def refusals() -> int:
            return at_once + sum("daily image budget" in (m.get("text") or "") for m in slack_emu.bot_messages(CH))

        await until(lambda: gemini.held + refusals() == 20, timeout=20, what="every request answered or held")
        assert 5 <= gemini.held <= 6
        made = gemini.held
        gemini.release()
        await until(lambda: len(slack_emu.uploads) == made, timeout=20, what="the images")
        assert refusals() == 20 - made
