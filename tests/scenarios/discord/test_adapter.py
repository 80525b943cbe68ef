"""Scenarios: the real discord.py client (the adapter's `run`) against the Discord emulator and the Gemini emulator."""

from __future__ import annotations

import pytest

from core.engine import UPSCALE_PROMPT
from tests.emulators.discord import FLAG_EPHEMERAL, JSON, DiscordEmulator, InteractionRecord
from tests.emulators.gemini import Block, Finish
from tests.pictures import noise_png, png
from tests.scenarios.discord.harness import FLASH, PRO, Bot, custom_ids, imagine, imagine_result
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]

MiB = 1024 * 1024


# /imagine -----------------------------------------------------------------------------------------------------


async def test_imagine_with_a_ratio_defers_uploads_and_opens_a_thread(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    names = {(c["name"], c.get("type", 1)) for c in discord_emu.guild_commands()}
    assert {("imagine", 1), ("forget", 1), ("usage", 1), ("help", 1), ("Edit image", 3)} <= names

    rec = await discord_emu.invoke_slash("imagine", {"prompt": "a red fox in the snow", "aspect_ratio": "16:9"})
    result = await imagine_result(discord_emu, rec)

    first = rec.callbacks[0]
    assert first["type"] == 5 and not (first["data"].get("flags", 0) & FLAG_EPHEMERAL)
    assert discord_emu.interaction_responses[0]["interaction_id"] == rec.id
    (wire,) = gemini.requests
    assert (wire.prompt, wire.aspect_ratio, wire.model) == ("a red fox in the snow", "16:9", FLASH)
    (upload,) = discord_emu.message_files(result["id"])
    assert upload.content_type == "image/png" and (upload.width, upload.height) == (1376, 768)
    assert "a red fox in the snow" in result["content"] and "16:9" in result["content"]
    assert f"<@{discord_emu.user['id']}>" in result["content"]
    final = discord_emu.requests_to("PATCH", rf"/webhooks/{discord_emu.application_id}/.+/messages/@original")[-1]
    assert final.json["allowed_mentions"]["parse"] == [] and final.files  # the requester is named, not pinged
    thread = discord_emu.threads[result["id"]]  # Discord gives the thread its starter message's id
    assert thread["parent_id"] == discord_emu.channel_id and thread["name"] == "a red fox in the snow"
    turn = custom_ids(result)[0].rsplit(":", 1)[1]
    assert custom_ids(result) == [f"gib:reroll:{turn}", f"gib:refine:{turn}", f"gib:delete:{turn}"]  # flash: no sizes


async def test_an_invalid_option_for_the_model_is_an_ephemeral_error_naming_what_it_supports(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    sized = await discord_emu.invoke_slash("imagine", {"prompt": "a fox", "size": "4K", "model": FLASH})
    tall = await discord_emu.invoke_slash("imagine", {"prompt": "a fox", "aspect_ratio": "1:8", "model": PRO})
    for rec in (sized, tall):
        answer = await discord_emu.wait_for_callback(rec)
        assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
    assert "has no size option" in sized.callbacks[0]["data"]["content"]
    assert "It supports: 1:1 2:3" in tall.callbacks[0]["data"]["content"]
    assert gemini.requests == []


async def test_attachments_are_checked_before_anything_is_downloaded(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    huge = discord_emu.add_attachment(png(), "huge.png", size=21 * MiB)
    foreign = discord_emu.add_attachment(png(), "far.png", url="https://images.example.net/far.png")
    document = discord_emu.add_attachment(b"%PDF-1.7 ...", "notes.pdf", content_type="application/pdf")
    answers = []
    for attachment in (huge, foreign, document):
        rec = await discord_emu.invoke_slash("imagine", {"prompt": "edit this", "image": attachment})
        answers.append(await discord_emu.wait_for_callback(rec))
    assert all(a["type"] == 4 and a["data"]["flags"] & FLAG_EPHEMERAL for a in answers)
    texts = [a["data"]["content"] for a in answers]
    assert "21.0 MiB; images up to 20 MiB" in texts[0]
    assert "not stored on Discord's CDN" in texts[1] and "not an image (application/pdf)" in texts[2]
    assert discord_emu.cdn_requests == [] and gemini.requests == []


async def test_imagine_with_an_image_downloads_it_from_the_cdn_and_edits_it(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
):
    await discord_bot.start()
    source = png(40, 30, (0, 200, 0))
    await imagine(discord_emu, {"prompt": "make it winter", "image": discord_emu.add_attachment(source, "garden.png")})

    assert gemini.requests[0].input_images == [source] and gemini.requests[0].prompt == "make it winter"
    (fetch,) = discord_emu.cdn_requests
    assert fetch.status == 200 and fetch.authorization is None  # the bot token never goes to the CDN


# Conversations in threads -----------------------------------------------------------------------------------


async def test_a_plain_message_in_the_thread_is_the_next_turn_with_history_and_signature(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start(model=PRO)
    result = await imagine(discord_emu, {"prompt": "a lighthouse at dusk"})
    first_image = discord_emu.message_files(result["id"])[0].data
    thread_id = result["id"]

    said = await discord_emu.send_message(thread_id, discord_emu.user, "make it night")
    answer = await discord_emu.wait_for_message(lambda m: m["channel_id"] == thread_id and m["attachments"], timeout=10)

    history = gemini.requests[1].contents
    assert [c["role"] for c in history] == ["user", "model", "user"] and gemini.requests[1].prompt == "make it night"
    model_part = next(p for p in history[1]["parts"] if "inline_data" in p)
    assert model_part["inline_data"]["data"] == first_image and model_part.get("thought_signature")
    assert answer["message_reference"]["message_id"] == said["id"]
    assert thread_id in discord_emu.typing  # the typing indicator while it worked
    assert len(gemini.requests) == 2  # its own answer, echoed by the gateway, was not taken as a turn


async def test_an_image_posted_in_the_thread_is_sent_as_the_edit_input(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
):
    await discord_bot.start()
    result = await imagine(discord_emu, {"prompt": "a cat on a sofa"})
    photo = png(32, 32, (10, 10, 250))
    hat = discord_emu.add_attachment(photo, "hat.png")
    await discord_emu.send_message(result["id"], discord_emu.user, "put this hat on it", attachments=[hat])
    await until(lambda: len(gemini.requests) == 2, timeout=10, what="the second Gemini call")

    assert gemini.requests[1].input_images == [photo] and gemini.requests[1].prompt == "put this hat on it"
    await discord_emu.wait_for_message(lambda m: m["channel_id"] == result["id"] and m["attachments"], timeout=10)


async def test_messages_outside_bot_threads_without_a_mention_are_ignored(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
):
    await discord_bot.start()
    await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, "draw a cat", attachments=[discord_emu.add_attachment(png(), "a.png")]
    )
    other_bot = discord_emu.add_member(discord_emu.guild_id, discord_emu.add_user("otherbot", bot=True))
    await discord_emu.send_message(
        discord_emu.channel_id, other_bot, f"{discord_emu.mention(discord_emu.bot_user)} draw a dog"
    )
    # a thread the bot did not open is not a conversation either
    starter = await discord_emu.send_message(discord_emu.channel_id, discord_emu.user, "chat")
    thread_id = await discord_emu.add_thread(name="chat", starter_message_id=starter["id"])
    await discord_emu.send_message(thread_id, discord_emu.user, "draw a cow")
    # mention, no request: a hint
    await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, f"{discord_emu.mention(discord_emu.bot_user)}"
    )
    hint = await discord_emu.wait_for_message(timeout=5)

    assert "Tell me what to draw" in hint["content"]
    assert gemini.requests == [] and [m["id"] for m in discord_emu.bot_messages()] == [hint["id"]]


# Edits of any picture -----------------------------------------------------------------------------------------


async def test_a_reply_that_mentions_the_bot_edits_someones_image_and_opens_a_thread(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    photo = png(48, 32, (250, 200, 0))
    shared = await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, "my garden", attachments=[discord_emu.add_attachment(photo)]
    )
    ask = await discord_emu.send_message(
        discord_emu.channel_id,
        discord_emu.moderator,
        f"{discord_emu.mention(discord_emu.bot_user)} make it blue --ar 3:2",
        referenced_message_id=shared["id"],
        mention_replied_user=False,
    )
    answer = await discord_emu.wait_for_message(
        lambda m: m["attachments"] and m["id"] in discord_emu.threads, timeout=10
    )

    (wire,) = gemini.requests
    assert (wire.prompt, wire.input_images, wire.aspect_ratio) == ("make it blue", [photo], "3:2")
    assert answer["channel_id"] == discord_emu.channel_id and answer["message_reference"]["message_id"] == ask["id"]
    assert f"<@{discord_emu.moderator['id']}>" in answer["content"] and custom_ids(answer)[0].startswith("gib:reroll:")
    assert discord_emu.threads[answer["id"]]["name"] == "make it blue"

    # the thread is the conversation now
    await discord_emu.send_message(answer["id"], discord_emu.user, "and add a moon")
    await until(lambda: len(gemini.requests) == 2, timeout=10, what="the next turn")
    assert [c["role"] for c in gemini.requests[1].contents] == ["user", "model", "user"]


async def test_edit_image_context_menu_asks_in_a_modal_and_answers_in_a_new_thread(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    photo = png(30, 30, (90, 90, 90))
    target = await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, "", attachments=[discord_emu.add_attachment(photo, "me.png")]
    )
    words = await discord_emu.send_message(discord_emu.channel_id, discord_emu.user, "no picture here")

    refused = await discord_emu.invoke_message_command("Edit image", words["id"], user=discord_emu.moderator)
    assert "has no image" in (await discord_emu.wait_for_callback(refused))["data"]["content"]
    opened = await discord_emu.invoke_message_command("Edit image", target["id"], user=discord_emu.moderator)
    modal = await discord_emu.wait_for_callback(opened)
    assert (
        modal["type"] == 9 and modal["data"]["custom_id"] == f"gib:edit-modal:{discord_emu.channel_id}:{target['id']}"
    )
    submitted = await discord_emu.submit_modal(
        modal["data"]["custom_id"], {"prompt": "give me a hat"}, user=discord_emu.moderator
    )
    result = await discord_emu.wait_for_message(
        lambda m: m["channel_id"] == target["id"] and m["attachments"], timeout=10
    )

    assert discord_emu.threads[target["id"]]["name"] == "give me a hat"  # a new thread on the target message
    (wire,) = gemini.requests
    assert (wire.prompt, wire.input_images) == ("give me a hat", [photo])
    assert submitted.callbacks[0]["type"] == 5 and submitted.callbacks[0]["data"]["flags"] & FLAG_EPHEMERAL
    await until(lambda: "Posted" in discord_emu.messages[submitted.original_message_id or ""]["content"])
    assert result["id"] in discord_emu.messages[submitted.original_message_id or ""]["content"]


async def test_in_direct_messages_the_reply_chain_is_the_conversation(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
):
    await discord_bot.start(model=PRO, in_guild=False)
    assert "Edit image" in [c["name"] for c in discord_emu.global_commands] and discord_emu.guild_commands() == []
    dm = discord_emu.open_dm(discord_emu.user)
    await discord_emu.send_message(dm, discord_emu.user, "a paper boat")
    first = await discord_emu.wait_for_message(lambda m: m["channel_id"] == dm and m["attachments"], timeout=10)
    asked = await discord_emu.send_message(
        dm, discord_emu.user, "now on a stormy sea", referenced_message_id=first["id"]
    )
    second = await discord_emu.wait_for_message(
        lambda m: m["channel_id"] == dm and m["attachments"] and m["id"] != first["id"], timeout=10
    )
    await discord_emu.send_message(dm, discord_emu.user, "a red kite")  # not a reply: a new conversation

    await until(lambda: len(gemini.requests) == 3, timeout=10, what="the third Gemini call")
    boat, storm, kite = gemini.requests
    assert [c["role"] for c in storm.contents] == ["user", "model", "user"] and storm.prompt == "now on a stormy sea"
    assert [c["role"] for c in kite.contents] == ["user"]
    assert second["message_reference"]["message_id"] == asked["id"]  # the answer continues the chain

    opened = await discord_emu.invoke_message_command("Edit image", first["id"])  # the context menu works in DMs too
    await discord_emu.wait_for_callback(opened)
    await discord_emu.submit_modal(opened.modal["custom_id"], {"prompt": "fold it into a plane"})  # type: ignore[index]
    edited = await discord_emu.wait_for_message(
        lambda m: m.get("message_reference", {}).get("message_id") == first["id"] and m["attachments"], timeout=10
    )
    assert edited["channel_id"] == dm and gemini.requests[3].input_images == [
        discord_emu.message_files(first["id"])[0].data
    ]
    assert discord_emu.threads == {}


# Buttons, before and after a restart ----------------------------------------------------------------------------


async def test_every_button_works_after_the_bot_restarts_on_the_same_database(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start(model=PRO)
    result = await imagine(discord_emu, {"prompt": "a glass teapot", "aspect_ratio": "4:3"})
    thread_id, turn = result["id"], custom_ids(result)[0].rsplit(":", 1)[1]
    ids = [f"gib:{action}:{turn}" for action in ("reroll", "refine", "up-2K", "up-4K", "delete")]
    assert custom_ids(result) == ids

    await discord_bot.restart(model=PRO)  # a new engine and a new client; buttons only name the stored turn

    def in_thread() -> list[JSON]:
        return [m for m in discord_emu.channel_messages(thread_id) if m["attachments"]]

    reroll = await discord_emu.click_button(result["id"], ids[0])
    await until(lambda: len(in_thread()) == 1, timeout=10, what="the reroll")
    assert reroll.callbacks[0]["type"] == 5 and reroll.callbacks[0]["data"]["flags"] & FLAG_EPHEMERAL
    assert (gemini.requests[1].prompt, gemini.requests[1].aspect_ratio) == ("a glass teapot", "4:3")

    await discord_emu.click_button(result["id"], ids[2])
    await until(lambda: len(in_thread()) == 2, timeout=10, what="the upscale")
    wire = gemini.requests[2]
    assert (wire.image_size, wire.prompt) == ("2K", UPSCALE_PROMPT) and wire.contents[1]["role"] == "model"
    bigger = in_thread()[1]
    bigger_turn = custom_ids(bigger)[0].rsplit(":", 1)[1]
    assert custom_ids(bigger) == [f"gib:{a}:{bigger_turn}" for a in ("reroll", "refine", "up-4K", "delete")]

    refine = await discord_emu.click_button(result["id"], ids[1])
    assert (await discord_emu.wait_for_callback(refine))["type"] == 9
    await discord_bot.restart(model=PRO)  # even a modal left open across a restart is answered
    await discord_emu.submit_modal(f"gib:refine-modal:{turn}", {"prompt": "make it copper"})
    await until(lambda: len(in_thread()) == 3, timeout=10, what="the refinement")
    assert gemini.requests[3].prompt == "make it copper" and gemini.requests[3].input_images == [
        discord_emu.message_files(result["id"])[0].data  # an older result refined: that picture is the input
    ]

    stranger = discord_emu.add_member(discord_emu.guild_id, "bob")
    refused = await discord_emu.click_button(result["id"], ids[4], user=stranger)
    assert "Only <@" in (await discord_emu.wait_for_callback(refused))["data"]["content"]
    assert result["id"] in discord_emu.messages
    # Manage Messages may delete anything
    await discord_emu.click_button(result["id"], ids[4], user=discord_emu.moderator)
    await until(lambda: result["id"] in discord_emu.deleted_messages, what="the deletion")
    own = in_thread()[0]
    await discord_emu.click_button(own["id"], custom_ids(own)[-1], user=discord_emu.user)  # and the requester their own
    await until(lambda: own["id"] in discord_emu.deleted_messages, what="the requester's deletion")


async def test_a_bug_in_a_handler_is_logged_and_the_user_told(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await discord_bot.start()
    result = await imagine(discord_emu, {"prompt": "a kite"})

    async def broken(turn_id: int) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine.store, "turn_info", broken)
    rec = await discord_emu.click_button(result["id"], custom_ids(result)[-1])
    answer = await discord_emu.wait_for_callback(rec)
    assert answer["data"]["flags"] & FLAG_EPHEMERAL and "Something broke on the bot's side" in answer["data"]["content"]


# Uploads, failures, progress ------------------------------------------------------------------------------------


async def test_a_2k_result_over_10_mib_is_uploaded_within_the_limit_on_the_first_try(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    big = noise_png(2048, 2048)
    assert len(big) > 10 * MiB
    gemini.image = lambda wire: big
    await discord_bot.start(model=PRO)
    result = await imagine(discord_emu, {"prompt": "static", "size": "2K"})

    assert gemini.requests[0].image_size == "2K"
    (upload,) = discord_emu.message_files(result["id"])
    assert upload.size <= discord_emu.upload_limit and upload.data[:3] == b"\xff\xd8\xff"  # re-encoded to fit
    assert [r.status for r in discord_emu.requests if r.files] == [200]  # one upload, accepted: never a 413
    assert all(r.status != 413 for r in discord_emu.requests)


async def test_a_safety_block_is_explained_to_the_requester(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start()
    gemini.push(Finish("IMAGE_SAFETY"))
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "something it will not draw"})
    await until(lambda: len(rec.followup_message_ids) == 1, timeout=10, what="the explanation")

    told = discord_emu.messages[rec.followup_message_ids[0]]
    assert told["flags"] & FLAG_EPHEMERAL and "IMAGE_SAFETY" in told["content"] and "Rephrase" in told["content"]
    assert rec.original_message_id in discord_emu.deleted_messages  # no public placeholder left behind
    assert discord_emu.threads == {}

    result = await imagine(discord_emu, {"prompt": "a teacup"})
    gemini.push(Block("PROHIBITED_CONTENT"))
    await discord_emu.send_message(result["id"], discord_emu.user, "something else it will not draw")
    said = await discord_emu.wait_for_message(lambda m: m["channel_id"] == result["id"], timeout=10)
    assert "Gemini blocked this prompt (PROHIBITED_CONTENT)" in said["content"]


async def test_the_deferred_message_shows_the_queue_then_generating_and_queued_requests_can_be_cancelled(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    gemini.hold()
    await discord_bot.start(max_concurrency=1)

    def shown(rec: InteractionRecord) -> JSON | None:
        message = discord_emu.messages.get(rec.original_message_id or "")
        return message if message and custom_ids(message) else None

    running = await discord_emu.invoke_slash("imagine", {"prompt": "first"})
    await until(lambda: gemini.held == 1, what="the first request to reach Gemini")
    waiting = await discord_emu.invoke_slash("imagine", {"prompt": "second"}, user=discord_emu.moderator)
    await until(lambda: shown(waiting), what="the second request's queue position")
    doomed = await discord_emu.invoke_slash("imagine", {"prompt": "third"})
    third = await until(lambda: shown(doomed), what="the third request's queue position")
    assert third["content"].startswith("⏳ Queued: #2 in line")
    cancel_id = custom_ids(third)[0]
    assert cancel_id == f"gib:cancel:{discord_emu.user['id']}:{doomed.id}"
    refused = await discord_emu.click_button(third["id"], cancel_id, user=discord_emu.moderator)
    assert "Only <@" in (await discord_emu.wait_for_callback(refused))["data"]["content"]
    await discord_emu.click_button(third["id"], cancel_id, user=discord_emu.user)
    await until(lambda: doomed.followup_message_ids, what="the cancellation")
    assert "Cancelled before it started" in discord_emu.messages[doomed.followup_message_ids[0]]["content"]

    gemini.release(1)  # the first answers; the second moves from the line to Gemini

    def shows_generating() -> bool:
        return discord_emu.messages[waiting.original_message_id or ""]["content"].startswith("🎨 Generating…")

    await until(lambda: gemini.held == 1 and shows_generating(), what="the second request shown generating")
    gemini.release()
    await imagine_result(discord_emu, waiting)
    edits = [
        r.json.get("content") or ""
        for r in discord_emu.requests_to(
            "PATCH", rf"/webhooks/{discord_emu.application_id}/{waiting.token}/messages/@original"
        )
    ]
    queued = [i for i, text in enumerate(edits) if text.startswith("⏳ Queued: #1 in line")]
    generating = [i for i, text in enumerate(edits) if text.startswith("🎨 Generating…")]
    assert queued and generating and queued[-1] < generating[0] < len(edits) - 1
    assert [w.prompt for w in gemini.requests] == ["first", "second"]
    await imagine_result(discord_emu, running)


async def test_a_thread_message_that_must_wait_shows_its_place_and_can_be_cancelled(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    await discord_bot.start(max_concurrency=1)
    thread_id = (await imagine(discord_emu, {"prompt": "a kettle"}))["id"]
    gemini.hold()
    await discord_emu.invoke_slash("imagine", {"prompt": "a slow blocker"})
    await until(lambda: gemini.held == 1, what="the blocker to reach Gemini")
    asked = await discord_emu.send_message(thread_id, discord_emu.moderator, "make it whistle")

    status = await discord_emu.wait_for_message(lambda m: m["channel_id"] == thread_id and custom_ids(m), timeout=5)
    assert status["content"].startswith("⏳ Queued: #1 in line") and thread_id in discord_emu.typing
    assert status["message_reference"]["message_id"] == asked["id"]
    await discord_emu.click_button(status["id"], custom_ids(status)[0], user=discord_emu.moderator)
    await until(lambda: "Cancelled before it started" in discord_emu.messages[status["id"]]["content"])
    assert custom_ids(discord_emu.messages[status["id"]]) == []  # no Cancel button left behind
    gemini.release()
    await until(lambda: gemini.in_flight == 0, timeout=5, what="the blocker to finish")
    assert [w.prompt for w in gemini.requests] == ["a kettle", "a slow blocker"]


# The small commands, and shutting down ---------------------------------------------------------------------------


async def test_forget_help_and_usage(discord_bot: Bot, discord_emu: DiscordEmulator, gemini) -> None:
    await discord_bot.start()
    result = await imagine(discord_emu, {"prompt": "a snowman"})
    thread_id = result["id"]

    outside = await discord_emu.invoke_slash("forget")
    assert "works inside a thread I opened" in (await discord_emu.wait_for_callback(outside))["data"]["content"]
    forgot = await discord_emu.invoke_slash("forget", channel_id=thread_id)
    await until(lambda: forgot.followup_message_ids, what="the /forget answer")
    assert "Forgot this conversation (1 turns)" in discord_emu.messages[forgot.followup_message_ids[0]]["content"]
    await discord_emu.send_message(thread_id, discord_emu.user, "a snowman in July")
    await until(lambda: len(gemini.requests) == 2, timeout=10, what="the fresh turn")
    assert [c["role"] for c in gemini.requests[1].contents] == ["user"]  # no history after /forget

    helped = await discord_emu.invoke_slash("help")
    answer = await discord_emu.wait_for_callback(helped)
    assert answer["data"]["flags"] & FLAG_EPHEMERAL and "/imagine" in answer["data"]["content"]

    await discord_emu.wait_for_message(lambda m: m["channel_id"] == thread_id and m["attachments"], timeout=10)
    usage = await discord_emu.invoke_slash("usage")
    await until(lambda: usage.followup_message_ids, what="the /usage answer")
    report = discord_emu.messages[usage.followup_message_ids[0]]
    assert report["flags"] & FLAG_EPHEMERAL and report["content"].startswith("You: 2 images today")


async def test_stopping_lets_a_request_in_flight_post_its_result_then_disconnects(
    discord_bot: Bot, discord_emu: DiscordEmulator, gemini
) -> None:
    gemini.hold()
    await discord_bot.start()
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "a slow snail"})
    await until(lambda: gemini.held == 1, what="the request to reach Gemini")
    gemini.release()  # the answer is on its way, not yet posted
    await discord_bot.stop()  # cancels run(): it waits for the handler, then closes the client

    assert (
        discord_emu.messages[rec.original_message_id or ""]["attachments"]
        and rec.original_message_id in discord_emu.threads
    )
    assert not discord_emu.connected
