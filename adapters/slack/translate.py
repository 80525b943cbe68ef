"""Pure translation between Slack payloads and the core: thread keys, mentions, file references, the token host
allow-list, Block Kit for results and modals, button values, and Slack errors in words a user can act on.

No I/O here: `adapters.slack.io` does the calls. Nothing in this module imports slack_bolt or slack_sdk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from adapters.http import same_origin
from adapters.slack.sources import grounding_block
from core import video
from core.events import Options, Reply, ThreadKey
from core.failures import Failure
from core.turns import upscale_sizes

PLATFORM = "slack"
COMMAND = "/imagine"
STORY_COMMAND = "/story"
USAGE_COMMAND = "/usage"
MODELS_COMMAND = "/models"
STYLES_COMMAND = "/styles"
SETTINGS_COMMAND = "/settings"
EDIT_SHORTCUT = "edit_image"  # the message shortcut's callback_id (slack-manifest.yml)
EDIT_VIEW = "imagine_edit_modal"
REFINE_VIEW = "imagine_refine_modal"
ACTION_REROLL = "imagine_reroll"
ACTION_REFINE = "imagine_refine"
ACTION_UPSCALE = "imagine_upscale"  # one button per size: action ids must differ within a block
ACTION_DELETE = "imagine_delete"
ACTION_USE = "imagine_use"  # "Use k" of a variant set: one per variant (ids differ within a block)
ACTION_REROLL_SET = "imagine_reroll_set"
USE_ACTION_PATTERN = re.compile(rf"^{ACTION_USE}:")
UPSCALE_ACTION_PATTERN = re.compile(rf"^{ACTION_UPSCALE}:")
PROMPT_BLOCK, PROMPT_INPUT = "prompt", "text"
METADATA_LIMIT = 3000  # Slack's cap on a view's private_metadata
SECTION_LIMIT = 3000  # Slack's cap on a section block's text
USAGE = (
    "Usage: `/imagine PROMPT [--ar W:H] [--size 2K] [--model NAME] [--style NAME] [--no TERMS] [--search [images]] "
    "[--think minimal|high] [--thoughts]`, for example `/imagine a red fox in the snow --ar 16:9 --style watercolour`. "
    "`--n 4` makes four to pick from; `/story 4 PROMPT` draws a story panel by panel."
)


def thread_key(team: str, channel: str, thread_ts: str) -> ThreadKey:
    """A Slack conversation: the workspace, the channel and the ts of the thread's root message."""
    return ThreadKey(PLATFORM, team, channel, thread_ts)


def escape(text: str) -> str:
    """Slack mrkdwn control characters, escaped as Slack asks (only &, < and >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mentions(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and f"<@{bot_user_id}" in text


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The message without the bot's `<@U…>` (or `<@U…|name>`) mention, whitespace tidied."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return " ".join(text.split())


# Files ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileRef:
    """What the adapter needs of a Slack file object to fetch it; `url` is None when Slack hid it."""

    id: str
    name: str
    url: str | None
    size: int | None
    mimetype: str

    @property
    def is_image(self) -> bool:
        return self.mimetype.startswith("image/")

    @property
    def is_video(self) -> bool:
        """Context for a still on models with video input (checked against the model in the engine)."""
        return video.by_name(self.name, self.mimetype)


def file_ref(obj: dict[str, Any]) -> FileRef:
    size = obj.get("size")
    return FileRef(
        id=str(obj.get("id") or ""),
        name=str(obj.get("name") or obj.get("title") or "image"),
        # the download variant answers with the bytes rather than a preview page
        url=obj.get("url_private_download") or obj.get("url_private"),
        size=size if isinstance(size, int) else None,
        mimetype=str(obj.get("mimetype") or ""),
    )


def file_refs(files: list[dict[str, Any]] | None) -> list[FileRef]:
    """Every file of a message, in order; a file Slack hid from the bot keeps its id so files.info can fill it."""
    return [file_ref(f) for f in files or () if isinstance(f, dict) and (f.get("id") or f.get("url_private"))]


def image_refs(files: list[dict[str, Any]] | None) -> list[FileRef]:
    """The image files of a message (or files whose type Slack did not tell)."""
    return [ref for ref in file_refs(files) if ref.is_image or not ref.mimetype]


def token_allowed(url: str, api_url: str | None) -> bool:
    """May the bot token go to `url`? Only Slack's own hosts over HTTPS, or exactly the configured API host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com")):
        return True
    return bool(api_url) and same_origin(url, api_url or "")


def looks_like_html(data: bytes, content_type: str = "") -> bool:
    head = data[:512].lstrip().lower()
    return content_type.startswith("text/html") or head.startswith((b"<!doctype html", b"<html"))


# Messages -------------------------------------------------------------------------------------------------


def root_text(prompt: str, user_id: str, options: Options) -> str:
    """The channel message a /imagine thread hangs from: the prompt, who asked, and with what."""
    described = escape(options.describe())
    return f"*{escape(prompt)}*\n<@{user_id}> · {described}\n_Reply in this thread to refine the image._"


def failure_text(user_id: str | None, failure: Failure) -> str:
    who = f"<@{user_id}> " if user_id else ""
    return f":warning: {who}{escape(failure.message)}"  # it may quote what the user typed: `<!channel>` stays text


def failure_message(reply: Reply, user_id: str | None) -> tuple[str, list[dict[str, Any]]]:
    """A failed turn's message: its text, and a Try again button when sending the same request again may well
    succeed (a block, no image, Gemini busy). The button is a Reroll of the stored turn, so it works as Reroll does:
    for anyone in the thread, after a restart too. No blocks otherwise (what chat.update needs to drop the old)."""
    assert reply.failure is not None
    text = failure_text(user_id, reply.failure)
    if not reply.offers_retry or reply.turn_id is None:
        return text, []
    body = text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"
    retry = _button(ACTION_REROLL, "Try again", str(reply.turn_id), style="primary")
    return text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        {"type": "actions", "block_id": f"imagine_retry_{reply.turn_id}", "elements": [retry]},
    ]


def usage_text(lines: tuple[str, ...]) -> str:
    """The /usage report for Slack: one line each, user ids (the admins' top users) shown as names."""
    return "\n".join(_USER_ID.sub(r"<@\1>", escape(line)) for line in lines)


_USER_ID = re.compile(r"(?<![\w@])([UW](?=[A-Z0-9]*\d)[A-Z0-9]{4,})\b")  # Slack user ids: U0ABC123, W0123456


def result_message(reply: Reply, user_id: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The blocks on the message that carries the images (and its plain text): what was made, and its buttons."""
    lines = [f"*{reply.caption}*"] if reply.caption else []
    if reply.text:
        lines.append(escape(reply.text.strip()))
    lines += [escape(n) for n in reply.notices]
    summary = escape(reply.options.describe()) + (f" · for <@{user_id}>" if user_id else "")
    text = "\n".join([*lines, summary])
    blocks: list[dict[str, Any]] = []
    if lines:
        body = "\n".join(lines)
        if len(body) > SECTION_LIMIT:
            body = body[: SECTION_LIMIT - 1] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": summary}]})
    if (sources := grounding_block(reply.grounding)) is not None:
        blocks.append(sources)
    if len(reply.variants) > 1:
        blocks.append(variant_buttons(reply.variants))
    elif reply.turn_id is not None:
        blocks.append(buttons(reply.turn_id, reply.options))
    return text[:39_000], blocks


def variant_buttons(variants: tuple[int, ...]) -> dict[str, Any]:
    """"Use 1" … "Use N" (each names its variant's turn), "Reroll all" and Delete under a variant set."""
    elements = [_button(f"{ACTION_USE}:{k}", f"Use {k}", str(turn_id)) for k, turn_id in enumerate(variants, 1)]
    elements.append(_button(ACTION_REROLL_SET, "🔁 Reroll all", str(variants[0])))
    elements.append(_delete_button(variants[0], "these images"))
    return {"type": "actions", "block_id": f"imagine_set_{variants[0]}", "elements": elements}


def buttons(turn_id: int, options: Options) -> dict[str, Any]:
    """Reroll, Refine, Upscale (sizes the model has, above the current one) and Delete; values name the turn (Delete
    finds the images on the message it is pressed on)."""
    elements = [
        _button(ACTION_REROLL, "🔁 Reroll", str(turn_id)),
        _button(ACTION_REFINE, "✏️ Refine", str(turn_id)),
    ]
    for size in upscale_sizes(options):
        elements.append(_button(f"{ACTION_UPSCALE}:{size}", f"⬆️ Upscale {size}", f"{turn_id}:{size}"))
    elements.append(_delete_button(turn_id, "this image"))
    return {"type": "actions", "block_id": f"imagine_turn_{turn_id}", "elements": elements}


def _delete_button(turn_id: int, what: str) -> dict[str, Any]:
    confirm = {
        "title": {"type": "plain_text", "text": f"Delete {what}?"},
        "text": {"type": "plain_text", "text": "It is removed from the channel; the thread stays."},
        "confirm": {"type": "plain_text", "text": "Delete"},
        "deny": {"type": "plain_text", "text": "Keep"},
        "style": "danger",
    }
    return _button(ACTION_DELETE, "🗑️ Delete", str(turn_id), style="danger", confirm=confirm)


def _button(action_id: str, label: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}, "value": value,
            **extra}


def parse_turn_value(value: str | None) -> tuple[int, str] | None:
    """`"12"`, `"12:2K"` or `"12:F1,F2"` → (12, the rest); None when it names no turn."""
    head, _, rest = (value or "").partition(":")
    return (int(head), rest) if head.isdigit() else None


# Modals ---------------------------------------------------------------------------------------------------


def prompt_modal(callback_id: str, title: str, label: str, private_metadata: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": "Go"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": PROMPT_BLOCK,
                "label": {"type": "plain_text", "text": label},
                "element": {
                    "type": "plain_text_input",
                    "action_id": PROMPT_INPUT,
                    "multiline": True,
                    "placeholder": {"type": "plain_text", "text": "make it night, add a llama…"},
                },
                "hint": {"type": "plain_text", "text": "Flags work here too: --ar 16:9 --size 2K --model pro"},
            }
        ],
    }


def modal_prompt(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(PROMPT_BLOCK) or {}).get(PROMPT_INPUT) or {}
    return str(field.get("value") or "")


def edit_metadata(channel: str, thread_ts: str, refs: list[FileRef]) -> str:
    """What the edit modal must remember, within Slack's 3,000 characters: long file URLs give way to ids."""
    full = json.dumps({"c": channel, "t": thread_ts, "f": [[r.id, r.name, r.url, r.size, r.mimetype] for r in refs]})
    if len(full) <= METADATA_LIMIT:
        return full
    return json.dumps({"c": channel, "t": thread_ts, "f": [[r.id] for r in refs]})[:METADATA_LIMIT]


def parse_edit_metadata(raw: str) -> tuple[str, str, list[FileRef]]:
    data = json.loads(raw)
    refs = []
    for entry in data["f"]:
        file_id, name, url, size, mime = (*entry, None, None, None, None)[:5]
        refs.append(FileRef(file_id, name or "image", url, size, mime or ""))
    return data["c"], data["t"], refs


# Slack errors ---------------------------------------------------------------------------------------------

_SLACK_ERRORS = {
    "not_in_channel": "I am not a member of this channel. Invite me with `/invite @{bot}` and try again.",
    "channel_not_found": "I cannot see this channel. Invite me with `/invite @{bot}` (or message me directly).",
    "is_archived": "This channel is archived, so I cannot post in it.",
    "restricted_action": "A workspace policy stops me from posting here; ask a workspace admin.",
    "ratelimited": "Slack is rate-limiting me right now. Wait a minute and try again.",
    "file_uploads_disabled": "File uploads are disabled in this workspace; ask a workspace admin to allow them.",
    "file_uploads_except_images_disabled": "Image uploads are disabled in this workspace; ask a workspace admin.",
    "file_upload_size_restricted": "The image is larger than this workspace allows for uploads; try a smaller "
    "--size.",
    "expired_trigger_id": "Slack's window to open the dialog passed. Click again.",
    "exchanged_trigger_id": "That dialog was already opened. Click again for a new one.",
    "thread_not_found": "I could not find that thread; it may have been deleted.",
    "message_not_found": "I could not find that message; it may have been deleted.",
    "invalid_auth": "The bot's Slack token is not valid. The operator should check SLACK_BOT_TOKEN.",
    "token_revoked": "The bot's Slack token was revoked. The operator should reinstall the app.",
    "account_inactive": "The bot's Slack token was revoked. The operator should reinstall the app.",
}


def explain_slack_error(error: str | None, needed: str | None = None, bot: str = "the bot") -> str:
    """A Slack Web API error code as the cause and what to do."""
    if error == "missing_scope":
        scope = f"the `{needed}` scope" if needed else "a scope it needs"
        return (
            f"The Slack app lacks {scope}. The operator should add it (slack-manifest.yml lists them all) "
            "and reinstall the app."
        )
    if error in _SLACK_ERRORS:
        return _SLACK_ERRORS[error].format(bot=bot)
    return f"Slack refused the request ({error or 'unknown error'}). Try again; if it keeps failing, tell the operator."
