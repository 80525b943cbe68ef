"""The Slack emulator speaks the wire protocol the real slack-sdk and slack-bolt expect."""

from __future__ import annotations

import io
import time

import aiohttp
import pytest
from PIL import Image
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from tests.emulators.slack import (
    UPLOAD_STEP,
    ForeignHost,
    SlackEmulator,
    app_mention_event,
    message_event,
    sign,
)
from tests.scenarios.slack.harness import BoltProbe
from tests.support import until

pytestmark = pytest.mark.timeout(30)


def png_bytes(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def test_sign_matches_slack_sdk_verifier() -> None:
    from slack_sdk.signature import SignatureVerifier

    body, ts = "token=x&text=hi", 1_700_000_000
    assert sign(body, "secret", ts) == SignatureVerifier("secret").generate_signature(timestamp=str(ts), body=body)


async def test_web_client_posts_in_thread_and_uploads_file(
    slack_emu: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    auth = await slack_client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == (
        slack_emu.bot_user_id,
        slack_emu.bot_id,
        slack_emu.team_id,
    )
    assert "files:read" in auth.headers["x-oauth-scopes"]

    root = await slack_client.chat_postMessage(channel="C1", text="a cat")
    reply = await slack_client.chat_postMessage(channel="C1", text="working", thread_ts=root["ts"])
    assert reply["message"]["thread_ts"] == root["ts"] and float(reply["ts"]) > float(root["ts"])

    image = png_bytes()
    up = await slack_client.files_upload_v2(
        channel="C1", thread_ts=root["ts"], file=image, filename="cat.png", initial_comment="here"
    )
    [uploaded] = slack_emu.uploads
    assert up["file"]["id"] == uploaded.id
    assert (uploaded.data, uploaded.channel, uploaded.thread_ts) == (image, "C1", root["ts"])
    assert (uploaded.filename, uploaded.mimetype, uploaded.initial_comment) == ("cat.png", "image/png", "here")
    assert slack_emu.calls_to(UPLOAD_STEP)[0].token is None  # the raw upload carries no bot token

    replies = await slack_client.conversations_replies(channel="C1", ts=root["ts"])
    assert [m["text"] for m in replies["messages"]] == ["a cat", "working", "here"]
    assert replies["messages"][0]["reply_count"] == 2
    assert replies["messages"][-1]["files"][0]["id"] == uploaded.id
    info = await slack_client.files_info(file=uploaded.id)
    assert info["file"]["shares"]["public"]["C1"][0]["thread_ts"] == root["ts"]
    history = await slack_client.conversations_history(channel="C1", latest=root["ts"], limit=1, inclusive=True)
    assert history["messages"][0]["ts"] == root["ts"]

    await slack_client.chat_update(channel="C1", ts=reply["ts"], text="done")
    assert slack_emu.find_message("C1", reply["ts"])["text"] == "done"  # type: ignore[index]
    await slack_client.reactions_add(channel="C1", timestamp=root["ts"], name="eyes")
    with pytest.raises(SlackApiError, match="already_reacted"):
        await slack_client.reactions_add(channel="C1", timestamp=root["ts"], name="eyes")
    await slack_client.chat_delete(channel="C1", ts=reply["ts"])
    assert slack_emu.find_message("C1", reply["ts"]) is None
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await AsyncWebClient(token="xoxb-wrong", base_url=slack_emu.api_url).auth_test()


async def test_users_views_and_scripted_errors(slack_emu: SlackEmulator, slack_client: AsyncWebClient) -> None:
    slack_emu.add_user("UADMIN", "boss", is_admin=True)
    assert (await slack_client.users_info(user="UADMIN"))["user"]["is_admin"] is True
    assert (await slack_client.users_info(user="U2"))["user"]["is_admin"] is False

    trigger = slack_emu.issue_trigger()
    opened = await slack_client.views_open(trigger_id=trigger, view={"type": "modal", "callback_id": "m", "blocks": []})
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        await slack_client.views_open(trigger_id=trigger, view={"type": "modal", "blocks": []})
    view = opened["view"]
    updated = await slack_client.views_update(
        view_id=view["id"], hash=view["hash"], view={"type": "modal", "blocks": []}
    )
    assert updated["view"]["id"] == view["id"]

    slack_emu.fail_next("chat.postMessage", status=200, error="not_in_channel")
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await slack_client.chat_postMessage(channel="C1", text="hi")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await slack_client.chat_postMessage(channel="C1", text="x" * 40_001)


async def test_rate_limit_is_retried_after_retry_after(slack_emu: SlackEmulator, slack_client: AsyncWebClient) -> None:
    slack_emu.fail_next("chat.postMessage", status=429, retry_after=0)
    with pytest.raises(SlackApiError) as raised:
        await slack_client.chat_postMessage(channel="C1", text="no handler")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "0"

    slack_client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    slack_emu.fail_next("chat.postMessage", status=429, retry_after=0)
    resp = await slack_client.chat_postMessage(channel="C1", text="hi")
    assert resp["ok"] and [c.status for c in slack_emu.calls_to("chat.postMessage")] == [429, 429, 200]


async def test_upload_step_and_server_errors_are_retried(
    slack_emu: SlackEmulator, slack_client: AsyncWebClient
) -> None:
    slack_client.retry_handlers.extend(
        [AsyncRateLimitErrorRetryHandler(max_retry_count=1), AsyncServerErrorRetryHandler(max_retry_count=1)]
    )
    slack_emu.fail_next(UPLOAD_STEP, status=429, retry_after=0)
    slack_emu.fail_next("files.getUploadURLExternal", status=500)
    await slack_client.files_upload_v2(channel="C1", file=png_bytes(), filename="a.png")
    assert [c.status for c in slack_emu.calls_to(UPLOAD_STEP)] == [429, 200]
    assert [c.status for c in slack_emu.calls_to("files.getUploadURLExternal")] == [500, 200]
    assert slack_emu.uploads[0].data == png_bytes()


async def test_url_private_needs_the_bot_token(slack_emu: SlackEmulator) -> None:
    image = png_bytes("blue")
    file = slack_emu.register_file(image, "cat.png")
    assert (file["mimetype"], file["size"], file["name"]) == ("image/png", len(image), "cat.png")
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {slack_emu.bot_token}"}
        async with session.get(file["url_private_download"], headers=auth) as resp:
            assert (resp.status, resp.content_type, await resp.read()) == (200, "image/png", image)
        async with session.get(file["url_private"]) as resp:
            assert (resp.status, resp.content_type) == (200, "text/html")
    assert [f.authorization for f in slack_emu.file_fetches] == [auth["Authorization"], None]
    assert [f.served_bytes for f in slack_emu.file_fetches] == [True, False]


async def test_foreign_host_records_what_a_redirect_sends(slack_emu: SlackEmulator) -> None:
    async with ForeignHost() as foreign:
        cdn = foreign.serve("/cdn/cat.png", png_bytes())
        assert not cdn.startswith(slack_emu.url)
        file = slack_emu.register_file(png_bytes(), "cat.png", redirect_to=cdn)
        async with (
            aiohttp.ClientSession() as session,
            session.get(file["url_private"], headers={"Authorization": f"Bearer {slack_emu.bot_token}"}) as resp,
        ):
            assert await resp.read() == png_bytes()
        assert [r.path for r in foreign.requests] == ["/cdn/cat.png"]
        assert foreign.authorizations == []  # aiohttp drops credentials when a redirect changes origin


async def test_bolt_acks_slash_command_and_responds(slack_emu: SlackEmulator, bolt_probe: BoltProbe) -> None:
    status, _, elapsed = await slack_emu.send_slash_command("/imagine", "a cat", channel_id="C1")
    assert status == 200 and elapsed < 3
    [call] = await slack_emu.wait_for_calls("chat.postMessage")
    assert (call.args["channel"], call.args["text"]) == ("C1", "prompt: a cat")
    assert call.args["team_id"] == slack_emu.team_id  # Bolt's per-request client adds team_id to every call
    await until(lambda: slack_emu.hook_posts)
    assert slack_emu.hook_posts[0].body["text"] == "working on it" and slack_emu.hook_posts[0].channel == "C1"
    assert len(slack_emu.calls_to("auth.test")) == 1


async def test_bolt_receives_events_and_ignores_its_own(slack_emu: SlackEmulator, bolt_probe: BoltProbe) -> None:
    image = png_bytes("green")
    file = slack_emu.register_file(image, "photo.png")
    own = message_event("C1", "from me", user=slack_emu.bot_user_id, bot_id=slack_emu.bot_id)
    assert (await slack_emu.send_event(own)).status == 200
    event = slack_emu.user_message("C1", "make it night", files=[file])
    assert event["subtype"] == "file_share"
    status, _, elapsed = await slack_emu.send_event(event)
    assert status == 200 and elapsed < 3
    await slack_emu.wait_for_calls("reactions.add")
    assert [e["ts"] for e in bolt_probe.events] == [event["ts"]] and bolt_probe.downloads == [image]
    assert slack_emu.file_fetches[0].authorization == f"Bearer {slack_emu.bot_token}"

    mention = app_mention_event("C1", f"<@{slack_emu.bot_user_id}> hello", thread_ts=event["ts"])
    assert (await slack_emu.send_event(mention)).status == 200
    [reply] = await slack_emu.wait_for_calls("chat.postMessage")
    assert reply.args["thread_ts"] == event["ts"]


async def test_bolt_handles_button_shortcut_and_modal(slack_emu: SlackEmulator, bolt_probe: BoltProbe) -> None:
    root = slack_emu.user_message("C1", "a cat")
    status, _, elapsed = await slack_emu.send_block_action("reroll", "v2", channel_id="C1", message_ts=root["ts"])
    assert status == 200 and elapsed < 3
    [call] = await slack_emu.wait_for_calls("chat.postMessage")
    assert (call.args["thread_ts"], call.args["text"]) == (root["ts"], "reroll v2")

    message = slack_emu.find_message("C1", root["ts"])
    assert message is not None
    assert (await slack_emu.send_message_shortcut("edit_image", message, channel_id="C1")).status == 200
    [opened] = await slack_emu.wait_for_calls("views.open")
    assert opened.response is not None and opened.response["ok"], opened.response
    view_id = opened.response["view"]["id"]

    resp = await slack_emu.send_view_submission(values={"prompt": {"text": "make it night"}}, view_id=view_id)
    assert resp.status == 200
    posts = await slack_emu.wait_for_calls("chat.postMessage", 2)
    assert (posts[1].args["thread_ts"], posts[1].args["text"]) == (root["ts"], "edit: make it night")


async def test_bolt_rejects_bad_signature_and_stale_timestamp(slack_emu: SlackEmulator, bolt_probe: BoltProbe) -> None:
    event = message_event("C1", "hi")
    assert (await slack_emu.send_event(event, bad_signature=True)).status == 401
    assert (await slack_emu.send_slash_command("/imagine", "x", timestamp=int(time.time()) - 600)).status == 401
    assert slack_emu.calls == []


async def test_wait_for_times_out() -> None:
    with pytest.raises(TimeoutError, match="never"):
        await until(lambda: False, 0.05, what="a state that never comes")
