"""Payload builders, records and Discord-style validation for the fake Discord in `tests/emulators/discord.py`.

Everything here is plain data: JSON shapes as Discord API v10 sends them (read against discord.py 2.7.1's
parsers), the dataclasses the emulator records, and the few request checks real Discord makes that a bot
can trip over (content and name lengths, modal limits, command names).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import mimetypes
import re
import time
from dataclasses import dataclass, field
from typing import Any

import discord
from aiohttp import web
from aiohttp.multipart import BodyPartReader

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents).
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Permission bitfields.
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
MANAGE_MESSAGES = discord.Permissions(manage_messages=True).value
SEND_MESSAGES = discord.Permissions(send_messages=True).value
SEND_MESSAGES_IN_THREADS = discord.Permissions(send_messages_in_threads=True).value
ATTACH_FILES = discord.Permissions(attach_files=True).value
CREATE_PUBLIC_THREADS = discord.Permissions(create_public_threads=True).value
CREATE_PRIVATE_THREADS = discord.Permissions(create_private_threads=True).value
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_application_commands=True,
    create_instant_invite=True,
    change_nickname=True,
).value
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | discord.Permissions(manage_threads=True).value

# Upload limits (bytes per file) by guild boost tier; tier 0 and 1 (and DMs) get the default.
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
TIER_UPLOAD_LIMITS = {0: DEFAULT_UPLOAD_LIMIT, 1: DEFAULT_UPLOAD_LIMIT, 2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}

# Channel and message types, message flags.
CHANNEL_TEXT, CHANNEL_DM, CHANNEL_NEWS = 0, 1, 5
CHANNEL_NEWS_THREAD, CHANNEL_PUBLIC_THREAD, CHANNEL_PRIVATE_THREAD = 10, 11, 12
THREAD_TYPES = (CHANNEL_NEWS_THREAD, CHANNEL_PUBLIC_THREAD, CHANNEL_PRIVATE_THREAD)
MSG_DEFAULT, MSG_REPLY, MSG_CHAT_INPUT, MSG_CONTEXT_MENU = 0, 19, 20, 23
FLAG_HAS_THREAD, FLAG_EPHEMERAL, FLAG_LOADING = 1 << 5, 1 << 6, 1 << 7
MESSAGE_FLAGS_ALLOWED = 4 | FLAG_EPHEMERAL | 4096 | 32768  # a bot may set: suppress embeds, ephemeral, silent, v2

_last_snowflake = 0


def snowflake() -> str:
    """A new, strictly increasing snowflake whose timestamp is now."""
    global _last_snowflake
    value = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, _last_snowflake + 1)
    _last_snowflake = value
    return str(value)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response discord.py parses: its `json_or_text` wants exactly `application/json`, no charset."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class ApiError(Exception):
    """Raised by handlers; answered as Discord's JSON error body `{"message", "code", "errors"?}`."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return json_response(body, self.status)


def form_error(path: str, code: str, message: str) -> ApiError:
    """A 400 `Invalid Form Body` (code 50035) naming the offending field, dotted path as in `data.name`."""
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path.split(".")):
        errors = {key: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


# -- records -----------------------------------------------------------------------------------------------


@dataclass
class StoredFile:
    """An attachment the emulator serves on its CDN: registered by a test or uploaded by the bot."""

    id: str
    filename: str
    content_type: str | None
    data: bytes
    url: str
    proxy_url: str
    size: int
    width: int | None = None
    height: int | None = None
    description: str | None = None

    def payload(self) -> JSON:
        out: JSON = {
            "id": self.id,
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.proxy_url,
        }
        if self.content_type:
            out["content_type"] = self.content_type
        if self.width is not None and self.height is not None:
            out["width"], out["height"] = self.width, self.height
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass
class UploadedPart:
    """One multipart file part as the bot sent it (`files[n]`)."""

    name: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def index(self) -> int | None:
        m = re.fullmatch(r"files\[(\d+)\]", self.name)
        return int(m.group(1)) if m else None


@dataclass
class RecordedRequest:
    """A REST request under the API base: path is relative to it (`/channels/1/messages`)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedPart]
    authorization: str | None
    status: int = 0


@dataclass
class CdnRequest:
    method: str
    url: str
    path: str
    authorization: str | None
    status: int


@dataclass
class InteractionRecord:
    """One INTERACTION_CREATE the emulator dispatched, and everything the bot answered to it."""

    id: str
    token: str
    type: int
    payload: JSON
    dispatched_at: float
    callbacks: list[JSON] = field(default_factory=list)  # {"type", "data", "files": [StoredFile]}
    original_message_id: str | None = None
    followup_message_ids: list[str] = field(default_factory=list)
    modal: JSON | None = None  # the data of a type-9 (modal) callback

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def callback_types(self) -> list[int]:
        return [c["type"] for c in self.callbacks]

    @property
    def user_id(self) -> str:
        user = self.payload["member"]["user"] if "member" in self.payload else self.payload["user"]
        return str(user["id"])

    @property
    def channel_id(self) -> str:
        return str(self.payload["channel_id"])

    @property
    def message_id(self) -> str | None:
        """The message a component (or a modal opened from one) was attached to."""
        message = self.payload.get("message")
        return str(message["id"]) if message else None


# -- payload builders --------------------------------------------------------------------------------------


def user_payload(user_id: str, username: str, *, bot: bool = False, global_name: str | None = None) -> JSON:
    return {
        "id": user_id,
        "username": username,
        "discriminator": "0",
        "global_name": global_name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


def role_payload(role_id: str, name: str, permissions: int, *, position: int = 0, managed: bool = False) -> JSON:
    return {
        "id": role_id,
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def member_payload(member: JSON, user: JSON | None = None, permissions: int | None = None) -> JSON:
    """A guild member: with `user` for GUILD_CREATE/interactions, without it inside MESSAGE_CREATE."""
    out: JSON = {
        "roles": list(member["roles"]),
        "joined_at": member["joined_at"],
        "nick": member.get("nick"),
        "avatar": None,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if user is not None:
        out["user"] = user
    if permissions is not None:
        out["permissions"] = str(permissions)
    return out


def text_channel_payload(channel_id: str, guild_id: str, name: str, *, position: int = 0, type: int = 0) -> JSON:
    return {
        "id": channel_id,
        "type": type,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def thread_payload(
    thread_id: str,
    parent: JSON,
    name: str,
    owner_id: str,
    *,
    type: int = CHANNEL_PUBLIC_THREAD,
    auto_archive_duration: int = 1440,
    invitable: bool = True,
) -> JSON:
    created = now_iso()
    return {
        "id": thread_id,
        "type": type,
        "guild_id": parent["guild_id"],
        "parent_id": parent["id"],
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": created,
            "locked": False,
            "invitable": invitable,
            "create_timestamp": created,
        },
        "member": {"id": thread_id, "user_id": owner_id, "join_timestamp": created, "flags": 0},
    }


def dm_channel_payload(channel_id: str, recipient: JSON) -> JSON:
    return {"id": channel_id, "type": CHANNEL_DM, "recipients": [recipient], "last_message_id": None, "flags": 0}


def guild_payload(g: JSON) -> JSON:
    """A guild object (REST `GET /guilds/{id}`; GUILD_CREATE adds channels, threads, members)."""
    return {
        "id": g["id"],
        "name": g["name"],
        "icon": None,
        "splash": None,
        "banner": None,
        "description": None,
        "owner_id": g["owner_id"],
        "roles": list(g["roles"].values()),
        "emojis": [],
        "stickers": [],
        "features": [],
        "premium_tier": g["premium_tier"],
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "system_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "vanity_url_code": None,
    }


def rest_message(message: JSON) -> JSON:
    """A message as REST returns it: no `guild_id`/`member` (those come only with gateway events)."""
    return {k: v for k, v in message.items() if k not in ("guild_id", "member")}


def sniff_image(data: bytes, filename: str) -> tuple[str | None, int | None, int | None]:
    """(content_type, width, height): Discord sniffs uploads, which discord.py sends as octet-stream."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return Image.MIME.get(image.format or ""), image.width, image.height
    except Exception:
        return mimetypes.guess_type(filename)[0], None, None


def iter_components(components: list[JSON]) -> list[JSON]:
    """Every component in a (possibly nested) component tree: rows, containers, sections, labels."""
    out: list[JSON] = []
    for c in components or []:
        out.append(c)
        out.extend(iter_components(c.get("components", [])))
        if isinstance(c.get("component"), dict):
            out.extend(iter_components([c["component"]]))
        if isinstance(c.get("accessory"), dict):
            out.extend(iter_components([c["accessory"]]))
    return out


# -- validation (the subset of Discord's checks a bot can plausibly trip) -----------------------------------

_COMMAND_NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")


def _check_length(value: Any, path: str, low: int, high: int) -> None:
    if value is None:
        return
    if not low <= len(value) <= high:
        raise form_error(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def validate_message(body: JSON, n_files: int, *, prefix: str = "", require_body: bool = True) -> None:
    _check_length(body.get("content"), f"{prefix}content", 0, 2000)
    if n_files > 10:
        raise form_error(f"{prefix}attachments", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    if len(body.get("embeds") or []) > 10:
        raise form_error(f"{prefix}embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    if len(body.get("components") or []) > 5 and not (body.get("flags", 0) & (1 << 15)):
        raise form_error(f"{prefix}components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for c in iter_components(body.get("components") or []):
        _check_length(c.get("custom_id"), f"{prefix}components.custom_id", 1, 100)
        if c.get("type") == 2:
            _check_length(c.get("label"), f"{prefix}components.label", 0, 80)
    has_body = any(body.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll"))
    if require_body and not has_body and n_files == 0 and not body.get("attachments"):
        raise ApiError(400, 50006, "Cannot send an empty message")


def validate_modal(data: JSON) -> None:
    _check_length(data.get("custom_id"), "data.custom_id", 1, 100)
    _check_length(data.get("title") or "", "data.title", 1, 45)
    rows = data.get("components") or []
    if not 1 <= len(rows) <= 5:
        raise form_error("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for c in iter_components(rows):
        if c.get("type") in (4, 18):
            _check_length(c.get("label"), "data.components.label", 1, 45)
        if c.get("type") == 4:
            _check_length(c.get("value"), "data.components.value", 0, 4000)
            _check_length(c.get("placeholder"), "data.components.placeholder", 0, 100)


def validate_thread_name(name: Any) -> None:
    if not isinstance(name, str):
        raise form_error("name", "BASE_TYPE_REQUIRED", "This field is required")
    _check_length(name, "name", 1, 100)


def validate_commands(commands: list[JSON]) -> None:
    if len([c for c in commands if c.get("type", 1) == 1]) > 100:
        raise form_error("commands", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    for i, cmd in enumerate(commands):
        kind = cmd.get("type", 1)
        name = cmd.get("name", "")
        if kind == 1:
            if not _COMMAND_NAME.match(name) or name != name.lower():
                raise form_error(f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            _check_length(cmd.get("description", ""), f"{i}.description", 1, 100)
            _validate_options(cmd.get("options") or [], f"{i}.options")
        else:
            _check_length(name, f"{i}.name", 1, 32)


def _validate_options(options: list[JSON], path: str) -> None:
    if len(options) > 25:
        raise form_error(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    for j, opt in enumerate(options):
        name = opt.get("name", "")
        if not _COMMAND_NAME.match(name) or name != name.lower():
            raise form_error(f"{path}.{j}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        _check_length(opt.get("description", ""), f"{path}.{j}.description", 1, 100)
        if len(opt.get("choices") or []) > 25:
            raise form_error(f"{path}.{j}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if opt.get("type") in (1, 2):
            _validate_options(opt.get("options") or [], f"{path}.{j}.options")
        elif opt.get("required"):
            if seen_optional:
                raise form_error(
                    f"{path}.{j}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True


def command_response(cmd: JSON, command_id: str, application_id: str, guild_id: str | None) -> JSON:
    """What Discord returns for a registered command: the body plus ids and defaulted fields."""

    def fill(options: list[JSON]) -> list[JSON]:
        out = []
        for o in options:
            o = {**o, "description": o.get("description", "")}
            if "options" in o:
                o["options"] = fill(o["options"] or [])
            out.append(o)
        return out

    out: JSON = {
        **cmd,
        "id": command_id,
        "application_id": application_id,
        "version": snowflake(),
        "type": cmd.get("type", 1),
        "description": cmd.get("description") or "",
        "default_member_permissions": cmd.get("default_member_permissions"),
        "nsfw": cmd.get("nsfw", False),
    }
    if "options" in cmd:
        out["options"] = fill(cmd["options"] or [])
    if guild_id is not None:
        out["guild_id"] = guild_id
    return out


def modal_submit_components(components: list[JSON], values: dict[str, Any], used: set[str]) -> list[JSON]:
    """Mirror a modal's layout as a MODAL_SUBMIT `data.components` tree, filling in the values."""
    out: list[JSON] = []
    for c in components:
        kind = c.get("type")
        if kind == 1:
            out.append({"type": 1, "components": modal_submit_components(c.get("components") or [], values, used)})
        elif kind == 18:
            inner = modal_submit_components([c["component"]], values, used)
            if inner:
                out.append({"type": 18, "id": c.get("id", 0), "component": inner[0]})
        elif kind == 4:
            used.add(c["custom_id"])
            value = values.get(c["custom_id"], c.get("value") or "")
            out.append({"type": 4, "custom_id": c["custom_id"], "value": value})
        elif kind in (3, 5, 6, 7, 8):
            used.add(c["custom_id"])
            out.append({"type": kind, "custom_id": c["custom_id"], "values": list(values.get(c["custom_id"], []))})
    return out


async def read_body(request: web.Request) -> tuple[Any, list[UploadedPart]]:
    """JSON body, or multipart `payload_json` + `files[n]` parts, as discord.py sends them."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        payload: Any = None
        parts: list[UploadedPart] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = bytes(await part.read(decode=False))
            if part.name == "payload_json":
                payload = json.loads(data or b"null")
            else:
                parts.append(UploadedPart(part.name or "", part.filename or "", part.headers.get("Content-Type"), data))
        return payload, parts
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []
