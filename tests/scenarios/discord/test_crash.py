"""Scenario: the bot dies mid-turn without shutting down (its turns left pending in the database); the next run on the
same database edits the /imagine's deferred reply, or posts in the thread, saying it was interrupted, with Try again."""

from __future__ import annotations

import pytest

from tests.emulators.discord import DiscordEmulator
from tests.scenarios.discord.harness import Bot, custom_ids, imagine
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(60)]


async def test_the_restart_tells_each_interrupted_user_where_it_said_it_was_working(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    engine = await discord_bot.start(max_concurrency=1)
    thread_id = (await imagine(discord_emu, {"prompt": "a garden"}))["id"]
    gemini.hold()
    said = await discord_emu.send_message(thread_id, discord_emu.user, "make it night")
    await until(lambda: gemini.held == 1, timeout=10, what="the thread turn at Gemini")
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "a lighthouse"})  # waits behind it: deferred
    await until(lambda: rec.original_message_id, timeout=10, what="the deferred reply")
    placeholder = rec.original_message_id
    # stored as pending and waiting in the queue (not still on its way there) before the process goes away
    await until(lambda: engine.queue.waiting == 1, timeout=10, what="the /imagine waiting behind the thread turn")
    await discord_bot.stop()  # the process goes away: no reply was posted, both turns stay pending
    gemini.release()

    await discord_bot.start()
    edited = await until(lambda: "interrupted" in (discord_emu.messages[placeholder].get("content") or ""),
                         timeout=10, what="the deferred reply edited")
    assert edited
    in_thread = await discord_emu.wait_for_message(
        lambda m: m["channel_id"] == thread_id and "interrupted" in (m.get("content") or ""), timeout=10
    )
    retry = [c for c in custom_ids(in_thread) if c.startswith("gib:reroll:")]
    assert retry and said["id"]
    assert [c for c in custom_ids(discord_emu.messages[placeholder]) if c.startswith("gib:reroll:")]
    await discord_emu.click_button(in_thread["id"], retry[0])
    await discord_emu.wait_for_message(lambda m: m["channel_id"] == thread_id and m["attachments"], timeout=10)
    assert gemini.requests[-1].prompt == "make it night"
