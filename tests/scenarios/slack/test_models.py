"""`/models` on Slack: the models this bot can use now, answered privately through the command's response_url."""

from __future__ import annotations

import pytest

from adapters.slack.app import SlackBot
from core.engine import Engine
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.support import discovered, until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


async def test_models_answers_privately_with_what_the_key_offers(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator, engine: Engine
) -> None:
    gemini.offered = ["gemini-3.1-flash-lite-image", "gemini-3-pro-image"]  # no Nano Banana 2.1 for this key
    engine.lineup = await discovered(gemini, "flash")  # as bot/app.py does at start-up
    asked = await slack_emu.send_slash_command("/models")
    assert asked.status == 200 and asked.body == "" and asked.elapsed < 3  # acked at once, answered after
    [answer] = await until(lambda: slack_emu.hook_posts, what="the /models answer")
    await slack_bot.drain()
    assert answer.body["response_type"] == "ephemeral"
    lines = answer.body["text"].splitlines()
    assert sorted(line.split(" ")[0] for line in lines) == ["gemini-3-pro-image", "gemini-3.1-flash-lite-image"]
    assert any("(default)" in line for line in lines)  # the best offered model stands in for the missing default
    assert slack_emu.calls_to("chat.postMessage") == [] and gemini.calls == 0
