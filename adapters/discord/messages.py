"""Message flows: the next turn in a bot thread, edits by replying to a picture with a mention, DM reply chains.
Bots (itself included) are ignored, and so is anything outside bot threads and DMs that does not mention the bot;
where no thread can be opened (DMs, others' threads) the reply chain under the bot's answers is the conversation."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord

from adapters.discord.context import FlowContext
from adapters.discord.io import (
    MessageStatus,
    explain_http,
    files_for,
    image_attachments,
    info_of,
    open_thread,
    post_result,
    reported,
    user_of,
)
from adapters.discord.sources import grounding_embeds
from adapters.discord.translate import (
    caption,
    failure_text,
    is_video,
    prompt_text,
    thread_key,
    turn_of,
    upload_limit,
    warning,
)
from adapters.discord.views import result_view, retry_view
from core.events import Reply, ThreadKey, User
from core.failures import BadInput, Cancelled, Failure
from core.flags import parse_request
from core.turns import next_event

log = logging.getLogger(__name__)

USER_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)  # not joins, pins or thread notices
EMPTY_MENTION = (
    "Tell me what to draw (`@me a red fox in the snow`), or reply to a picture, mention me and say what to change. "
    "`/help` lists everything."
)


class MessageFlows:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    async def on_message(self, message: discord.Message) -> None:
        me = self.ctx.client.user
        if me is None or message.author.bot or message.type not in USER_MESSAGES:
            return  # other bots, webhooks and the bot's own posts (the gateway echoes them) are never turns
        if not message.content.strip() and not message.attachments:
            return  # a sticker or an embed alone says nothing to draw
        channel = message.channel
        # Only threads the bot opened are conversations where every message counts; elsewhere it needs a mention.
        if isinstance(channel, discord.Thread) and channel.owner_id == me.id and channel.parent_id and message.guild:
            key = thread_key(message.guild.id, channel.parent_id, channel.id)
            if await self.ctx.engine.has_thread(key):
                if await self._first(message):
                    async with self.ctx.work.tracked(), reported(message=message):
                        await self._next_in_thread(message, key)
                return
        if isinstance(channel, discord.DMChannel):
            if await self._first(message):
                async with self.ctx.work.tracked(), reported(message=message):
                    await self._chain(message)
        elif self._mentioned(message) and await self._first(message):
            async with self.ctx.work.tracked(), reported(message=message):
                if isinstance(channel, discord.TextChannel):
                    await self._edit_with_thread(message, channel)
                else:
                    await self._chain(message)

    async def _first(self, message: discord.Message) -> bool:
        """A message is a turn once, even if a resumed gateway session or a second process sees it again."""
        return await self.ctx.engine.claim("discord-message", str(message.id))

    def _mentioned(self, message: discord.Message) -> bool:
        me = self.ctx.client.user
        if me is not None and any(user.id == me.id for user in message.mentions):
            return True
        own_role = message.guild.self_role if message.guild else None  # people often pick the bot's role by mistake
        return own_role is not None and own_role in message.role_mentions

    def _text(self, message: discord.Message) -> str:
        own_role = message.guild.self_role if message.guild else None
        names = {user.id: user.display_name for user in message.mentions}
        me = self.ctx.client.user.id if self.ctx.client.user else 0
        return prompt_text(message.content, me, names, own_role.id if own_role else None)

    # The three flows --------------------------------------------------------------------------------------

    async def _next_in_thread(self, message: discord.Message, key: ThreadKey) -> None:
        """Any message in a bot thread is the next turn; a picture it replies to (not the bot's) is an input."""
        referenced = await self._referenced(message)
        quoted = [] if referenced is None or referenced.author.bot else image_attachments(referenced)
        await self._converse(message, key, [*quoted, *message.attachments], stored=True)

    async def _chain(self, message: discord.Message) -> None:
        """DMs and threads the bot did not open: a reply to one of its results continues that conversation;
        anything else starts one rooted at this message (an edit when there are pictures)."""
        referenced = await self._referenced(message)
        me = self.ctx.client.user
        turn = None
        if referenced is not None and me is not None and referenced.author.id == me.id:
            turn_id = turn_of(_custom_ids(referenced))
            turn = await self.ctx.engine.turn_info(turn_id) if turn_id is not None else None
        if turn is not None:
            await self._converse(message, turn.key, list(message.attachments), stored=True)
            return
        key = thread_key(message.guild.id if message.guild else None, message.channel.id, message.id)
        attachments = [*image_attachments(referenced), *message.attachments]
        await self._converse(message, key, attachments, stored=False)

    async def _edit_with_thread(self, message: discord.Message, channel: discord.TextChannel) -> None:
        """A mention in a text channel: the answer replies to the message, then opens the conversation's thread.

        The answer is posted first as a placeholder showing progress: its id names the thread (Discord gives a
        thread the id of the message it starts from), so the conversation's key exists before the engine runs.
        """
        referenced = await self._referenced(message)
        attachments = [*image_attachments(referenced), *message.attachments]
        try:
            text, flags, workflow = parse_request(self._text(message))
            self.ctx.downloader.check(attachments)
            if not text and not attachments:
                raise BadInput(EMPTY_MENTION)
        except BadInput as problem:
            await self._say(message, failure_text(problem))
            return
        status = MessageStatus(message, str(message.id), eager=True)
        try:
            placeholder = await status.open("🎨 Working on it…")
        except discord.HTTPException as error:
            log.warning("cannot answer in channel %s: %s", channel.id, explain_http(error, "reply"))
            return
        key = thread_key(channel.guild.id, channel.id, placeholder.id)
        try:
            probe = next_event(key, self._user(message), text, (), flags, stored=False, workflow=workflow)
            await self.ctx.admit(attachments, probe)
            inputs = await self.ctx.downloader.fetch_all(attachments)
            event = next_event(key, self._user(message), text, inputs, flags, stored=False, workflow=workflow)
            reply = await self.ctx.engine.handle(event, progress=status, ticket=str(message.id))
        except Failure as problem:
            reply = Reply(key=key, failure=problem)
        try:
            if reply.failure is not None:
                await placeholder.edit(content=failure_text(reply.failure), view=retry_view(reply))
                return
            files = await files_for(reply, upload_limit(None, channel.guild.filesize_limit))
            content = caption(reply.prompt, reply.options, message.author.id, reply.text, reply.notices)
            view = result_view(reply)
            extra: dict[str, Any] = {"view": view} if view else {}  # no buttons: leave none, not "unchanged"
            result = await placeholder.edit(content=content, attachments=files,
                                            embeds=grounding_embeds(reply.grounding), **extra)
        except (discord.HTTPException, BadInput) as error:
            text = warning(explain_http(error, "post the image")) if isinstance(error, discord.HTTPException) else (
                failure_text(error))
            await self._say(message, text)
            return
        refused = await open_thread(channel, result, reply.prompt)
        if refused:
            await self._say(result, refused)

    # Shared -----------------------------------------------------------------------------------------------

    async def _converse(
        self, message: discord.Message, key: ThreadKey, attachments: list[discord.Attachment], *, stored: bool
    ) -> None:
        """Run one turn with the typing indicator on (and a status reply if it has to queue); answer by replying."""
        try:
            text, flags, workflow = parse_request(self._text(message))
            self.ctx.downloader.check(attachments)
            clips = [a for a in attachments if is_video(info_of(a))]
            base = await self.ctx.engine.thread_options(key) if clips and stored else None
            for clip in clips:  # the model that would run takes video, asked before anything is downloaded
                self.ctx.engine.check_video(flags, clip.filename, clip.size, base)
        except BadInput as problem:
            await self._say(message, failure_text(problem))
            return
        ticket = str(message.id)
        status = MessageStatus(message, ticket)
        async with _typing(message.channel):
            try:
                probe = next_event(key, self._user(message), text, (), flags, stored=stored, workflow=workflow)
                await self.ctx.admit(attachments, probe)
                inputs = await self.ctx.downloader.fetch_all(attachments)
                event = next_event(key, self._user(message), text, inputs, flags, stored=stored, workflow=workflow)
                reply = await self.ctx.engine.handle(event, progress=status, ticket=ticket)
            except Failure as problem:
                reply = Reply(key=key, failure=problem)
            if isinstance(reply.failure, Cancelled) and status.message is not None:
                await status.message.edit(content=failure_text(reply.failure), view=None)
                return
            try:
                if reply.failure is not None:
                    await self._say(message, failure_text(reply.failure), retry_view(reply))
                else:
                    limit = upload_limit(None, message.guild.filesize_limit if message.guild else None)
                    await post_result(message.channel, reply, message.author.id, limit, message)
            except discord.HTTPException as error:
                await self._say(message, warning(explain_http(error, "post the image")))
            except BadInput as problem:
                await self._say(message, failure_text(problem))
            finally:
                await status.remove()

    def _user(self, message: discord.Message) -> User:
        author = message.author
        permissions = message.channel.permissions_for(author) if isinstance(author, discord.Member) else None
        return user_of(author, permissions)

    async def _referenced(self, message: discord.Message) -> discord.Message | None:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        if isinstance(reference.resolved, discord.Message):
            return reference.resolved
        try:
            return await message.channel.fetch_message(reference.message_id)
        except discord.HTTPException:
            return None  # deleted, or history is not readable: answer without it

    async def _say(self, message: discord.Message, text: str, view: discord.ui.View | None = None) -> None:
        try:
            extra: dict[str, Any] = {"view": view} if view is not None else {}
            await message.reply(text, mention_author=False, **extra)
        except discord.HTTPException as error:
            log.warning("could not answer message %s: %s", message.id, explain_http(error, "reply"))


def _custom_ids(message: discord.Message) -> list[str]:
    ids = []
    for row in message.components:
        for child in getattr(row, "children", ()):
            custom_id = getattr(child, "custom_id", None)
            if custom_id:
                ids.append(custom_id)
    return ids


@contextlib.asynccontextmanager
async def _typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """The typing indicator, unless Discord refuses it (the work goes on either way)."""
    typing = channel.typing()
    try:
        await typing.__aenter__()
    except discord.HTTPException:
        yield
        return
    try:
        yield
    finally:
        await typing.__aexit__(None, None, None)
