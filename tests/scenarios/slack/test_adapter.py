"""Scenario tests: the real Bolt app over signed HTTP (and Socket Mode) against the Slack emulator's Web API and the
Gemini emulator, one test per user flow of the Slack adapter."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path

import pytest

from adapters.slack.app import SlackBot, run
from adapters.slack.translate import ACTION_DELETE, ACTION_REFINE, ACTION_REROLL, EDIT_VIEW, REFINE_VIEW
from core.engine import Engine
from core.events import ThreadKey
from core.policy import Policy
from tests import pictures
from tests.emulators.gemini import Block, Finish, GeminiEmulator
from tests.emulators.slack import (
    DEFAULT_USER,
    UPLOAD_STEP,
    ForeignHost,
    SlackEmulator,
    app_mention_event,
    message_event,
    serve_bolt_app,
)
from tests.scenarios.slack.harness import (
    CH,
    PRO,
    button,
    buttons_message,
    engine_on,
    imagine,
    serving,
    settings_for,
    updates_saying,
)
from tests.support import free_port, until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


async def test_imagine_acks_fast_posts_a_root_and_uploads_into_its_thread(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator, engine: Engine
) -> None:
    status, body, elapsed = await slack_emu.send_slash_command(
        "/imagine", "a red fox in the snow --ar 16:9 --model pro"
    )
    assert status == 200 and elapsed < 3 and body == ""
    [upload] = await until(lambda: slack_emu.uploads)
    root = slack_emu.find_message(CH, upload.thread_ts or "")
    assert root is not None and upload.channel == CH
    assert "a red fox in the snow" in root["text"] and f"<@{DEFAULT_USER}>" in root["text"] and PRO in root["text"]
    [wire] = gemini.requests
    assert (wire.prompt, wire.aspect_ratio, wire.model) == ("a red fox in the snow", "16:9", PRO)
    assert hashlib.sha256(upload.data).hexdigest() in gemini.signatures  # the very image Gemini drew
    buttons = await until(lambda: buttons_message(slack_emu, root["ts"]))
    [actions] = [b for b in buttons["blocks"] if b["type"] == "actions"]
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == [ACTION_REROLL, ACTION_REFINE, "imagine_upscale:2K", "imagine_upscale:4K", ACTION_DELETE]
    turn_ids = {int(e["value"].split(":")[0]) for e in actions["elements"]}
    [turn] = [await engine.store.get_turn(t) for t in turn_ids]  # every button names the one stored turn
    assert turn is not None and turn.prompt == "a red fox in the snow"
    assert turn.thread.key == ThreadKey("slack", slack_emu.team_id, CH, root["ts"])
    assert buttons["ts"] == upload.message_ts  # the buttons ride on the message that carries the image
    await slack_bot.drain()
    # the thread holds the root and the image: no status reply was posted, since the request never waited
    assert [bool(m.get("files")) for m in slack_emu.thread(CH, root["ts"])] == [False, True]
    assert slack_emu.calls_to("chat.delete") == []
    # seen from the channel: the root wore an hourglass while Gemini worked, gone once the image was in
    assert [c.args["name"] for c in slack_emu.calls_to("reactions.add")] == ["hourglass_flowing_sand"]
    assert [c.args["name"] for c in slack_emu.calls_to("reactions.remove", ok_only=True)] == ["hourglass_flowing_sand"]
    assert not slack_emu.reactions.get((CH, root["ts"]))


async def test_an_invalid_flag_is_answered_in_the_ack_naming_what_is_supported(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    status, body, elapsed = await slack_emu.send_slash_command("/imagine", "a fox --ar 8:1 --model flash-2.5")
    answer = json.loads(body)
    assert status == 200 and elapsed < 3 and answer["response_type"] == "ephemeral"
    assert "8:1" in answer["text"] and "It supports: 1:1" in answer["text"] and "16:9" in answer["text"]
    sized = json.loads((await slack_emu.send_slash_command("/imagine", "a fox --size 4K --model flash-2.5")).body)
    assert "no size option" in sized["text"] and "--model pro" in sized["text"]
    empty = json.loads((await slack_emu.send_slash_command("/imagine", "  --ar 1:1")).body)
    assert "Usage: `/imagine PROMPT" in empty["text"]
    await slack_bot.drain()
    assert gemini.requests == [] and slack_emu.calls_to("chat.postMessage") == []


async def test_a_request_that_never_waits_posts_no_status_reply(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    gemini.hold()
    await slack_emu.send_slash_command("/imagine", "a slow sunrise")
    await until(lambda: gemini.held == 1, what="the request at Gemini")
    [root_post] = slack_emu.calls_to("chat.postMessage")
    gemini.release()
    await until(lambda: slack_emu.uploads, what="the upload")
    await slack_bot.drain()
    # the hourglass on the root says it is in hand; a status reply comes only once a request waits in line
    assert [c.args.get("thread_ts") for c in slack_emu.calls_to("chat.postMessage")] == [None]  # the root alone
    assert slack_emu.calls_to("chat.update") == [] and slack_emu.calls_to("chat.delete") == []
    assert [c.args["timestamp"] for c in slack_emu.calls_to("reactions.add")] == [root_post.response["ts"]]


async def test_a_thread_message_is_the_next_turn_with_the_first_image_and_its_signature(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a lighthouse --model pro")
    status, _, elapsed = await slack_emu.send_event(slack_emu.user_message(CH, "make it night", thread_ts=root_ts))
    assert status == 200 and elapsed < 3
    await until(lambda: len(slack_emu.uploads) == 2)
    wire = gemini.requests[1]
    assert [c["role"] for c in wire.contents] == ["user", "model", "user"] and wire.prompt == "make it night"
    [earlier] = [p for p in wire.contents[1]["parts"] if "inline_data" in p]
    assert earlier["inline_data"]["data"] == slack_emu.uploads[0].data and earlier.get("thought_signature")
    assert wire.model == PRO and slack_emu.uploads[1].thread_ts == root_ts


async def test_a_file_posted_in_the_thread_is_downloaded_with_the_token_and_sent_as_the_input(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a garden")
    photo = pictures.png(40, 30, (10, 200, 10))
    file = slack_emu.register_file(photo, "cat.png")
    await slack_emu.send_event(slack_emu.user_message(CH, "put this cat in it", thread_ts=root_ts, files=[file]))
    await until(lambda: len(slack_emu.uploads) == 2)
    assert gemini.requests[1].input_images == [photo] and gemini.requests[1].prompt == "put this cat in it"
    [fetch] = slack_emu.file_fetches
    assert fetch.file_id == file["id"] and fetch.authorization == f"Bearer {slack_emu.bot_token}" and fetch.served_bytes


async def test_a_file_on_a_foreign_host_is_refused_without_sending_the_token(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a garden")
    photo = pictures.png(20, 20)
    async with ForeignHost() as foreign:
        file = slack_emu.register_file(photo, "cat.png")
        file["url_private"] = file["url_private_download"] = foreign.serve("/files/cat.png", photo)
        await slack_emu.send_event(slack_emu.user_message(CH, "use this", thread_ts=root_ts, files=[file]))
        [told] = await until(lambda: updates_saying(slack_emu, "outside Slack"))
        assert "127.0.0.2" in told and f"<@{DEFAULT_USER}>" in told
        assert foreign.requests == [] and len(gemini.requests) == 1

        # Slack's own host may redirect to a CDN: the hop is followed, but without the token.
        cdn = foreign.serve("/cdn/dog.png", photo)
        moved = slack_emu.register_file(photo, "dog.png", redirect_to=cdn)
        await slack_emu.send_event(slack_emu.user_message(CH, "and this one", thread_ts=root_ts, files=[moved]))
        await until(lambda: len(slack_emu.uploads) == 2)
        assert [r.path for r in foreign.requests] == ["/cdn/dog.png"] and foreign.authorizations == []
        assert slack_emu.file_fetches[-1].authorization == f"Bearer {slack_emu.bot_token}"
        assert gemini.requests[-1].input_images == [photo]


async def test_an_oversized_file_is_refused_unread_and_a_login_page_names_the_missing_scope(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a garden")
    huge = slack_emu.register_file(pictures.png(), "huge.png", size=25 * 2**20)
    await slack_emu.send_event(slack_emu.user_message(CH, "use this", thread_ts=root_ts, files=[huge]))
    [told] = await until(lambda: updates_saying(slack_emu, "MiB"))
    assert "25.0 MiB" in told and "20 MiB" in told and slack_emu.file_fetches == []

    slack_emu.scopes = slack_emu.scopes.replace("files:read,", "")
    file = slack_emu.register_file(pictures.png(), "cat.png")
    await slack_emu.send_event(slack_emu.user_message(CH, "use this", thread_ts=root_ts, files=[file]))
    [told] = await until(lambda: updates_saying(slack_emu, "files:read"))
    assert "sign-in page" in told and "reinstall" in told
    assert len(gemini.requests) == 1


async def test_a_bad_or_stale_signature_is_refused_with_401(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    assert (await slack_emu.send_slash_command("/imagine", "a fox", bad_signature=True)).status == 401
    assert (await slack_emu.send_slash_command("/imagine", "a fox", timestamp=int(time.time()) - 600)).status == 401
    assert (await slack_emu.send_event(message_event(CH, "hi"), bad_signature=True)).status == 401
    await slack_bot.drain()
    assert slack_emu.calls == [] and gemini.requests == []


async def test_own_messages_other_bots_edits_and_foreign_threads_are_acked_and_ignored(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a garden")
    posts = len(slack_emu.calls_to("chat.postMessage"))
    foreign_root = slack_emu.user_message(CH, "lunch?")
    ignored = [
        message_event(CH, "from me", user=slack_emu.bot_user_id, bot_id=slack_emu.bot_id, thread_ts=root_ts),
        message_event(CH, "beep", user=None, bot_id="B0OTHER", thread_ts=root_ts),
        message_event(CH, "edited", thread_ts=root_ts, subtype="message_changed"),
        slack_emu.user_message(CH, "tacos", thread_ts=foreign_root["ts"]),
        slack_emu.user_message(CH, "just chatting"),
    ]
    for event in ignored:
        status, _, elapsed = await slack_emu.send_event(event)
        assert status == 200 and elapsed < 3  # acked, so Slack never redelivers
    await slack_bot.drain()
    assert len(gemini.requests) == 1 and len(slack_emu.calls_to("chat.postMessage")) == posts
    # a real turn sent after them is answered, and is the only thing that reached Gemini
    await slack_emu.send_event(slack_emu.user_message(CH, "more flowers", thread_ts=root_ts))
    await until(lambda: len(slack_emu.uploads) == 2)
    await slack_bot.drain()
    assert [w.prompt for w in gemini.requests] == ["a garden", "more flowers"]


async def test_a_mention_on_an_image_starts_a_conversation_in_its_thread_answered_once(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    photo = pictures.png(30, 30, (0, 0, 255))
    file = slack_emu.register_file(photo, "dog.png")
    posted = slack_emu.user_message(CH, f"<@{slack_emu.bot_user_id}> make it a watercolor", files=[file])
    mention = app_mention_event(CH, posted["text"], ts=posted["ts"], files=[file])
    answers = await asyncio.gather(slack_emu.send_event(posted), slack_emu.send_event(mention))  # Slack sends both
    assert [a.status for a in answers] == [200, 200]
    [upload] = await until(lambda: slack_emu.uploads)
    await slack_bot.drain()
    assert upload.thread_ts == posted["ts"] and len(gemini.requests) == 1
    assert gemini.requests[0].input_images == [photo] and gemini.requests[0].prompt == "make it a watercolor"

    # the thread is now a conversation: a plain reply continues it
    await slack_emu.send_event(slack_emu.user_message(CH, "brighter", thread_ts=posted["ts"]))
    await until(lambda: len(slack_emu.uploads) == 2)
    assert [c["role"] for c in gemini.requests[1].contents] == ["user", "model", "user"]


async def test_a_mention_in_a_thread_under_an_image_edits_that_image(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    photo = pictures.png(36, 24, (250, 200, 0))
    root = slack_emu.user_message(CH, "our new logo", files=[slack_emu.register_file(photo, "logo.png")])
    await slack_emu.send_event(root)  # no mention: not for the bot
    reply = slack_emu.user_message(CH, f"<@{slack_emu.bot_user_id}> make it purple", thread_ts=root["ts"])
    await slack_emu.send_event(app_mention_event(CH, reply["text"], ts=reply["ts"], thread_ts=root["ts"]))
    [upload] = await until(lambda: slack_emu.uploads)
    assert upload.thread_ts == root["ts"] and gemini.requests[0].input_images == [photo]


async def test_in_a_direct_message_any_message_starts_a_conversation(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    dm = slack_emu.user_message("D0USER", "a paper boat --ar 3:2")
    await slack_emu.send_event(dm)
    [upload] = await until(lambda: slack_emu.uploads)
    assert (upload.channel, upload.thread_ts) == ("D0USER", dm["ts"]) and gemini.requests[0].aspect_ratio == "3:2"


async def test_the_edit_image_shortcut_opens_a_modal_and_answers_in_the_message_thread(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    photo = pictures.png(50, 40, (120, 60, 30))
    posted = slack_emu.user_message(CH, "my living room", files=[slack_emu.register_file(photo, "room.png")])
    status, _, elapsed = await slack_emu.send_message_shortcut("edit_image", posted["ts"])
    assert status == 200 and elapsed < 3
    [opened] = await slack_emu.wait_for_calls("views.open", ok_only=True)
    view = opened.response["view"]  # type: ignore[index]
    assert view["callback_id"] == EDIT_VIEW

    flags = "blue --ar 8:1 --model pro"  # Pro has no 8:1
    refused = await slack_emu.send_view_submission(view_id=view["id"], values={"prompt": {"text": flags}})
    answer = json.loads(refused.body)
    assert answer["response_action"] == "errors" and "It supports" in answer["errors"]["prompt"]
    done = await slack_emu.send_view_submission(
        view_id=view["id"], values={"prompt": {"text": "paint it blue --ar 4:3"}}
    )
    assert done.status == 200 and done.body == ""
    [upload] = await until(lambda: slack_emu.uploads)
    assert upload.thread_ts == posted["ts"]
    wire = gemini.requests[0]
    assert (wire.input_images, wire.prompt, wire.aspect_ratio) == ([photo], "paint it blue", "4:3")

    text_only = slack_emu.user_message(CH, "no picture here")
    await slack_emu.send_message_shortcut("edit_image", text_only["ts"])
    await until(lambda: slack_emu.ephemerals)
    assert "has no image" in slack_emu.ephemerals[0]["text"] and len(slack_emu.calls_to("views.open")) == 1


async def test_the_shortcut_on_an_image_in_a_bot_thread_continues_that_conversation(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a teapot --model pro")
    image_message = slack_emu.find_message(CH, slack_emu.uploads[0].message_ts or "")
    assert image_message is not None
    await slack_emu.send_message_shortcut("edit_image", image_message)
    [opened] = await slack_emu.wait_for_calls("views.open", ok_only=True)
    await slack_emu.send_view_submission(view_id=opened.response["view"]["id"],  # type: ignore[index]
                                   values={"prompt": {"text": "make it porcelain"}})
    await until(lambda: len(slack_emu.uploads) == 2)
    wire = gemini.requests[1]
    assert wire.model == PRO and [c["role"] for c in wire.contents] == ["user", "model", "user"]
    assert wire.input_images == [slack_emu.uploads[0].data] and slack_emu.uploads[1].thread_ts == root_ts


async def test_each_button_reroll_upscale_refine_and_delete(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, buttons = await imagine(slack_emu, "a lighthouse --model pro")
    await slack_emu.send_block_action(ACTION_REROLL, button(buttons, ACTION_REROLL)["value"], message_ts=buttons["ts"])
    await until(lambda: len(slack_emu.uploads) == 2)
    assert gemini.requests[1].prompt == "a lighthouse" and len(gemini.requests[1].contents) == 1

    upscale = button(buttons, "imagine_upscale:2K")
    await slack_emu.send_block_action(upscale["action_id"], upscale["value"], message_ts=buttons["ts"])
    await until(lambda: len(slack_emu.uploads) == 3)
    assert gemini.requests[2].image_size == "2K" and slack_emu.uploads[2].thread_ts == root_ts

    await slack_emu.send_block_action(ACTION_REFINE, button(buttons, ACTION_REFINE)["value"], message_ts=buttons["ts"])
    [opened] = await slack_emu.wait_for_calls("views.open", ok_only=True)
    view = opened.response["view"]  # type: ignore[index]
    assert view["callback_id"] == REFINE_VIEW
    await slack_emu.send_view_submission(view_id=view["id"], values={"prompt": {"text": "add a storm"}})
    await until(lambda: len(slack_emu.uploads) == 4)
    assert gemini.requests[3].prompt == "add a storm" and slack_emu.uploads[3].thread_ts == root_ts

    first = slack_emu.uploads[0].id
    delete = button(buttons, ACTION_DELETE)
    await slack_emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"], user_id="U0STRANGER")
    await until(lambda: slack_emu.ephemerals)
    assert f"Only <@{DEFAULT_USER}>" in slack_emu.ephemerals[0]["text"] and slack_emu.deleted_files == []
    slack_emu.add_user("U0ADMIN", "boss", is_admin=True)
    await slack_emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"], user_id="U0ADMIN")
    await until(lambda: slack_emu.deleted_files)
    assert slack_emu.deleted_files == [first] and first not in slack_emu.files
    marked = await until(lambda: updates_saying(slack_emu, "deleted by"))
    assert "<@U0ADMIN>" in marked[0]


async def test_an_admin_named_in_bot_admins_may_delete_any_image(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    policy = Policy(admins=frozenset({"slack:U0OPS"}))
    async with engine_on(tmp_path / "bot.db", gemini, policy) as engine, serving(engine, slack_emu):
        _, buttons = await imagine(slack_emu, "a kettle")
        delete = button(buttons, ACTION_DELETE)
        await slack_emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"], user_id="U0OPS")
        await until(lambda: slack_emu.deleted_files)
        assert slack_emu.deleted_files == [slack_emu.uploads[0].id] and slack_emu.calls_to("users.info") == []


async def test_closing_lets_an_answer_in_flight_finish_posting(
    slack_emu: SlackEmulator, engine: Engine, gemini: GeminiEmulator
) -> None:
    gemini.hold()
    bot = SlackBot(engine, settings_for(slack_emu))
    async with serve_bolt_app(bot.app) as url:
        slack_emu.app_url = url
        await slack_emu.send_slash_command("/imagine", "a late train")
        await until(lambda: gemini.held == 1, what="the turn to reach Gemini")
    gemini.release()  # the answer is on its way, not yet posted
    await bot.aclose()
    assert len(slack_emu.uploads) == 1 and buttons_message(slack_emu, slack_emu.uploads[0].thread_ts or "")


async def test_buttons_work_after_a_restart_on_the_same_database(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    db = tmp_path / "slack.db"
    async with engine_on(db, gemini) as engine, serving(engine, slack_emu):
        root_ts, buttons = await imagine(slack_emu, "a castle --model pro")

    async with engine_on(db, gemini) as engine, serving(engine, slack_emu) as bot:
        await slack_emu.send_block_action(
            ACTION_REROLL, button(buttons, ACTION_REROLL)["value"], message_ts=buttons["ts"]
        )
        await until(lambda: len(slack_emu.uploads) == 2)
        assert gemini.requests[1].prompt == "a castle" and slack_emu.uploads[1].thread_ts == root_ts

        await slack_emu.send_block_action(
            ACTION_REFINE, button(buttons, ACTION_REFINE)["value"], message_ts=buttons["ts"]
        )
        [opened] = await slack_emu.wait_for_calls("views.open", ok_only=True)
        await slack_emu.send_view_submission(view_id=opened.response["view"]["id"],  # type: ignore[index]
                                       values={"prompt": {"text": "add a dragon"}})
        await until(lambda: len(slack_emu.uploads) == 3)
        # the stored chain came back from the file: the new words continue from the reroll's interaction
        assert gemini.requests[2].raw["previous_interaction_id"] == "interaction-2"
        assert [c["role"] for c in gemini.requests[2].contents] == ["user", "model", "user"]

        delete = button(buttons, ACTION_DELETE)
        await slack_emu.send_block_action(ACTION_DELETE, delete["value"], message_ts=buttons["ts"])  # the requester
        await until(lambda: slack_emu.deleted_files)
        await bot.drain()
        assert slack_emu.deleted_files == [slack_emu.uploads[0].id] and slack_emu.ephemerals == []


async def test_web_api_calls_reuse_connections(slack_emu: SlackEmulator, slack_bot: SlackBot, engine: Engine) -> None:
    """One HTTP session for the bot's lifetime: a new connection (a TLS handshake on real Slack) per call is slow."""
    await imagine(slack_emu, "a red fox")
    peers = [c.peer for c in slack_emu.calls if c.method != "auth.test"]
    assert len(peers) >= 5 and len(set(peers)) <= 3, peers


async def test_a_429_on_the_upload_is_retried_after_retry_after(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    slack_emu.fail_next(UPLOAD_STEP, status=429, retry_after=0)
    slack_emu.fail_next("chat.postMessage", status=429, retry_after=0)
    await imagine(slack_emu, "a kite")
    assert [c.status for c in slack_emu.calls_to(UPLOAD_STEP)] == [429, 200]
    assert slack_emu.calls_to("chat.postMessage")[0].status == 429 and len(slack_emu.uploads) == 1


async def test_a_safety_block_is_explained_in_the_thread(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    gemini.push(Block("SAFETY"))
    await slack_emu.send_slash_command("/imagine", "something edgy")
    [told] = await until(lambda: updates_saying(slack_emu, "SAFETY"))
    assert told.startswith(f":warning: <@{DEFAULT_USER}>") and "safety" in told.lower()
    gemini.push(Finish("IMAGE_SAFETY"))
    await slack_emu.send_slash_command("/imagine", "something else")
    await until(lambda: updates_saying(slack_emu, "IMAGE_SAFETY"))
    await slack_bot.drain()
    assert slack_emu.uploads == [] and not any(slack_emu.reactions.values())  # the hourglass went, no tick came


async def test_slack_refusals_reach_the_user_with_what_to_do(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    slack_emu.add_channel("C0PRIVATE", "secret", is_member=False)
    await slack_emu.send_slash_command("/imagine", "a fox", channel_id="C0PRIVATE")
    [hook] = await until(lambda: slack_emu.hook_posts)
    assert hook.body["response_type"] == "ephemeral" and "/invite" in hook.body["text"]

    slack_emu.fail_next("files.completeUploadExternal", status=200, error="file_uploads_disabled")
    await slack_emu.send_slash_command("/imagine", "a fox")
    [told] = await until(lambda: updates_saying(slack_emu, "upload"))
    assert "File uploads are disabled" in told and "admin" in told


async def test_run_serves_http_mode_on_port_until_cancelled(
    slack_emu: SlackEmulator, engine: Engine, gemini: GeminiEmulator
) -> None:
    port = free_port()
    settings = settings_for(slack_emu, port=port, app_token=slack_emu.app_token)  # --http wins over the app token
    serving_task = asyncio.create_task(run(engine, settings, http=True, host="127.0.0.1"))
    slack_emu.app_url = f"http://127.0.0.1:{port}/slack/events"

    async def accepting() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    await until(accepting)
    await imagine(slack_emu, "a boat")
    serving_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving_task
    assert not await accepting()
    with pytest.raises(ValueError, match="signing secret"):
        await run(engine, settings_for(slack_emu, signing_secret=None), http=True)


async def test_run_uses_socket_mode_when_an_app_token_is_set(
    slack_emu: SlackEmulator, engine: Engine, gemini: GeminiEmulator
) -> None:
    settings = settings_for(slack_emu, app_token=slack_emu.app_token, signing_secret=None)
    serving_task = asyncio.create_task(run(engine, settings))
    await until(lambda: slack_emu.sockets)
    [opened] = slack_emu.calls_to("apps.connections.open", ok_only=True)
    assert opened.token == slack_emu.app_token
    envelope = await slack_emu.push_slash_command("/imagine", "a paper crane --ar 3:4")
    await until(lambda: envelope in slack_emu.socket_acks)
    [upload] = await until(lambda: slack_emu.uploads)
    assert gemini.requests[0].aspect_ratio == "3:4" and upload.thread_ts
    reply = slack_emu.user_message(CH, "fold it in gold", thread_ts=upload.thread_ts)
    ack = await slack_emu.push_event(reply)
    await until(lambda: ack in slack_emu.socket_acks and len(slack_emu.uploads) == 2)
    serving_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving_task
    await until(lambda: not slack_emu.sockets)
