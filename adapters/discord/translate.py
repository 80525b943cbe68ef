"""Pure translation between Discord's vocabulary and the core's: keys, captions, names, custom_ids, checks.
No I/O and no discord.py objects: plain values in, plain values out, so each rule is unit-tested on its own."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters.http import same_origin
from core import video
from core.events import Options, Progress, Reply, ThreadKey
from core.failures import BadInput, Blocked, Busy, Cancelled, Failure, Forbidden, LimitReached, UnsupportedOption
from core.images import MAX_INPUT_BYTES, check_declared
from core.options import MODELS, resolve_model
from core.turns import size_rank, upscale_sizes

PLATFORM = "discord"
DM_SPACE = "dm"
CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # what Discord allows a bot outside boosted guilds
MAX_CONTENT = 2000
MAX_THREAD_NAME = 100
MAX_PROMPT_IN_CAPTION = 300
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")

# custom_ids name the stored turn, so buttons and modals keep working after a restart.
PREFIX = "gib"
BUTTON_TEMPLATE = rf"{PREFIX}:(?P<action>reroll|refine|delete|thoughts|up-(?:2K|4K)|use[1-9]|rerollset):(?P<turn>\d+)"
CANCEL_TEMPLATE = rf"{PREFIX}:cancel:(?P<user>\d+):(?P<ticket>\d+)"
_REFINE_MODAL = re.compile(rf"{PREFIX}:refine-modal:(?P<turn>\d+)")
_EDIT_MODAL = re.compile(rf"{PREFIX}:edit-modal:(?P<channel>\d+):(?P<message>\d+)")
_BUTTON = re.compile(BUTTON_TEMPLATE)

HELP = """\
**Gemini image bot**
`/imagine prompt` draws a picture and opens a thread for it; options pick the aspect ratio, size and model, \
and `image`…`image3` attach pictures to edit or combine.
**In that thread** every message is the next step (\"make it night\", or attach a photo); no mention needed. \
Flags work there too: `--ar 16:9`, `--size 2K`, `--model pro`.
**Controls** (options on `/imagine`, or flags anywhere): `--style watercolour` is a preset (`/styles` lists \
them; on an edit it restyles the picture) · `--no text, people` leaves things out · `--search` grounds the \
picture in Google Search, its searches and sources linked under it (`--search images` adds Image Search where \
the model has it) · `--think high` sets the thinking level (Flash models) · `--thoughts` adds *Show thinking*. \
Example: `/imagine today's weather in Oslo as a chart --search --style flat-illustration`.
**Settings**: `/settings` shows this server's and channel's defaults; admins set one, e.g. \
`/settings scope:server key:style value:watercolour` (value `-` clears it).
**Edit any picture**: reply to it and mention me, or use *Apps → Edit image* on the message.
**Buttons** on each result: Reroll, Refine, Upscale (models with sizes), Delete (the requester or a moderator). \
A failure that may pass on a second go (a safety block, Gemini busy) has *Try again*.
**In DMs** reply to my images to keep going.
**Several pictures**: `--n 4` makes variants (press *Use 2* to go on from one, *Reroll all* for a new set); \
`/story 4 a fox finds a key` draws a story panel by panel in one thread. On a picture: `--region "the sky"`, \
`--mask` (attach the mask last), `--extend left,right:0.5`, `--style-ref` (attach the reference last); \
a video attached is context for a still on models that take video.
`/forget` (in a bot thread) clears its history · `/usage` shows images and cost · `/styles` the presets · \
`/help` this text."""


def thread_key(guild_id: int | None, channel_id: int, thread_id: int) -> ThreadKey:
    """A conversation: a Discord thread (channel = its parent) or a reply chain (channel = where it lives)."""
    return ThreadKey(PLATFORM, str(guild_id) if guild_id else DM_SPACE, str(channel_id), str(thread_id))


# Options and choices ------------------------------------------------------------------------------------


def model_choices() -> list[tuple[str, str]]:
    """(label, model name) for each model, for the /imagine `model` option."""
    return [(spec.label[:100], spec.name) for spec in MODELS.values()]


def ratio_choices() -> list[str]:
    """Every ratio some model supports (at most 25, Discord's limit); the chosen model's own list is checked later."""
    seen: dict[str, None] = {}
    for spec in MODELS.values():
        seen.update(dict.fromkeys(spec.ratios))
    return list(seen)[:25]


def size_choices() -> list[str]:
    seen: dict[str, None] = {}
    for spec in MODELS.values():
        seen.update(dict.fromkeys(spec.sizes))
    return sorted(seen, key=size_rank)


def model_label(model: str | None) -> str:
    if not model:
        return "default model"
    try:
        return resolve_model(model).label
    except UnsupportedOption:
        return model


# Buttons and modals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ButtonSpec:
    label: str
    custom_id: str
    style: str  # "primary" | "secondary" | "danger"


def button_id(action: str, turn_id: int) -> str:
    return f"{PREFIX}:{action}:{turn_id}"


def button_spec(action: str, turn_id: int) -> ButtonSpec:
    """The look of a result button, from its action alone (a restarted bot rebuilds buttons from custom_ids)."""
    if action.startswith("up-"):
        return ButtonSpec(f"Upscale {action[3:]}", button_id(action, turn_id), "secondary")
    if action.startswith("use"):  # "Use k" names variant k's own turn
        return ButtonSpec(f"Use {action[3:]}", button_id(action, turn_id), "primary")
    labels = {"reroll": ("Reroll", "primary"), "refine": ("Refine", "primary"), "delete": ("Delete", "danger"),
              "thoughts": ("Show thinking", "secondary"), "rerollset": ("Reroll all", "secondary")}
    label, style = labels[action]
    return ButtonSpec(label, button_id(action, turn_id), style)


def retry_spec(turn_id: int) -> ButtonSpec:
    """Try again is a Reroll of the failed turn under another label: one custom_id, one persistent handler."""
    return ButtonSpec("Try again", button_id("reroll", turn_id), "primary")


def result_actions(options: Options, has_image: bool, thoughts: bool = False) -> list[str]:
    """The buttons a result carries: Upscale only for an image, and only to sizes its model renders; Show thinking
    when the model's thoughts were asked for and given."""
    actions = ["reroll", "refine"]
    if has_image:
        actions += [f"up-{size}" for size in upscale_sizes(options)]
    if thoughts:
        actions.append("thoughts")
    actions.append("delete")
    return actions


def variant_actions(variants: tuple[int, ...]) -> list[tuple[str, int]]:
    """(action, turn) of a variant set's buttons: "Use 1" … "Use N" (each its variant's turn), "Reroll all", and
    Delete (the whole message, by its requester's first turn)."""
    uses = [(f"use{k}", turn_id) for k, turn_id in enumerate(variants, start=1)]
    return [*uses, ("rerollset", variants[0]), ("delete", variants[0])]


def cancel_id(user_id: int, ticket: str) -> str:
    return f"{PREFIX}:cancel:{user_id}:{ticket}"


def refine_modal_id(turn_id: int) -> str:
    return f"{PREFIX}:refine-modal:{turn_id}"


def edit_modal_id(channel_id: int, message_id: int) -> str:
    return f"{PREFIX}:edit-modal:{channel_id}:{message_id}"


def parse_modal_id(custom_id: str) -> tuple[str, tuple[int, ...]] | None:
    """("refine", (turn,)) or ("edit", (channel, message)) for our modals; None for anything else."""
    if m := _REFINE_MODAL.fullmatch(custom_id):
        return "refine", (int(m["turn"]),)
    if m := _EDIT_MODAL.fullmatch(custom_id):
        return "edit", (int(m["channel"]), int(m["message"]))
    return None


def turn_of(custom_ids: Iterable[str]) -> int | None:
    """The turn a bot result belongs to, read from its buttons' custom_ids (how DM reply chains continue)."""
    for custom_id in custom_ids:
        if m := _BUTTON.fullmatch(custom_id):
            return int(m["turn"])
    return None


# Text -------------------------------------------------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Markdown characters shown as typed (a prompt with `*` or `_` should not turn bold)."""
    return re.sub(r"([\\*_~`|>])", r"\\\1", text)


def caption(
    prompt: str, options: Options, requester_id: int | str, text: str | None = None, notices: Iterable[str] = ()
) -> str:
    """The result's caption: prompt, model, ratio and size, requester; then the model's words and notices."""
    meta = [model_label(options.model)]
    meta += [value for value in (options.aspect_ratio, options.image_size) if value]
    meta += [escape(part) for part in options.control_parts()]
    lines = [f"**{escape(shorten(' '.join(prompt.split()), MAX_PROMPT_IN_CAPTION))}**" if prompt.strip() else ""]
    lines.append(f"{' · '.join(meta)} · requested by <@{requester_id}>")
    if text and text.strip():
        lines.append(shorten(text.strip(), 800))
    lines += [f"-# {notice}" for notice in notices]
    return shorten("\n".join(line for line in lines if line), MAX_CONTENT)


def thread_name(prompt: str) -> str:
    """A thread title from the prompt: one line, at most 100 characters, cut at a word."""
    words = " ".join(prompt.split())
    if not words:
        return "Image"
    if len(words) <= MAX_THREAD_NAME:
        return words
    cut = words[: MAX_THREAD_NAME - 1].rsplit(" ", 1)[0] or words[: MAX_THREAD_NAME - 1]
    return cut + "…"


_MARKS: tuple[tuple[type[Failure], str], ...] = (
    (Blocked, "🚫"), (Cancelled, "✖️"), (LimitReached, "⏳"), (Busy, "⏳"), (Forbidden, "🔒"),
)


def failure_text(failure: Failure) -> str:
    mark = next((mark for kind, mark in _MARKS if isinstance(failure, kind)), "⚠️")
    return shorten(f"{mark} {failure.message}", MAX_CONTENT)


def warning(text: str) -> str:
    return shorten(f"⚠️ {text}", MAX_CONTENT)


def progress_text(progress: Progress) -> str:
    if progress.stage == "queued":
        return f"⏳ {progress.describe()} · press Cancel to withdraw it"
    return f"🎨 {progress.describe()}"


def prompt_text(content: str, bot_id: int, names: dict[int, str] | None = None, bot_role_id: int | None = None) -> str:
    """The words of a message addressed to the bot: its own mention (or its role's) removed, other people's
    mentions written as @name, so Gemini reads "make @alice a pirate" rather than a snowflake."""
    text = re.sub(rf"<@!?{bot_id}>", " ", content)
    if bot_role_id is not None:
        text = text.replace(f"<@&{bot_role_id}>", " ")
    for user_id, name in (names or {}).items():
        text = re.sub(rf"<@!?{user_id}>", f"@{name}", text)
    return " ".join(text.split())


def notices_text(notices: Iterable[str]) -> str:
    return shorten("\n".join(notices) or "Nothing to report.", MAX_CONTENT)


def upload_limit(interaction_limit: int | None = None, guild_limit: int | None = None) -> int:
    """Bytes a file may have: the interaction's limit, else the guild's, else Discord's default."""
    return interaction_limit or guild_limit or DEFAULT_UPLOAD_LIMIT


# Attachments ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentInfo:
    """What the adapter needs of a Discord attachment to decide whether, and from where, to fetch it."""

    filename: str
    size: int
    url: str
    proxy_url: str
    content_type: str | None = None


def is_image(info: AttachmentInfo) -> bool:
    if info.content_type:
        return info.content_type.startswith("image/")
    return info.filename.lower().endswith(IMAGE_EXTENSIONS)


def is_video(info: AttachmentInfo) -> bool:
    """A video the models with video input take as context for a still."""
    return video.by_name(info.filename, info.content_type)


def download_url(info: AttachmentInfo, api_base: str | None) -> str | None:
    """The attachment's URL if it is on Discord's CDN (HTTPS) or on exactly the DISCORD_API_BASE host; else None."""
    for candidate in (info.url, info.proxy_url):
        parts = urlsplit(candidate or "")
        if parts.scheme == "https" and (parts.hostname or "").lower() in CDN_HOSTS:
            return candidate
        if api_base and candidate and same_origin(candidate, api_base):
            return candidate
    return None


def check_attachment(info: AttachmentInfo, api_base: str | None) -> str:
    """Where to download an image attachment from, checked before any byte is read; BadInput says why not."""
    name = info.filename or "attachment"
    clip = is_video(info)
    check_declared(name, info.size, is_image=is_image(info) or clip, mime_type=info.content_type,
                   cap=video.MAX_VIDEO_BYTES if clip else MAX_INPUT_BYTES)
    url = download_url(info, api_base)
    if url is None:
        raise BadInput(f"`{name}` is not stored on Discord's CDN, so I will not fetch it. Upload the image itself.")
    return url


def thoughts_text(reply: Reply) -> str:
    """Show thinking's private message: the thought text (the draft images come as files)."""
    text = "\n\n".join(" ".join(t.split()) for t in reply.thoughts) or "Gemini shared only its draft images."
    if reply.notices:
        text = notices_text(reply.notices)
    return shorten("💭 **Thinking**\n" + text, MAX_CONTENT)
