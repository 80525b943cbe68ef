"""After a crash (`kill -9` mid-turn): each Discord turn the last process left unanswered is told where the user saw
it being worked on. An /imagine's deferred reply (the bot's "thinking…" message, still without its image) is edited
to say the request was interrupted, with Try again; a turn in a thread or reply chain gets that message there."""

from __future__ import annotations

import logging

import discord

from adapters.discord.translate import PLATFORM, failure_text
from adapters.discord.views import retry_view
from core.engine import Engine
from core.events import Reply
from core.turns import TurnInfo

log = logging.getLogger(__name__)


async def tell_interrupted(client: discord.Client, engine: Engine) -> int:
    """Post each interrupted turn's news; the number told."""
    told = 0
    for info, reply in await engine.take_interrupted(PLATFORM):
        try:
            await _tell(client, info, reply)
            told += 1
        except (discord.HTTPException, ValueError) as error:
            log.error("could not tell %s that turn %s was interrupted: %s", info.key, info.turn_id, error)
    return told


async def _tell(client: discord.Client, info: TurnInfo, reply: Reply) -> None:
    assert reply.failure is not None
    text, view = f"<@{info.user_id}> {failure_text(reply.failure)}", retry_view(reply)
    parent = await _channel(client, info.key.channel)
    placeholder = await _message(parent, info.key.thread)
    if placeholder is not None and client.user is not None and placeholder.author.id == client.user.id \
            and not placeholder.attachments:  # the deferred reply that said "thinking…"
        await placeholder.edit(content=text, view=view)
        return
    thread = await _channel(client, info.key.thread)
    if thread is not None:
        await thread.send(text, view=view or discord.utils.MISSING)
    elif parent is not None:  # a reply chain (a DM): under the message it answers
        await parent.send(text, view=view or discord.utils.MISSING, reference=placeholder or discord.utils.MISSING)


async def _channel(client: discord.Client, channel_id: str) -> discord.abc.Messageable | None:
    try:
        found = client.get_channel(int(channel_id)) or await client.fetch_channel(int(channel_id))
    except (discord.NotFound, discord.Forbidden):
        return None
    return found if isinstance(found, discord.abc.Messageable) else None


async def _message(channel: discord.abc.Messageable | None, message_id: str) -> discord.Message | None:
    if channel is None:
        return None
    try:
        return await channel.fetch_message(int(message_id))
    except (discord.NotFound, discord.Forbidden):
        return None
