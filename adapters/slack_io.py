"""Slack-side I/O shared by every listener: tracked background work after an ack, one turn from download to
upload (with a status reply that follows the engine's progress), and posting that never loses a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_files import Downloader
from adapters.slack_translate import (
    FileRef,
    explain_slack_error,
    failure_text,
    file_ref,
    image_refs,
    result_message,
    upload_name,
)
from core.engine import Engine
from core.events import Event, Failure, Forbidden, ImageInput, Progress, Reply

log = logging.getLogger(__name__)

SLACK_ERRORS = (SlackClientError, ClientError, TimeoutError)  # an API refusal, or Slack out of reach
WORKING, DONE = "hourglass_flowing_sand", "white_check_mark"
BROKEN = "Something broke on the bot's side while handling that. Try again; if it keeps happening, tell the operator."

MakeEvent = Callable[[tuple[ImageInput, ...]], Event]


def explain(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return explain_slack_error(error.response.get("error"), error.response.get("needed"))
    return f"I could not reach Slack ({type(error).__name__}). Try again in a minute."


class Status:
    """The "working on it" reply in a thread: follows the engine's progress, then is removed or becomes the
    failure message; and a reaction on the thread's root (seen from the channel) that turns into a tick when the
    image is in. Progress is a courtesy: a failing update never fails the turn (the engine logs it)."""

    def __init__(self, client: AsyncWebClient, channel: str, thread_ts: str) -> None:
        self._client, self._channel, self._thread_ts = client, channel, thread_ts
        self.ts: str | None = None

    async def _react(self, add: bool, name: str) -> None:
        react = self._client.reactions_add if add else self._client.reactions_remove
        try:
            await react(channel=self._channel, timestamp=self._thread_ts, name=name)
        except SLACK_ERRORS as error:  # already_reacted / no_reaction when turns overlap in one thread
            log.debug("reaction %s on %s: %s", name, self._thread_ts, error)

    async def start(self) -> None:
        await self._react(True, WORKING)
        try:
            posted = await self._client.chat_postMessage(
                channel=self._channel, thread_ts=self._thread_ts, text=":hourglass_flowing_sand: Working on it…"
            )
            self.ts = posted["ts"]
        except SLACK_ERRORS as error:
            log.warning("could not post a status message in %s: %s", self._channel, error)

    async def update(self, progress: Progress) -> None:
        if self.ts:
            text = f":hourglass_flowing_sand: {progress.describe()}"
            await self._client.chat_update(channel=self._channel, ts=self.ts, text=text)

    async def finish(self, text: str) -> None:
        """Say how it ended, in place of the status message when there is one."""
        await self._react(False, WORKING)
        try:
            if self.ts:
                await self._client.chat_update(channel=self._channel, ts=self.ts, text=text)
            else:
                await self._client.chat_postMessage(channel=self._channel, thread_ts=self._thread_ts, text=text)
        except SLACK_ERRORS as error:
            log.error("could not tell %s how a turn ended: %s", self._channel, error)

    async def remove(self) -> None:
        """The image is in: the status reply goes and the root shows a tick."""
        await self._react(False, WORKING)
        await self._react(True, DONE)
        if self.ts:
            try:
                await self._client.chat_delete(channel=self._channel, ts=self.ts)
            except SLACK_ERRORS as error:
                log.warning("could not remove a status message: %s", error)


class SlackIO:
    def __init__(self, client: AsyncWebClient, engine: Engine, files: Downloader) -> None:
        self.client = client
        self.engine = engine
        self.files = files
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
        status = Status(self.client, channel, thread_ts)
        await status.start()
        try:
            images = tuple(await asyncio.gather(*(self.download(ref) for ref in refs or ())))
        except Failure as failure:
            await status.finish(failure_text(user_id, failure))
            return
        reply = await self.engine.handle(make(images), progress=status.update)
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
            await status.finish(failure_text(user_id, reply.failure))
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
