"""Rules about a turn that every platform follows, written once: what comes next (start, edit or continue), who may
delete or cancel, which sizes an Upscale offers, and what an uploaded result is called."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.events import EditImages, ImageInput, NextTurn, Options, StartThread, ThreadKey, User, Workflow
from core.failures import Failure
from core.options import dimensions, resolve_model

UPSCALES = ("2K", "4K")  # what an Upscale button offers, where the model renders it and it is larger
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


@dataclass(frozen=True)
class TurnInfo:
    """What an adapter may know of a stored turn (no image bytes): its conversation, who asked, with what options,
    the conversation's current options, and whether it is the newest finished turn there."""

    turn_id: int
    key: ThreadKey
    user_id: str
    options: Options
    thread_options: Options
    is_latest: bool


@dataclass(frozen=True)
class Permission:
    """The answer to "may I?": and who asked for the turn (None when it is no longer stored), for the refusal."""

    allowed: bool
    requester: str | None


class Withdrawal(Enum):
    CANCELLED = "cancelled"
    NOT_YOURS = "not_yours"  # only the requester may cancel
    STARTED = "started"  # too late: it left the queue (or finished, or is unknown)


def next_event(
    key: ThreadKey, user: User, text: str, images: tuple[ImageInput, ...], options: Options, *, stored: bool,
    workflow: Workflow | None = None,
) -> NextTurn | EditImages | StartThread:
    """The one choice of what a message means: the next turn of a stored conversation (its model and options kept),
    else an edit of the images it brings (its own, or the picture it answers), else a new picture."""
    workflow = workflow or Workflow()
    if stored:
        return NextTurn(key, user, text, images, options, workflow)
    if images:
        return EditImages(key, user, text, images, options, workflow)
    return StartThread(key, user, text, (), options, workflow)


def may_delete(turn: TurnInfo | None, user: User, *, configured_admin: bool) -> bool:
    """The requester, an admin the platform names (Discord Manage Messages, a Slack workspace admin), or an admin
    named in BOT_ADMINS may delete a result."""
    return (turn is not None and turn.user_id == user.id) or user.is_admin or configured_admin


def owner(platform: str, user_id: str) -> str:
    """Who a request in the queue belongs to: its fair share, and who may cancel it."""
    return f"{platform}:{user_id}"


def may_cancel(requester_id: str, user: User) -> bool:
    """Only the requester withdraws a waiting request: for anyone else it is someone else's turn in line."""
    return user.id == requester_id


def size_rank(size: str | None) -> int:
    """Sizes in order (512px < 1K < 2K < 4K), by the pixels Gemini renders; unset is 1K."""
    return dimensions(None, size or "1K")[0]


def upscale_sizes(options: Options) -> tuple[str, ...]:
    """The sizes an Upscale button may offer: larger than the current one, and rendered by the model."""
    if not options.model:
        return ()
    try:
        sizes = resolve_model(options.model).sizes
    except Failure:
        return ()
    current = size_rank(options.image_size)
    return tuple(size for size in UPSCALES if size in sizes and size_rank(size) > current)


def extension(mime_type: str) -> str:
    return EXTENSIONS.get(mime_type, "png")


def upload_name(turn_id: int | None, index: int, mime_type: str) -> str:
    """The file name of a result's `index`-th image: `gemini-TURN-N.ext`."""
    return f"gemini-{turn_id or 0}-{index + 1}.{extension(mime_type)}"
