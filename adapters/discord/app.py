"""The Discord adapter (discord.py 2.x): the client, its intents and events. Entry point: `run(engine, config)`.
Flows: `commands`, `interactions` (deferred responses, buttons, modals), `messages` (threads, mentions, DMs);
pure rules in `translate`; downloads, uploads, progress in `io`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import discord
import yarl
from discord import app_commands

from adapters.discord import commands as discord_commands
from adapters.discord.config import DiscordConfig
from adapters.discord.context import FlowContext
from adapters.discord.interactions import InteractionFlows
from adapters.discord.io import Downloader
from adapters.discord.messages import MessageFlows
from adapters.discord.recovery import tell_interrupted
from adapters.discord.views import CancelButton, ResultButton
from core.engine import Engine
from core.inflight import InFlight

log = logging.getLogger(__name__)

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
        self, engine: Engine, config: DiscordConfig, *, ready: asyncio.Event | None = None, **options: Any
    ) -> None:
        # Nobody is pinged by what the bot posts: captions name the requester without notifying anyone.
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(intents=intents(), **options)
        self.engine = engine
        self.config = config
        self.ready_event = ready
        self.work = InFlight()
        self.downloader = Downloader(config.api_base)
        flows = FlowContext(engine, self.work, self.downloader, self)
        self.actions = InteractionFlows(flows)
        self.messages = MessageFlows(flows)
        self.tree = app_commands.CommandTree(self)
        discord_commands.register(self.tree, flows, self.actions)

    async def setup_hook(self) -> None:
        await self.downloader.start()
        self.add_dynamic_items(ResultButton, CancelButton)  # buttons on any message, before or after a restart
        if self.config.syncs_commands:  # here, not on_ready (reconnects); by one process of a sharded fleet
            await discord_commands.sync(self.tree, self.config.guild_ids)

    async def on_ready(self) -> None:
        log.info("discord: logged in as %s in %d guilds", self.user, len(self.guilds))
        self.work.spawn(self._tell_interrupted())  # each turn a crash cut off, once (on_ready repeats on reconnects)
        if self.ready_event is not None:
            self.ready_event.set()

    async def _tell_interrupted(self) -> None:
        told = await tell_interrupted(self, self.engine)
        if told:
            log.info("discord: told %d users that a crash interrupted their request", told)

    async def on_message(self, message: discord.Message) -> None:
        await self.messages.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Commands and buttons were dispatched by discord.py already; modals come here, routed by custom_id.
        if interaction.type is discord.InteractionType.modal_submit:
            await self.actions.on_modal(interaction)

    async def close(self) -> None:
        await self.downloader.close()
        await super().close()


class ShardedDiscordBot(DiscordBot, discord.AutoShardedClient):
    """The same bot over several gateway shards (discord.py's AutoShardedClient), for thousands of guilds."""


def make_bot(
    engine: Engine, config: DiscordConfig, *, ready: asyncio.Event | None = None, **client_options: Any
) -> DiscordBot:
    if config.shard_count is None:
        return DiscordBot(engine, config, ready=ready, **client_options)
    shards = list(config.shard_ids) or list(range(config.shard_count))
    return ShardedDiscordBot(
        engine, config, ready=ready, shard_count=config.shard_count, shard_ids=shards, **client_options
    )


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
    engine: Engine, config: DiscordConfig, *, ready: asyncio.Event | None = None, **client_options: Any
) -> None:
    """Connect and serve until cancelled; then let handlers in flight post (for `config.shutdown_grace_s` at the
    most) and close.

    `ready` is set once the guilds are loaded; `client_options` go to `discord.Client` (tests shorten
    `guild_ready_timeout`).
    """
    restore = point_at(config.api_base, config.gateway_url)
    bot = make_bot(engine, config, ready=ready, **client_options)
    try:
        await bot.start(config.token)
    except discord.LoginFailure:
        log.error("discord: DISCORD_TOKEN was rejected; copy the bot token again (developer portal → Bot)")
        raise
    except discord.PrivilegedIntentsRequired:
        log.error("discord: enable the Message Content intent (developer portal → Bot → Privileged Gateway Intents)")
        raise
    finally:
        try:
            await bot.work.drain(config.shutdown_grace_s)
        finally:
            await bot.close()
            restore()
