"""Scenarios: the controls on Slack, through slack-bolt against the Slack and Gemini emulators: search sources in a
context block, thoughts in a thread reply of their own, /styles and /settings."""

from __future__ import annotations

import pytest

from adapters.slack.app import SlackBot
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import DEFAULT_CHANNEL, SlackEmulator
from tests.scenarios.slack.harness import imagine
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


async def test_search_sources_are_a_context_block_of_links(
    slack_bot: SlackBot, slack_emu: SlackEmulator, gemini: GeminiEmulator
) -> None:
    _, message = await imagine(slack_emu, "a Timareta butterfly --search images --model flash-3.1")
    assert gemini.requests[-1].search == ("web", "images")
    [block] = [b for b in message["blocks"] if b.get("block_id") == "grounding"]
    searches, sources = (e["text"] for e in block["elements"])
    assert "<https://www.google.com/search?q=a+Timareta+butterfly|a Timareta butterfly>" in searches
    assert "<https://example.net/gallery/a-timareta-butterfly|Gallery: a Timareta butterfly>" in sources
    assert "img.example.net" not in sources
    assert "search images" in str(message["blocks"])


async def test_thoughts_go_in_a_thread_reply_apart_from_the_result(
    slack_bot: SlackBot, slack_emu: SlackEmulator, gemini: GeminiEmulator
) -> None:
    root, message = await imagine(slack_emu, "a city in a bottle --thoughts --think high --style comic")
    assert gemini.requests[-1].thinking_level == "high" and "comic book panel" in gemini.requests[-1].prompt
    await until(lambda: len(slack_emu.uploads) == 3, what="the draft images")
    result, *drafts = slack_emu.uploads
    assert result.filename.startswith("gemini-") and all(d.filename.startswith("thought-") for d in drafts)
    assert drafts[0].thread_ts == root and "Thinking" in (drafts[0].initial_comment or "")
    assert "composition" in (drafts[0].initial_comment or "")


async def test_styles_and_settings(slack_bot: SlackBot, slack_emu: SlackEmulator, gemini: GeminiEmulator) -> None:
    await slack_emu.send_slash_command("/styles")
    [styles] = await until(lambda: slack_emu.hook_posts, what="the styles")
    assert "watercolour:" in styles.body["text"] and styles.body["response_type"] == "ephemeral"
    await slack_emu.send_slash_command("/settings", "workspace style comic")
    await until(lambda: len(slack_emu.hook_posts) == 2, what="the refusal")
    assert "Only admins" in slack_emu.hook_posts[1].body["text"]
    slack_emu.add_user("U0ADMIN", "admin", is_admin=True)
    await slack_emu.send_slash_command("/settings", "channel no text, logos", user_id="U0ADMIN")
    await until(lambda: len(slack_emu.hook_posts) == 3, what="the change")
    assert "Set the channel setting `no`" in slack_emu.hook_posts[2].body["text"]
    await imagine(slack_emu, "a shop sign")
    assert gemini.requests[-1].prompt.endswith("anywhere in the image: text, logos.")
    await slack_emu.send_slash_command("/settings", channel_id=DEFAULT_CHANNEL)
    await until(lambda: len(slack_emu.hook_posts) == 4, what="the settings")
    assert "channel no: text, logos" in slack_emu.hook_posts[3].body["text"]
