"""The Slack adapter (slack-bolt, async): /imagine, /usage, conversations in bot threads, mention edits, plus the
shortcut and buttons of `interactive`, served over HTTP (/slack/events) or Socket Mode. Entry: `run(engine, config)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncBoltContext, AsyncRespond
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackConfig
from adapters.slack.files import Downloader
from adapters.slack.guard import GuardedApp
from adapters.slack.interactive import Interactive
from adapters.slack.io import SLACK_ERRORS, SlackIO, explain
from adapters.slack.recovery import tell_interrupted
from adapters.slack.status import cancellable
from adapters.slack.translate import (
    COMMAND,
    MODELS_COMMAND,
    SETTINGS_COMMAND,
    STORY_COMMAND,
    STYLES_COMMAND,
    USAGE,
    USAGE_COMMAND,
    failure_text,
    file_refs,
    mentions,
    root_text,
    strip_mentions,
    thread_key,
    usage_text,
)
from core.engine import Engine
from core.events import (
    ChangeSetting,
    Event,
    ImageInput,
    ListModels,
    ListStyles,
    Options,
    ShowSettings,
    ShowUsage,
    StartStory,
    StartThread,
    ThreadKey,
    User,
)
from core.failures import Busy, Failure, UnsupportedOption
from core.flags import parse_request, story_panels
from core.turns import next_event

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"
USER_SUBTYPES = (None, "file_share", "thread_broadcast")  # what people post; edits, joins and bot posts are not turns


def make_client(config: SlackConfig, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client: SLACK_API_URL as its base; 429s retried after Retry-After, 500 and 503 retried.

    Pass one `session` for the bot's lifetime: without it slack-sdk opens a new connection (and TLS handshake) for
    every call, three of them for each upload."""
    handlers = [
        *async_default_handlers(),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    return AsyncWebClient(
        token=config.bot_token, base_url=config.api_url or DEFAULT_API_URL, retry_handlers=handlers,
        session=session,
    )


class SlackBot:
    """The Bolt app and its listeners over one engine. Listeners ack first; the work runs in tracked tasks."""

    def __init__(self, engine: Engine, config: SlackConfig, client: AsyncWebClient | None = None) -> None:
        self.engine = engine
        self._session = aiohttp.ClientSession() if client is None else None  # closed in aclose
        client = client or make_client(config, self._session)
        files = Downloader(config.bot_token, config.api_url)
        self.io = SlackIO(client, engine, files, config.shutdown_grace_s)
        self.app = GuardedApp(
            name="gemini-image-bot", client=client, signing_secret=config.signing_secret, claim=engine
        )
        self.app.command(COMMAND)(self.on_imagine)
        self.app.command(STORY_COMMAND)(self.on_story)
        self.app.command(USAGE_COMMAND)(self.on_usage)
        self.app.command(MODELS_COMMAND)(self.on_models)
        self.app.command(STYLES_COMMAND)(self.on_styles)
        self.app.command(SETTINGS_COMMAND)(self.on_settings)
        self.app.event("message")(self.on_message)  # every subtype, so none is answered 404 and redelivered
        self.app.event("app_mention")(self.on_mention)
        Interactive(self.io).register(self.app)

    async def drain(self) -> None:
        await self.io.drain()

    async def aclose(self) -> None:
        try:
            await self.io.aclose()
        finally:
            if self._session is not None:
                await self._session.close()

    # ---- /imagine

    async def on_imagine(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        self.io.track()
        try:
            prompt, options, workflow = parse_request(command.get("text") or "")
            chosen = self.engine.check_options(options)
        except UnsupportedOption as problem:
            await ack(text=f"{failure_text(None, problem)}\n{USAGE}", response_type="ephemeral")
            return
        if not prompt:
            await ack(text=f"Tell me what to draw. {USAGE}", response_type="ephemeral")
            return
        user = User(command["user_id"], command.get("user_name") or "")
        await self._begin(ack, command, context, respond, prompt, chosen,
                          lambda key, images: StartThread(key, user, prompt, images, options, workflow))

    async def on_story(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        """`/story N PROMPT`: a root message, then each panel uploaded into its thread as it is done."""
        self.io.track()
        count, _, rest = (command.get("text") or "").strip().partition(" ")
        try:
            panels = story_panels(count)
            prompt, options, _ = parse_request(rest)
            chosen = self.engine.check_options(options)
            if not prompt:
                raise UnsupportedOption("Say what the story is about.")
        except UnsupportedOption as problem:
            usage = "Usage: `/story 4 a fox finds a key`."
            await ack(text=f":warning: {problem.message} {usage}", response_type="ephemeral")
            return
        user = User(command["user_id"], command.get("user_name") or "")
        await self._begin(ack, command, context, respond, f"{prompt} ({panels} panels)", chosen,
                          lambda key, images: StartStory(key, user, prompt, panels, images, options), stoppable=True)

    async def _begin(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond, title: str,
        chosen: Options, make: Callable[[ThreadKey, tuple[ImageInput, ...]], Event], stoppable: bool = False,
    ) -> None:
        """A command's conversation starts: refused privately where the bot does not serve (before a root message
        is posted), else acknowledged and run in a root message's thread."""
        team = context.team_id or command.get("team_id") or ""
        if refusal := self.engine.refusal(thread_key(team, command["channel_id"], "")):
            await ack(text=f":no_entry: {refusal}", response_type="ephemeral")
            return
        await ack()
        user = User(command["user_id"], command.get("user_name") or "")
        work = self._imagine(team, command["channel_id"], user, title, chosen, respond, make, stoppable)
        self.io.spawn(work, command["channel_id"], None, user.id)

    async def _imagine(
        self, team: str, channel: str, user: User, prompt: str, chosen: Options, respond: AsyncRespond,
        make: Callable[[ThreadKey, tuple[ImageInput, ...]], Event], stoppable: bool = False,
    ) -> None:
        """The root message and the turn in its thread; `stoppable` (a story): the root carries a Cancel button
        for as long as it runs."""
        # A refusal (busy, a limit) is told privately, leaving no root message in the channel for nothing.
        if refusal := await self.engine.admit(make(thread_key(team, channel, ""), ())):
            await respond(text=failure_text(None, refusal), response_type="ephemeral", replace_original=False)
            return
        text = root_text(prompt, user.id, chosen)
        ticket = uuid.uuid4().hex if stoppable else None
        blocks = cancellable(text, ticket, user.id) if ticket else None
        try:
            root = await self.io.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SLACK_ERRORS as error:
            # No thread to answer in: the command's response_url still reaches the user, privately.
            await respond(text=f":warning: {explain(error)}", response_type="ephemeral", replace_original=False)
            return
        key = thread_key(team, channel, root["ts"])
        reply = await self.io.turn(
            channel, root["ts"], user.id, lambda images: make(key, images), quiet=(Busy,), ticket=ticket
        )
        if reply is not None and isinstance(reply.failure, Busy):  # the line filled up since: no root left behind
            await self.io.remove(channel, root["ts"])
            await respond(text=failure_text(None, reply.failure), response_type="ephemeral", replace_original=False)
        elif ticket:
            with contextlib.suppress(*SLACK_ERRORS):  # the button goes once the story is over
                await self.io.client.chat_update(channel=channel, ts=root["ts"], text=text, blocks=[])

    # ---- /usage and /models: reports answered privately

    async def on_usage(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        await self._on_report(ack, command, context, respond, ShowUsage)

    async def on_models(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        await self._on_report(ack, command, context, respond, ListModels)

    async def on_styles(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        await self._on_report(ack, command, context, respond, ListStyles)

    async def on_settings(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond
    ) -> None:
        """`/settings` reads the settings in force; `/settings workspace|channel KEY VALUE` sets one (admins)."""
        words = (command.get("text") or "").split(maxsplit=2)
        if words and len(words) < 3:
            await ack(text="Usage: `/settings` to read them, or `/settings workspace|channel KEY VALUE` "
                           "(VALUE `-` clears it). Keys: model ar size style no think search guidance.",
                      response_type="ephemeral")
            return
        if not words:
            await self._on_report(ack, command, context, respond, ShowSettings)
            return
        scope, name, value = words
        scope = "server" if scope.lower() in ("workspace", "server") else scope.lower()

        def change(key: ThreadKey, user: User) -> ChangeSetting:
            return ChangeSetting(key, user, scope, name, value)

        await self._on_report(ack, command, context, respond, change, admin=True)

    async def _on_report(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext, respond: AsyncRespond,
        event: Callable[[ThreadKey, User], ShowUsage | ListModels | ListStyles | ShowSettings | ChangeSetting],
        *, admin: bool = False,
    ) -> None:
        self.io.track()
        await ack()  # the report may read the database: it follows through the command's response_url
        user = User(command["user_id"], command.get("user_name") or "")
        team = context.team_id or command.get("team_id") or ""
        # The engine reads only the platform and the space (the workspace) of the key; the channel is for its
        # allow-list, and there is no thread.
        work = self._report(event, thread_key(team, command["channel_id"], ""), user, respond, admin)
        self.io.spawn(work, command["channel_id"], None, user.id)

    async def _report(
        self, make: Callable[[ThreadKey, User], ShowUsage | ListModels | ListStyles | ShowSettings | ChangeSetting],
        key: ThreadKey, user: User, respond: AsyncRespond, admin: bool,
    ) -> None:
        if admin:  # a workspace admin or owner may change the workspace's settings (as may BOT_ADMINS)
            user = replace(user, is_admin=await self.io.is_admin(user.id))
        event = make(key, user)
        reply = await self.engine.handle(event)
        text = failure_text(None, reply.failure) if reply.failure else usage_text(reply.notices)
        name = type(event).__name__
        try:  # response_url reaches the user privately even where the bot is not a channel member
            answer = await respond(text=text, response_type="ephemeral", replace_original=False)
        except SLACK_ERRORS as error:
            log.error("could not answer %s for %s: %s", name, event.user.id, error)
            return
        if answer.status_code != 200:
            log.error("Slack refused the %s answer for %s: %s %s", name, event.user.id, answer.status_code, answer.body)

    # ---- messages and mentions

    async def on_message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self.io.track()
        if event.get("subtype") not in USER_SUBTYPES or not _from_a_person(event, context):
            return
        direct = event.get("channel_type") == "im"  # in a DM every message is addressed to the bot
        await self._take(event, context, mentioned=direct or mentions(event.get("text") or "", context.bot_user_id))

    async def on_mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        self.io.track()
        if _from_a_person(event, context):
            await self._take(event, context, mentioned=True)

    async def _take(self, event: dict[str, Any], context: AsyncBoltContext, *, mentioned: bool) -> None:
        if not event.get("thread_ts") and not mentioned:
            return  # channel chatter
        # Slack may deliver one post as both `message` and `app_mention`, and redeliver either (to another worker
        # behind a load balancer too): the first delivery to claim the post's ts in the database answers it.
        if not await self.engine.claim("slack-message", f"{context.team_id or ''}:{event['channel']}:{event['ts']}"):
            return
        work = self._user_message(context.team_id or "", event, context.bot_user_id, mentioned)
        self.io.spawn(work, event["channel"], event.get("thread_ts") or event["ts"], event["user"])

    async def _user_message(self, team: str, event: dict[str, Any], bot_user_id: str | None, mentioned: bool) -> None:
        channel, ts, thread_ts = event["channel"], event["ts"], event.get("thread_ts")
        key = thread_key(team, channel, thread_ts) if thread_ts else None
        continuing = key is not None and await self.engine.has_thread(key)
        if not continuing and not mentioned:
            log.debug("ignoring a message in a thread the bot did not start (%s %s)", channel, thread_ts)
            return
        user, where = User(event["user"]), thread_ts or ts
        try:
            text, options, workflow = parse_request(strip_mentions(event.get("text") or "", bot_user_id))
        except UnsupportedOption as problem:
            await self.io.say(channel, where, failure_text(user.id, problem))
            return
        refs = file_refs(event.get("files"))
        if not continuing and not refs and thread_ts:  # a mention in a thread under an image: that image
            try:
                refs = await self.io.thread_images(channel, thread_ts, ts)
            except Failure as failure:
                await self.io.say(channel, where, failure_text(user.id, failure))
                return
        target = thread_key(team, channel, where)
        clips = [ref for ref in refs if ref.is_video]
        try:  # the model that would run takes video: asked before anything is downloaded
            base = await self.engine.thread_options(target) if clips and continuing else None
            for clip in clips:
                self.engine.check_video(options, clip.name, clip.size, base)
        except UnsupportedOption as problem:
            await self.io.say(channel, where, failure_text(user.id, problem))
            return
        await self.io.turn(
            channel, where, user.id,
            lambda images: next_event(target, user, text, images, options, stored=continuing, workflow=workflow), refs,
        )


def _from_a_person(event: dict[str, Any], context: AsyncBoltContext) -> bool:
    # Other bots are ignored too: two bots answering each other's images would never stop.
    return bool(event.get("user")) and not event.get("bot_id") and event["user"] != context.bot_user_id


async def run(engine: Engine, config: SlackConfig, *, http: bool = False, host: str = "0.0.0.0") -> None:
    """Serve Slack until cancelled: Socket Mode when there is an app token (unless `http`), else HTTP on the port."""
    if not (config.app_token and not http) and not config.signing_secret:
        raise ValueError("Slack HTTP mode needs a signing secret (SlackConfig.signing_secret)")
    bot = SlackBot(engine, config)
    bot.io.spawn(tell_interrupted(bot.io), None, None, "")  # turns a crash cut off: their users are told
    try:
        if config.app_token and not http:
            await _socket_mode(bot, config.app_token)
        else:
            await _http_mode(bot, host, config.port)
    finally:
        await bot.aclose()


async def _http_mode(bot: SlackBot, host: str, port: int) -> None:
    runner = web.AppRunner(bot.app.web_app(path=EVENTS_PATH, port=port), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("Slack: HTTP mode on %s:%d%s", host, port, EVENTS_PATH)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _socket_mode(bot: SlackBot, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(bot.app, app_token)
    try:
        await handler.connect_async()
        log.info("Slack: Socket Mode connected")
        await asyncio.Event().wait()
    finally:
        await handler.close_async()
