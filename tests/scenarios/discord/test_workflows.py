"""Scenarios: variant sets and stories through the real discord.py client against the Discord and Gemini emulators."""

from __future__ import annotations

import itertools

import pytest

from tests.emulators.discord import DiscordEmulator
from tests.emulators.gemini import Block, unique_png
from tests.pictures import png
from tests.scenarios.discord.harness import PRO, Bot, custom_ids, imagine
from tests.support import history_images, until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]



async def test_variants_are_one_message_and_use_k_continues_from_k(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    base, drawn = png(64, 64), itertools.count()
    gemini.image = lambda wire: unique_png(base, next(drawn))
    await discord_bot.start(model=PRO)
    result = await imagine(discord_emu, {"prompt": "a glass teapot", "variants": 3})
    files = discord_emu.message_files(result["id"])
    assert len(files) == 3 and gemini.calls == 3
    ids = custom_ids(result)
    assert [i.split(":")[1] for i in ids] == ["use1", "use2", "use3", "rerollset", "delete"]
    assert len({i.rsplit(":", 1)[1] for i in ids[:3]}) == 3  # each Use names its own variant's turn

    used = await discord_emu.click_button(result["id"], ids[1])
    answer = await discord_emu.wait_for_callback(used)
    assert "Continuing from picture 2" in answer["data"]["content"]

    thread_id = result["id"]
    await discord_emu.send_message(thread_id, discord_emu.user, "make it night")
    await until(lambda: gemini.calls == 4, timeout=10, what="the next turn")
    assert history_images(gemini.requests[-1]) == [files[1].data]

    await discord_emu.click_button(result["id"], ids[3])  # Reroll all: a new set of three, posted together
    await until(lambda: gemini.calls == 7, timeout=10, what="the new set")
    await until(lambda: any(len(m["attachments"]) == 3 for m in discord_emu.channel_messages(thread_id)),
                timeout=10, what="the new set's message")
    await discord_emu.click_button(result["id"], ids[4])  # Delete: the requester removes the whole set's message
    await until(lambda: result["id"] in discord_emu.deleted_messages, what="the set deleted")


async def test_story_panels_are_posted_in_its_thread_as_they_are_done(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    gemini.push(Block("SAFETY"))  # panel 1 is blocked: it gets Try again, the others go on
    rec = await discord_emu.invoke_slash("story", {"panels": 3, "prompt": "a fox finds a key"})

    def panels() -> list[dict]:
        root = discord_emu.messages.get(rec.original_message_id or "")
        return discord_emu.channel_messages(root["id"]) if root and root["id"] in discord_emu.threads else []

    await until(lambda: len(panels()) == 3, timeout=15, what="three panel messages in the story's thread")
    failed, second, third = panels()
    assert failed["content"].startswith("**1/3** 🚫") and custom_ids(failed)[0].startswith("gib:reroll:")
    assert "2/3" in second["content"] and second["attachments"] and "3/3" in third["content"]
    assert sum(1 for c in gemini.requests[2].contents[:-1] if c["role"] == "model") == 1  # panel 3 saw panel 2
    await until(lambda: "Story: 2 of 3 panels made." in discord_emu.messages[rec.original_message_id]["content"],
                timeout=10, what="the summary in the header")
    await discord_emu.click_button(failed["id"], custom_ids(failed)[0])  # Try again: one call, panel 1 alone
    await until(lambda: gemini.calls == 4, timeout=10, what="the retried panel")
    assert "panel 1 of 3" in gemini.requests[-1].prompt


async def test_a_video_is_refused_by_name_before_download_on_a_model_without_video(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start(model=PRO)
    clip = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(5 * 2**20)
    attachment = discord_emu.add_attachment(clip, "clip.mp4", content_type="video/mp4")
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "a poster for this clip", "image": attachment})
    answer = await discord_emu.wait_for_callback(rec)
    assert answer["data"]["flags"] & 64 and "gemini-3-pro-image does not take video input" in answer["data"]["content"]
    assert discord_emu.cdn_requests == [] and gemini.requests == []
    rec = await discord_emu.invoke_slash(
        "imagine", {"prompt": "a poster for this clip", "image": attachment, "model": "gemini-3.1-flash-image"}
    )
    await until(lambda: gemini.calls == 1, timeout=10, what="the still from the clip")
    [resource] = gemini.files.files.values()
    assert gemini.files.contents[resource["uri"]] == clip  # downloaded from the CDN, uploaded through the Files API


async def test_cancel_on_the_story_header_stops_it_before_the_next_panel(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    gemini.hold()
    rec = await discord_emu.invoke_slash("story", {"panels": 4, "prompt": "a fox finds a key"})
    await until(lambda: gemini.held == 1, timeout=10, what="panel 1 at the gate")
    header = await until(lambda: discord_emu.messages.get(rec.original_message_id or ""), what="the header")
    [cancel] = [c for c in custom_ids(header) if c.startswith("gib:cancel:")]
    stranger = discord_emu.add_member(discord_emu.guild_id, "bob")
    refused = await discord_emu.click_button(header["id"], cancel, user=stranger)
    assert "Only <@" in (await discord_emu.wait_for_callback(refused))["data"]["content"]
    await discord_emu.click_button(header["id"], cancel)
    gemini.release()
    await until(lambda: "Stopped after panel 1 of 4" in discord_emu.messages[header["id"]]["content"], timeout=10,
                what="the summary")
    assert gemini.calls == 1 and discord_emu.messages[header["id"]].get("components") in (None, [])
