"""How one turn shows it is in hand: an hourglass reaction while it runs and, only once it has to wait in line, a
status reply (its place in line with a Cancel button only the requester may press, then "generating").

Pure pieces (the Cancel button's value and the progress message) first, the Slack calls below.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from core.events import Progress

log = logging.getLogger(__name__)

SLACK_ERRORS = (SlackClientError, ClientError, TimeoutError)  # an API refusal, or Slack out of reach
WORKING = "hourglass_flowing_sand"
ACTION_CANCEL = "imagine_cancel"
QUEUE_BLOCK = "imagine_queue"
ONLY_REQUESTER = "Only the person who asked for this request can cancel it."
ALREADY_STARTED = "That request has already started (or finished), so it can no longer be cancelled."


def cancel_value(ticket: str, requester: str) -> str:
    """The Cancel button's value: the engine's ticket and who may press it. Slack delivers the value of the bot's
    own message, so a user cannot change it."""
    return f"{ticket}:{requester}"


def parse_cancel_value(value: str | None) -> tuple[str, str] | None:
    """`"TICKET:U123"` → (ticket, requester); None when it is not a Cancel value."""
    ticket, sep, requester = (value or "").partition(":")
    return (ticket, requester) if ticket and sep and requester else None


def progress_message(progress: Progress, ticket: str | None, requester: str) -> tuple[str, list[dict[str, Any]]]:
    """The status reply's text and blocks: a Cancel button while the request waits, none once it runs (an empty
    block list is how chat.update removes blocks)."""
    text = f":hourglass_flowing_sand: {progress.describe()}"
    if progress.stage != "queued" or ticket is None:
        return text, []
    return text, cancellable(text, ticket, requester)


def cancellable(text: str, ticket: str, requester: str) -> list[dict[str, Any]]:
    """`text` with a Cancel button that withdraws the request `ticket` names (only `requester` may press it)."""
    cancel = {
        "type": "button",
        "action_id": ACTION_CANCEL,
        "text": {"type": "plain_text", "text": "Cancel"},
        "value": cancel_value(ticket, requester),
    }
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": QUEUE_BLOCK, "elements": [cancel]},
    ]


def cancelled_text(requester: str) -> str:
    return f":heavy_multiplication_x: <@{requester}> cancelled this request before it started. Nothing was generated."


class Throttle:
    """A token bucket shared by every status reply. Slack allows chat.update about 50 times a minute per workspace
    (Tier 3), so routine progress (a new place in line, a fresher elapsed time) gets a share of that and is skipped
    when the share is spent: the engine re-sends the current state every few seconds, which makes a skip good soon.
    A new stage and the final state are never skipped."""

    def __init__(self, per_minute: float = 30.0, burst: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._rate, self._burst, self._clock = per_minute / 60.0, burst, clock
        self._tokens, self._at = burst, clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Status:
    """How one turn shows that it is in hand: an hourglass reaction on the thread's root (seen from the channel),
    and a status reply only once the request has to wait in line (its place, a Cancel button only the requester may
    press, then "generating"); at the end the reaction goes, and the status reply, if there is one, is removed or
    says how the turn ended. A request that runs at once costs two calls (the reaction on and off), not five.

    Progress is a courtesy: a failing update never fails the turn (the engine logs it); the engine sends updates one
    at a time and waits for the last before it answers, so none can overwrite the result."""

    def __init__(
        self, client: AsyncWebClient, channel: str, thread_ts: str, requester: str, ticket: str | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self._client, self._channel, self._thread_ts = client, channel, thread_ts
        self.requester, self.ticket = requester, ticket
        self._throttle = throttle
        self._stage: str | None = None
        self._starting: asyncio.Future[None] | None = None
        self.ts: str | None = None

    def begin(self) -> None:
        """React in the background: the turn need not wait for Slack before Gemini starts."""
        self._starting = asyncio.ensure_future(self._react(True))

    async def _started(self) -> None:
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._starting)

    async def _react(self, add: bool) -> None:
        react = self._client.reactions_add if add else self._client.reactions_remove
        try:
            await react(channel=self._channel, timestamp=self._thread_ts, name=WORKING)
        except SLACK_ERRORS as error:  # already_reacted / no_reaction when turns overlap in one thread
            log.debug("reaction %s on %s: %s", WORKING, self._thread_ts, error)

    async def update(self, progress: Progress) -> None:
        """The engine's progress callback (it logs what this raises)."""
        await self._started()
        if self.ts is None and progress.stage != "queued":
            return  # running at once: the reaction says enough
        if progress.stage == self._stage and self._throttle is not None and not self._throttle.take():
            return
        self._stage = progress.stage
        text, blocks = progress_message(progress, self.ticket, self.requester)
        if self.ts is None:
            posted = await self._client.chat_postMessage(
                channel=self._channel, thread_ts=self._thread_ts, text=text, blocks=blocks
            )
            self.ts = posted["ts"]
        else:
            await self._client.chat_update(channel=self._channel, ts=self.ts, text=text, blocks=blocks)

    async def finish(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Say how it ended, in place of the status reply when there is one (its Cancel button goes, and `blocks`,
        such as a Try again button, come)."""
        await self._started()
        await self._react(False)
        try:
            if self.ts:
                await self._client.chat_update(channel=self._channel, ts=self.ts, text=text, blocks=blocks or [])
            else:
                await self._client.chat_postMessage(
                    channel=self._channel, thread_ts=self._thread_ts, text=text, blocks=blocks or None
                )
        except SLACK_ERRORS as error:
            log.error("could not tell %s how a turn ended: %s", self._channel, error)

    async def remove(self) -> None:
        """The result is in: the reaction goes, and so does a status reply left from waiting in line."""
        await self._started()
        await self._react(False)
        if self.ts:
            try:
                await self._client.chat_delete(channel=self._channel, ts=self.ts)
            except SLACK_ERRORS as error:
                log.warning("could not remove a status message: %s", error)
