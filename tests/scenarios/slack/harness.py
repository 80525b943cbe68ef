"""The Slack scenarios' harness: the adapter's Bolt app served over signed HTTP against the Slack emulator
(`serving`, `engine_on`), a probe app for the emulator's own tests, and readers of what the bot posted. Fixtures
live in conftest.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import SlackBot
from adapters.slack.config import SlackConfig
from core.engine import Engine, EngineConfig
from core.model import GeminiModel
from core.policy import Policy
from core.store import Store
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import DEFAULT_CHANNEL, SlackEmulator, serve_bolt_app
from tests.support import gemini_config, until

CH = DEFAULT_CHANNEL
PRO = "gemini-3-pro-image"


def settings_for(emu: SlackEmulator, **overrides: Any) -> SlackConfig:
    values: dict[str, Any] = dict(bot_token=emu.bot_token, signing_secret=emu.signing_secret, api_url=emu.api_url)
    return SlackConfig(**{**values, **overrides})


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
    """What the bot said with `words`: a status reply updated, or a message posted (a turn that never waited has no
    status reply to update)."""
    calls = emu.calls_to("chat.update", ok_only=True) + emu.calls_to("chat.postMessage", ok_only=True)
    return [c.args["text"] for c in calls if words in (c.args.get("text") or "")]


async def imagine(emu: SlackEmulator, text: str, uploads: int = 1) -> tuple[str, dict[str, Any]]:
    """Run /imagine; return the root's ts and the buttons message under the new image."""
    response = await emu.send_slash_command("/imagine", text)
    assert response.status == 200, response
    await until(lambda: len(emu.uploads) >= uploads, what="the upload")
    root_ts = emu.uploads[-1].thread_ts
    assert root_ts is not None
    return root_ts, await until(lambda: buttons_message(emu, root_ts), what="the buttons")


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
