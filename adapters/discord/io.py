"""Discord I/O every flow shares: attachment downloads (allowed hosts, size checked first, capped, sniffed), uploads
fitted to the limit Discord reports (off the event loop, so never a 413), and progress displays."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import discord

from adapters.discord.sources import grounding_embeds
from adapters.discord.translate import (
    AttachmentInfo,
    caption,
    check_attachment,
    is_image,
    is_video,
    progress_text,
    thread_name,
    warning,
)
from adapters.discord.views import cancel_view, result_view
from adapters.http import fetch
from core import video
from core.events import ImageInput, Progress, Reply, User
from core.failures import BadInput
from core.images import ACCEPTED, MAX_INPUT_BYTES, fit, sniff
from core.turns import upload_name

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
PERMISSIONS_NEEDED = (
    "View Channels, Send Messages, Send Messages in Threads, Create Public Threads, Attach Files, Embed Links "
    "and Read Message History"
)


BROKE = "⚠️ Something broke on the bot's side (it is logged). Try again; if it keeps failing, tell the operator."


@contextlib.asynccontextmanager
async def reported(
    interaction: discord.Interaction | None = None, message: discord.Message | None = None
) -> AsyncIterator[None]:
    """A bug in a handler is logged and the user told, never left at "thinking…" or in silence."""
    try:
        yield
    except Exception:
        log.exception("discord handler failed")
        with contextlib.suppress(discord.HTTPException):
            if interaction is not None and interaction.response.is_done():
                await interaction.followup.send(BROKE, ephemeral=True)
            elif interaction is not None:
                await interaction.response.send_message(BROKE, ephemeral=True)
            elif message is not None:
                await message.reply(BROKE, mention_author=False)


def info_of(attachment: discord.Attachment) -> AttachmentInfo:
    return AttachmentInfo(
        attachment.filename, attachment.size, attachment.url, attachment.proxy_url, attachment.content_type
    )


def image_attachments(message: discord.Message | None) -> list[discord.Attachment]:
    return [a for a in (message.attachments if message else ()) if is_image(info_of(a)) or is_video(info_of(a))]


def user_of(author: discord.abc.User, permissions: discord.Permissions | None = None) -> User:
    """The core's view of a Discord user: Manage Messages makes a platform admin; roles by id."""
    roles = getattr(author, "roles", None) or ()
    guild = getattr(author, "guild", None)
    return User(
        id=str(author.id),
        name=author.display_name,
        is_admin=bool(permissions and permissions.manage_messages),
        roles=tuple(str(role.id) for role in roles if guild is None or role.id != guild.id),  # not @everyone
    )


class Downloader:
    """Fetches image attachments with its own session: no bot token is ever sent, redirects are not followed."""

    def __init__(self, api_base: str | None) -> None:
        self.api_base = api_base
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_connect=10))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def check(self, attachments: Sequence[discord.Attachment]) -> None:
        """Raise BadInput for the first attachment that may not be fetched (type, size, host): no I/O."""
        for attachment in attachments:
            check_attachment(info_of(attachment), self.api_base)

    async def fetch_all(self, attachments: Sequence[discord.Attachment]) -> tuple[ImageInput, ...]:
        return tuple(await asyncio.gather(*(self.fetch(a) for a in attachments)))

    async def fetch(self, attachment: discord.Attachment) -> ImageInput:
        info = info_of(attachment)
        url = check_attachment(info, self.api_base)
        assert self._session is not None, "Downloader.start() first"
        clip = is_video(info)
        try:
            got = await fetch(self._session, url, info.filename, source="Discord",
                              cap=video.MAX_VIDEO_BYTES if clip else MAX_INPUT_BYTES)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BadInput(f"Downloading `{info.filename}` failed ({type(exc).__name__}). Try again.") from exc
        if got.status != 200:
            raise BadInput(f"Discord did not serve `{info.filename}` (HTTP {got.status}). Attach it again.")
        if sniff(got.data) is None and not (clip and video.sniff(got.data)):
            raise BadInput(f"`{info.filename}` is not an image (or a video) I can read. Attach {ACCEPTED}.")
        return ImageInput(got.data, info.filename)


async def files_for(reply: Reply, limit: int) -> list[discord.File]:
    """The reply's images as uploads, each fitted to `limit` bytes (Pillow work runs in a thread)."""
    files = []
    for index, image in enumerate(reply.images[:10]):  # Discord takes at most 10 files per message
        data, mime = await asyncio.to_thread(fit, image.data, limit)
        files.append(discord.File(io.BytesIO(data), filename=upload_name(reply.turn_id, index, mime)))
    return files


def explain_http(error: discord.HTTPException, doing: str) -> str:
    """A Discord refusal in plain words, with what to do about it (callers add the warning mark)."""
    if isinstance(error, discord.Forbidden):
        return (
            f"I could not {doing}: I am missing a permission here. Ask a server admin to give me {PERMISSIONS_NEEDED} "
            "in this channel."
        )
    if isinstance(error, discord.NotFound):
        return f"I could not {doing}: the message or channel is gone."
    return f"Discord refused to {doing} ({error.status}: {error.text or 'no detail'}). Try again in a moment."


class _Status:
    """A request's progress display; the engine calls it one update at a time and waits for the last one before it
    answers, so no late update can overwrite the result."""

    def __init__(self, owner_id: int, ticket: str) -> None:
        self.owner_id = owner_id
        self.ticket = ticket

    def content(self, progress: Progress) -> tuple[str, discord.ui.View | None]:
        queued = progress.stage == "queued"
        return progress_text(progress), cancel_view(self.owner_id, self.ticket) if queued else None


class InteractionStatus(_Status):
    """Progress shown in an interaction's deferred response, with a Cancel button while the request waits."""

    def __init__(self, interaction: discord.Interaction, ticket: str) -> None:
        super().__init__(interaction.user.id, ticket)
        self.interaction = interaction

    async def __call__(self, progress: Progress) -> None:
        content, view = self.content(progress)
        await self.interaction.edit_original_response(content=content, view=view)


class MessageStatus(_Status):
    """Progress as a reply to the user's message: posted only once the request has to wait, unless `eager`
    (then it is the answer's placeholder, posted at once and later edited into the result)."""

    def __init__(self, anchor: discord.Message, ticket: str, *, eager: bool = False) -> None:
        super().__init__(anchor.author.id, ticket)
        self.anchor = anchor
        self.eager = eager
        self.message: discord.Message | None = None

    async def open(self, text: str) -> discord.Message:
        await self._post(text, None)
        assert self.message is not None
        return self.message

    async def __call__(self, progress: Progress) -> None:
        if self.message is None and progress.stage != "queued" and not self.eager:
            return  # running at once: the typing indicator says enough
        content, view = self.content(progress)
        if self.message is None:
            await self._post(content, view)
        else:
            await self.message.edit(content=content, view=view)

    async def _post(self, content: str, view: discord.ui.View | None) -> None:
        kwargs: dict[str, Any] = {"view": view} if view is not None else {}
        self.message = await self.anchor.reply(content, mention_author=False, allowed_mentions=NO_PINGS, **kwargs)

    async def remove(self) -> None:
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.delete()
            self.message = None


async def refuse_public(interaction: discord.Interaction, text: str, view: discord.ui.View | None = None) -> None:
    """After a public defer: remove the placeholder and tell only the requester why (with Try again, if given)."""
    with contextlib.suppress(discord.HTTPException):
        await interaction.delete_original_response()
    extra: dict[str, Any] = {"view": view} if view is not None else {}
    await interaction.followup.send(text, ephemeral=True, **extra)


async def post_result(
    channel: discord.abc.Messageable, reply: Reply, requester_id: int, limit: int, reference: discord.Message | None
) -> discord.Message:
    """The result as an upload with its caption and buttons, replying to `reference` when given."""
    files = await files_for(reply, limit)
    content = caption(reply.prompt, reply.options, requester_id, reply.text, reply.notices)
    view = result_view(reply)
    extra: dict[str, Any] = {"view": view} if view is not None else {}
    if embeds := grounding_embeds(reply.grounding):
        extra["embeds"] = embeds
    if reference is not None:
        return await reference.reply(content, files=files, mention_author=False, **extra)
    return await channel.send(content, files=files, **extra)


async def open_thread(channel: discord.TextChannel, message: discord.Message, prompt: str) -> str | None:
    """Open the conversation's public thread on a result; a problem is returned as text for the user."""
    try:
        await channel.create_thread(name=thread_name(prompt), message=message)
    except discord.HTTPException as error:
        return warning(explain_http(error, "open a thread for this image") + " Meanwhile, reply to it and mention me.")
    return None
