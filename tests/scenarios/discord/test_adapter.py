"""Scenarios: the real discord.py client (the adapter's `run`) against the Discord emulator and the Gemini emulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord.app import run
from bot.settings import Settings
from core.engine import UPSCALE_PROMPT, Engine, EngineConfig
from core.model import GeminiModel
from core.store import Store
from tests.emulators.discord import DiscordEmulator, InteractionRecord
from tests.emulators.discord_payloads import FLAG_EPHEMERAL, JSON
from tests.emulators.gemini import Block, Finish, GeminiEmulator
from tests.pictures import noise_png, png
from tests.support import gemini_config, until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]

FLASH = "gemini-2.5-flash-image"
PRO = "gemini-3-pro-image-preview"
MiB = 1024 * 1024


class Bot:
    """The adapter's `run()` as a task over a fresh engine on one SQLite file (restartable on the same file)."""

    def __init__(self, emu: DiscordEmulator, gemini: GeminiEmulator, db: Path) -> None:
        self.emu, self.gemini, self.db = emu, gemini, db
        self.task: asyncio.Task[None] | None = None
        self.engine: Engine | None = None
        self._closers: list = []

    async def start(self, *, model: str = FLASH, max_concurrency: int = 4, in_guild: bool = True) -> Engine:
        """`in_guild`: commands synced to the emulator's guild (DISCORD_GUILD_IDS), else globally (DMs too)."""
        store = await Store.open(self.db)
        gemini_model = GeminiModel(gemini_config(self.gemini))
        self._closers = [gemini_model.aclose, store.close]
        self.engine = Engine(
            store, gemini_model, EngineConfig(default_model=model, max_concurrency=max_concurrency, quota_delay_s=0.01)
        )
        settings = Settings(
            discord_token=self.emu.token,
            discord_api_base=self.emu.api_base,
            discord_gateway_url=self.emu.gateway_url,
            discord_guild_ids=(int(self.emu.guild_id),) if in_guild else (),
            gemini_model=model,
        )
        ready = asyncio.Event()
        self.task = asyncio.create_task(run(self.engine, settings, ready=ready, grace=5, guild_ready_timeout=0.05))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self.task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            if self.task in done:
                self.task.result()
            raise TimeoutError("the bot did not become ready")
        return self.engine

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)
            self.task = None
        for close in self._closers:
            await close()
        self._closers = []

    async def restart(self, **kwargs: object) -> Engine:
        await self.stop()
        await until(lambda: not self.emu.connected, what="the old client to disconnect")
        return await self.start(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordEmulator() as emulator:
        yield emulator
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == before, "run() must restore discord.py's globals"
    assert emulator.errors == []


@pytest.fixture
async def bot(emu: DiscordEmulator, gemini: GeminiEmulator, tmp_path: Path) -> AsyncIterator[Bot]:
    harness = Bot(emu, gemini, tmp_path / "bot.db")
    try:
        yield harness
    finally:
        await harness.stop()


def components(message: JSON) -> list[JSON]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


def custom_ids(message: JSON) -> list[str]:
    return [c["custom_id"] for c in components(message) if "custom_id" in c]


async def imagine_result(emu: DiscordEmulator, rec: InteractionRecord, *, thread: bool = True) -> JSON:
    """The finished /imagine result (the deferred response edited into the upload), once its thread is open."""

    def finished() -> bool:
        message = emu.messages.get(rec.original_message_id or "")
        return bool(message and message["attachments"] and (not thread or message["id"] in emu.threads))

    await until(finished, timeout=10, what="the /imagine result")
    return emu.messages[rec.original_message_id or ""]


async def imagine(emu: DiscordEmulator, options: JSON, **kwargs: Any) -> JSON:
    return await imagine_result(emu, await emu.invoke_slash("imagine", options, **kwargs))


# /imagine -----------------------------------------------------------------------------------------------------


async def test_imagine_with_a_ratio_defers_uploads_and_opens_a_thread(bot: Bot, emu: DiscordEmulator, gemini) -> None:
    await bot.start()
    names = {(c["name"], c.get("type", 1)) for c in emu.guild_commands()}
    assert {("imagine", 1), ("forget", 1), ("usage", 1), ("help", 1), ("Edit image", 3)} <= names

    rec = await emu.invoke_slash("imagine", {"prompt": "a red fox in the snow", "aspect_ratio": "16:9"})
    result = await imagine_result(emu, rec)

    first = rec.callbacks[0]
    assert first["type"] == 5 and not (first["data"].get("flags", 0) & FLAG_EPHEMERAL)
    assert emu.interaction_responses[0]["interaction_id"] == rec.id
    (wire,) = gemini.requests
    assert (wire.prompt, wire.aspect_ratio, wire.model) == ("a red fox in the snow", "16:9", FLASH)
    (upload,) = emu.message_files(result["id"])
    assert upload.content_type == "image/png" and (upload.width, upload.height) == (1376, 768)
    assert "a red fox in the snow" in result["content"] and "16:9" in result["content"]
    assert f"<@{emu.user['id']}>" in result["content"]
    final = emu.requests_to("PATCH", rf"/webhooks/{emu.application_id}/.+/messages/@original")[-1]
    assert final.json["allowed_mentions"]["parse"] == [] and final.files  # the requester is named, not pinged
    thread = emu.threads[result["id"]]  # Discord gives the thread its starter message's id
    assert thread["parent_id"] == emu.channel_id and thread["name"] == "a red fox in the snow"
    turn = custom_ids(result)[0].rsplit(":", 1)[1]
    assert custom_ids(result) == [f"gib:reroll:{turn}", f"gib:refine:{turn}", f"gib:delete:{turn}"]  # flash: no sizes




async def test_an_invalid_option_for_the_model_is_an_ephemeral_error_naming_what_it_supports(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    await bot.start()
    sized = await emu.invoke_slash("imagine", {"prompt": "a fox", "size": "4K", "model": FLASH})
    tall = await emu.invoke_slash("imagine", {"prompt": "a fox", "aspect_ratio": "1:8", "model": PRO})
    for rec in (sized, tall):
        answer = await emu.wait_for_callback(rec)
        assert answer["type"] == 4 and answer["data"]["flags"] & FLAG_EPHEMERAL
    assert "has no size option" in sized.callbacks[0]["data"]["content"]
    assert "It supports: 1:1 2:3" in tall.callbacks[0]["data"]["content"]
    assert gemini.requests == []


async def test_attachments_are_checked_before_anything_is_downloaded(bot: Bot, emu: DiscordEmulator, gemini) -> None:
    await bot.start()
    huge = emu.add_attachment(png(), "huge.png", size=21 * MiB)
    foreign = emu.add_attachment(png(), "far.png", url="https://images.example.net/far.png")
    document = emu.add_attachment(b"%PDF-1.7 ...", "notes.pdf", content_type="application/pdf")
    answers = []
    for attachment in (huge, foreign, document):
        rec = await emu.invoke_slash("imagine", {"prompt": "edit this", "image": attachment})
        answers.append(await emu.wait_for_callback(rec))
    assert all(a["type"] == 4 and a["data"]["flags"] & FLAG_EPHEMERAL for a in answers)
    texts = [a["data"]["content"] for a in answers]
    assert "21.0 MiB; images up to 20 MiB" in texts[0]
    assert "not stored on Discord's CDN" in texts[1] and "not an image (application/pdf)" in texts[2]
    assert emu.cdn_requests == [] and gemini.requests == []


async def test_imagine_with_an_image_downloads_it_from_the_cdn_and_edits_it(bot: Bot, emu: DiscordEmulator, gemini):
    await bot.start()
    source = png(40, 30, (0, 200, 0))
    await imagine(emu, {"prompt": "make it winter", "image": emu.add_attachment(source, "garden.png")})

    assert gemini.requests[0].input_images == [source] and gemini.requests[0].prompt == "make it winter"
    (fetch,) = emu.cdn_requests
    assert fetch.status == 200 and fetch.authorization is None  # the bot token never goes to the CDN


# Conversations in threads -----------------------------------------------------------------------------------


async def test_a_plain_message_in_the_thread_is_the_next_turn_with_history_and_signature(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    await bot.start(model=PRO)
    result = await imagine(emu, {"prompt": "a lighthouse at dusk"})
    first_image = emu.message_files(result["id"])[0].data
    thread_id = result["id"]

    said = await emu.send_message(thread_id, emu.user, "make it night")
    answer = await emu.wait_for_message(lambda m: m["channel_id"] == thread_id and m["attachments"], timeout=10)

    history = gemini.requests[1].contents
    assert [c["role"] for c in history] == ["user", "model", "user"] and gemini.requests[1].prompt == "make it night"
    model_part = next(p for p in history[1]["parts"] if "inline_data" in p)
    assert model_part["inline_data"]["data"] == first_image and model_part.get("thought_signature")
    assert answer["message_reference"]["message_id"] == said["id"]
    assert thread_id in emu.typing  # the typing indicator while it worked
    assert len(gemini.requests) == 2  # its own answer, echoed by the gateway, was not taken as a turn


async def test_an_image_posted_in_the_thread_is_sent_as_the_edit_input(bot: Bot, emu: DiscordEmulator, gemini):
    await bot.start()
    result = await imagine(emu, {"prompt": "a cat on a sofa"})
    photo = png(32, 32, (10, 10, 250))
    hat = emu.add_attachment(photo, "hat.png")
    await emu.send_message(result["id"], emu.user, "put this hat on it", attachments=[hat])
    await until(lambda: len(gemini.requests) == 2, timeout=10, what="the second Gemini call")

    assert gemini.requests[1].input_images == [photo] and gemini.requests[1].prompt == "put this hat on it"
    await emu.wait_for_message(lambda m: m["channel_id"] == result["id"] and m["attachments"], timeout=10)


async def test_messages_outside_bot_threads_without_a_mention_are_ignored(bot: Bot, emu: DiscordEmulator, gemini):
    await bot.start()
    await emu.send_message(emu.channel_id, emu.user, "draw a cat", attachments=[emu.add_attachment(png(), "a.png")])
    other_bot = emu.add_member(emu.guild_id, emu.add_user("otherbot", bot=True))
    await emu.send_message(emu.channel_id, other_bot, f"{emu.mention(emu.bot_user)} draw a dog")
    # a thread the bot did not open is not a conversation either
    starter = await emu.send_message(emu.channel_id, emu.user, "chat")
    thread_id = await emu.add_thread(name="chat", starter_message_id=starter["id"])
    await emu.send_message(thread_id, emu.user, "draw a cow")
    await emu.send_message(emu.channel_id, emu.user, f"{emu.mention(emu.bot_user)}")  # mention, no request: a hint
    hint = await emu.wait_for_message(timeout=5)

    assert "Tell me what to draw" in hint["content"]
    assert gemini.requests == [] and [m["id"] for m in emu.bot_messages()] == [hint["id"]]


# Edits of any picture -----------------------------------------------------------------------------------------


async def test_a_reply_that_mentions_the_bot_edits_someones_image_and_opens_a_thread(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    await bot.start()
    photo = png(48, 32, (250, 200, 0))
    shared = await emu.send_message(emu.channel_id, emu.user, "my garden", attachments=[emu.add_attachment(photo)])
    ask = await emu.send_message(
        emu.channel_id, emu.moderator, f"{emu.mention(emu.bot_user)} make it blue --ar 3:2",
        referenced_message_id=shared["id"], mention_replied_user=False,
    )
    answer = await emu.wait_for_message(lambda m: m["attachments"] and m["id"] in emu.threads, timeout=10)

    (wire,) = gemini.requests
    assert (wire.prompt, wire.input_images, wire.aspect_ratio) == ("make it blue", [photo], "3:2")
    assert answer["channel_id"] == emu.channel_id and answer["message_reference"]["message_id"] == ask["id"]
    assert f"<@{emu.moderator['id']}>" in answer["content"] and custom_ids(answer)[0].startswith("gib:reroll:")
    assert emu.threads[answer["id"]]["name"] == "make it blue"

    await emu.send_message(answer["id"], emu.user, "and add a moon")  # the thread is the conversation now
    await until(lambda: len(gemini.requests) == 2, timeout=10, what="the next turn")
    assert [c["role"] for c in gemini.requests[1].contents] == ["user", "model", "user"]


async def test_edit_image_context_menu_asks_in_a_modal_and_answers_in_a_new_thread(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    await bot.start()
    photo = png(30, 30, (90, 90, 90))
    target = await emu.send_message(emu.channel_id, emu.user, "", attachments=[emu.add_attachment(photo, "me.png")])
    words = await emu.send_message(emu.channel_id, emu.user, "no picture here")

    refused = await emu.invoke_message_command("Edit image", words["id"], user=emu.moderator)
    assert "has no image" in (await emu.wait_for_callback(refused))["data"]["content"]
    opened = await emu.invoke_message_command("Edit image", target["id"], user=emu.moderator)
    modal = await emu.wait_for_callback(opened)
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"gib:edit-modal:{emu.channel_id}:{target['id']}"
    submitted = await emu.submit_modal(modal["data"]["custom_id"], {"prompt": "give me a hat"}, user=emu.moderator)
    result = await emu.wait_for_message(lambda m: m["channel_id"] == target["id"] and m["attachments"], timeout=10)

    assert emu.threads[target["id"]]["name"] == "give me a hat"  # a new thread on the target message
    (wire,) = gemini.requests
    assert (wire.prompt, wire.input_images) == ("give me a hat", [photo])
    assert submitted.callbacks[0]["type"] == 5 and submitted.callbacks[0]["data"]["flags"] & FLAG_EPHEMERAL
    await until(lambda: "Posted" in emu.messages[submitted.original_message_id or ""]["content"])
    assert result["id"] in emu.messages[submitted.original_message_id or ""]["content"]


async def test_in_direct_messages_the_reply_chain_is_the_conversation(bot: Bot, emu: DiscordEmulator, gemini):
    await bot.start(model=PRO, in_guild=False)
    assert "Edit image" in [c["name"] for c in emu.global_commands] and emu.guild_commands() == []
    dm = emu.open_dm(emu.user)
    await emu.send_message(dm, emu.user, "a paper boat")
    first = await emu.wait_for_message(lambda m: m["channel_id"] == dm and m["attachments"], timeout=10)
    asked = await emu.send_message(dm, emu.user, "now on a stormy sea", referenced_message_id=first["id"])
    second = await emu.wait_for_message(
        lambda m: m["channel_id"] == dm and m["attachments"] and m["id"] != first["id"], timeout=10
    )
    await emu.send_message(dm, emu.user, "a red kite")  # not a reply: a new conversation

    await until(lambda: len(gemini.requests) == 3, timeout=10, what="the third Gemini call")
    boat, storm, kite = gemini.requests
    assert [c["role"] for c in storm.contents] == ["user", "model", "user"] and storm.prompt == "now on a stormy sea"
    assert [c["role"] for c in kite.contents] == ["user"]
    assert second["message_reference"]["message_id"] == asked["id"]  # the answer continues the chain

    opened = await emu.invoke_message_command("Edit image", first["id"])  # the context menu works in DMs too
    await emu.wait_for_callback(opened)
    await emu.submit_modal(opened.modal["custom_id"], {"prompt": "fold it into a plane"})  # type: ignore[index]
    edited = await emu.wait_for_message(
        lambda m: m.get("message_reference", {}).get("message_id") == first["id"] and m["attachments"], timeout=10
    )
    assert edited["channel_id"] == dm and gemini.requests[3].input_images == [emu.message_files(first["id"])[0].data]
    assert emu.threads == {}


# Buttons, before and after a restart ----------------------------------------------------------------------------


async def test_every_button_works_after_the_bot_restarts_on_the_same_database(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    await bot.start(model=PRO)
    result = await imagine(emu, {"prompt": "a glass teapot", "aspect_ratio": "4:3"})
    thread_id, turn = result["id"], custom_ids(result)[0].rsplit(":", 1)[1]
    ids = [f"gib:{action}:{turn}" for action in ("reroll", "refine", "up-2K", "up-4K", "delete")]
    assert custom_ids(result) == ids

    await bot.restart(model=PRO)  # a new engine and a new client; buttons only name the stored turn

    def in_thread() -> list[JSON]:
        return [m for m in emu.channel_messages(thread_id) if m["attachments"]]

    reroll = await emu.click_button(result["id"], ids[0])
    await until(lambda: len(in_thread()) == 1, timeout=10, what="the reroll")
    assert reroll.callbacks[0]["type"] == 5 and reroll.callbacks[0]["data"]["flags"] & FLAG_EPHEMERAL
    assert (gemini.requests[1].prompt, gemini.requests[1].aspect_ratio) == ("a glass teapot", "4:3")

    await emu.click_button(result["id"], ids[2])
    await until(lambda: len(in_thread()) == 2, timeout=10, what="the upscale")
    wire = gemini.requests[2]
    assert (wire.image_size, wire.prompt) == ("2K", UPSCALE_PROMPT) and wire.contents[1]["role"] == "model"
    bigger = in_thread()[1]
    bigger_turn = custom_ids(bigger)[0].rsplit(":", 1)[1]
    assert custom_ids(bigger) == [f"gib:{a}:{bigger_turn}" for a in ("reroll", "refine", "up-4K", "delete")]

    refine = await emu.click_button(result["id"], ids[1])
    assert (await emu.wait_for_callback(refine))["type"] == 9
    await bot.restart(model=PRO)  # even a modal left open across a restart is answered
    await emu.submit_modal(f"gib:refine-modal:{turn}", {"prompt": "make it copper"})
    await until(lambda: len(in_thread()) == 3, timeout=10, what="the refinement")
    assert gemini.requests[3].prompt == "make it copper" and gemini.requests[3].input_images == [
        emu.message_files(result["id"])[0].data  # an older result refined: that picture is the input
    ]

    stranger = emu.add_member(emu.guild_id, "bob")
    refused = await emu.click_button(result["id"], ids[4], user=stranger)
    assert "Only <@" in (await emu.wait_for_callback(refused))["data"]["content"]
    assert result["id"] in emu.messages
    await emu.click_button(result["id"], ids[4], user=emu.moderator)  # Manage Messages may delete anything
    await until(lambda: result["id"] in emu.deleted_messages, what="the deletion")
    own = in_thread()[0]
    await emu.click_button(own["id"], custom_ids(own)[-1], user=emu.user)  # and the requester their own
    await until(lambda: own["id"] in emu.deleted_messages, what="the requester's deletion")


async def test_a_bug_in_a_handler_is_logged_and_the_user_told(
    bot: Bot, emu: DiscordEmulator, gemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await bot.start()
    result = await imagine(emu, {"prompt": "a kite"})

    async def broken(turn_id: int) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine.store, "get_turn", broken)
    rec = await emu.click_button(result["id"], custom_ids(result)[-1])
    answer = await emu.wait_for_callback(rec)
    assert answer["data"]["flags"] & FLAG_EPHEMERAL and "Something broke on the bot's side" in answer["data"]["content"]


# Uploads, failures, progress ------------------------------------------------------------------------------------


async def test_a_2k_result_over_10_mib_is_uploaded_within_the_limit_on_the_first_try(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    big = noise_png(2048, 2048)
    assert len(big) > 10 * MiB
    gemini.image = lambda wire: big
    await bot.start(model=PRO)
    result = await imagine(emu, {"prompt": "static", "size": "2K"})

    assert gemini.requests[0].image_size == "2K"
    (upload,) = emu.message_files(result["id"])
    assert upload.size <= emu.upload_limit and upload.data[:3] == b"\xff\xd8\xff"  # re-encoded to fit
    assert [r.status for r in emu.requests if r.files] == [200]  # one upload, accepted: never a 413
    assert all(r.status != 413 for r in emu.requests)


async def test_a_safety_block_is_explained_to_the_requester(bot: Bot, emu: DiscordEmulator, gemini) -> None:
    await bot.start()
    gemini.push(Finish("IMAGE_SAFETY"))
    rec = await emu.invoke_slash("imagine", {"prompt": "something it will not draw"})
    await until(lambda: len(rec.followup_message_ids) == 1, timeout=10, what="the explanation")

    told = emu.messages[rec.followup_message_ids[0]]
    assert told["flags"] & FLAG_EPHEMERAL and "IMAGE_SAFETY" in told["content"] and "Rephrase" in told["content"]
    assert rec.original_message_id in emu.deleted_messages  # no public placeholder left behind
    assert emu.threads == {}

    result = await imagine(emu, {"prompt": "a teacup"})
    gemini.push(Block("PROHIBITED_CONTENT"))
    await emu.send_message(result["id"], emu.user, "something else it will not draw")
    said = await emu.wait_for_message(lambda m: m["channel_id"] == result["id"], timeout=10)
    assert "Gemini blocked this prompt (PROHIBITED_CONTENT)" in said["content"]


async def test_the_deferred_message_shows_the_queue_then_generating_and_queued_requests_can_be_cancelled(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    gemini.hold()
    await bot.start(max_concurrency=1)

    def shown(rec: InteractionRecord) -> JSON | None:
        message = emu.messages.get(rec.original_message_id or "")
        return message if message and custom_ids(message) else None

    running = await emu.invoke_slash("imagine", {"prompt": "first"})
    await until(lambda: gemini.held == 1, what="the first request to reach Gemini")
    waiting = await emu.invoke_slash("imagine", {"prompt": "second"}, user=emu.moderator)
    await until(lambda: shown(waiting), what="the second request's queue position")
    doomed = await emu.invoke_slash("imagine", {"prompt": "third"})
    third = await until(lambda: shown(doomed), what="the third request's queue position")
    assert third["content"].startswith("⏳ Queued: #2 in line")
    cancel_id = custom_ids(third)[0]
    assert cancel_id == f"gib:cancel:{emu.user['id']}:{doomed.id}"
    refused = await emu.click_button(third["id"], cancel_id, user=emu.moderator)
    assert "Only <@" in (await emu.wait_for_callback(refused))["data"]["content"]
    await emu.click_button(third["id"], cancel_id, user=emu.user)
    await until(lambda: doomed.followup_message_ids, what="the cancellation")
    assert "Cancelled before it started" in emu.messages[doomed.followup_message_ids[0]]["content"]

    gemini.release(1)  # the first answers; the second moves from the line to Gemini
    await until(lambda: gemini.held == 1 and emu.messages[waiting.original_message_id or ""]["content"]
                .startswith("🎨 Generating…"), what="the second request shown generating")
    gemini.release()
    await imagine_result(emu, waiting)
    edits = [
        r.json.get("content") or ""
        for r in emu.requests_to("PATCH", rf"/webhooks/{emu.application_id}/{waiting.token}/messages/@original")
    ]
    queued = [i for i, text in enumerate(edits) if text.startswith("⏳ Queued: #1 in line")]
    generating = [i for i, text in enumerate(edits) if text.startswith("🎨 Generating…")]
    assert queued and generating and queued[-1] < generating[0] < len(edits) - 1
    assert [w.prompt for w in gemini.requests] == ["first", "second"]
    await imagine_result(emu, running)


async def test_a_thread_message_that_must_wait_shows_its_place_and_can_be_cancelled(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    await bot.start(max_concurrency=1)
    thread_id = (await imagine(emu, {"prompt": "a kettle"}))["id"]
    gemini.hold()
    await emu.invoke_slash("imagine", {"prompt": "a slow blocker"})
    await until(lambda: gemini.held == 1, what="the blocker to reach Gemini")
    asked = await emu.send_message(thread_id, emu.moderator, "make it whistle")

    status = await emu.wait_for_message(lambda m: m["channel_id"] == thread_id and custom_ids(m), timeout=5)
    assert status["content"].startswith("⏳ Queued: #1 in line") and thread_id in emu.typing
    assert status["message_reference"]["message_id"] == asked["id"]
    await emu.click_button(status["id"], custom_ids(status)[0], user=emu.moderator)
    await until(lambda: "Cancelled before it started" in emu.messages[status["id"]]["content"])
    assert custom_ids(emu.messages[status["id"]]) == []  # no Cancel button left behind
    gemini.release()
    await until(lambda: gemini.in_flight == 0, timeout=5, what="the blocker to finish")
    assert [w.prompt for w in gemini.requests] == ["a kettle", "a slow blocker"]


# The small commands, and shutting down ---------------------------------------------------------------------------


async def test_forget_help_and_usage(bot: Bot, emu: DiscordEmulator, gemini) -> None:
    await bot.start()
    result = await imagine(emu, {"prompt": "a snowman"})
    thread_id = result["id"]

    outside = await emu.invoke_slash("forget")
    assert "works inside a thread I opened" in (await emu.wait_for_callback(outside))["data"]["content"]
    forgot = await emu.invoke_slash("forget", channel_id=thread_id)
    await until(lambda: forgot.followup_message_ids, what="the /forget answer")
    assert "Forgot this conversation (1 turns)" in emu.messages[forgot.followup_message_ids[0]]["content"]
    await emu.send_message(thread_id, emu.user, "a snowman in July")
    await until(lambda: len(gemini.requests) == 2, timeout=10, what="the fresh turn")
    assert [c["role"] for c in gemini.requests[1].contents] == ["user"]  # no history after /forget

    helped = await emu.invoke_slash("help")
    answer = await emu.wait_for_callback(helped)
    assert answer["data"]["flags"] & FLAG_EPHEMERAL and "/imagine" in answer["data"]["content"]

    await emu.wait_for_message(lambda m: m["channel_id"] == thread_id and m["attachments"], timeout=10)
    usage = await emu.invoke_slash("usage")
    await until(lambda: usage.followup_message_ids, what="the /usage answer")
    report = emu.messages[usage.followup_message_ids[0]]
    assert report["flags"] & FLAG_EPHEMERAL and report["content"].startswith("You: 2 images today")


async def test_stopping_lets_a_request_in_flight_post_its_result_then_disconnects(
    bot: Bot, emu: DiscordEmulator, gemini
) -> None:
    gemini.hold()
    await bot.start()
    rec = await emu.invoke_slash("imagine", {"prompt": "a slow snail"})
    await until(lambda: gemini.held == 1, what="the request to reach Gemini")
    gemini.release()  # the answer is on its way, not yet posted
    await bot.stop()  # cancels run(): it waits for the handler, then closes the client

    assert emu.messages[rec.original_message_id or ""]["attachments"] and rec.original_message_id in emu.threads
    assert not emu.connected
