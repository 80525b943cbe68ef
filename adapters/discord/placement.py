"""Where a Discord conversation lives: the key an edited picture continues under, the thread (or reply chain) a
result is posted into, and a thread opened for a result that had to go to the channel itself."""

from __future__ import annotations

import logging

import discord

from adapters.discord.context import FlowContext
from adapters.discord.io import explain_http
from adapters.discord.translate import thread_key, thread_name
from core.events import ThreadKey
from core.failures import BadInput

log = logging.getLogger(__name__)

Destination = tuple[discord.abc.Messageable, discord.Message | None]  # where to post, and what to reply to


class Placement:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    async def edit_key(self, channel: discord.abc.Messageable, target: discord.Message) -> ThreadKey:
        guild_id = target.guild.id if target.guild else None
        if isinstance(channel, discord.TextChannel):
            return thread_key(guild_id, channel.id, target.id)  # the target's own thread
        if isinstance(channel, discord.Thread) and channel.parent_id:
            key = thread_key(guild_id, channel.parent_id, channel.id)
            if await self.ctx.engine.has_thread(key):
                return key  # an image inside a bot thread: the thread's next turn
        return thread_key(guild_id, target.channel.id, target.id)  # a reply chain rooted at the target

    async def rehome(self, key: ThreadKey, posted: discord.Message, prompt: str) -> None:
        """A result that had to go to the channel itself (its thread's starter message is gone, as after a failed
        /imagine whose placeholder was removed) gets a thread of its own, and the conversation moves there."""
        thread = await self._open(posted.channel, posted, prompt)  # type: ignore[arg-type]
        if thread is not None:
            guild_id = posted.guild.id if posted.guild else None
            await self.ctx.engine.move_thread(key, thread_key(guild_id, posted.channel.id, thread.id))

    async def destination(
        self, key: ThreadKey, anchor: discord.Message | None, open_on: discord.Message | None, prompt: str
    ) -> Destination:
        """The conversation's Discord thread when it has one (opened on `open_on` if need be); else the chain.

        A Try again under a failed first turn opens the thread where that turn would have: see `_starter`. An
        ephemeral anchor (a failure only its requester saw) is never replied to: Discord cannot reference one.
        """
        private = anchor is not None and anchor.flags.ephemeral
        parent = self.ctx.client.get_channel(int(key.channel))
        if isinstance(parent, discord.TextChannel):
            thread = await self._thread(parent, int(key.thread))
            if thread is None and open_on is not None and open_on.id == int(key.thread):
                thread = await parent.create_thread(name=thread_name(prompt), message=open_on)
            elif thread is None and (starter := await self._starter(parent, key, anchor)) is not None:
                thread = await self._open(parent, starter, prompt)
            if thread is not None:
                in_thread = anchor is not None and not private and anchor.channel.id == thread.id
                return thread, anchor if in_thread else None
        if anchor is not None:
            return anchor.channel, None if private else anchor
        if isinstance(parent, discord.abc.Messageable):
            return parent, None
        raise BadInput("I cannot find where this conversation lives any more. Start a new one with /imagine.")

    async def _starter(
        self, parent: discord.TextChannel, key: ThreadKey, anchor: discord.Message | None
    ) -> discord.Message | None:
        """The message a thread-less conversation is named after, when its thread belongs there: the pressed
        message itself (a mention's answer that failed in place), or, behind an ephemeral failure, the message
        fetched (the picture an *Edit image* was for). A failed /imagine's placeholder is gone: None."""
        if anchor is None:
            return None
        if not anchor.flags.ephemeral:
            return anchor if anchor.id == int(key.thread) else None
        try:
            return await parent.fetch_message(int(key.thread))
        except discord.HTTPException:
            return None

    async def _open(self, parent: discord.TextChannel, starter: discord.Message, prompt: str) -> discord.Thread | None:
        """A thread on `starter`; when Discord refuses, the answer goes to the reply chain instead of being lost."""
        try:
            return await parent.create_thread(name=thread_name(prompt), message=starter)
        except discord.HTTPException as error:
            log.warning("no thread on message %s: %s", starter.id, explain_http(error, "open a thread"))
            return None

    async def _thread(self, parent: discord.TextChannel, thread_id: int) -> discord.Thread | None:
        thread = parent.guild.get_thread(thread_id)
        if thread is not None:
            return thread
        try:  # archived threads are not cached
            fetched = await self.ctx.client.fetch_channel(thread_id)
        except discord.HTTPException:
            return None
        return fetched if isinstance(fetched, discord.Thread) else None
