"""`/story N PROMPT` on Discord: the deferred response becomes the story's header (progress "panel k of N" and a
Cancel button while it runs, the summary afterwards), a thread opens on it, and each panel is posted there as soon as
it is done, captioned "k/N" with its line of the story; a failed panel carries Try again."""

from __future__ import annotations

import logging
from dataclasses import replace

import discord

from adapters.discord.context import FlowContext
from adapters.discord.io import InteractionStatus, explain_http, post_result, user_of
from adapters.discord.translate import escape, failure_text, shorten, thread_key, thread_name, warning
from adapters.discord.views import cancel_view, retry_view
from core.events import Progress, Reply, StartStory
from core.failures import BadInput
from core.flags import parse_request, story_panels

log = logging.getLogger(__name__)


def header(prompt: str, panels: int, user_id: int) -> str:
    return f"📖 **{escape(shorten(prompt, 300))}** · a story in {panels} panels · requested by <@{user_id}>"


class StoryFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    async def story(self, interaction: discord.Interaction, panels: int, prompt: str) -> None:
        try:  # checks without I/O first
            story_panels(str(panels))
            text, flags, _ = parse_request(prompt)
            if not text:
                raise BadInput("Say what the story is about, for example `/story 4 a fox finds a key`.")
            options = self.ctx.engine.check_options(flags)
        except BadInput as problem:
            await interaction.response.send_message(failure_text(problem), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        root = await interaction.original_response()
        ticket, top = str(interaction.id), header(text, panels, interaction.user.id)
        await interaction.edit_original_response(content=top, view=cancel_view(interaction.user.id, ticket))
        destination: discord.abc.Messageable = root.channel
        if isinstance(root.channel, discord.TextChannel):
            try:
                destination = await root.channel.create_thread(name=thread_name(text), message=root)
            except discord.HTTPException as error:
                log.warning("story without a thread: %s", explain_http(error, "open a thread"))
        key = thread_key(interaction.guild_id, interaction.channel_id or root.id, root.id)
        status = InteractionStatus(interaction, ticket)

        async def progress(update: Progress) -> None:  # the header stays, the line under it moves
            content, _ = status.content(update)
            await interaction.edit_original_response(content=f"{top}\n{content}",
                                                     view=cancel_view(interaction.user.id, ticket))

        async def panel(reply: Reply) -> None:
            await self._post_panel(destination, reply, interaction)

        event = StartStory(key, user_of(interaction.user, interaction.permissions), text, panels, (), options)
        reply = await self.ctx.engine.handle(event, progress=progress, ticket=ticket, on_part=panel)
        summary = [failure_text(reply.failure)] if reply.failure else []
        summary += [f"-# {notice}" for notice in reply.notices]
        await interaction.edit_original_response(content=shorten("\n".join([top, *summary]), 2000), view=None)

    async def _post_panel(self, destination: discord.abc.Messageable, reply: Reply,
                          interaction: discord.Interaction) -> None:
        try:
            if reply.failure is not None:
                view = retry_view(reply)
                text = f"**{reply.caption}** {failure_text(reply.failure)}"
                await (destination.send(text, view=view) if view is not None else destination.send(text))
                return
            line = f"{reply.caption} {reply.text or ''}".strip()
            await post_result(destination, replace(reply, prompt=line, text=None), interaction.user.id,
                              interaction.filesize_limit, None)
        except discord.HTTPException as error:
            await interaction.followup.send(warning(explain_http(error, f"post panel {reply.caption}")), ephemeral=True)
