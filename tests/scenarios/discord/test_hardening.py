"""Scenario: the corpus of broken and unusual images through the real discord.py client (the adapter's `run`) against
the Discord and Gemini emulators: each is answered (an image, or a message naming the file) and the thread goes on."""

from __future__ import annotations

import pytest

from core.budget import Limits
from tests import corpus
from tests.emulators.discord import DiscordEmulator
from tests.pictures import png
from tests.scenarios.discord.harness import Bot, imagine
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(60)]

CHOSEN = ("truncated.png", "truncated.jpg", "truncated.gif", "flipped.png", "bomb.png",
          "animated.gif", "animated.png", "cmyk.jpg", "sixteen-bit.png")


async def test_each_image_of_the_corpus_is_answered_and_the_thread_goes_on(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    thread_id = (await imagine(discord_emu, {"prompt": "a garden"}))["id"]
    for sample in (s for s in corpus.corpus() if s.name in CHOSEN):
        calls = gemini.calls
        attachment = discord_emu.add_attachment(sample.data, sample.name)
        said = await discord_emu.send_message(thread_id, discord_emu.user, "use this", attachments=[attachment])
        answer = await discord_emu.wait_for_message(
            lambda m, said=said: m["channel_id"] == thread_id and m.get("message_reference", {}).get("message_id")
            == said["id"], timeout=10,
        )
        if sample.readable:
            assert answer["attachments"], (sample.name, answer["content"])
        else:
            assert f"`{sample.name}`" in answer["content"], answer["content"]
            assert "could not be read as an image" in answer["content"] or "too many pixels" in answer["content"]
            assert gemini.calls == calls
        assert "Something broke" not in answer["content"]
    said = await discord_emu.send_message(thread_id, discord_emu.user, "make it night")
    await until(lambda: gemini.requests[-1].prompt == "make it night", timeout=10, what="the next turn")


async def test_an_edit_image_modal_over_a_limit_is_refused_before_the_image_is_downloaded(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    engine = await discord_bot.start()
    engine.accountant.limits = Limits(user_daily_images=0)
    photo = png(30, 30, (90, 90, 90))
    target = await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, "", attachments=[discord_emu.add_attachment(photo, "me.png")]
    )
    opened = await discord_emu.invoke_message_command("Edit image", target["id"])
    modal = await discord_emu.wait_for_callback(opened)
    submitted = await discord_emu.submit_modal(modal["data"]["custom_id"], {"prompt": "give me a hat"})
    await until(lambda: "daily limit" in discord_emu.messages.get(submitted.original_message_id or "", {}).get(
        "content", ""), what="the limit said in the modal's answer")
    assert discord_emu.cdn_requests == [] and gemini.calls == 0  # nothing downloaded, nothing asked of Gemini
