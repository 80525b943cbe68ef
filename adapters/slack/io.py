"""Slack-side I/O shared by every listener: tracked background work after an ack, one turn from download to
upload (with a status that follows the engine's progress), and posting that never loses a failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.files import Downloader
from adapters.slack.sources import thoughts_text
from adapters.slack.status import SLACK_ERRORS, Status, Throttle, cancelled_text
from adapters.slack.translate import (
    FileRef,
    explain_slack_error,
    failure_message,
    failure_text,
    file_ref,
    image_refs,
    result_message,
)
from core.engine import Engine
from core.events import Event, ImageInput, Reply
from core.failures import Cancelled, Failure, Forbidden
from core.inflight import InFlight
from core.turns import extension, upload_name

log = logging.getLogger(__name__)

BROKEN = "Something broke on the bot's side while handling that. Try again; if it keeps happening, tell the operator."

MakeEvent = Callable[[tuple[ImageInput, ...]], Event]


def explain(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return explain_slack_error(error.response.get("error"), error.response.get("needed"))
    return f"I could not reach Slack ({type(error).__name__}). Try again in a minute."


class SlackIO:
    def __init__(self, client: AsyncWebClient, engine: Engine, files: Downloader, grace: float = 30.0) -> None:
        self.client = client
        self.engine = engine
        self.files = files
        self.grace = grace
        self.progress_budget = Throttle()  # one workspace, one chat.update rate limit: shared by every status
        self.work = InFlight()

    # ---- work in flight

    def track(self) -> None:
        """Count the running listener (Bolt runs each in its own task) as work in flight for `drain`/`aclose`."""
        self.work.track()

    def spawn(self, work: Coroutine[Any, Any, object], channel: str | None, thread_ts: str | None, user: str) -> None:
        """Run `work` after the ack; whatever escapes it is logged and the user is told, never swallowed."""
        self.work.spawn(self._guard(work, channel, thread_ts, user))

    async def _guard(
        self, work: Coroutine[Any, Any, object], channel: str | None, thread_ts: str | None, user: str
    ) -> None:
        try:
            await work
        except Exception:
            log.exception("handling a Slack request failed (channel %s)", channel)
            if channel and thread_ts:
                await self.say(channel, thread_ts, f":warning: <@{user}> {BROKEN}")
            elif channel:
                await self.ephemeral(channel, user, None, f":warning: {BROKEN}")

    async def drain(self) -> None:
        """Wait until every request taken so far is fully answered (BOT_SHUTDOWN_GRACE at the most)."""
        await self.work.drain(self.grace)

    async def aclose(self) -> None:
        """Let answers already computed finish posting (an upload cut off would lose the image), then stop."""
        await self.work.drain(self.grace)
        await self.files.aclose()

    # ---- one turn, from download to delivery

    async def turn(
        self, channel: str, thread_ts: str, user_id: str, make: MakeEvent, refs: list[FileRef] | None = None,
        *, quiet: tuple[type[Failure], ...] = (), ticket: str | None = None,
    ) -> Reply | None:
        """Check, download, ask the engine, deliver; the status follows along. The ticket (unique per request, so one
        Cancel button can never withdraw another request) lets the requester cancel while it waits (a story's root
        message names it too: Cancel there stops the story before its next panel). A refusal of a `quiet` kind is
        not posted: the caller answers it (and gets the reply; None when refused before the engine).
        """
        ticket = ticket or uuid.uuid4().hex
        status = Status(self.client, channel, thread_ts, user_id, ticket, self.progress_budget)
        status.begin()
        try:
            if refs and (refusal := await self.engine.admit(make(()))):
                raise refusal  # an allow-list, a limit, a spent budget: said before a byte is downloaded
            images = tuple(await asyncio.gather(*(self.download(ref) for ref in refs or ())))
        except Failure as failure:
            await status.finish(failure_text(user_id, failure))
            return None
        except SLACK_ERRORS as error:  # the file host dropped the connection or timed out: the hourglass goes too
            await status.finish(f":warning: <@{user_id}> Downloading the image from Slack failed "
                                f"({type(error).__name__}). Post it again.")
            return None
        on_part = partial(self._panel, channel, thread_ts, user_id)
        reply = await self.engine.handle(make(images), progress=status.update, ticket=ticket, on_part=on_part)
        if reply.failure is not None and isinstance(reply.failure, quiet):
            await status.remove()
            return reply
        await self.deliver(reply, channel, thread_ts, user_id, status)
        return reply

    async def _panel(self, channel: str, thread_ts: str, user_id: str, reply: Reply) -> None:
        """A story's panel, posted in the thread as soon as it is done (a failed one with its Try again)."""
        if reply.failure is not None:
            text, blocks = failure_message(reply, user_id)
            await self.say(channel, thread_ts, f"*{reply.caption}* {text}", blocks or None)
            return
        problem = await self._upload(reply, channel, thread_ts, user_id)
        if problem:
            await self.say(channel, thread_ts, problem)

    async def download(self, ref: FileRef) -> ImageInput:
        if ref.url is None and ref.id:  # payloads may hide a file's fields; files.info has them
            try:
                info = await self.client.files_info(file=ref.id)
            except SLACK_ERRORS as error:
                raise Forbidden(f"I could not look up `{ref.name}`: {explain(error)}") from error
            ref = file_ref(info["file"])
        return await self.files.fetch(ref)

    async def deliver(self, reply: Reply, channel: str, thread_ts: str, user_id: str, status: Status) -> None:
        """The images uploaded into the thread with the buttons on the same message (files.completeUploadExternal
        takes blocks); words alone go as a message with the buttons."""
        if reply.failure is not None:
            if isinstance(reply.failure, Cancelled):  # what the requester asked for: said plainly, not as a warning
                await status.finish(cancelled_text(user_id))
            else:
                await status.finish(*failure_message(reply, user_id))
            return
        text, blocks = result_message(reply, user_id)
        if not reply.images:
            await status.remove()
            await self.say(channel, thread_ts, text, blocks)
            return
        problem = await self._upload(reply, channel, thread_ts, user_id)
        if problem:
            await status.finish(problem)
            return
        await status.remove()
        if reply.thoughts or reply.thought_images:
            await self._thoughts(reply, channel, thread_ts)

    async def _upload(self, reply: Reply, channel: str, thread_ts: str, user_id: str) -> str | None:
        """The images (a variant set's all together) in one message with its blocks; what went wrong, if anything."""
        _, blocks = result_message(reply, user_id)
        title = (reply.prompt or "Gemini image")[:200]
        uploads = [
            {"file": image.data, "filename": upload_name(reply.turn_id, i, image.mime_type), "title": title}
            for i, image in enumerate(reply.images)
        ]
        try:
            # blocks without initial_comment: Slack ignores blocks when a comment is given
            uploaded = await self.client.files_upload_v2(
                channel=channel, thread_ts=thread_ts, file_uploads=uploads, blocks=json.dumps(blocks)
            )
        except SLACK_ERRORS as error:
            log.warning("upload to %s failed: %s", channel, error)
            return f":warning: <@{user_id}> The image is ready but the upload to Slack failed: {explain(error)}"
        if reply.turn_id is not None:  # what Delete may remove: these files, whatever a button value says
            ids = [f["id"] for f in uploaded.get("files") or () if isinstance(f, dict) and f.get("id")]
            await self.engine.record_files(reply.turn_id, ids)
        return None

    async def _thoughts(self, reply: Reply, channel: str, thread_ts: str) -> None:
        """--thoughts: a thread reply of its own, after the result, with the thought text and the draft images."""
        text = thoughts_text(reply.thoughts, len(reply.thought_images))
        try:
            if not reply.thought_images:
                await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
                return
            drafts = [{"file": image.data, "title": f"Draft {n + 1} (thinking)",
                       "filename": f"thought-{reply.turn_id}-{n + 1}.{extension(image.mime_type)}"}
                      for n, image in enumerate(reply.thought_images)]
            await self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, file_uploads=drafts,
                                              initial_comment=text)
        except SLACK_ERRORS as error:
            log.warning("could not post the thoughts in %s: %s", channel, error)

    async def thread_images(self, channel: str, thread_ts: str, before: str) -> list[FileRef]:
        """The images a mention in a thread means: the root's, else those of the newest earlier message."""
        try:
            found = await self.client.conversations_replies(channel=channel, ts=thread_ts, limit=200)
        except SLACK_ERRORS as error:
            raise Forbidden(f"I could not read this thread to find its image: {explain(error)}") from error
        earlier = [m for m in found.get("messages") or () if float(m.get("ts", "inf")) < float(before)]
        root = [m for m in earlier if m.get("ts") == thread_ts]
        for message in root + list(reversed(earlier)):
            refs = image_refs(message.get("files"))
            if refs:
                return refs
        return []

    async def is_admin(self, user_id: str) -> bool:
        try:
            info = await self.client.users_info(user=user_id)
        except SLACK_ERRORS as error:
            log.warning("users.info failed, so %s counts as no admin: %s", user_id, error)
            return False
        person = info.get("user") or {}
        return bool(person.get("is_admin") or person.get("is_owner") or person.get("is_primary_owner"))

    # ---- posting

    async def open_view(
        self, trigger_id: str, view: dict[str, Any], channel: str | None, user: str, thread_ts: str | None
    ) -> None:
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except SLACK_ERRORS as error:
            if channel:
                await self.ephemeral(channel, user, thread_ts, f":warning: {explain(error)}")

    async def say(self, channel: str, thread_ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        try:
            await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
        except SLACK_ERRORS as error:
            log.error("could not post in %s (thread %s): %s", channel, thread_ts, error)

    async def remove(self, channel: str, ts: str) -> None:
        try:
            await self.client.chat_delete(channel=channel, ts=ts)
        except SLACK_ERRORS as error:
            log.warning("could not remove %s in %s: %s", ts, channel, error)

    async def ephemeral(self, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
        except SLACK_ERRORS as error:
            log.error("could not tell %s privately in %s: %s", user, channel, error)
