"""Scenarios: the controls on Discord, through discord.py against the Discord and Gemini emulators: search sources
linked under the picture, Show thinking revealed privately to whoever presses it, styles, settings."""

from __future__ import annotations

import pytest

from tests.emulators.discord import FLAG_EPHEMERAL, DiscordEmulator
from tests.scenarios.discord.harness import Bot, custom_ids, imagine
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]

MANAGE_GUILD = 1 << 5


async def test_search_links_queries_and_sources_under_the_picture(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    result = await imagine(discord_emu, {"prompt": "a Timareta butterfly", "search": "images",
                                         "model": "gemini-3.1-flash-image", "exclude": "people"})
    assert gemini.requests[-1].search == ("web", "images")
    [embed] = result["embeds"]
    text = embed["description"]
    assert "[a Timareta butterfly](<https://www.google.com/search?q=a+Timareta+butterfly>)" in text
    assert "(<https://example.net/gallery/a-timareta-butterfly" in text and "img.example.net" not in text
    assert "search images" in result["content"] and "no people" in result["content"]


async def test_show_thinking_reveals_thoughts_only_to_whoever_presses_it(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    result = await imagine(discord_emu, {"prompt": "a city in a bottle", "thoughts": True, "think": "high",
                                         "model": "gemini-nano-banana-2.1", "style": "isometric"})
    assert "style isometric" in result["content"] and "thinking high" in result["content"]
    assert gemini.requests[-1].include_thoughts and gemini.requests[-1].thinking_level == "high"
    assert len(discord_emu.message_files(result["id"])) == 1  # the final image only: drafts are not the result
    ids = custom_ids(result)
    thoughts = next(i for i in ids if i.startswith("gib:thoughts:"))
    stranger = discord_emu.add_member(discord_emu.guild_id, "bob")
    rec = await discord_emu.click_button(result["id"], thoughts, user=stranger)
    await until(lambda: rec.followup_message_ids, timeout=10, what="the thoughts")
    shown = discord_emu.messages[rec.followup_message_ids[0]]
    assert shown["flags"] & FLAG_EPHEMERAL and "composition" in shown["content"]
    assert len(discord_emu.message_files(shown["id"])) == 2


async def test_styles_and_settings_commands(discord_bot: Bot, discord_emu: DiscordEmulator, gemini) -> None:
    await discord_bot.start()
    rec = await discord_emu.invoke_slash("styles")
    await until(lambda: rec.followup_message_ids, timeout=10, what="the styles")
    assert "watercolour:" in discord_emu.messages[rec.followup_message_ids[0]]["content"]
    refused = await discord_emu.invoke_slash("settings", {"scope": "server", "key": "style", "value": "comic"})
    await until(lambda: refused.followup_message_ids, timeout=10, what="the refusal")
    assert "Only admins" in discord_emu.messages[refused.followup_message_ids[0]]["content"]


async def test_a_server_manager_sets_a_default_that_the_next_picture_uses(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    manager = discord_emu.add_member(discord_emu.guild_id, "mia", permissions=MANAGE_GUILD)
    rec = await discord_emu.invoke_slash("settings", {"scope": "server", "key": "no", "value": "text, logos"},
                                         user=manager)
    await until(lambda: rec.followup_message_ids, timeout=10, what="the change")
    assert "Set the server setting `no`" in discord_emu.messages[rec.followup_message_ids[0]]["content"]
    result = await imagine(discord_emu, {"prompt": "a shop sign"})
    assert gemini.requests[-1].prompt.endswith("anywhere in the image: text, logos.")
    assert "no text, logos" in result["content"]


async def test_search_on_a_model_without_grounding_is_refused_by_name(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "the weather", "search": "web",
                                                     "model": "gemini-3.1-flash-lite-image"})
    answer = await discord_emu.wait_for_callback(rec)
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    assert "has no Google Search grounding. --search works with:" in answer["data"]["content"]
    assert gemini.requests == []
