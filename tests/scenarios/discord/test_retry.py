"""Scenarios: "Try again" under a Discord failure that may pass on a second go, through the real discord.py client
against the Discord and Gemini emulators (the harness in harness.py), before and after a restart."""

from __future__ import annotations

import pytest

from core.budget import Limits
from core.engine import UPSCALE_PROMPT
from tests.emulators.discord import FLAG_EPHEMERAL, JSON, DiscordEmulator
from tests.emulators.gemini import Block, Finish, GeminiEmulator
from tests.pictures import png
from tests.scenarios.discord.harness import PRO, Bot, components, custom_ids, imagine
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


def try_again(message: JSON) -> str:
    """The custom_id of the message's one button, checked to be Try again: a Reroll of the failed turn."""
    [button] = components(message)
    assert button["label"] == "Try again" and button["custom_id"].startswith("gib:reroll:")
    return str(button["custom_id"])


async def test_a_blocked_imagine_says_why_privately_and_try_again_reruns_it_after_a_restart(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini: GeminiEmulator
) -> None:
    await discord_bot.start()
    photo = png(40, 30, (0, 120, 200))
    gemini.push(Block("SAFETY"))
    sea = discord_emu.add_attachment(photo, "sea.png")
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "make it stormy", "aspect_ratio": "16:9", "image": sea})
    await until(lambda: rec.followup_message_ids, timeout=10, what="the explanation")
    told = discord_emu.messages[rec.followup_message_ids[0]]
    assert told["flags"] & FLAG_EPHEMERAL and "SAFETY" in told["content"]  # still only for the requester
    retry = try_again(told)

    await discord_bot.restart()  # the button names the stored turn; the ephemeral message keeps it
    # anyone may, as with Reroll
    pressed = await discord_emu.click_button(told["id"], retry, user=discord_emu.moderator)
    result = await discord_emu.wait_for_message(lambda m: bool(m["attachments"]), timeout=10)

    blocked, again = gemini.requests
    assert (again.prompt, again.input_images, again.aspect_ratio) == ("make it stormy", [photo], "16:9")
    assert (blocked.prompt, blocked.input_images, blocked.aspect_ratio) == (again.prompt, [photo], "16:9")
    # The placeholder the first attempt would have become is gone: the image is posted in the channel.
    assert result["channel_id"] == discord_emu.channel_id and "message_reference" not in result
    assert custom_ids(result)[0].startswith("gib:reroll:") and custom_ids(result) != [retry]
    assert pressed.callbacks[0]["type"] == 5 and pressed.callbacks[0]["data"]["flags"] & FLAG_EPHEMERAL
    await until(lambda: "Posted" in discord_emu.messages[pressed.original_message_id or ""]["content"])
    # ...and gets a thread of its own, where the conversation goes on.
    await until(lambda: result["id"] in discord_emu.threads, what="a thread on the retried result")
    await discord_emu.send_message(result["id"], discord_emu.user, "now add lightning")
    await until(lambda: len(gemini.requests) == 3, timeout=10, what="the next turn in the new thread")
    assert [c["role"] for c in gemini.requests[2].contents] == ["user", "model", "user"]
    assert gemini.requests[2].contents[0]["parts"][0]["text"] == "make it stormy"


async def test_try_again_in_a_thread_reruns_the_turn_with_its_image_and_history_after_a_restart(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini: GeminiEmulator
) -> None:
    await discord_bot.start()
    thread_id = (await imagine(discord_emu, {"prompt": "a cat on a sofa"}))["id"]
    hat = png(32, 32, (10, 10, 250))
    gemini.push(Finish("IMAGE_SAFETY"))
    asked = await discord_emu.send_message(
        thread_id, discord_emu.user, "put this hat on it", attachments=[discord_emu.add_attachment(hat)]
    )
    told = await discord_emu.wait_for_message(
        lambda m: m["channel_id"] == thread_id and bool(custom_ids(m)), timeout=10
    )
    assert "IMAGE_SAFETY" in told["content"] and told["message_reference"]["message_id"] == asked["id"]

    await discord_bot.restart()
    await discord_emu.click_button(told["id"], try_again(told))
    answer = await discord_emu.wait_for_message(
        lambda m: m["channel_id"] == thread_id and bool(m["attachments"]), timeout=10
    )

    blocked, again = gemini.requests[1:]
    assert (again.prompt, again.input_images) == (blocked.prompt, blocked.input_images) == ("put this hat on it", [hat])
    assert [c["role"] for c in again.contents] == ["user", "model", "user"]  # the history before it, as before
    assert answer["message_reference"]["message_id"] == told["id"]


async def test_try_again_on_a_failed_edit_answers_in_the_thread_the_edit_would_have_opened(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini: GeminiEmulator
) -> None:
    await discord_bot.start()
    garden = png(48, 32, (250, 200, 0))
    shared = await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, "my garden", attachments=[discord_emu.add_attachment(garden)]
    )
    gemini.push(Block("SAFETY"))
    await discord_emu.send_message(
        discord_emu.channel_id,
        discord_emu.moderator,
        f"{discord_emu.mention(discord_emu.bot_user)} make it blue",
        referenced_message_id=shared["id"],
    )
    told = await discord_emu.wait_for_message(lambda m: "SAFETY" in m["content"] and bool(custom_ids(m)), timeout=10)
    # the mention's own answer
    assert told["channel_id"] == discord_emu.channel_id and not told["flags"] & FLAG_EPHEMERAL
    await discord_emu.click_button(told["id"], try_again(told))
    await discord_emu.wait_for_message(lambda m: m["channel_id"] == told["id"] and bool(m["attachments"]), timeout=10)
    assert discord_emu.threads[told["id"]]["name"] == "make it blue"
    assert [(w.prompt, w.input_images) for w in gemini.requests] == [("make it blue", [garden])] * 2

    # Edit image: the failure is private, and the retry opens the thread on the picture, as a success would have.
    me = png(30, 30, (90, 90, 90))
    target = await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, "", attachments=[discord_emu.add_attachment(me, "me.png")]
    )
    gemini.push(Block("SAFETY"))
    opened = await discord_emu.invoke_message_command("Edit image", target["id"])
    await discord_emu.wait_for_callback(opened)
    submitted = await discord_emu.submit_modal(opened.modal["custom_id"], {"prompt": "give me a hat"})  # type: ignore[index]

    def failed() -> JSON | None:
        message = discord_emu.messages.get(submitted.original_message_id or "")
        return message if message and "SAFETY" in message["content"] else None

    private = await until(failed, timeout=10, what="the private explanation")
    assert private["flags"] & FLAG_EPHEMERAL
    await discord_emu.click_button(private["id"], try_again(private))
    await discord_emu.wait_for_message(lambda m: m["channel_id"] == target["id"] and bool(m["attachments"]), timeout=10)
    assert discord_emu.threads[target["id"]]["name"] == "give me a hat"
    assert [(w.prompt, w.input_images) for w in gemini.requests[2:]] == [("give me a hat", [me])] * 2


async def test_a_failed_upscale_offers_try_again_which_upscales_again(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini: GeminiEmulator
) -> None:
    await discord_bot.start(model=PRO)
    result = await imagine(discord_emu, {"prompt": "a glass teapot"})
    gemini.push(Block("SAFETY"))
    pressed = await discord_emu.click_button(result["id"], f"gib:up-2K:{custom_ids(result)[0].rsplit(':', 1)[1]}")

    def failed() -> JSON | None:
        message = discord_emu.messages.get(pressed.original_message_id or "")
        return message if message and custom_ids(message) else None

    private = await until(failed, timeout=10, what="the private explanation")
    assert private["flags"] & FLAG_EPHEMERAL and "SAFETY" in private["content"]
    await discord_emu.click_button(private["id"], try_again(private))
    thread_id = result["id"]
    bigger = await discord_emu.wait_for_message(
        lambda m: m["channel_id"] == thread_id and bool(m["attachments"]), timeout=10
    )

    wire = gemini.requests[2]
    assert (wire.prompt, wire.image_size, wire.contents[1]["role"]) == (UPSCALE_PROMPT, "2K", "model")
    assert "message_reference" not in bigger  # posted in the thread, not as a reply to the private message


async def test_failures_that_would_fail_again_have_no_button(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini: GeminiEmulator
) -> None:
    engine = await discord_bot.start()
    thread_id = (await imagine(discord_emu, {"prompt": "a kettle"}))["id"]
    engine.accountant.limits = Limits(user_daily_images=1)

    await discord_emu.send_message(thread_id, discord_emu.user, "make it whistle")
    limited = await discord_emu.wait_for_message(lambda m: "daily limit" in m["content"], timeout=10)
    await discord_emu.send_message(thread_id, discord_emu.user, "bigger --size 4K")  # the flash model has no sizes
    unsupported = await discord_emu.wait_for_message(
        lambda m: "size" in m["content"] and m["id"] != limited["id"], timeout=10
    )
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "a teapot"})
    await until(lambda: rec.followup_message_ids, timeout=10, what="the refusal")
    private = discord_emu.messages[rec.followup_message_ids[0]]

    assert "daily limit" in private["content"] and private["flags"] & FLAG_EPHEMERAL
    assert [custom_ids(m) for m in (limited, unsupported, private)] == [[], [], []]
    assert len(gemini.requests) == 1
