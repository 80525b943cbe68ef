"""`/models` on Discord: the models this bot can use now, answered privately, through the real discord.py client."""

from __future__ import annotations

import pytest

from tests.emulators.discord import FLAG_EPHEMERAL, DiscordEmulator
from tests.emulators.gemini import GeminiEmulator
from tests.scenarios.discord.harness import Bot
from tests.support import discovered, until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


async def test_models_lists_what_the_key_offers_privately_id_first(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini: GeminiEmulator
) -> None:
    gemini.offered = ["gemini-3-pro-image", "gemini-nano-banana-2.1"]  # this key has no Lite and no 2.5
    engine = await discord_bot.start(model="gemini-nano-banana-2.1")
    engine.lineup = await discovered(gemini, "gemini-nano-banana-2.1")  # as bot/app.py does at start-up
    asked = await discord_emu.invoke_slash("models")
    await until(lambda: asked.followup_message_ids, what="the /models answer")
    answer = discord_emu.messages[asked.followup_message_ids[0]]
    assert answer["flags"] & FLAG_EPHEMERAL
    lines = answer["content"].splitlines()
    assert [line.split(" ")[0] for line in lines] == ["gemini-nano-banana-2.1", "gemini-3-pro-image"]
    assert "(default)" in lines[0] and "short: flash" in lines[0] and "short: pro" in lines[1]
    assert gemini.calls == 0  # listing the models generates nothing
