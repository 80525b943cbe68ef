"""Slack-side I/O shared by every listener: tracked background work after an ack, one turn from download to
upload (with a status reply that follows the engine's progress), and posting that never loses a failure.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.files import Downloader
from adapters.slack.status import SLACK_ERRORS, Status, Throttle, cancelled_text
from adapters.slack.translate import (
    FileRef,
    explain_slack_error,
    failure_message,
    failure_text,
    file_ref,
    image_refs,
    result_message,
    upload_name,
)
from core.engine import Engine
from core.events import Event, Failure, Forbidden, ImageInput, Reply

log = logging.getLogger(__name__)

BROKEN = "Something broke on the bot's side while handling that. Try again; if it keeps happening, tell the operator."

MakeEvent = Callable[[tuple[ImageInput, ...]], Event]


def explain(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return explain_slack_error(error.response.get("error"), error.response.get("needed"))
    return f"I could not reach Slack ({type(error).__name__}). Try again in a minute."


class SlackIO:
    def __init__(self, client: AsyncWebClient, engine: Engine, files: Downloader) -> None:
        self.client = client
        self.engine = engine
        self.files = files
        self.progress_budget = Throttle()  # one workspace, one chat.update rate limit: shared by every status
        self._tasks: set[asyncio.Future[Any]] = set()

    # ---- work in flight

    def track(self) -> None:
        """Count the running listener (Bolt runs each in its own task) as work in flight for `drain`/`aclose`."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def spawn(self, work: Coroutine[Any, Any, None], channel: str | None, thread_ts: str | None, user: str) -> None:
        """Run `work` after the ack; whatever escapes it is logged and the user is told, never swallowed."""
        task = asyncio.create_task(self._guard(work, channel, thread_ts, user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(
        self, work: Coroutine[Any, Any, None], channel: str | None, thread_ts: str | None, user: str
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
        """Wait until every request taken so far is fully answered."""
        current = asyncio.current_task()
        while pending := [t for t in self._tasks if t is not current and not t.done()]:
            await asyncio.wait(pending)

    async def aclose(self, grace: float = 10.0) -> None:
        """Let answers already computed finish posting (an upload cut off would lose the image), then stop."""
        pending = [t for t in self._tasks if t is not asyncio.current_task() and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.files.aclose()

    # ---- one turn, from download to delivery

    async def turn(
        self, channel: str, thread_ts: str, user_id: str, make: MakeEvent, refs: list[FileRef] | None = None
    ) -> None:
        """Download, ask the engine, deliver; the status reply follows along. The ticket (unique per request, so
        one Cancel button can never withdraw another request) lets the requester cancel while it waits."""
        ticket = uuid.uuid4().hex
        status = Status(self.client, channel, thread_ts, user_id, ticket, self.progress_budget)
        status.begin()
        try:
            images = tuple(await asyncio.gather(*(self.download(ref) for ref in refs or ())))
        except Failure as failure:
            await status.finish(failure_text(user_id, failure))
            return
        reply = await self.engine.handle(make(images), progress=status.update, ticket=ticket)
        await self.deliver(reply, channel, thread_ts, user_id, status)

    async def download(self, ref: FileRef) -> ImageInput:
        if ref.url is None and ref.id:  # payloads may hide a file's fields; files.info has them
            try:
                info = await self.client.files_info(file=ref.id)
            except SLACK_ERRORS as error:
                raise Forbidden(f"I could not look up `{ref.name}`: {explain(error)}") from error
            ref = file_ref(info["file"])
        return await self.files.fetch(ref)

    async def deliver(self, reply: Reply, channel: str, thread_ts: str, user_id: str, status: Status) -> None:
        """The images uploaded into the thread, then a small message with the buttons (uploads carry no blocks)."""
        if reply.failure is not None:
            if reply.failure.kind == "cancelled":  # what the requester asked for: said plainly, not as a warning
                await status.finish(cancelled_text(user_id))
            else:
                await status.finish(*failure_message(reply, user_id))
            return
        file_ids: list[str] = []
        if reply.images:
            title = (reply.prompt or "Gemini image")[:200]
            uploads = [
                {"file": image.data, "filename": upload_name(reply.turn_id, i, image.mime_type), "title": title}
                for i, image in enumerate(reply.images)
            ]
            try:
                done = await self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, file_uploads=uploads)
            except SLACK_ERRORS as error:
                log.warning("upload to %s failed: %s", channel, error)
                await status.finish(
                    f":warning: <@{user_id}> The image is ready but the upload to Slack failed: {explain(error)}"
                )
                return
            file_ids = [f["id"] for f in done.get("files") or () if f.get("id")]
        text, blocks = result_message(reply, file_ids, user_id)
        await status.remove()
        await self.say(channel, thread_ts, text, blocks)

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

    async def ephemeral(self, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
        except SLACK_ERRORS as error:
            log.error("could not tell %s privately in %s: %s", user, channel, error)
