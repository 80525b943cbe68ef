"""Scenario tests: the real Bolt app over signed HTTP (and Socket Mode) against the Slack emulator's Web API and the
Gemini emulator, one test per user flow of the Slack adapter."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.slack_adapter import SlackBot, run
from adapters.slack_translate import ACTION_DELETE, ACTION_REFINE, ACTION_REROLL, EDIT_VIEW, REFINE_VIEW
from bot.settings import Settings, SettingsError
from core.engine import Engine, EngineConfig
from core.events import ThreadKey
from core.model import GeminiModel
from core.policy import Policy
from core.store import Store
from tests import pictures
from tests.conftest import gemini_config
from tests.emulators.gemini import Block, Finish, GeminiEmulator
from tests.emulators.slack import (
    DEFAULT_CHANNEL,
    DEFAULT_USER,
    UPLOAD_STEP,
    ForeignHost,
    SlackEmulator,
    app_mention_event,
    message_event,
    serve_bolt_app,
    wait_for,
)

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]

CH = DEFAULT_CHANNEL
PRO = "gemini-3-pro-image-preview"


def settings_for(emu: SlackEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        slack_bot_token=emu.bot_token, slack_signing_secret=emu.signing_secret, slack_api_url=emu.api_url
    )
    return Settings(**{**values, **overrides})


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@asynccontextmanager
async def serving(engine: Engine, emu: SlackEmulator) -> AsyncIterator[SlackBot]:
    bot = SlackBot(engine, settings_for(emu))
    try:
        async with serve_bolt_app(bot.app) as url:
            emu.app_url = url
            yield bot
    finally:
        await bot.aclose()


@asynccontextmanager
async def engine_on(db: Path, gemini: GeminiEmulator, policy: Policy | None = None) -> AsyncIterator[Engine]:
    """A whole engine on a database file, closed on exit: a bot process's lifetime."""
    store = await Store.open(db)
    model = GeminiModel(gemini_config(gemini))
    try:
        yield Engine(store, model, EngineConfig(), policy=policy)
    finally:
        await model.aclose()
        await store.close()


@pytest.fixture
async def bot(engine: Engine, emu: SlackEmulator) -> AsyncIterator[SlackBot]:
    async with serving(engine, emu) as running:
        yield running


def buttons_message(emu: SlackEmulator, thread_ts: str, nth: int = -1) -> dict[str, Any] | None:
    found = [
        m for m in emu.thread(CH, thread_ts)
        if m.get("bot_id") and any(b.get("type") == "actions" for b in m.get("blocks") or ())
    ]
    return found[nth] if len(found) > (nth if nth >= 0 else -nth - 1) else None


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    return next(e for e in actions["elements"] if e["action_id"] == action_id)


def updates_saying(emu: SlackEmulator, words: str) -> list[str]:
    return [c.args["text"] for c in emu.calls_to("chat.update", ok_only=True) if words in (c.args.get("text") or "")]


async def imagine(emu: SlackEmulator, text: str, uploads: int = 1) -> tuple[str, dict[str, Any]]:
    """Run /imagine; return the root's ts and the buttons message under the new image."""
    response = await emu.send_slash_command("/imagine", text)
    assert response.status == 200, response
    await wait_for(lambda: len(emu.uploads) >= uploads, message="no upload")
    root_ts = emu.uploads[-1].thread_ts
    assert root_ts is not None
    return root_ts, await wait_for(lambda: buttons_message(emu, root_ts), message="no buttons")


async def test_imagine_acks_fast_posts_a_root_and_uploads_into_its_thread(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator, engine: Engine
) -> None:
    status, body, elapsed = await emu.send_slash_command("/imagine", "a red fox in the snow --ar 16:9 --model pro")
    assert status == 200 and elapsed < 3 and body == ""
    [upload] = await wait_for(lambda: emu.uploads)
    root = emu.find_message(CH, upload.thread_ts or "")
    assert root is not None and upload.channel == CH
    assert "a red fox in the snow" in root["text"] and f"<@{DEFAULT_USER}>" in root["text"] and PRO in root["text"]
    [wire] = gemini.requests
    assert (wire.prompt, wire.aspect_ratio, wire.model) == ("a red fox in the snow", "16:9", PRO)
    assert hashlib.sha256(upload.data).hexdigest() in gemini.signatures  # the very image Gemini drew
    buttons = await wait_for(lambda: buttons_message(emu, root["ts"]))
    [actions] = [b for b in buttons["blocks"] if b["type"] == "actions"]
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == [ACTION_REROLL, ACTION_REFINE, "imagine_upscale:2K", "imagine_upscale:4K", ACTION_DELETE]
    turn_ids = {int(e["value"].split(":")[0]) for e in actions["elements"]}
    [turn] = [await engine.store.get_turn(t) for t in turn_ids]  # every button names the one stored turn
    assert turn is not None and turn.prompt == "a red fox in the snow"
    assert turn.thread.key == ThreadKey("slack", emu.team_id, CH, root["ts"])
    assert button(buttons, ACTION_DELETE)["value"].endswith(upload.id)
    await bot.drain()
    # the thread holds the root, the image and the buttons: the status reply was removed when the image came
    assert [bool(m.get("files")) for m in emu.thread(CH, root["ts"])] == [False, True, False]
    assert len(emu.calls_to("chat.delete", ok_only=True)) == 1
    # seen from the channel: the root wore an hourglass while Gemini worked, and a tick once the image was in
    assert [c.args["name"] for c in emu.calls_to("reactions.add")] == ["hourglass_flowing_sand", "white_check_mark"]
    assert emu.reactions[(CH, root["ts"])] == ["white_check_mark"]


async def test_an_invalid_flag_is_answered_in_the_ack_naming_what_is_supported(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    status, body, elapsed = await emu.send_slash_command("/imagine", "a fox --ar 8:1")
    answer = json.loads(body)
    assert status == 200 and elapsed < 3 and answer["response_type"] == "ephemeral"
    assert "8:1" in answer["text"] and "It supports: 1:1" in answer["text"] and "16:9" in answer["text"]
    sized = json.loads((await emu.send_slash_command("/imagine", "a fox --size 4K")).body)
    assert "no size option" in sized["text"] and "--model pro" in sized["text"]
    empty = json.loads((await emu.send_slash_command("/imagine", "  --ar 1:1")).body)
    assert "Usage: `/imagine PROMPT" in empty["text"]
    await bot.drain()
    assert gemini.requests == [] and emu.calls_to("chat.postMessage") == []


async def test_progress_is_shown_in_a_status_reply(emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator) -> None:
    gemini.latency = 0.3
    await imagine(emu, "a slow sunrise")
    [status_post] = [c for c in emu.calls_to("chat.postMessage") if "Working on it" in c.args["text"]]
    assert status_post.args["thread_ts"] == emu.uploads[0].thread_ts
    assert updates_saying(emu, "Generating…")


async def test_a_thread_message_is_the_next_turn_with_the_first_image_and_its_signature(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(emu, "a lighthouse --model pro")
    status, _, elapsed = await emu.send_event(emu.user_message(CH, "make it night", thread_ts=root_ts))
    assert status == 200 and elapsed < 3
    await wait_for(lambda: len(emu.uploads) == 2)
    wire = gemini.requests[1]
    assert [c["role"] for c in wire.contents] == ["user", "model", "user"] and wire.prompt == "make it night"
    [earlier] = [p for p in wire.contents[1]["parts"] if "inline_data" in p]
    assert earlier["inline_data"]["data"] == emu.uploads[0].data and earlier.get("thought_signature")
    assert wire.model == PRO and emu.uploads[1].thread_ts == root_ts


async def test_a_file_posted_in_the_thread_is_downloaded_with_the_token_and_sent_as_the_input(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(emu, "a garden")
    photo = pictures.png(40, 30, (10, 200, 10))
    file = emu.register_file(photo, "cat.png")
    await emu.send_event(emu.user_message(CH, "put this cat in it", thread_ts=root_ts, files=[file]))
    await wait_for(lambda: len(emu.uploads) == 2)
    assert gemini.requests[1].input_images == [photo] and gemini.requests[1].prompt == "put this cat in it"
    [fetch] = emu.file_fetches
    assert fetch.file_id == file["id"] and fetch.authorization == f"Bearer {emu.bot_token}" and fetch.served_bytes


async def test_a_file_on_a_foreign_host_is_refused_without_sending_the_token(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(emu, "a garden")
    photo = pictures.png(20, 20)
    async with ForeignHost() as foreign:
        file = emu.register_file(photo, "cat.png")
        file["url_private"] = file["url_private_download"] = foreign.serve("/files/cat.png", photo)
        await emu.send_event(emu.user_message(CH, "use this", thread_ts=root_ts, files=[file]))
        [told] = await wait_for(lambda: updates_saying(emu, "outside Slack"))
        assert "127.0.0.2" in told and f"<@{DEFAULT_USER}>" in told
        assert foreign.requests == [] and len(gemini.requests) == 1

        # Slack's own host may redirect to a CDN: the hop is followed, but without the token.
        cdn = foreign.serve("/cdn/dog.png", photo)
        moved = emu.register_file(photo, "dog.png", redirect_to=cdn)
        await emu.send_event(emu.user_message(CH, "and this one", thread_ts=root_ts, files=[moved]))
        await wait_for(lambda: len(emu.uploads) == 2)
        assert [r.path for r in foreign.requests] == ["/cdn/dog.png"] and foreign.authorizations == []
        assert emu.file_fetches[-1].authorization == f"Bearer {emu.bot_token}"
        assert gemini.requests[-1].input_images == [photo]


async def test_an_oversized_file_is_refused_unread_and_a_login_page_names_the_missing_scope(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(emu, "a garden")
    huge = emu.register_file(pictures.png(), "huge.png", size=25 * 2**20)
    await emu.send_event(emu.user_message(CH, "use this", thread_ts=root_ts, files=[huge]))
    [told] = await wait_for(lambda: updates_saying(emu, "MiB"))
    assert "25.0 MiB" in told and "20 MiB" in told and emu.file_fetches == []

    emu.scopes = emu.scopes.replace("files:read,", "")
    file = emu.register_file(pictures.png(), "cat.png")
    await emu.send_event(emu.user_message(CH, "use this", thread_ts=root_ts, files=[file]))
    [told] = await wait_for(lambda: updates_saying(emu, "files:read"))
    assert "sign-in page" in told and "reinstall" in told
    assert len(gemini.requests) == 1


async def test_a_bad_or_stale_signature_is_refused_with_401(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    assert (await emu.send_slash_command("/imagine", "a fox", bad_signature=True)).status == 401
    assert (await emu.send_slash_command("/imagine", "a fox", timestamp=int(time.time()) - 600)).status == 401
    assert (await emu.send_event(message_event(CH, "hi"), bad_signature=True)).status == 401
    await bot.drain()
    assert emu.calls == [] and gemini.requests == []


async def test_own_messages_other_bots_edits_and_foreign_threads_are_acked_and_ignored(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(emu, "a garden")
    posts = len(emu.calls_to("chat.postMessage"))
    foreign_root = emu.user_message(CH, "lunch?")
    ignored = [
        message_event(CH, "from me", user=emu.bot_user_id, bot_id=emu.bot_id, thread_ts=root_ts),
        message_event(CH, "beep", user=None, bot_id="B0OTHER", thread_ts=root_ts),
        message_event(CH, "edited", thread_ts=root_ts, subtype="message_changed"),
        emu.user_message(CH, "tacos", thread_ts=foreign_root["ts"]),
        emu.user_message(CH, "just chatting"),
    ]
    for event in ignored:
        status, _, elapsed = await emu.send_event(event)
        assert status == 200 and elapsed < 3  # acked, so Slack never redelivers
    await bot.drain()
    assert len(gemini.requests) == 1 and len(emu.calls_to("chat.postMessage")) == posts
    # a real turn sent after them is answered, and is the only thing that reached Gemini
    await emu.send_event(emu.user_message(CH, "more flowers", thread_ts=root_ts))
    await wait_for(lambda: len(emu.uploads) == 2)
    await bot.drain()
    assert [w.prompt for w in gemini.requests] == ["a garden", "more flowers"]


async def test_a_mention_on_an_image_starts_a_conversation_in_its_thread_answered_once(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    photo = pictures.png(30, 30, (0, 0, 255))
    file = emu.register_file(photo, "dog.png")
    posted = emu.user_message(CH, f"<@{emu.bot_user_id}> make it a watercolor", files=[file])
    mention = app_mention_event(CH, posted["text"], ts=posted["ts"], files=[file])
    answers = await asyncio.gather(emu.send_event(posted), emu.send_event(mention))  # Slack sends both
    assert [a.status for a in answers] == [200, 200]
    [upload] = await wait_for(lambda: emu.uploads)
    await bot.drain()
    assert upload.thread_ts == posted["ts"] and len(gemini.requests) == 1
    assert gemini.requests[0].input_images == [photo] and gemini.requests[0].prompt == "make it a watercolor"

    # the thread is now a conversation: a plain reply continues it
    await emu.send_event(emu.user_message(CH, "brighter", thread_ts=posted["ts"]))
    await wait_for(lambda: len(emu.uploads) == 2)
    assert [c["role"] for c in gemini.requests[1].contents] == ["user", "model", "user"]


async def test_a_mention_in_a_thread_under_an_image_edits_that_image(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    photo = pictures.png(36, 24, (250, 200, 0))
    root = emu.user_message(CH, "our new logo", files=[emu.register_file(photo, "logo.png")])
    await emu.send_event(root)  # no mention: not for the bot
    reply = emu.user_message(CH, f"<@{emu.bot_user_id}> make it purple", thread_ts=root["ts"])
    await emu.send_event(app_mention_event(CH, reply["text"], ts=reply["ts"], thread_ts=root["ts"]))
    [upload] = await wait_for(lambda: emu.uploads)
    assert upload.thread_ts == root["ts"] and gemini.requests[0].input_images == [photo]


async def test_in_a_direct_message_any_message_starts_a_conversation(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    dm = emu.user_message("D0USER", "a paper boat --ar 3:2")
    await emu.send_event(dm)
    [upload] = await wait_for(lambda: emu.uploads)
    assert (upload.channel, upload.thread_ts) == ("D0USER", dm["ts"]) and gemini.requests[0].aspect_ratio == "3:2"


async def test_the_edit_image_shortcut_opens_a_modal_and_answers_in_the_message_thread(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    photo = pictures.png(50, 40, (120, 60, 30))
    posted = emu.user_message(CH, "my living room", files=[emu.register_file(photo, "room.png")])
    status, _, elapsed = await emu.send_message_shortcut("edit_image", posted["ts"])
    assert status == 200 and elapsed < 3
    [opened] = await emu.wait_for_calls("views.open", ok_only=True)
    view = opened.response["view"]  # type: ignore[index]
    assert view["callback_id"] == EDIT_VIEW

    refused = await emu.send_view_submission(view_id=view["id"], values={"prompt": {"text": "blue --ar 8:1"}})
    answer = json.loads(refused.body)
    assert answer["response_action"] == "errors" and "It supports" in answer["errors"]["prompt"]
    done = await emu.send_view_submission(view_id=view["id"], values={"prompt": {"text": "paint it blue --ar 4:3"}})
    assert done.status == 200 and done.body == ""
    [upload] = await wait_for(lambda: emu.uploads)
    assert upload.thread_ts == posted["ts"]
    wire = gemini.requests[0]
    assert (wire.input_images, wire.prompt, wire.aspect_ratio) == ([photo], "paint it blue", "4:3")

    text_only = emu.user_message(CH, "no picture here")
    await emu.send_message_shortcut("edit_image", text_only["ts"])
    await wait_for(lambda: emu.ephemerals)
    assert "has no image" in emu.ephemerals[0]["text"] and len(emu.calls_to("views.open")) == 1


async def test_the_shortcut_on_an_image_in_a_bot_thread_continues_that_conversation(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(emu, "a teapot --model pro")
    image_message = emu.find_message(CH, emu.uploads[0].message_ts or "")
    assert image_message is not None
    await emu.send_message_shortcut("edit_image", image_message)
    [opened] = await emu.wait_for_calls("views.open", ok_only=True)
    await emu.send_view_submission(view_id=opened.response["view"]["id"],  # type: ignore[index]
                                   values={"prompt": {"text": "make it porcelain"}})
    await wait_for(lambda: len(emu.uploads) == 2)
    wire = gemini.requests[1]
    assert wire.model == PRO and [c["role"] for c in wire.contents] == ["user", "model", "user"]
    assert wire.input_images == [emu.uploads[0].data] and emu.uploads[1].thread_ts == root_ts


async def test_each_button_reroll_upscale_refine_and_delete(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, buttons = await imagine(emu, "a lighthouse --model pro")
    await emu.send_block_action(ACTION_REROLL, button(buttons, ACTION_REROLL)["value"], message_ts=buttons["ts"])
    await wait_for(lambda: len(emu.uploads) == 2)
    assert gemini.requests[1].prompt == "a lighthouse" and len(gemini.requests[1].contents) == 1

    upscale = button(buttons, "imagine_upscale:2K")
    await emu.send_block_action(upscale["action_id"], upscale["value"], message_ts=buttons["ts"])
    await wait_for(lambda: len(emu.uploads) == 3)
    assert gemini.requests[2].image_size == "2K" and emu.uploads[2].thread_ts == root_ts

    await emu.send_block_action(ACTION_REFINE, button(buttons, ACTION_REFINE)["value"], message_ts=buttons["ts"])
    [opened] = await emu.wait_for_calls("views.open", ok_only=True)
    view = opened.response["view"]  # type: ignore[index]
    assert view["callback_id"] == REFINE_VIEW
    await emu.send_view_submission(view_id=view["id"], values={"prompt": {"text": "add a storm"}})
    await wait_for(lambda: len(emu.uploads) == 4)
    assert gemini.requests[3].prompt == "add a storm" and emu.uploads[3].thread_ts == root_ts

    first = emu.uploads[0].id
    delete = button(buttons, ACTION_DELETE)
    await emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"], user_id="U0STRANGER")
    await wait_for(lambda: emu.ephemerals)
    assert f"Only <@{DEFAULT_USER}>" in emu.ephemerals[0]["text"] and emu.deleted_files == []
    emu.add_user("U0ADMIN", "boss", is_admin=True)
    await emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"], user_id="U0ADMIN")
    await wait_for(lambda: emu.deleted_files)
    assert emu.deleted_files == [first] and first not in emu.files
    marked = await wait_for(lambda: updates_saying(emu, "deleted by"))
    assert "<@U0ADMIN>" in marked[0]


async def test_an_admin_named_in_bot_admins_may_delete_any_image(
    emu: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    policy = Policy(admins=frozenset({"slack:U0OPS"}))
    async with engine_on(tmp_path / "bot.db", gemini, policy) as engine, serving(engine, emu):
        _, buttons = await imagine(emu, "a kettle")
        delete = button(buttons, ACTION_DELETE)
        await emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"], user_id="U0OPS")
        await wait_for(lambda: emu.deleted_files)
        assert emu.deleted_files == [emu.uploads[0].id] and emu.calls_to("users.info") == []


async def test_closing_lets_an_answer_in_flight_finish_posting(
    emu: SlackEmulator, engine: Engine, gemini: GeminiEmulator
) -> None:
    gemini.latency = 0.3
    bot = SlackBot(engine, settings_for(emu))
    async with serve_bolt_app(bot.app) as url:
        emu.app_url = url
        await emu.send_slash_command("/imagine", "a late train")
        await emu.wait_for_calls("chat.postMessage")  # the root is out: the turn is under way
    await bot.aclose()
    assert len(emu.uploads) == 1 and buttons_message(emu, emu.uploads[0].thread_ts or "")


async def test_buttons_work_after_a_restart_on_the_same_database(
    emu: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    db = tmp_path / "slack.db"
    async with engine_on(db, gemini) as engine, serving(engine, emu):
        root_ts, buttons = await imagine(emu, "a castle --model pro")

    async with engine_on(db, gemini) as engine, serving(engine, emu) as bot:
        await emu.send_block_action(ACTION_REROLL, button(buttons, ACTION_REROLL)["value"], message_ts=buttons["ts"])
        await wait_for(lambda: len(emu.uploads) == 2)
        assert gemini.requests[1].prompt == "a castle" and emu.uploads[1].thread_ts == root_ts

        await emu.send_block_action(ACTION_REFINE, button(buttons, ACTION_REFINE)["value"], message_ts=buttons["ts"])
        [opened] = await emu.wait_for_calls("views.open", ok_only=True)
        await emu.send_view_submission(view_id=opened.response["view"]["id"],  # type: ignore[index]
                                       values={"prompt": {"text": "add a dragon"}})
        await wait_for(lambda: len(emu.uploads) == 3)
        # the stored chain came back from the file: the new words continue from the reroll's interaction
        assert gemini.requests[2].raw["previous_interaction_id"] == "interaction-2"
        assert [c["role"] for c in gemini.requests[2].contents] == ["user", "model", "user"]

        delete = button(buttons, ACTION_DELETE)
        await emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"])  # the requester
        await wait_for(lambda: emu.deleted_files)
        await bot.drain()
        assert emu.deleted_files == [emu.uploads[0].id] and emu.ephemerals == []


async def test_web_api_calls_reuse_connections(emu: SlackEmulator, bot: SlackBot, engine: Engine) -> None:
    """One HTTP session for the bot's lifetime: a new connection (a TLS handshake on real Slack) per call is slow."""
    await imagine(emu, "a red fox")
    peers = [c.peer for c in emu.calls if c.method != "auth.test"]
    assert len(peers) >= 6 and len(set(peers)) <= 3, peers


async def test_a_429_on_the_upload_is_retried_after_retry_after(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    emu.fail_next(UPLOAD_STEP, status=429, retry_after=0)
    emu.fail_next("chat.postMessage", status=429, retry_after=0)
    await imagine(emu, "a kite")
    assert [c.status for c in emu.calls_to(UPLOAD_STEP)] == [429, 200]
    assert emu.calls_to("chat.postMessage")[0].status == 429 and len(emu.uploads) == 1


async def test_a_safety_block_is_explained_in_the_thread(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    gemini.push(Block("SAFETY"))
    await emu.send_slash_command("/imagine", "something edgy")
    [told] = await wait_for(lambda: updates_saying(emu, "SAFETY"))
    assert told.startswith(f":warning: <@{DEFAULT_USER}>") and "safety" in told.lower()
    gemini.push(Finish("IMAGE_SAFETY"))
    await emu.send_slash_command("/imagine", "something else")
    await wait_for(lambda: updates_saying(emu, "IMAGE_SAFETY"))
    await bot.drain()
    assert emu.uploads == [] and not any(emu.reactions.values())  # the hourglass went, no tick came


async def test_slack_refusals_reach_the_user_with_what_to_do(
    emu: SlackEmulator, bot: SlackBot, gemini: GeminiEmulator
) -> None:
    emu.add_channel("C0PRIVATE", "secret", is_member=False)
    await emu.send_slash_command("/imagine", "a fox", channel_id="C0PRIVATE")
    [hook] = await wait_for(lambda: emu.hook_posts)
    assert hook.body["response_type"] == "ephemeral" and "/invite" in hook.body["text"]

    emu.fail_next("files.completeUploadExternal", status=200, error="file_uploads_disabled")
    await emu.send_slash_command("/imagine", "a fox")
    [told] = await wait_for(lambda: updates_saying(emu, "upload"))
    assert "File uploads are disabled" in told and "admin" in told


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_run_serves_http_mode_on_port_until_cancelled(
    emu: SlackEmulator, engine: Engine, gemini: GeminiEmulator
) -> None:
    port = free_port()
    settings = settings_for(emu, port=port, slack_app_token=emu.app_token)  # --http wins over the app token
    serving_task = asyncio.create_task(run(engine, settings, http=True, host="127.0.0.1"))
    emu.app_url = f"http://127.0.0.1:{port}/slack/events"

    async def accepting() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    await wait_for(accepting)
    await imagine(emu, "a boat")
    serving_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving_task
    assert not await accepting()
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        await run(engine, settings_for(emu, slack_signing_secret=None), http=True)


async def test_run_uses_socket_mode_when_an_app_token_is_set(
    emu: SlackEmulator, engine: Engine, gemini: GeminiEmulator
) -> None:
    settings = settings_for(emu, slack_app_token=emu.app_token, slack_signing_secret=None)
    serving_task = asyncio.create_task(run(engine, settings))
    await wait_for(lambda: emu.sockets)
    [opened] = emu.calls_to("apps.connections.open", ok_only=True)
    assert opened.token == emu.app_token
    envelope = await emu.push_slash_command("/imagine", "a paper crane --ar 3:4")
    await wait_for(lambda: envelope in emu.socket_acks)
    [upload] = await wait_for(lambda: emu.uploads)
    assert gemini.requests[0].aspect_ratio == "3:4" and upload.thread_ts
    reply = emu.user_message(CH, "fold it in gold", thread_ts=upload.thread_ts)
    ack = await emu.push_event(reply)
    await wait_for(lambda: ack in emu.socket_acks and len(emu.uploads) == 2)
    serving_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving_task
    await wait_for(lambda: not emu.sockets)
