"""The Slack emulator speaks the wire protocol the real slack-sdk and slack-bolt expect."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from PIL import Image
from slack_bolt.async_app import AsyncApp
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
    serve_bolt_app,
    sign,
)
from tests.support import until

pytestmark = pytest.mark.timeout(30)


def png_bytes(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)


def test_sign_matches_slack_sdk_verifier() -> None:
    from slack_sdk.signature import SignatureVerifier

    body, ts = "token=x&text=hi", 1_700_000_000
    assert sign(body, "secret", ts) == SignatureVerifier("secret").generate_signature(timestamp=str(ts), body=body)


async def test_web_client_posts_in_thread_and_uploads_file(emu: SlackEmulator, client: AsyncWebClient) -> None:
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == (emu.bot_user_id, emu.bot_id, emu.team_id)
    assert "files:read" in auth.headers["x-oauth-scopes"]

    root = await client.chat_postMessage(channel="C1", text="a cat")
    reply = await client.chat_postMessage(channel="C1", text="working", thread_ts=root["ts"])
    assert reply["message"]["thread_ts"] == root["ts"] and float(reply["ts"]) > float(root["ts"])

    image = png_bytes()
    up = await client.files_upload_v2(
        channel="C1", thread_ts=root["ts"], file=image, filename="cat.png", initial_comment="here"
    )
    [uploaded] = emu.uploads
    assert up["file"]["id"] == uploaded.id
    assert (uploaded.data, uploaded.channel, uploaded.thread_ts) == (image, "C1", root["ts"])
    assert (uploaded.filename, uploaded.mimetype, uploaded.initial_comment) == ("cat.png", "image/png", "here")
    assert emu.calls_to(UPLOAD_STEP)[0].token is None  # the raw upload carries no bot token

    replies = await client.conversations_replies(channel="C1", ts=root["ts"])
    assert [m["text"] for m in replies["messages"]] == ["a cat", "working", "here"]
    assert replies["messages"][0]["reply_count"] == 2
    assert replies["messages"][-1]["files"][0]["id"] == uploaded.id
    info = await client.files_info(file=uploaded.id)
    assert info["file"]["shares"]["public"]["C1"][0]["thread_ts"] == root["ts"]
    history = await client.conversations_history(channel="C1", latest=root["ts"], limit=1, inclusive=True)
    assert history["messages"][0]["ts"] == root["ts"]

    await client.chat_update(channel="C1", ts=reply["ts"], text="done")
    assert emu.find_message("C1", reply["ts"])["text"] == "done"  # type: ignore[index]
    await client.reactions_add(channel="C1", timestamp=root["ts"], name="eyes")
    with pytest.raises(SlackApiError, match="already_reacted"):
        await client.reactions_add(channel="C1", timestamp=root["ts"], name="eyes")
    await client.chat_delete(channel="C1", ts=reply["ts"])
    assert emu.find_message("C1", reply["ts"]) is None
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await AsyncWebClient(token="xoxb-wrong", base_url=emu.api_url).auth_test()


async def test_users_views_and_scripted_errors(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.add_user("UADMIN", "boss", is_admin=True)
    assert (await client.users_info(user="UADMIN"))["user"]["is_admin"] is True
    assert (await client.users_info(user="U2"))["user"]["is_admin"] is False

    trigger = emu.issue_trigger()
    opened = await client.views_open(trigger_id=trigger, view={"type": "modal", "callback_id": "m", "blocks": []})
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        await client.views_open(trigger_id=trigger, view={"type": "modal", "blocks": []})
    view = opened["view"]
    updated = await client.views_update(view_id=view["id"], hash=view["hash"], view={"type": "modal", "blocks": []})
    assert updated["view"]["id"] == view["id"]

    emu.fail_next("chat.postMessage", status=200, error="not_in_channel")
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.chat_postMessage(channel="C1", text="hi")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await client.chat_postMessage(channel="C1", text="x" * 40_001)


async def test_rate_limit_is_retried_after_retry_after(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.fail_next("chat.postMessage", status=429, retry_after=0)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="no handler")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "0"

    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    emu.fail_next("chat.postMessage", status=429, retry_after=0)
    resp = await client.chat_postMessage(channel="C1", text="hi")
    assert resp["ok"] and [c.status for c in emu.calls_to("chat.postMessage")] == [429, 429, 200]


async def test_upload_step_and_server_errors_are_retried(emu: SlackEmulator, client: AsyncWebClient) -> None:
    client.retry_handlers.extend(
        [AsyncRateLimitErrorRetryHandler(max_retry_count=1), AsyncServerErrorRetryHandler(max_retry_count=1)]
    )
    emu.fail_next(UPLOAD_STEP, status=429, retry_after=0)
    emu.fail_next("files.getUploadURLExternal", status=500)
    await client.files_upload_v2(channel="C1", file=png_bytes(), filename="a.png")
    assert [c.status for c in emu.calls_to(UPLOAD_STEP)] == [429, 200]
    assert [c.status for c in emu.calls_to("files.getUploadURLExternal")] == [500, 200]
    assert emu.uploads[0].data == png_bytes()


async def test_url_private_needs_the_bot_token(emu: SlackEmulator) -> None:
    image = png_bytes("blue")
    file = emu.register_file(image, "cat.png")
    assert (file["mimetype"], file["size"], file["name"]) == ("image/png", len(image), "cat.png")
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {emu.bot_token}"}
        async with session.get(file["url_private_download"], headers=auth) as resp:
            assert (resp.status, resp.content_type, await resp.read()) == (200, "image/png", image)
        async with session.get(file["url_private"]) as resp:
            assert (resp.status, resp.content_type) == (200, "text/html")
    assert [f.authorization for f in emu.file_fetches] == [auth["Authorization"], None]
    assert [f.served_bytes for f in emu.file_fetches] == [True, False]


async def test_foreign_host_records_what_a_redirect_sends(emu: SlackEmulator) -> None:
    async with ForeignHost() as foreign:
        cdn = foreign.serve("/cdn/cat.png", png_bytes())
        assert not cdn.startswith(emu.url)
        file = emu.register_file(png_bytes(), "cat.png", redirect_to=cdn)
        async with (
            aiohttp.ClientSession() as session,
            session.get(file["url_private"], headers={"Authorization": f"Bearer {emu.bot_token}"}) as resp,
        ):
            assert await resp.read() == png_bytes()
        assert [r.path for r in foreign.requests] == ["/cdn/cat.png"]
        assert foreign.authorizations == []  # aiohttp drops credentials when a redirect changes origin


@dataclass
class BoltProbe:
    """What the test app's listeners saw."""

    events: list[dict[str, Any]] = field(default_factory=list)
    downloads: list[bytes] = field(default_factory=list)


def build_app(emu: SlackEmulator, probe: BoltProbe) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(token=emu.bot_token, base_url=emu.api_url), signing_secret=emu.signing_secret)

    @app.command("/imagine")
    async def imagine(ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        await ack()
        await respond(text="working on it")
        await client.chat_postMessage(channel=command["channel_id"], text=f"prompt: {command['text']}")

    @app.event("message")
    async def on_message(event: dict[str, Any], client: AsyncWebClient) -> None:
        probe.events.append(event)
        for f in event.get("files", []):
            async with (
                aiohttp.ClientSession() as session,
                session.get(f["url_private_download"], headers={"Authorization": f"Bearer {client.token}"}) as r,
            ):
                probe.downloads.append(await r.read())
        await client.reactions_add(channel=event["channel"], timestamp=event["ts"], name="eyes")

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        probe.events.append(event)
        await say(text="hi", thread_ts=event.get("thread_ts") or event["ts"])

    @app.action("reroll")
    async def reroll(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        container = body["container"]
        await client.chat_postMessage(
            channel=container["channel_id"],
            thread_ts=container["message_ts"],
            text=f"reroll {body['actions'][0]['value']}",
        )

    @app.shortcut("edit_image")
    async def edit(ack: Any, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        meta = json.dumps({"channel": shortcut["channel"]["id"], "ts": shortcut["message"]["ts"]})
        view = {"type": "modal", "callback_id": "edit_modal", "private_metadata": meta, "blocks": []}
        await client.views_open(trigger_id=shortcut["trigger_id"], view=view)

    @app.view("edit_modal")
    async def submitted(ack: Any, view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        meta = json.loads(view["private_metadata"])
        prompt = view["state"]["values"]["prompt"]["text"]["value"]
        await client.chat_postMessage(channel=meta["channel"], thread_ts=meta["ts"], text=f"edit: {prompt}")

    return app


@pytest.fixture
async def bolt(emu: SlackEmulator) -> AsyncIterator[BoltProbe]:
    probe = BoltProbe()
    async with serve_bolt_app(build_app(emu, probe)) as url:
        emu.app_url = url
        yield probe


async def test_bolt_acks_slash_command_and_responds(emu: SlackEmulator, bolt: BoltProbe) -> None:
    status, _, elapsed = await emu.send_slash_command("/imagine", "a cat", channel_id="C1")
    assert status == 200 and elapsed < 3
    [call] = await emu.wait_for_calls("chat.postMessage")
    assert (call.args["channel"], call.args["text"]) == ("C1", "prompt: a cat")
    assert call.args["team_id"] == emu.team_id  # Bolt's per-request client adds team_id to every call
    await until(lambda: emu.hook_posts)
    assert emu.hook_posts[0].body["text"] == "working on it" and emu.hook_posts[0].channel == "C1"
    assert len(emu.calls_to("auth.test")) == 1


async def test_bolt_receives_events_and_ignores_its_own(emu: SlackEmulator, bolt: BoltProbe) -> None:
    image = png_bytes("green")
    file = emu.register_file(image, "photo.png")
    own = message_event("C1", "from me", user=emu.bot_user_id, bot_id=emu.bot_id)
    assert (await emu.send_event(own)).status == 200
    event = emu.user_message("C1", "make it night", files=[file])
    assert event["subtype"] == "file_share"
    status, _, elapsed = await emu.send_event(event)
    assert status == 200 and elapsed < 3
    await emu.wait_for_calls("reactions.add")
    assert [e["ts"] for e in bolt.events] == [event["ts"]] and bolt.downloads == [image]
    assert emu.file_fetches[0].authorization == f"Bearer {emu.bot_token}"

    mention = app_mention_event("C1", f"<@{emu.bot_user_id}> hello", thread_ts=event["ts"])
    assert (await emu.send_event(mention)).status == 200
    [reply] = await emu.wait_for_calls("chat.postMessage")
    assert reply.args["thread_ts"] == event["ts"]


async def test_bolt_handles_button_shortcut_and_modal(emu: SlackEmulator, bolt: BoltProbe) -> None:
    root = emu.user_message("C1", "a cat")
    status, _, elapsed = await emu.send_block_action("reroll", "v2", channel_id="C1", message_ts=root["ts"])
    assert status == 200 and elapsed < 3
    [call] = await emu.wait_for_calls("chat.postMessage")
    assert (call.args["thread_ts"], call.args["text"]) == (root["ts"], "reroll v2")

    message = emu.find_message("C1", root["ts"])
    assert message is not None
    assert (await emu.send_message_shortcut("edit_image", message, channel_id="C1")).status == 200
    [opened] = await emu.wait_for_calls("views.open")
    assert opened.response is not None and opened.response["ok"], opened.response
    view_id = opened.response["view"]["id"]

    resp = await emu.send_view_submission(values={"prompt": {"text": "make it night"}}, view_id=view_id)
    assert resp.status == 200
    posts = await emu.wait_for_calls("chat.postMessage", 2)
    assert (posts[1].args["thread_ts"], posts[1].args["text"]) == (root["ts"], "edit: make it night")


async def test_bolt_rejects_bad_signature_and_stale_timestamp(emu: SlackEmulator, bolt: BoltProbe) -> None:
    event = message_event("C1", "hi")
    assert (await emu.send_event(event, bad_signature=True)).status == 401
    assert (await emu.send_slash_command("/imagine", "x", timestamp=int(time.time()) - 600)).status == 401
    assert emu.calls == []


async def test_wait_for_times_out() -> None:
    with pytest.raises(TimeoutError, match="never"):
        await until(lambda: False, 0.05, what="a state that never comes")
