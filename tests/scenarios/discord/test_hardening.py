"""Scenario: the corpus of broken and unusual images through the real discord.py client (the adapter's `run`) against
the Discord and Gemini emulators: each is answered (an image, or a message naming the file) and the thread goes on."""

from __future__ import annotations

import pytest

from tests import corpus
from tests.emulators.discord import DiscordEmulator
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
