"""After a crash (`kill -9` mid-turn): each Slack turn the last process left unanswered is told where the user saw it
being worked on: its status reply (the hourglass one) now says it was interrupted and offers Try again (a new reply in
the thread when it never had to wait), and the hourglass reaction on the thread's root goes."""

from __future__ import annotations

import logging

from adapters.slack.io import SLACK_ERRORS, SlackIO
from adapters.slack.status import WORKING
from adapters.slack.translate import PLATFORM, failure_message

log = logging.getLogger(__name__)


async def tell_interrupted(io: SlackIO) -> int:
    """Post each interrupted turn's news; the number told."""
    told = 0
    for info, reply in await io.engine.take_interrupted(PLATFORM):
        channel, thread_ts = info.key.channel, info.key.thread
        text, blocks = failure_message(reply, info.user_id)
        try:
            status_ts = await _status_reply(io, channel, thread_ts)
            if status_ts is not None:
                await io.client.chat_update(channel=channel, ts=status_ts, text=text, blocks=blocks)
            else:
                await io.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks or None)
            told += 1
        except SLACK_ERRORS as error:
            log.error("could not tell %s that turn %s was interrupted: %s", channel, reply.turn_id, error)
        try:
            await io.client.reactions_remove(channel=channel, timestamp=thread_ts, name=WORKING)
        except SLACK_ERRORS as error:  # no_reaction: it had already gone
            log.debug("reaction on %s: %s", thread_ts, error)
    return told


async def _status_reply(io: SlackIO, channel: str, thread_ts: str) -> str | None:
    """The newest of the bot's status replies in the thread (its text starts with the hourglass), if any."""
    found = await io.client.conversations_replies(channel=channel, ts=thread_ts, limit=200)
    bot = await io.client.auth_test()
    mine = [m for m in found.get("messages") or ()
            if (m.get("bot_id") or m.get("user")) in (bot.get("bot_id"), bot.get("user_id"))
            and (m.get("text") or "").startswith(f":{WORKING}:")]
    return mine[-1]["ts"] if mine else None
