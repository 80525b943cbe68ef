"""How many Slack Web API calls a turn costs: as few as its UX needs (issue 8). Counted from the emulator's record of
every request, through the real Bolt app."""

from __future__ import annotations

import json

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import SlackBot
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import DEFAULT_CHANNEL, UPLOAD_STEP, SlackEmulator
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


async def test_a_refinement_turn_makes_four_web_api_calls_and_one_upload(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    await slack_emu.send_slash_command("/imagine", "a lighthouse")
    [first] = await until(lambda: slack_emu.uploads)
    await slack_bot.drain()
    assert first.thread_ts is not None
    before = len(slack_emu.calls)

    await slack_emu.send_event(slack_emu.user_message(DEFAULT_CHANNEL, "make it night", thread_ts=first.thread_ts))
    await until(lambda: len(slack_emu.uploads) == 2)
    await slack_bot.drain()

    # the hourglass on and off the root; the upload's three steps, the last carrying the buttons (no status reply,
    # no second message): 10 calls before issue 8
    assert [c.method for c in slack_emu.calls[before:]] == [
        "reactions.add", "files.getUploadURLExternal", UPLOAD_STEP, "files.completeUploadExternal", "reactions.remove",
    ]
    second = slack_emu.uploads[1].message_ts
    [image] = [m for m in slack_emu.thread(DEFAULT_CHANNEL, first.thread_ts) if m.get("ts") == second]
    assert image["files"] and any(b["type"] == "actions" for b in image["blocks"])


async def test_the_emulator_puts_upload_blocks_on_the_file_message_as_slack_does(slack_emu: SlackEmulator) -> None:
    """files.completeUploadExternal takes `blocks` (ignored when an initial_comment is given); a message that keeps
    its blocks outlives its deleted files."""
    client = AsyncWebClient(token=slack_emu.bot_token, base_url=slack_emu.api_url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a fox"}}]
    png = b"\x89PNG\r\n\x1a\n"
    await client.files_upload_v2(channel=DEFAULT_CHANNEL, file=png, filename="a.png", blocks=json.dumps(blocks))
    await client.files_upload_v2(
        channel=DEFAULT_CHANNEL, file=png, filename="b.png", blocks=json.dumps(blocks), initial_comment="here"
    )
    with_blocks, with_comment = (slack_emu.find_message(DEFAULT_CHANNEL, u.message_ts or "") for u in slack_emu.uploads)
    assert with_blocks is not None and with_blocks["blocks"] == blocks and with_blocks["text"] == ""
    assert with_comment is not None and "blocks" not in with_comment and with_comment["text"] == "here"
    await client.files_delete(file=slack_emu.uploads[0].id)
    kept = slack_emu.find_message(DEFAULT_CHANNEL, with_blocks["ts"])
    assert kept is not None and not kept.get("files") and kept["blocks"] == blocks
