"""The application commands: /imagine, /forget, /usage, /models, /styles, /settings, /help and the message context
menu "Edit image".
`register` puts them on a CommandTree; `sync` pushes them from `setup_hook` (to DISCORD_GUILD_IDS, or globally)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands

from adapters.discord.context import FlowContext
from adapters.discord.interactions import InteractionFlows
from adapters.discord.io import BROKE, refuse_public, user_of
from adapters.discord.story import StoryFlow
from adapters.discord.translate import (
    HELP,
    failure_text,
    model_choices,
    notices_text,
    ratio_choices,
    size_choices,
    thread_key,
)
from core import defaults, styles
from core.events import ChangeSetting, Forget, ListModels, ListStyles, Options, ShowSettings, ShowUsage, ThreadKey, User

log = logging.getLogger(__name__)


def place_key(interaction: discord.Interaction) -> ThreadKey:
    """Where an interaction happens, as a key (a thread is named with its parent, as conversations are)."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread) and channel.parent_id:
        return thread_key(interaction.guild_id, channel.parent_id, channel.id)
    channel_id = interaction.channel_id or 0
    return thread_key(interaction.guild_id, channel_id, channel_id)


def register(tree: app_commands.CommandTree, ctx: FlowContext, actions: InteractionFlows) -> None:
    commands: list[app_commands.Command[Any, ..., None]] = [
        _imagine(ctx, actions),
        _story(ctx, StoryFlow(ctx)),
        _forget(ctx),
        _report(ctx, "usage", "Your images and cost today and this month; this server's spend", ShowUsage),
        _report(ctx, "models", "The image models this bot can use now: ratios, sizes, prices", ListModels),
        _report(ctx, "styles", "The style presets for --style", ListStyles),
        _settings(ctx),
        _help(),
    ]
    for command in commands:
        tree.add_command(command)

    async def edit_image(interaction: discord.Interaction, message: discord.Message) -> None:
        await actions.edit_image(interaction, message)

    tree.add_command(app_commands.ContextMenu(name="Edit image", callback=edit_image))
    tree.error(_on_error)


def _imagine(ctx: FlowContext, actions: InteractionFlows) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="imagine", description="Draw an image with Gemini; refine it in the thread it opens")
    @app_commands.describe(
        prompt="What to draw (or how to change the attached images); --ar 16:9 --size 2K flags work too",
        aspect_ratio="Width:height of the image",
        size="Resolution (Gemini 3 models only)",
        model="Which Gemini image model",
        image="An image to edit or combine",
        image2="A second image",
        image3="A third image",
        style="A style preset (/styles lists them); on an edit it restyles the picture",
        exclude="Things to leave out, e.g. text, people",
        search="Ground the picture in Google Search (sources are linked under it)",
        think="Thinking level (models with levels)",
        thoughts="Show the model's thoughts and draft images (a Show thinking button)",
        variants="How many pictures to make at once, to pick one and go on (2 to 4)",
    )
    @app_commands.choices(
        aspect_ratio=[app_commands.Choice(name=r, value=r) for r in ratio_choices()],
        size=[app_commands.Choice(name=s, value=s) for s in size_choices()],
        model=[app_commands.Choice(name=label, value=name) for label, name in model_choices()],
        style=[app_commands.Choice(name=name, value=name) for name in styles.names()[:25]],
        search=[app_commands.Choice(name=label, value=value) for label, value in
                (("web", "web"), ("web and images", "images"), ("off", "off"))],
        think=[app_commands.Choice(name=level, value=level) for level in ("minimal", "high")],
    )
    async def imagine(
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 1500],
        aspect_ratio: str | None = None,
        size: str | None = None,
        model: str | None = None,
        image: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        style: str | None = None,
        exclude: app_commands.Range[str, 1, 300] | None = None,
        search: str | None = None,
        think: str | None = None,
        thoughts: bool | None = None,
        variants: app_commands.Range[int, 2, 4] | None = None,
    ) -> None:
        async with ctx.work.tracked():
            images = [a for a in (image, image2, image3) if a is not None]
            chosen = Options(model, aspect_ratio, size, style, exclude, think, thoughts or None, search)
            await actions.imagine(interaction, prompt, chosen, images, variants)

    return imagine


def _story(ctx: FlowContext, flow: StoryFlow) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="story", description="A picture story in 2 to 8 panels, drawn one by one in a thread")
    @app_commands.describe(panels="How many panels (2 to 8)", prompt="What the story is about; --ar/--model work")
    async def story(
        interaction: discord.Interaction, panels: app_commands.Range[int, 2, 8],
        prompt: app_commands.Range[str, 1, 1500],
    ) -> None:
        async with ctx.work.tracked():
            await flow.story(interaction, panels, prompt)

    return story


def _forget(ctx: FlowContext) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="forget", description="Clear this thread's conversation; the next message starts fresh")
    async def forget(interaction: discord.Interaction) -> None:
        async with ctx.work.tracked():
            key = place_key(interaction)
            if not isinstance(interaction.channel, discord.Thread) or not await ctx.engine.has_thread(key):
                await interaction.response.send_message(
                    "`/forget` works inside a thread I opened. In DMs, send a message that is not a reply to start "
                    "afresh.",
                    ephemeral=True,
                )
                return
            # Deferred: forgetting waits for a turn still running in this thread.
            await interaction.response.defer(thinking=True)
            reply = await ctx.engine.handle(Forget(key, user_of(interaction.user, interaction.permissions)))
            if reply.failure is not None:
                await refuse_public(interaction, failure_text(reply.failure))
            else:  # public: everyone in the thread should know the history is gone
                await interaction.followup.send(notices_text(reply.notices))

    return forget


def _report(
    ctx: FlowContext, name: str, description: str,
    event: Callable[[ThreadKey, User], ShowUsage | ListModels | ListStyles],
) -> app_commands.Command[Any, ..., None]:
    """A command answered privately with the engine's report lines (/usage, /models, /styles)."""

    async def report(interaction: discord.Interaction) -> None:
        async with ctx.work.tracked():
            await interaction.response.defer(ephemeral=True, thinking=True)
            user = user_of(interaction.user, interaction.permissions)
            reply = await ctx.engine.handle(event(place_key(interaction), user))
            text = failure_text(reply.failure) if reply.failure is not None else notices_text(reply.notices)
            await interaction.followup.send(text, ephemeral=True)

    return app_commands.Command(name=name, description=description, callback=report)


def _settings(ctx: FlowContext) -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="settings", description="This server's and channel's defaults; admins change them")
    @app_commands.describe(scope="Where a change applies", key="What to set", value="The value, as a flag takes it "
                           "(- clears it)")
    @app_commands.choices(
        scope=[app_commands.Choice(name=name, value=name) for name in defaults.SCOPES],
        key=[app_commands.Choice(name=name, value=name) for name in defaults.KEYS],
    )
    async def settings(interaction: discord.Interaction, scope: str | None = None, key: str | None = None,
                       value: app_commands.Range[str, 1, defaults.MAX_GUIDANCE] | None = None) -> None:
        async with ctx.work.tracked():
            await interaction.response.defer(ephemeral=True, thinking=True)
            place = place_key(interaction)
            perms = interaction.permissions
            # changing a server's defaults is for those who manage it (or BOT_ADMINS, which the engine checks)
            user = replace(user_of(interaction.user, perms), is_admin=bool(perms and perms.manage_guild))
            if scope and key and value:
                event: ShowSettings | ChangeSetting = ChangeSetting(place, user, scope, key, value)
            else:
                event = ShowSettings(place, user)
            reply = await ctx.engine.handle(event)
            text = failure_text(reply.failure) if reply.failure is not None else notices_text(reply.notices)
            await interaction.followup.send(text, ephemeral=True)

    return settings


def _help() -> app_commands.Command[Any, ..., None]:
    @app_commands.command(name="help", description="How to use this bot")
    async def help_(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(HELP, ephemeral=True)

    return help_


async def _on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    log.error("command %s failed", interaction.command and interaction.command.name, exc_info=error)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(BROKE, ephemeral=True)
        else:
            await interaction.response.send_message(BROKE, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about the failure", exc_info=True)


async def sync(tree: app_commands.CommandTree, guild_ids: tuple[int, ...]) -> None:
    """Push the commands: to each configured guild (instant), else globally (Discord may take a while)."""
    try:
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(guild_id)
                tree.copy_global_to(guild=guild)
                await tree.sync(guild=guild)
            log.info("commands synced to guilds %s", ", ".join(map(str, guild_ids)))
        else:
            await tree.sync()
            log.info("commands synced globally (they can take a while to appear)")
    except discord.Forbidden:
        log.error(
            "could not sync commands: invite the bot with the applications.commands scope (and check "
            "DISCORD_GUILD_IDS names guilds it is in)"
        )
    except discord.HTTPException:
        log.exception("could not sync commands; mentions, thread messages and buttons still work")
