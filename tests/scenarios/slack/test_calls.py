"""How many Slack Web API calls a turn costs: as few as its UX needs (issue 8). Counted from the emulator's record of
every request, through the real Bolt app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.slack.app import SlackBot
from adapters.slack.config import SlackConfig
from core.engine import Engine
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import DEFAULT_CHANNEL, UPLOAD_STEP, SlackEmulator, serve_bolt_app, wait_for

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
async def running(engine: Engine, slack: SlackEmulator) -> AsyncIterator[SlackBot]:
    bot = SlackBot(engine, SlackConfig(bot_token=slack.bot_token, signing_secret=slack.signing_secret,
                                       api_url=slack.api_url))
    try:
        async with serve_bolt_app(bot.app) as url:
            slack.app_url = url
            yield bot
    finally:
        await bot.aclose()


async def test_a_refinement_turn_makes_four_web_api_calls_and_one_upload(
    slack: SlackEmulator, running: SlackBot, gemini: GeminiEmulator
) -> None:
    await slack.send_slash_command("/imagine", "a lighthouse")
    [first] = await wait_for(lambda: slack.uploads)
    await running.drain()
    assert first.thread_ts is not None
    before = len(slack.calls)

    await slack.send_event(slack.user_message(DEFAULT_CHANNEL, "make it night", thread_ts=first.thread_ts))
    await wait_for(lambda: len(slack.uploads) == 2)
    await running.drain()

    # the hourglass on and off the root; the upload's three steps, the last carrying the buttons (no status reply,
    # no second message): 10 calls before issue 8
    assert [c.method for c in slack.calls[before:]] == [
        "reactions.add", "files.getUploadURLExternal", UPLOAD_STEP, "files.completeUploadExternal", "reactions.remove",
    ]
    [image] = [m for m in slack.thread(DEFAULT_CHANNEL, first.thread_ts) if m.get("ts") == slack.uploads[1].message_ts]
    assert image["files"] and any(b["type"] == "actions" for b in image["blocks"])
