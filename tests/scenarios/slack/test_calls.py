"""How many Slack Web API calls a turn costs: as few as its UX needs (issue 8). Counted from the emulator's record of
every request, through the real Bolt app."""

from __future__ import annotations

import json
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


async def test_the_emulator_puts_upload_blocks_on_the_file_message_as_slack_does(slack: SlackEmulator) -> None:
    """files.completeUploadExternal takes `blocks` (ignored when an initial_comment is given); a message that keeps
    its blocks outlives its deleted files."""
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a fox"}}]
    png = b"\x89PNG\r\n\x1a\n"
    await client.files_upload_v2(channel=DEFAULT_CHANNEL, file=png, filename="a.png", blocks=json.dumps(blocks))
    await client.files_upload_v2(
        channel=DEFAULT_CHANNEL, file=png, filename="b.png", blocks=json.dumps(blocks), initial_comment="here"
    )
    with_blocks, with_comment = (slack.find_message(DEFAULT_CHANNEL, u.message_ts or "") for u in slack.uploads)
    assert with_blocks is not None and with_blocks["blocks"] == blocks and with_blocks["text"] == ""
    assert with_comment is not None and "blocks" not in with_comment and with_comment["text"] == "here"
    await client.files_delete(file=slack.uploads[0].id)
    kept = slack.find_message(DEFAULT_CHANNEL, with_blocks["ts"])
    assert kept is not None and not kept.get("files") and kept["blocks"] == blocks
