"""Interaction flows: /imagine and its deferred message, the result buttons, Cancel, and the two modals.
Each acknowledges within 3 s (I/O-free checks first, failing ephemerally), shows progress in the deferred response,
then posts the result where the conversation lives."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any

import discord

from adapters.discord.context import FlowContext
from adapters.discord.io import (
    InteractionStatus,
    explain_http,
    files_for,
    image_attachments,
    info_of,
    open_thread,
    post_result,
    refuse_public,
    reported,
    user_of,
)
from adapters.discord.placement import Placement
from adapters.discord.sources import grounding_embeds
from adapters.discord.translate import (
    PLATFORM,
    caption,
    edit_modal_id,
    failure_text,
    is_video,
    parse_modal_id,
    refine_modal_id,
    thoughts_text,
    thread_key,
    warning,
)
from adapters.discord.views import PromptModal, modal_value, result_view, retry_view, send_modal
from core.engine import Engine
from core.events import (
    Event,
    ImageInput,
    Options,
    Reroll,
    RerollSet,
    ShowThoughts,
    StartThread,
    User,
    UseVariant,
    Workflow,
)
from core.failures import BadInput, Failure
from core.flags import parse_request
from core.turns import Withdrawal, extension, next_event

log = logging.getLogger(__name__)



class InteractionFlows:
    """The `actions` the buttons call, and the handlers of commands and modals."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.places = Placement(ctx)

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    # /imagine -------------------------------------------------------------------------------------------

    async def imagine(
        self, interaction: discord.Interaction, prompt: str, chosen: Options, images: Sequence[discord.Attachment],
        variants: int | None = None,
    ) -> None:
        try:  # checks without I/O first: an invalid request is refused at once, ephemerally
            text, flags, workflow = parse_request(prompt)
            if variants:
                workflow = Workflow(variants, workflow.region, workflow.mask, workflow.extend, workflow.style_ref)
            if not text and not workflow.edits:
                raise BadInput("The prompt is empty once the flags are taken out. Describe the image you want.")
            options = chosen.over(flags)
            self.engine.check_options(options)
            self.ctx.downloader.check(images)
            for clip in (a for a in images if is_video(info_of(a))):  # the model is known: asked before download
                self.engine.check_video(options, clip.filename, clip.size)
        except BadInput as problem:
            await interaction.response.send_message(failure_text(problem), ephemeral=True)
            return
        user = user_of(interaction.user, interaction.permissions)
        where = thread_key(interaction.guild_id, interaction.channel_id or 0, 0)
        probe = StartThread(where, user, text, (), options, workflow)
        if images and (refusal := await self.engine.admit(probe)):  # said before any attachment is downloaded
            await interaction.response.send_message(failure_text(refusal), ephemeral=True)
            return
        callback = await interaction.response.defer(thinking=True)
        message_id = (callback and callback.message_id) or (await interaction.original_response()).id
        channel = interaction.channel
        # In a text channel the result's message starts the thread (thread id == message id); elsewhere
        # (DMs, inside a thread) the conversation is the reply chain under the result.
        key = thread_key(interaction.guild_id, interaction.channel_id or message_id, message_id)
        ticket = str(interaction.id)
        status = InteractionStatus(interaction, ticket)
        try:
            inputs = await self.ctx.downloader.fetch_all(images)
        except BadInput as problem:
            await refuse_public(interaction, failure_text(problem))
            return
        event = StartThread(key, user, text, inputs, options, workflow)
        reply = await self.engine.handle(event, progress=status, ticket=ticket)
        if reply.failure is not None:
            await refuse_public(interaction, failure_text(reply.failure), retry_view(reply))
            return
        try:
            files = await files_for(reply, interaction.filesize_limit)
            message = await interaction.edit_original_response(
                content=caption(reply.prompt, reply.options, interaction.user.id, reply.text, reply.notices),
                attachments=files,
                view=result_view(reply),
                embeds=grounding_embeds(reply.grounding),
            )
        except (discord.HTTPException, BadInput) as error:
            text = (
                warning(explain_http(error, "post the image")) if isinstance(error, discord.HTTPException)
                else failure_text(error)
            )
            await refuse_public(interaction, text)
            return
        if isinstance(channel, discord.TextChannel):
            refused = await open_thread(channel, message, reply.prompt)
            if refused:
                await interaction.followup.send(refused, ephemeral=True)

    # Buttons --------------------------------------------------------------------------------------------

    async def on_button(self, interaction: discord.Interaction, action: str, turn_id: int) -> None:
        # Claimed in the database: whichever shard or process receives a press, it is answered once.
        if not await self.engine.claim("discord-interaction", str(interaction.id)):
            return
        async with self.ctx.work.tracked(), reported(interaction):
            if action == "delete":
                await self._delete(interaction, turn_id)
            elif action.startswith("use"):
                await self._use(interaction, turn_id)
            elif action == "rerollset":
                await interaction.response.defer(ephemeral=True, thinking=True)
                user = user_of(interaction.user, interaction.permissions)
                await self._run_and_post(interaction, RerollSet(turn_id, user), interaction.message)
            elif action == "thoughts":
                await self._thoughts(interaction, turn_id)
            elif action == "refine":
                await send_modal(
                    interaction,
                    PromptModal(
                        title="Refine this image", custom_id=refine_modal_id(turn_id), label="What should change?",
                        placeholder="make it night · add a llama · --ar 16:9",
                    ),
                )
            else:
                await interaction.response.defer(ephemeral=True, thinking=True)
                size = action.removeprefix("up-") if action.startswith("up-") else None
                user = user_of(interaction.user, interaction.permissions)
                await self._run_and_post(interaction, Reroll(turn_id, user, image_size=size), interaction.message)

    async def _use(self, interaction: discord.Interaction, turn_id: int) -> None:
        """"Use k": quick (no model call), so answered directly; said in the thread so everyone sees the choice."""
        user = user_of(interaction.user, interaction.permissions)
        reply = await self.engine.handle(UseVariant(turn_id, user))
        if reply.failure is not None:
            await interaction.response.send_message(failure_text(reply.failure), ephemeral=True)
            return
        await interaction.response.send_message(f"✅ <@{interaction.user.id}>: {' '.join(reply.notices)}")

    async def _thoughts(self, interaction: discord.Interaction, turn_id: int) -> None:
        """Show thinking: the turn's stored thoughts and draft images, to whoever pressed it, privately."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await self.engine.handle(ShowThoughts(turn_id, user_of(interaction.user, interaction.permissions)))
        if reply.failure is not None:
            await interaction.followup.send(failure_text(reply.failure), ephemeral=True)
            return
        files = [discord.File(io.BytesIO(image.data), f"thought-{n + 1}.{extension(image.mime_type)}")
                 for n, image in enumerate(reply.thought_images)]
        await interaction.followup.send(thoughts_text(reply), files=files, ephemeral=True)

    async def _delete(self, interaction: discord.Interaction, turn_id: int) -> None:
        user = user_of(interaction.user, interaction.permissions)  # Manage Messages makes a platform admin
        permission = await self.engine.may_delete(turn_id, user, PLATFORM)
        if not permission.allowed:
            who = f"<@{permission.requester}>" if permission.requester else "the person who asked for it"
            await interaction.response.send_message(
                f"🔒 Only {who} or someone with Manage Messages can delete this image.", ephemeral=True
            )
            return
        await interaction.response.defer()
        try:
            if interaction.message is not None:
                await interaction.message.delete()
        except discord.HTTPException as error:
            await interaction.followup.send(warning(explain_http(error, "delete that message")), ephemeral=True)

    async def on_cancel(self, interaction: discord.Interaction, owner_id: int, ticket: str) -> None:
        async with reported(interaction):
            await self._cancel(interaction, owner_id, ticket)

    async def _cancel(self, interaction: discord.Interaction, owner_id: int, ticket: str) -> None:
        outcome = self.engine.withdraw(ticket, user_of(interaction.user), PLATFORM)
        if outcome is Withdrawal.NOT_YOURS:
            await interaction.response.send_message(
                f"🔒 Only <@{owner_id}>, who asked for it, can cancel this request.", ephemeral=True
            )
            return
        # Acknowledge without touching the message: the request's own flow rewrites it once the engine answers.
        await interaction.response.defer()
        if outcome is Withdrawal.STARTED:
            await interaction.followup.send(
                "It has already started (or finished), so it can no longer be cancelled.", ephemeral=True
            )

    # Modals and the context menu ------------------------------------------------------------------------

    async def edit_image(self, interaction: discord.Interaction, message: discord.Message) -> None:
        images = image_attachments(message)
        try:
            if not images:
                raise BadInput("That message has no image to edit. Use *Edit image* on a message with a picture.")
            self.ctx.downloader.check(images)
        except BadInput as problem:
            await interaction.response.send_message(failure_text(problem), ephemeral=True)
            return
        modal = PromptModal(
            title="Edit image", custom_id=edit_modal_id(message.channel.id, message.id),
            label="What should change?", placeholder="make it night · remove the hat · --ar 16:9",
        )
        await send_modal(interaction, modal)

    async def on_modal(self, interaction: discord.Interaction) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        parsed = parse_modal_id(custom_id)
        if parsed is None or not await self.engine.claim("discord-interaction", str(interaction.id)):
            return
        async with self.ctx.work.tracked(), reported(interaction):
            try:
                text, flags, workflow = parse_request(modal_value(interaction.data))  # type: ignore[arg-type]
            except BadInput as problem:
                await interaction.response.send_message(failure_text(problem), ephemeral=True)
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            user = user_of(interaction.user, interaction.permissions)
            kind, ids = parsed
            try:
                if kind == "refine":
                    await self._refine(interaction, ids[0], user, text, flags, workflow)
                else:
                    await self._edit(interaction, ids[1], user, text, flags, workflow)
            except Failure as problem:  # bad input, or an allow-list, limit or budget said before any download
                await interaction.edit_original_response(content=failure_text(problem), view=None)

    async def _refine(
        self, interaction: discord.Interaction, turn_id: int, user: User, text: str, flags: Options,
        workflow: Workflow,
    ) -> None:
        turn = await self.engine.turn_info(turn_id)
        if turn is None:
            raise BadInput("That image's conversation was cleared (/forget). Start a new one with /imagine.")
        images: tuple[ImageInput, ...] = ()
        if not turn.is_latest:
            # Refining an older result: edit that picture, not whatever the thread made last.
            attachments = image_attachments(interaction.message)
            await self.ctx.admit(attachments, next_event(turn.key, user, text, (), flags, stored=True,
                                                          workflow=workflow))
            images = await self.ctx.downloader.fetch_all(attachments)
        event = next_event(turn.key, user, text, images, flags, stored=True, workflow=workflow)
        await self._run_and_post(interaction, event, interaction.message)

    async def _edit(
        self, interaction: discord.Interaction, message_id: int, user: User, text: str, flags: Options,
        workflow: Workflow,
    ) -> None:
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise BadInput("I cannot read that channel. Check that I can View Channels and Read Message History.")
        try:
            target = await channel.fetch_message(message_id)
        except discord.HTTPException as error:
            raise BadInput(explain_http(error, "read that message")) from error
        key = await self.places.edit_key(channel, target)
        stored = await self.engine.has_thread(key)
        attachments = image_attachments(target)
        await self.ctx.admit(attachments, next_event(key, user, text, (), flags, stored=stored, workflow=workflow))
        inputs = await self.ctx.downloader.fetch_all(attachments)
        event = next_event(key, user, text, inputs, flags, stored=stored, workflow=workflow)
        await self._run_and_post(interaction, event, target, open_on=target)

    # Running a request whose answer goes into the conversation ---------------------------------------------

    async def _run_and_post(
        self, interaction: discord.Interaction, event: Event, anchor: discord.Message | None,
        open_on: discord.Message | None = None,
    ) -> None:
        """Run the event with progress in the (ephemeral) deferred response; post the result where it belongs."""
        ticket = str(interaction.id)
        status = InteractionStatus(interaction, ticket)
        reply = await self.engine.handle(event, progress=status, ticket=ticket)
        if reply.failure is not None or reply.key is None:
            text = failure_text(reply.failure) if reply.failure else "⚠️ Nothing came back. Try again."
            await interaction.edit_original_response(content=text, view=retry_view(reply))
            return
        try:
            channel, reference = await self.places.destination(reply.key, anchor, open_on, reply.prompt)
            posted = await post_result(channel, reply, interaction.user.id, interaction.filesize_limit, reference)
        except discord.HTTPException as error:
            await interaction.edit_original_response(content=warning(explain_http(error, "post the image")), view=None)
            return
        except BadInput as problem:
            await interaction.edit_original_response(content=failure_text(problem), view=None)
            return
        if isinstance(channel, discord.TextChannel):
            await self.places.rehome(reply.key, posted, reply.prompt)
        await interaction.edit_original_response(content=f"✅ Posted: {posted.jump_url}", view=None)
