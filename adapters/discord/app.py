"""The Discord adapter (discord.py 2.x): the client, its intents and events. Entry point: `run(engine, settings)`.
Flows: `discord_commands`, `discord_interactions` (deferred responses, buttons, modals), `discord_messages`
(threads, mentions, DMs); pure rules in `discord_translate`; downloads, uploads, progress in `discord_io`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import yarl
from discord import app_commands

from adapters.discord import commands as discord_commands
from adapters.discord.interactions import InteractionFlows
from adapters.discord.io import Downloader
from adapters.discord.messages import MessageFlows
from adapters.discord.views import CancelButton, ResultButton
from bot.settings import Settings, SettingsError
from core.engine import Engine

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0  # seconds the handlers in flight get to post their replies once the bot is told to stop


class Work:
    """Counts the handlers in flight, so that shutdown can wait for them to post what they have."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    @contextlib.asynccontextmanager
    async def tracked(self) -> AsyncIterator[None]:
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bounded drain reads best this way
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def intents() -> discord.Intents:
    """Guilds, guild messages, DMs, and the privileged message content intent (to read thread messages)."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_messages = True
    chosen.dm_messages = True
    chosen.message_content = True
    return chosen


class DiscordBot(discord.Client):
    def __init__(
        self, engine: Engine, settings: Settings, *, ready: asyncio.Event | None = None, **options: Any
    ) -> None:
        # Nobody is pinged by what the bot posts: captions name the requester without notifying anyone.
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(intents=intents(), **options)
        self.engine = engine
        self.settings = settings
        self.default_model = settings.gemini_model
        self.ready_event = ready
        self.work = Work()
        self.downloader = Downloader(settings.discord_api_base)
        self.actions = InteractionFlows(self)
        self.messages = MessageFlows(self)
        self.tree = app_commands.CommandTree(self)
        discord_commands.register(self.tree, self)

    async def setup_hook(self) -> None:
        await self.downloader.start()
        self.add_dynamic_items(ResultButton, CancelButton)  # buttons on any message, before or after a restart
        await discord_commands.sync(self.tree, self.settings.discord_guild_ids)  # here, not on_ready (reconnects)

    async def on_ready(self) -> None:
        log.info("discord: logged in as %s in %d guilds", self.user, len(self.guilds))
        if self.ready_event is not None:
            self.ready_event.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.messages.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Commands and buttons were dispatched by discord.py already; modals come here, routed by custom_id.
        if interaction.type is discord.InteractionType.modal_submit:
            await self.actions.on_modal(interaction)

    async def drain(self, grace: float) -> None:
        """Let handlers in flight post their replies (up to `grace` seconds)."""
        if self.work.count and not await self.work.wait_idle(grace):
            log.warning("discord: %d handlers still running after %.0f s; closing anyway", self.work.count, grace)

    async def close(self) -> None:
        await self.downloader.close()
        await super().close()


def point_at(api_base: str | None, gateway_url: str | None) -> Callable[[], None]:
    """Honour DISCORD_API_BASE / DISCORD_GATEWAY_URL (a proxy): discord.py reads both from class attributes.

    `Route.BASE` is read by every REST call (webhooks and interaction callbacks too) and `DEFAULT_GATEWAY` by the
    first connection. Returns a function restoring the previous values.
    """
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    previous = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    if api_base:
        Route.BASE = api_base.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def restore() -> None:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = previous

    return restore


async def run(
    engine: Engine,
    settings: Settings,
    *,
    ready: asyncio.Event | None = None,
    grace: float = SHUTDOWN_GRACE,
    **client_options: Any,
) -> None:
    """Connect and serve until cancelled; then let handlers in flight post (bounded by `grace`) and close.

    `ready` is set once the guilds are loaded; `client_options` go to `discord.Client` (tests shorten
    `guild_ready_timeout`).
    """
    if not settings.discord_token:
        raise SettingsError(["DISCORD_TOKEN is not set (the bot token from the Discord developer portal)"])
    restore = point_at(settings.discord_api_base, settings.discord_gateway_url)
    bot = DiscordBot(engine, settings, ready=ready, **client_options)
    try:
        await bot.start(settings.discord_token)
    except discord.LoginFailure:
        log.error("discord: DISCORD_TOKEN was rejected; copy the bot token again (developer portal → Bot)")
        raise
    except discord.PrivilegedIntentsRequired:
        log.error("discord: enable the Message Content intent (developer portal → Bot → Privileged Gateway Intents)")
        raise
    finally:
        try:
            await bot.drain(grace)
        finally:
            await bot.close()
            restore()
