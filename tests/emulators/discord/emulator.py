"""A local fake Discord (REST v10 + gateway websocket + attachment CDN) that a real discord.py client runs against.

Point discord.py at it (the bot does the same with its DISCORD_API_BASE / DISCORD_GATEWAY_URL settings):

    async with DiscordEmulator() as emu:
        restore = point_discord_at(emu.api_base, emu.gateway_url)  # Route.BASE + DiscordWebSocket.DEFAULT_GATEWAY
        client = discord.Client(intents=..., guild_ready_timeout=0.05)
        ...  # await client.start(emu.token) in a task, wait for ready
        restore()

discord.py has no per-client base URL: every REST call (webhooks and interaction callbacks included) builds its
URL from the class attribute `discord.http.Route.BASE`, and the gateway URL comes from
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY` (READY's `resume_gateway_url` for resumes, which the
emulator points at itself). `point_discord_at` sets both and returns a function that restores them.

The world starts with one guild (`guild_id`) holding a text channel (`channel_id`), the bot, a plain member
(`user`) and a member with Manage Messages (`moderator`). Tests inject events (`send_message`, `invoke_slash`,
`invoke_message_command`, `click_button`, `submit_modal`), then inspect what the bot did: `messages`, `threads`,
`files`, `interactions`, `interaction_responses`, `requests`, `cdn_requests`, waiting with the bounded
`tests.support.until`. Gateway frames are plain-text JSON (discord.py accepts them whatever `compress` it asked for).
Discord's checks that a bot can trip are enforced: per-file upload limit (413, code 40005), content and thread
name lengths, modal limits, the 3 s acknowledgement window, one callback per interaction, the MESSAGE_CONTENT
intent (content blanked in gateway events unless the bot is mentioned or it is a DM).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar
from urllib.parse import quote

import yarl
from aiohttp import WSMsgType, web

from tests.emulators.discord.payloads import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    CHANNEL_DM,
    CHANNEL_NEWS,
    CHANNEL_NEWS_THREAD,
    CHANNEL_PRIVATE_THREAD,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DEFAULT_UPLOAD_LIMIT,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    JSON,
    MANAGE_MESSAGES,
    MSG_CHAT_INPUT,
    MSG_CONTEXT_MENU,
    MSG_DEFAULT,
    MSG_REPLY,
    PRIVILEGED_INTENTS,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_TYPES,
    TIER_UPLOAD_LIMITS,
    ApiError,
    CdnRequest,
    InteractionRecord,
    RecordedRequest,
    StoredFile,
    UploadedPart,
    command_response,
    dm_channel_payload,
    form_error,
    guild_payload,
    iter_components,
    json_response,
    member_payload,
    modal_submit_components,
    now_iso,
    read_body,
    rest_message,
    role_payload,
    sniff_image,
    snowflake,
    text_channel_payload,
    thread_payload,
    user_payload,
    validate_commands,
    validate_message,
    validate_modal,
    validate_thread_name,
)
from tests.support import until

__all__ = [
    "CdnRequest",
    "DiscordEmulator",
    "InteractionRecord",
    "RecordedRequest",
    "StoredFile",
    "UploadedPart",
    "point_discord_at",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
UserRef = JSON | str | None  # a user payload, a user id, or None for the default user
_MESSAGE_FLAGS_ALLOWED = 4 | FLAG_EPHEMERAL | 4096 | 32768  # suppress embeds, ephemeral, silent, components v2
_GUILD_EVENTS = ("GUILD_", "CHANNEL_", "THREAD_")
_current: ContextVar[RecordedRequest | None] = ContextVar("discord_emulator_request", default=None)


def _request() -> RecordedRequest:
    """The API request being handled (middleware and handler run in one task, so a ContextVar carries it)."""
    rec = _current.get()
    assert rec is not None, "only API handlers read the parsed request"
    return rec


def _body() -> JSON:
    """The JSON body (or multipart `payload_json`) of the API request being handled."""
    body = _request().json
    return body if isinstance(body, dict) else {}


def _files() -> list[UploadedPart]:
    """The `files[n]` parts of the API request being handled."""
    return _request().files


def point_discord_at(api_base: str, gateway_url: str) -> Callable[[], None]:
    """Send discord.py's REST calls to `api_base` (version included) and its gateway to `gateway_url`.

    This is all a bot needs for DISCORD_API_BASE / DISCORD_GATEWAY_URL, set before `client.start()`:
    `discord.http.Route.BASE = api_base` (read by every Route, webhook and interaction routes included) and
    `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)` (discord.py appends
    `?v=10&encoding=json&compress=...` itself). Process-wide; returns a function restoring the old values.
    """
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    previous = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def restore() -> None:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = previous

    return restore


@dataclass(eq=False)
class _Session:
    id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    frames: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=5000))
    conn: _Connection | None = None
    alive: bool = True


class _Connection:
    """One gateway websocket; frames go out through a queue so that dispatching never awaits."""

    def __init__(self, ws: web.WebSocketResponse, query: dict[str, str]) -> None:
        self.ws = ws
        self.query = query
        self.session: _Session | None = None
        self.closed_by_server: int | None = None  # the code, when the emulator closed the socket
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.writer = asyncio.create_task(self._write())

    def send(self, payload: JSON | str) -> None:
        self.queue.put_nowait(payload if isinstance(payload, str) else json.dumps(payload))

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                if not self.ws.closed:
                    await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                pass  # the socket is going away; a RESUME replays what it missed
            finally:
                self.queue.task_done()

    async def stop(self) -> None:
        self.writer.cancel()
        await asyncio.gather(self.writer, return_exceptions=True)


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: JSON
    headers: dict[str, str]
    times: int


class DiscordEmulator:
    """Fake Discord on one aiohttp server: REST under `api_path`, the gateway at `/gateway`, CDN at `/attachments`.

    World (ids are snowflake strings): `bot_user`, `application_id` (== bot user id), `guild_id`,
    `channel_id` (a text channel), `user` (alice, a plain member), `moderator` (Manage Messages); the dicts
    `users`, `guilds`, `channels` (threads and DMs included), `messages`, `files`, `commands`.
    Recordings: `requests`, `unknown_requests`, `cdn_requests`, `interactions`, `interaction_responses`,
    `typing`, `reactions`, `dispatched`, `identifies`, `resumes`, `deleted_messages`, `errors`.
    """

    def __init__(
        self,
        *,
        token: str = "emulator-bot-token",
        host: str = "127.0.0.1",
        port: int = 0,
        api_path: str = "/api/v10",
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        premium_tier: int = 0,
        bot_name: str = "ImageBot",
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        privileged_intents: int = PRIVILEGED_INTENTS,
        ack_timeout: float | None = 3.0,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.api_path = "/" + api_path.strip("/")
        self.upload_limit = upload_limit  # bytes per file; boost tier 2/3 guilds get their larger limit
        self.privileged_intents = privileged_intents  # privileged intents "enabled in the developer portal"
        self.ack_timeout = ack_timeout  # seconds to the first callback; None disables the check
        self.heartbeat_interval_ms = heartbeat_interval_ms

        # world
        self.users: dict[str, JSON] = {}
        self.guilds: dict[str, JSON] = {}  # id -> {id, name, owner_id, premium_tier, roles{}, members{}, bot_role_id}
        self.channels: dict[str, JSON] = {}  # guild channels, threads and DMs, by id
        self.messages: dict[str, JSON] = {}  # id -> message JSON (with guild_id when in a guild)
        self.deleted_messages: dict[str, JSON] = {}
        self.files: dict[str, StoredFile] = {}  # attachment id -> file
        self.commands: dict[str | None, list[JSON]] = {}  # None: global commands; else guild id
        self.interactions: dict[str, InteractionRecord] = {}  # by interaction id

        # recordings
        self.requests: list[RecordedRequest] = []
        self.unknown_requests: list[RecordedRequest] = []
        self.cdn_requests: list[CdnRequest] = []
        self.interaction_responses: list[JSON] = []  # every callback: {interaction_id, token, type, data, files}
        self.typing: list[str] = []  # channel ids
        self.reactions: list[JSON] = []  # {channel_id, message_id, emoji, user_id}
        self.dispatched: list[tuple[str, JSON]] = []  # (event name, data) as broadcast
        self.identifies: list[JSON] = []
        self.resumes: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.heartbeats = 0
        self.errors: list[str] = []  # emulator-side exceptions (answered 400 so the bot fails fast)

        self.sessions: list[_Session] = []
        self._connections: list[_Connection] = []
        self._cdn: dict[str, StoredFile] = {}
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None

        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id: str = self.bot_user["id"]
        owner = self.add_user("owner")
        self.guild_id = self.add_guild("Emulated Guild", premium_tier=premium_tier, owner=owner)
        self.channel_id = self.add_text_channel(self.guild_id, "general")
        self.set_bot_permissions(bot_permissions, self.guild_id)
        self.user = self.add_member(self.guild_id, "alice")
        self.moderator = self.add_member(self.guild_id, "mod", permissions=MANAGE_MESSAGES)

    # -- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._middleware], client_max_size=1024**3)
        self._add_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for conn in list(self._connections):
            conn.closed_by_server = 1001
            await conn.ws.close(code=1001)
            await conn.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The REST base including the version: what DISCORD_API_BASE should be set to."""
        return self.base_url + self.api_path

    @property
    def gateway_url(self) -> str:
        """What DISCORD_GATEWAY_URL should be set to."""
        return f"ws://{self.host}:{self.port}/gateway"

    # -- world building ---------------------------------------------------------------------------------------

    def add_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> JSON:
        user = user_payload(snowflake(), username, bot=bot, global_name=global_name)
        self.users[user["id"]] = user
        return user

    def add_guild(self, name: str, *, premium_tier: int = 0, owner: UserRef = None) -> str:
        """A guild the bot is in (with an @everyone role and the bot's managed role). Returns its id."""
        gid = snowflake()
        owner_id = self._user(owner)["id"] if owner is not None else self.bot_user["id"]
        bot_name = self.bot_user["username"]
        bot_role = role_payload(snowflake(), bot_name, DEFAULT_BOT_PERMISSIONS, position=1, managed=True)
        bot_role["tags"] = {"bot_id": self.bot_user["id"]}
        self.guilds[gid] = {
            "id": gid,
            "name": name,
            "owner_id": owner_id,
            "premium_tier": premium_tier,
            "joined_at": now_iso(),
            "roles": {gid: role_payload(gid, "@everyone", DEFAULT_EVERYONE_PERMISSIONS), bot_role["id"]: bot_role},
            "members": {self.bot_user["id"]: {"roles": [bot_role["id"]], "joined_at": now_iso(), "nick": None}},
            "bot_role_id": bot_role["id"],
        }
        if owner_id != self.bot_user["id"]:
            self.guilds[gid]["members"][owner_id] = {"roles": [], "joined_at": now_iso(), "nick": None}
        self._broadcast("GUILD_CREATE", self._guild_create(gid))
        return gid

    def add_text_channel(self, guild_id: str | None = None, name: str = "general", *, news: bool = False) -> str:
        gid = guild_id or self.guild_id
        position = sum(1 for c in self.channels.values() if c.get("guild_id") == gid)
        channel = text_channel_payload(
            snowflake(), gid, name, position=position, type=CHANNEL_NEWS if news else CHANNEL_TEXT
        )
        self.channels[channel["id"]] = channel
        self._broadcast("CHANNEL_CREATE", channel)
        return channel["id"]

    def add_role(self, guild_id: str | None, name: str, permissions: int) -> str:
        gid = guild_id or self.guild_id
        role = role_payload(snowflake(), name, permissions, position=len(self.guilds[gid]["roles"]))
        self.guilds[gid]["roles"][role["id"]] = role
        self._broadcast("GUILD_ROLE_CREATE", {"guild_id": gid, "role": role})
        return role["id"]

    def set_role_permissions(self, guild_id: str | None, role_id: str, permissions: int) -> None:
        gid = guild_id or self.guild_id
        role = self.guilds[gid]["roles"][role_id]
        role["permissions"] = str(permissions)
        self._broadcast("GUILD_ROLE_UPDATE", {"guild_id": gid, "role": role})

    def set_bot_permissions(self, permissions: int, guild_id: str | None = None) -> None:
        """The bot's permissions in a guild (those of its managed role; @everyone's still add up)."""
        gid = guild_id or self.guild_id
        self.set_role_permissions(gid, self.guilds[gid]["bot_role_id"], permissions)

    def add_member(
        self, guild_id: str | None, user: JSON | str, *, roles: Iterable[str] = (), permissions: int = 0
    ) -> JSON:
        """Add a user (payload, id, or a new username) to a guild; `permissions` adds a role granting them."""
        gid = guild_id or self.guild_id
        if isinstance(user, str) and user not in self.users:
            user = self.add_user(user)
        user_json = self._user(user)
        role_ids = list(roles)
        if permissions:
            role_ids.append(self.add_role(gid, f"{user_json['username']}-role", permissions))
        member = {"roles": role_ids, "joined_at": now_iso(), "nick": None}
        self.guilds[gid]["members"][user_json["id"]] = member
        self._broadcast("GUILD_MEMBER_ADD", {**member_payload(member, user_json), "guild_id": gid})
        return user_json

    async def add_thread(
        self, channel_id: str | None = None, name: str = "thread", *, starter_message_id: str | None = None,
        owner: UserRef = None,
    ) -> str:
        """A public thread a user opened (on a message, when given: it takes that id); returns its id."""
        parent = self._channel(str(channel_id or self.channel_id))
        thread_id = starter_message_id or snowflake()
        thread = thread_payload(thread_id, parent, name, self._user(owner)["id"])
        self.channels[thread_id] = thread
        if starter_message_id is not None:
            starter = self._message(starter_message_id)
            starter["flags"] |= FLAG_HAS_THREAD
            starter["thread"] = thread
        self._broadcast("THREAD_CREATE", {**thread, "newly_created": True})
        await self._drain()
        return thread_id

    def open_dm(self, user: UserRef = None) -> str:
        """The DM channel between the bot and a user (created once). Returns its id."""
        user_json = self._user(user)
        for channel in self.channels.values():
            if channel["type"] == CHANNEL_DM and channel["recipients"][0]["id"] == user_json["id"]:
                return channel["id"]
        channel = dm_channel_payload(snowflake(), user_json)
        self.channels[channel["id"]] = channel
        return channel["id"]

    def member_permissions(self, guild_id: str, user_id: str) -> int:
        """Guild-level permissions as Discord computes them (owner and Administrator get everything)."""
        guild = self.guilds[guild_id]
        if user_id == guild["owner_id"]:
            return ALL_PERMISSIONS
        member = guild["members"].get(user_id)
        perms = int(guild["roles"][guild_id]["permissions"])
        for role_id in member["roles"] if member else []:
            perms |= int(guild["roles"][role_id]["permissions"])
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def upload_limit_for(self, channel_id: str) -> int:
        gid = self.channels[channel_id].get("guild_id")
        tier = self.guilds[gid]["premium_tier"] if gid else 0
        return max(self.upload_limit, TIER_UPLOAD_LIMITS[tier]) if tier >= 2 else self.upload_limit

    def add_attachment(
        self,
        data: bytes,
        filename: str = "image.png",
        *,
        content_type: str | None = None,
        size: int | None = None,
        channel_id: str | None = None,
        description: str | None = None,
        url: str | None = None,
    ) -> JSON:
        """Register bytes on the CDN and return the attachment payload to pass to the injection helpers.

        `size` may differ from len(data) (to test size checks made before downloading); `url` overrides where
        the payload says the file lives (e.g. a foreign host, to test an allow-list).
        """
        stored = self._store_file(channel_id or self.channel_id, data, filename, content_type, description)
        if size is not None:
            stored.size = size
        if url is not None:
            stored.url = stored.proxy_url = url
        return stored.payload()

    @staticmethod
    def mention(user: JSON) -> str:
        return f"<@{user['id']}>"

    # -- fault injection ----------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int = 500,
        code: int = 0,
        message: str = "injected failure",
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests whose API-relative path fully matches the regex with an error.

        Mind discord.py's retries: it retries 500/502/504/524 (and webhooks any 5xx) with 1+2n s sleeps.
        """
        body = {"message": message, "code": code}
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), status, body, headers or {}, times))

    def rate_limit_next(
        self, method: str, path_pattern: str, *, retry_after: float = 0.05, is_global: bool = False, times: int = 1
    ) -> None:
        """A real-looking 429 (with the `Via` header discord.py needs to treat it as a rate limit and retry)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global, "code": 0}
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), 429, body, headers, times))

    # -- gateway control ------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a bot has identified (or resumed) and its websocket is open."""
        return any(s.alive and s.conn is not None for s in self.sessions)

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a raw dispatch event to every live session."""
        self._require_bot()
        self._broadcast(event, data)
        await self._drain()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes (code 4000) and RESUMEs."""
        for conn in list(self._connections):
            conn.send({"op": 7, "d": None})
        await self._drain()

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; with `resumable=False` the client must identify again."""
        for conn in list(self._connections):
            if not resumable and conn.session is not None:
                conn.session.alive = False
            conn.send({"op": 9, "d": resumable})
        await self._drain()

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway socket from the server side (the session stays resumable unless fatal)."""
        for conn in list(self._connections):
            conn.closed_by_server = code
            await conn.ws.close(code=code)

    # -- injection --------------------------------------------------------------------------------------------

    async def send_message(
        self,
        channel_id: str | None = None,
        author: UserRef = None,
        content: str = "",
        *,
        attachments: Iterable[JSON | StoredFile | str] = (),
        referenced_message_id: str | None = None,
        mentions: Iterable[UserRef] = (),
        embeds: Iterable[JSON] = (),
        mention_replied_user: bool = True,
    ) -> JSON:
        """A user posts a message: stored (GET-able) and dispatched as MESSAGE_CREATE. Returns the message.

        `<@id>` mentions in `content` are parsed as Discord does; a reply embeds `referenced_message`.
        """
        self._require_bot()
        cid = str(channel_id or self.channel_id)
        channel = self._channel(cid)
        user = self._user(author)
        gid = channel.get("guild_id")
        if gid and user["id"] not in self.guilds[gid]["members"]:
            raise ValueError(f"{user['username']} is not a member of guild {gid}: add_member() first")
        files = [self._attachment_json(a) for a in attachments]
        msg = self._new_message(cid, user, content=content, attachments=files, embeds=list(embeds))
        mention_ids = [self._user(m)["id"] for m in mentions]
        if referenced_message_id is not None:
            target = self._message(str(referenced_message_id))
            self._make_reply(msg, target)
            if mention_replied_user:
                mention_ids.append(target["author"]["id"])
        msg["mentions"] = self._mentions(content, mention_ids)
        self._post(msg)
        await self._drain()
        return msg

    async def invoke_slash(
        self,
        name: str,
        options: JSON | None = None,
        *,
        user: UserRef = None,
        channel_id: str | None = None,
        attachment_size_limit: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A user runs a registered CHAT_INPUT command (guild command first, then global).

        `options` maps option name to value; attachment options take a payload from `add_attachment` (or an
        attachment id), user options a user payload or id, channel/role options an id; subcommands nest a dict.
        The guild comes from the channel (DM channels from `open_dm` have none).
        """
        cid = str(channel_id or self.channel_id)
        gid = self._channel(cid).get("guild_id")
        cmd = self._find_command(name, 1, gid, self._user(user)["id"])
        resolved: JSON = {}
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        built = self._build_options(cmd.get("options") or [], options or {}, resolved, gid)
        if built:
            data["options"] = built
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return await self._interact(2, user, cid, data, attachment_size_limit=attachment_size_limit, locale=locale)

    async def invoke_message_command(
        self,
        name: str,
        target_message_id: str,
        *,
        user: UserRef = None,
        attachment_size_limit: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """A user runs a message context-menu command on a message (resolved in full, as Discord does)."""
        target = self._message(str(target_message_id))
        gid = target.get("guild_id")
        cmd = self._find_command(name, 3, gid, self._user(user)["id"])
        data: JSON = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: rest_message(target)}},
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return await self._interact(
            2, user, target["channel_id"], data, attachment_size_limit=attachment_size_limit, locale=locale
        )

    async def click_button(
        self, message_id: str, custom_id: str, *, user: UserRef = None, values: list[str] | None = None
    ) -> InteractionRecord:
        """A user uses a component (button, or select with `values`) that a stored message carries."""
        message = self._message(str(message_id))
        found = [c for c in iter_components(message.get("components") or []) if c.get("custom_id") == custom_id]
        if not found:
            raise LookupError(f"message {message_id} has no component with custom_id {custom_id!r}")
        component = found[0]
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: JSON = {"custom_id": custom_id, "component_type": component.get("type", 2)}
        if component.get("type", 2) != 2:
            data["values"] = list(values or [])
        return await self._interact(3, user, message["channel_id"], data, message=message)

    async def select(
        self, message_id: str, custom_id: str, values: list[str], *, user: UserRef = None
    ) -> InteractionRecord:
        return await self.click_button(message_id, custom_id, user=user, values=values)

    async def submit_modal(
        self, custom_id: str, values: dict[str, Any], *, user: UserRef = None, message_id: str | None = None
    ) -> InteractionRecord:
        """Submit the modal the bot last opened with this custom_id (for this user, when given).

        `values` maps each input's custom_id to its text (select inputs: a list). Inputs not given keep the
        modal's pre-filled value. The modal's layout (action rows or labels) is mirrored as Discord does.
        """
        uid = self._user(user)["id"] if user is not None else None
        openers = [
            r
            for r in self.interactions.values()
            if r.modal is not None and r.modal.get("custom_id") == custom_id and (uid is None or r.user_id == uid)
        ]
        if not openers:
            raise LookupError(f"the bot never opened a modal with custom_id {custom_id!r}")
        opener = openers[-1]
        assert opener.modal is not None
        used: set[str] = set()
        components = modal_submit_components(opener.modal.get("components") or [], values, used)
        unknown = set(values) - used
        if unknown:
            raise KeyError(f"modal {custom_id!r} has no inputs {sorted(unknown)}")
        mid = message_id or opener.message_id
        message = self._message(mid) if mid else None
        return await self._interact(
            5,
            user if user is not None else opener.user_id,
            opener.channel_id,
            {"custom_id": custom_id, "components": components},
            message=message,
        )

    # -- queries and waiting ----------------------------------------------------------------------------------

    @property
    def threads(self) -> dict[str, JSON]:
        return {cid: c for cid, c in self.channels.items() if c["type"] in THREAD_TYPES}

    @property
    def global_commands(self) -> list[JSON]:
        return self.commands.get(None, [])

    def guild_commands(self, guild_id: str | None = None) -> list[JSON]:
        return self.commands.get(guild_id or self.guild_id, [])

    def interaction(self, id_or_token: str) -> InteractionRecord:
        if id_or_token in self.interactions:
            return self.interactions[id_or_token]
        for rec in self.interactions.values():
            if rec.token == id_or_token:
                return rec
        raise KeyError(id_or_token)

    def message_files(self, message_id: str) -> list[StoredFile]:
        """The files of a message's attachments, in order (bytes in `.data`)."""
        message = self.messages.get(message_id) or self.deleted_messages[message_id]
        return [self.files[a["id"]] for a in message.get("attachments", [])]

    def channel_messages(self, channel_id: str) -> list[JSON]:
        return sorted((m for m in self.messages.values() if m["channel_id"] == channel_id), key=lambda m: int(m["id"]))

    def bot_messages(self, channel_id: str | None = None) -> list[JSON]:
        return sorted(
            (
                m
                for m in self.messages.values()
                if m["author"]["id"] == self.bot_user["id"] and channel_id in (None, m["channel_id"])
            ),
            key=lambda m: int(m["id"]),
        )

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method.upper() and pattern.fullmatch(r.path)]

    async def wait_for_message(
        self,
        predicate: Callable[[JSON], bool] | None = None,
        *,
        channel_id: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> JSON:
        """The first (oldest) bot message matching, waiting for it."""

        def find() -> JSON | None:
            for m in self.bot_messages(channel_id):
                if predicate is None or predicate(m):
                    return m
            return None

        return await until(find, timeout, what="a bot message")

    async def wait_for_callback(self, rec: InteractionRecord, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """The first callback the bot made to an interaction."""
        await until(lambda: rec.callbacks, timeout, what=f"a callback to interaction {rec.id}")
        return rec.callbacks[0]

    # -- internals: world helpers -----------------------------------------------------------------------------

    def _user(self, ref: UserRef) -> JSON:
        if ref is None:
            return self.user
        uid = ref["id"] if isinstance(ref, dict) else str(ref)
        if uid not in self.users:
            raise KeyError(f"unknown user {uid}")
        return self.users[uid]

    def _channel(self, channel_id: str) -> JSON:
        if channel_id not in self.channels:
            raise KeyError(f"unknown channel {channel_id}")
        return self.channels[channel_id]

    def _message(self, message_id: str) -> JSON:
        if message_id not in self.messages:
            raise KeyError(f"unknown message {message_id}")
        return self.messages[message_id]

    def _attachment_json(self, ref: JSON | StoredFile | str) -> JSON:
        if isinstance(ref, StoredFile):
            return ref.payload()
        if isinstance(ref, str):
            return self.files[ref].payload()
        return dict(ref)

    def _require_bot(self) -> None:
        if not any(s.alive for s in self.sessions):
            raise RuntimeError("no bot session: start the client and wait until it is ready first")

    def _guild_create(self, gid: str) -> JSON:
        g = self.guilds[gid]
        channels = [c for c in self.channels.values() if c.get("guild_id") == gid]
        return {
            **guild_payload(self.guilds[gid]),
            "channels": [c for c in channels if c["type"] not in THREAD_TYPES],
            "threads": [c for c in channels if c["type"] in THREAD_TYPES and not c["thread_metadata"]["archived"]],
            "members": [member_payload(m, self.users[uid]) for uid, m in g["members"].items()],
            "member_count": len(g["members"]),
            "joined_at": g["joined_at"],
            "large": False,
            "unavailable": False,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _store_file(
        self,
        channel_id: str,
        data: bytes,
        filename: str,
        content_type: str | None = None,
        description: str | None = None,
    ) -> StoredFile:
        if self._runner is None:
            raise RuntimeError("start the emulator before storing files: their URLs carry its port")
        att_id = snowflake()
        sniffed, width, height = sniff_image(data, filename)
        path = f"/attachments/{channel_id}/{att_id}/{filename}"
        query = f"?ex={secrets.token_hex(4)}&is={secrets.token_hex(4)}&hm={secrets.token_hex(16)}&"
        tail = f"/attachments/{channel_id}/{att_id}/{quote(filename)}{query}"
        stored = StoredFile(
            id=att_id,
            filename=filename,
            content_type=content_type or sniffed,
            data=bytes(data),
            url=self.base_url + tail,
            proxy_url=self.base_url + "/media" + tail,
            size=len(data),
            width=width,
            height=height,
            description=description,
        )
        self.files[att_id] = stored
        self._cdn[path] = stored
        return stored

    def _new_message(
        self,
        channel_id: str,
        author: JSON,
        *,
        content: str = "",
        attachments: list[JSON] | None = None,
        embeds: list[JSON] | None = None,
        components: list[JSON] | None = None,
        type: int = MSG_DEFAULT,
        flags: int = 0,
    ) -> JSON:
        msg: JSON = {
            "id": snowflake(),
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": embeds or [],
            "components": components or [],
            "reactions": [],
            "pinned": False,
            "type": type,
            "flags": flags,
        }
        gid = self.channels[channel_id].get("guild_id")
        if gid:
            msg["guild_id"] = gid
        return msg

    def _make_reply(self, msg: JSON, target: JSON) -> None:
        if target["channel_id"] != msg["channel_id"]:
            raise form_error("message_reference", "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL", "Not the same channel")
        msg["type"] = MSG_REPLY
        ref: JSON = {"type": 0, "message_id": target["id"], "channel_id": target["channel_id"]}
        if target.get("guild_id"):
            ref["guild_id"] = target["guild_id"]
        msg["message_reference"] = ref
        msg["referenced_message"] = {k: v for k, v in rest_message(target).items() if k != "referenced_message"}

    def _mentions(self, content: str, extra_ids: Iterable[str] = ()) -> list[JSON]:
        ids = list(dict.fromkeys([*re.findall(r"<@!?(\d+)>", content), *extra_ids]))
        return [self.users[i] for i in ids if i in self.users]

    def _gateway_message(self, msg: JSON) -> JSON:
        """MESSAGE_CREATE/UPDATE data: the message plus `member` for the author and each mention."""
        out = dict(msg)
        gid = msg.get("guild_id")
        if gid:
            members = self.guilds[gid]["members"]
            if msg["author"]["id"] in members and not msg.get("webhook_id"):
                out["member"] = member_payload(members[msg["author"]["id"]])
            out["mentions"] = [
                {**u, "member": member_payload(members[u["id"]])} if u["id"] in members else u for u in msg["mentions"]
            ]
        return out

    def _post(self, msg: JSON) -> None:
        """Store a new message, update channel counters, dispatch MESSAGE_CREATE (ephemerals stay silent)."""
        self.messages[msg["id"]] = msg
        channel = self.channels[msg["channel_id"]]
        channel["last_message_id"] = msg["id"]
        if channel["type"] in THREAD_TYPES:
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
            if channel["thread_metadata"]["archived"]:
                channel["thread_metadata"]["archived"] = False
                self._broadcast("THREAD_UPDATE", channel)
        if not msg["flags"] & FLAG_EPHEMERAL:
            self._broadcast("MESSAGE_CREATE", self._gateway_message(msg))

    def _update(self, msg: JSON) -> None:
        msg["edited_timestamp"] = now_iso()
        if not msg["flags"] & FLAG_EPHEMERAL:
            self._broadcast("MESSAGE_UPDATE", self._gateway_message(msg))

    def _delete(self, msg: JSON) -> None:
        self.messages.pop(msg["id"], None)
        self.deleted_messages[msg["id"]] = msg
        if not msg["flags"] & FLAG_EPHEMERAL:
            data = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if msg.get("guild_id"):
                data["guild_id"] = msg["guild_id"]
            self._broadcast("MESSAGE_DELETE", data)

    # -- internals: gateway -----------------------------------------------------------------------------------

    def _broadcast(self, event: str, data: JSON) -> int:
        sessions = [s for s in self.sessions if s.alive]
        if sessions:
            self.dispatched.append((event, data))
        for session in sessions:
            self._emit(session, event, data)
        return len(sessions)

    def _emit(self, session: _Session, event: str, data: JSON) -> None:
        filtered = self._filter_for(session, event, data)
        if filtered is None:
            return
        session.seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": session.seq, "d": filtered})
        session.frames.append((session.seq, frame))
        if session.conn is not None:
            session.conn.send(frame)

    def _filter_for(self, session: _Session, event: str, data: JSON) -> JSON | None:
        """Apply intents as Discord does: drop events the session did not ask for, blank message content."""
        intents = session.intents
        guild_event = (
            event.startswith(_GUILD_EVENTS) and event != "GUILD_CREATE" and not event.startswith("GUILD_MEMBER")
        )
        if guild_event and not intents & INTENT_GUILDS:
            return None
        if event == "GUILD_MEMBER_ADD" and not intents & INTENT_GUILD_MEMBERS:
            return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"):
            if not intents & (INTENT_GUILD_MESSAGES if data.get("guild_id") else INTENT_DIRECT_MESSAGES):
                return None
            if event != "MESSAGE_DELETE" and not intents & INTENT_MESSAGE_CONTENT and not self._content_visible(data):
                return {**data, "content": "", "embeds": [], "attachments": [], "components": []}
        return data

    def _content_visible(self, data: JSON) -> bool:
        bot_id = self.bot_user["id"]
        return (
            not data.get("guild_id")
            or data["author"]["id"] == bot_id
            or any(u["id"] == bot_id for u in data.get("mentions", []))
        )

    async def _drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until queued gateway frames are written to the sockets."""
        queues = [c.queue.join() for c in self._connections]
        if queues:
            await asyncio.wait_for(asyncio.gather(*queues), timeout)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws, dict(request.query))
        self._connections.append(conn)
        self.gateway_queries.append(conn.query)
        conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
        finally:
            self._connections.remove(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                # A client closing with 1000/1001 ends its session, as on Discord.
                if conn.closed_by_server is None and ws.close_code in (1000, 1001):
                    session.alive = False
            await conn.stop()
        return ws

    async def _on_frame(self, conn: _Connection, frame: JSON) -> None:
        op, d = frame.get("op"), frame.get("d")
        if op == 1:
            self.heartbeats += 1
            conn.send({"op": 11})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            self._resume(conn, d or {})
        elif op == 8:
            self._request_members(conn, d or {})

    async def _identify(self, conn: _Connection, d: JSON) -> None:
        self.identifies.append(d)
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        intents = int(d.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        for old in self.sessions:  # sessions nobody is connected to will never be resumed now
            if old.conn is None:
                old.alive = False
        session = _Session(id=secrets.token_hex(16), intents=intents, shard=d.get("shard"), conn=conn)
        conn.session = session
        self.sessions.append(session)
        shard_id, shard_count = session.shard or (0, 1)
        guild_ids = [g for g in self.guilds if (int(g) >> 22) % shard_count == shard_id]
        ready: JSON = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": g, "unavailable": True} for g in guild_ids],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["emulator"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        self._emit(session, "READY", ready)
        for gid in guild_ids:
            self._emit(session, "GUILD_CREATE", self._guild_create(gid))

    def _resume(self, conn: _Connection, d: JSON) -> None:
        self.resumes.append(d)
        session = next((s for s in self.sessions if s.id == d.get("session_id")), None)
        seq = int(d.get("seq") or 0)
        oldest = session.frames[0][0] if session and session.frames else 1
        if session is None or not session.alive or d.get("token") != self.token or seq + 1 < oldest:
            conn.send({"op": 9, "d": False})
            return
        if session.conn is not None and session.conn is not conn:
            session.conn.session = None
        session.conn, conn.session = conn, session
        for s, frame in session.frames:
            if s > seq:
                conn.send(frame)
        self._emit(session, "RESUMED", {"_trace": ["emulator"]})

    def _request_members(self, conn: _Connection, d: JSON) -> None:
        if conn.session is None:
            return
        gid = str(d.get("guild_id"))
        guild = self.guilds.get(gid)
        if guild is None:
            return
        query = (d.get("query") or "").lower()
        user_ids = {str(u) for u in d.get("user_ids") or []}
        members = [
            member_payload(m, self.users[uid])
            for uid, m in guild["members"].items()
            if ((uid in user_ids) if user_ids else self.users[uid]["username"].lower().startswith(query))
        ]
        chunk: JSON = {"guild_id": gid, "members": members, "chunk_index": 0, "chunk_count": 1}
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        self._emit(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- internals: interactions ------------------------------------------------------------------------------

    def _find_command(self, name: str, kind: int, guild_id: str | None, user_id: str) -> JSON:
        """The command a user could pick here: guild commands first; DMs and permissions limit what shows."""
        scopes = ([guild_id] if guild_id else []) + [None]
        for scope in scopes:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == kind:
                    contexts = cmd.get("contexts")
                    if guild_id is None and (cmd.get("dm_permission") is False or (contexts and 1 not in contexts)):
                        raise LookupError(f"command {name!r} is not available in DMs")
                    needed = int(cmd.get("default_member_permissions") or 0)
                    if guild_id and needed and self.member_permissions(guild_id, user_id) & needed != needed:
                        raise PermissionError(f"command {name!r} needs permissions {needed} this user lacks")
                    return cmd
        known = [c["name"] for scope in scopes for c in self.commands.get(scope, [])]
        raise LookupError(f"no command {name!r} of type {kind} registered (registered: {known})")

    def _build_options(self, schema: list[JSON], values: JSON, resolved: JSON, guild_id: str | None) -> list[JSON]:
        by_name = {o["name"]: o for o in schema}
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing:
            raise ValueError(f"required options missing: {missing}")
        out: list[JSON] = []
        for name, value in values.items():
            if name not in by_name:
                raise KeyError(f"command has no option {name!r} (has {sorted(by_name)})")
            kind = by_name[name]["type"]
            if kind in (1, 2):
                sub = self._build_options(by_name[name].get("options") or [], value or {}, resolved, guild_id)
                out.append({"name": name, "type": kind, "options": sub})
                continue
            if kind == 11:
                att = self._attachment_json(value)
                resolved.setdefault("attachments", {})[att["id"]] = att
                value = att["id"]
            elif kind in (6, 9) and (isinstance(value, dict) or str(value) in self.users):
                user = self._user(value)
                resolved.setdefault("users", {})[user["id"]] = user
                member = self.guilds[guild_id]["members"].get(user["id"]) if guild_id else None
                if member is not None and guild_id is not None:
                    perms = self.member_permissions(guild_id, user["id"])
                    resolved.setdefault("members", {})[user["id"]] = member_payload(member, permissions=perms)
                value = user["id"]
            elif kind == 7:
                channel = self._channel(str(value))
                resolved.setdefault("channels", {})[channel["id"]] = {**channel, "permissions": str(ALL_PERMISSIONS)}
                value = channel["id"]
            elif kind in (8, 9) and guild_id is not None:
                resolved.setdefault("roles", {})[str(value)] = self.guilds[guild_id]["roles"][str(value)]
                value = str(value)
            out.append({"name": name, "type": kind, "value": value})
        return out

    async def _interact(
        self,
        kind: int,
        user_ref: UserRef,
        channel_id: str,
        data: JSON,
        *,
        message: JSON | None = None,
        attachment_size_limit: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        self._require_bot()
        channel = self._channel(channel_id)
        user = self._user(user_ref)
        gid = channel.get("guild_id")
        iid = snowflake()
        app_perms = self.member_permissions(gid, self.bot_user["id"]) if gid else DEFAULT_BOT_PERMISSIONS
        payload: JSON = {
            "id": iid,
            "application_id": self.application_id,
            "type": kind,
            "token": "emu." + secrets.token_urlsafe(32),
            "version": 1,
            "channel_id": channel_id,
            "channel": {**channel, "permissions": str(app_perms)} if gid else channel,
            "data": data,
            "locale": locale,
            "entitlements": [],
            "app_permissions": str(app_perms),
            "attachment_size_limit": attachment_size_limit or self.upload_limit_for(channel_id),
            "authorizing_integration_owners": {"0": gid or "0"},
            "context": 0 if gid else 1,
        }
        if gid:
            member = self.guilds[gid]["members"].get(user["id"])
            if member is None:
                raise ValueError(f"{user['username']} is not a member of guild {gid}: add_member() first")
            payload["guild_id"] = gid
            payload["guild"] = {"id": gid, "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = member_payload(member, user, permissions=self.member_permissions(gid, user["id"]))
        else:
            payload["user"] = user
        if message is not None:
            payload["message"] = rest_message(message)
        rec = InteractionRecord(iid, payload["token"], kind, payload, asyncio.get_running_loop().time())
        self.interactions[iid] = rec
        self._broadcast("INTERACTION_CREATE", payload)
        await self._drain()
        return rec

    def _interaction_by_token(self, application_id: str, token: str) -> InteractionRecord:
        if application_id == self.application_id:
            for rec in self.interactions.values():
                if rec.token == token:
                    return rec
        raise ApiError(404, 10015, "Unknown Webhook")

    def _interaction_message(
        self, rec: InteractionRecord, body: JSON, parts: list[UploadedPart], flags: int, *, require_body: bool = True
    ) -> JSON:
        """A message answering an interaction (callback type 4/5 or a followup), not yet posted."""
        kind = MSG_DEFAULT
        if rec.type == 2:
            kind = MSG_CHAT_INPUT if rec.payload["data"].get("type", 1) == 1 else MSG_CONTEXT_MENU
        user = rec.payload["member"]["user"] if "member" in rec.payload else rec.payload["user"]
        metadata: JSON = {
            "id": rec.id,
            "type": rec.type,
            "user": user,
            "authorizing_integration_owners": rec.payload["authorizing_integration_owners"],
        }
        if rec.type == 2:
            metadata["name"] = rec.payload["data"]["name"]
        if rec.original_message_id:
            metadata["original_response_message_id"] = rec.original_message_id
        if rec.message_id:
            metadata["interacted_message_id"] = rec.message_id
        app_id = self.application_id
        extra = {"webhook_id": app_id, "application_id": app_id, "interaction_metadata": metadata}
        limit = rec.payload["attachment_size_limit"]
        return self._bot_message(
            rec.channel_id, body, parts, limit=limit, type=kind, flags=flags, extra=extra, require_body=require_body
        )

    # -- internals: REST message building ---------------------------------------------------------------------

    def _check_uploads(self, parts: list[UploadedPart], limit: int) -> None:
        if any(len(p.data) > limit for p in parts):
            raise ApiError(413, 40005, "Request entity too large")

    def _uploads(
        self, channel_id: str, listed: list[JSON] | None, parts: list[UploadedPart], existing: list[JSON]
    ) -> list[JSON]:
        """Resolve an `attachments` list: existing ids are kept, small integer ids name `files[n]` parts."""
        by_index = {p.index if p.index is not None else i: p for i, p in enumerate(parts)}
        keep = {a["id"]: a for a in existing}
        out: list[JSON] = []
        if listed is None:
            out = list(existing)
            listed = [{"id": i} for i in sorted(by_index)]
        used: set[int] = set()
        for entry in listed:
            eid = str(entry.get("id"))
            if eid in keep:
                out.append({**keep[eid], **({"description": entry["description"]} if "description" in entry else {})})
                continue
            if not eid.isdigit() or int(eid) not in by_index:
                raise form_error("attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment {eid}")
            part = by_index[int(eid)]
            used.add(int(eid))
            filename = entry.get("filename") or part.filename or "file"
            out.append(self._store_file(channel_id, part.data, filename, None, entry.get("description")).payload())
        for index, part in sorted(by_index.items()):
            if index not in used:
                out.append(self._store_file(channel_id, part.data, part.filename or "file").payload())
        return out

    def _bot_message(
        self,
        channel_id: str,
        body: JSON,
        parts: list[UploadedPart],
        *,
        limit: int,
        type: int = MSG_DEFAULT,
        flags: int = 0,
        extra: JSON | None = None,
        require_body: bool = True,
    ) -> JSON:
        validate_message(body, len(parts), require_body=require_body)
        self._check_uploads(parts, limit)
        msg = self._new_message(
            channel_id,
            self.bot_user,
            content=body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            type=type,
            flags=flags,
        )
        msg["attachments"] = self._uploads(channel_id, body.get("attachments"), parts, [])
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        allowed = body.get("allowed_mentions")
        mention_ids: list[str] = []
        ref = body.get("message_reference")
        if ref and ref.get("message_id") and ref.get("type", 0) == 0:
            target = self.messages.get(str(ref["message_id"]))
            if target is not None and target["flags"] & FLAG_EPHEMERAL:
                target = None  # only its recipient ever sees an ephemeral message: nothing can reply to it
            if target is not None:
                self._make_reply(msg, target)
                if type != MSG_DEFAULT:
                    msg["type"] = type
                if allowed is None or allowed.get("replied_user", True):
                    mention_ids.append(target["author"]["id"])
            elif ref.get("fail_if_not_exists", True):
                raise form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        parsed = re.findall(r"<@!?(\d+)>", msg["content"])
        if allowed is not None and "users" not in (allowed.get("parse") or []):
            parsed = [u for u in parsed if u in {str(x) for x in allowed.get("users") or []}]
        msg["mentions"] = self._mentions("", [*parsed, *mention_ids])
        msg.update(extra or {})
        return msg

    def _apply_edit(self, msg: JSON, body: JSON, parts: list[UploadedPart], limit: int) -> None:
        validate_message(body, len(parts), require_body=False)
        self._check_uploads(parts, limit)
        for key in ("content", "embeds", "components"):
            if key in body:
                msg[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "flags" in body and body["flags"] is not None:
            keep = msg["flags"] & (FLAG_EPHEMERAL | FLAG_HAS_THREAD)
            msg["flags"] = keep | (int(body["flags"]) & _MESSAGE_FLAGS_ALLOWED & ~FLAG_EPHEMERAL)
        if "attachments" in body or parts:
            msg["attachments"] = self._uploads(msg["channel_id"], body.get("attachments"), parts, msg["attachments"])
        if "content" in body:
            msg["mentions"] = self._mentions(msg["content"])

    def _require_permission(self, channel: JSON, permission: int) -> None:
        gid = channel.get("guild_id")
        if gid and not self.member_permissions(gid, self.bot_user["id"]) & permission:
            raise ApiError(403, 50013, "Missing Permissions")

    # -- HTTP plumbing ----------------------------------------------------------------------------------------

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        p = self.api_path
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("GET", "/gateway", self._gateway),
            ("GET", "/gateway/", self._gateway),
            ("GET", "/attachments/{tail:.+}", self._cdn_get),
            ("GET", "/media/attachments/{tail:.+}", self._cdn_get),
            ("GET", p + "/gateway", self._get_gateway),
            ("GET", p + "/gateway/bot", self._get_gateway),
            ("GET", p + "/users/@me", self._get_me),
            ("POST", p + "/users/@me/channels", self._create_dm),
            ("GET", p + "/users/{user_id}", self._get_user),
            ("GET", p + "/oauth2/applications/@me", self._get_application),
            ("GET", p + "/applications/{app_id}/commands", self._get_commands),
            ("PUT", p + "/applications/{app_id}/commands", self._put_commands),
            ("POST", p + "/applications/{app_id}/commands", self._post_command),
            ("GET", p + "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", p + "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", p + "/applications/{app_id}/guilds/{guild_id}/commands", self._post_command),
            ("GET", p + "/guilds/{guild_id}", self._get_guild),
            ("GET", p + "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", p + "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("GET", p + "/channels/{channel_id}", self._get_channel),
            ("PATCH", p + "/channels/{channel_id}", self._patch_channel),
            ("GET", p + "/channels/{channel_id}/messages", self._get_messages),
            ("POST", p + "/channels/{channel_id}/messages", self._post_message),
            ("GET", p + "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", p + "/channels/{channel_id}/messages/{message_id}", self._patch_message),
            ("DELETE", p + "/channels/{channel_id}/messages/{message_id}", self._delete_message),
            ("POST", p + "/channels/{channel_id}/messages/{message_id}/threads", self._thread_from_message),
            ("POST", p + "/channels/{channel_id}/threads", self._thread_without_message),
            ("PUT", p + "/channels/{channel_id}/thread-members/@me", self._no_content),
            ("DELETE", p + "/channels/{channel_id}/thread-members/@me", self._no_content),
            ("POST", p + "/channels/{channel_id}/typing", self._typing),
            ("PUT", p + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._react),
            ("DELETE", p + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._react),
            ("POST", p + "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", p + "/webhooks/{app_id}/{token}", self._followup),
            ("GET", p + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("PATCH", p + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
            ("DELETE", p + "/webhooks/{app_id}/{token}/messages/{message_id}", self._webhook_message),
        ]
        for method, path, handler in routes:
            router.add_route(method, path, handler)
        router.add_route("*", "/{tail:.*}", self._unknown)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(self.api_path + "/"):
            _current.set(None)  # keep-alive connections reuse one task for several requests
            return await handler(request)
        rel = request.path[len(self.api_path) :]
        body, parts = await read_body(request)
        auth = request.headers.get("Authorization")
        rec = RecordedRequest(request.method, rel, dict(request.query), body, parts, auth)
        self.requests.append(rec)
        _current.set(rec)
        response: web.StreamResponse
        try:
            fault = self._take_fault(request.method, rel)
            if fault is not None:
                response = json_response(fault.body, fault.status, fault.headers)
            elif not rel.startswith(("/webhooks/", "/interactions/")) and rec.authorization != f"Bot {self.token}":
                response = ApiError(401, 0, "401: Unauthorized").response()
            else:
                response = await handler(request)
        except ApiError as e:
            response = e.response()
        except Exception as e:  # an emulator bug: answer 400 (discord.py retries 5xx with long sleeps)
            self.errors.append(f"{request.method} {rel}: {traceback.format_exc()}")
            log.exception("discord emulator failed on %s %s", request.method, rel)
            response = ApiError(400, 0, f"emulator error: {e!r}").response()
        rec.status = response.status
        return response

    def _take_fault(self, method: str, rel: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.pattern.fullmatch(rel):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _unknown(self, request: web.Request) -> web.Response:
        rec = _current.get() or RecordedRequest(
            request.method, request.path, dict(request.query), None, [], request.headers.get("Authorization")
        )
        rec.status = 404
        self.unknown_requests.append(rec)
        return ApiError(404, 0, "404: Not Found").response()

    async def _cdn_get(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/media")
        stored = self._cdn.get(path)
        status = 200 if stored is not None else 404
        self.cdn_requests.append(
            CdnRequest(request.method, str(request.url), request.path, request.headers.get("Authorization"), status)
        )
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type=stored.content_type or "application/octet-stream")

    # -- REST handlers ----------------------------------------------------------------------------------------

    async def _no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _get_gateway(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response({**self.bot_user, "verified": True, "mfa_enabled": False, "email": None})

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["user_id"])
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user)

    async def _create_dm(self, request: web.Request) -> web.Response:
        recipient = str(_body().get("recipient_id"))
        if recipient not in self.users:
            raise ApiError(400, 50007, "Cannot send messages to this user")
        return json_response(self.channels[self.open_dm(recipient)])

    async def _get_application(self, request: web.Request) -> web.Response:
        owner = self.users[self.guilds[self.guild_id]["owner_id"]]
        return json_response(
            {
                "id": self.application_id,
                "name": self.bot_user["username"],
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner,
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot_user,
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "tags": [],
            }
        )

    def _command_scope(self, request: web.Request) -> str | None:
        if request.match_info["app_id"] != self.application_id:
            raise ApiError(404, 10002, "Unknown Application")
        gid = request.match_info.get("guild_id")
        if gid is not None and gid not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return gid

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.commands.get(self._command_scope(request), []))

    def _register(self, scope: str | None, body: list[JSON]) -> list[JSON]:
        validate_commands(body)
        previous = {(c["name"], c["type"]): c["id"] for c in self.commands.get(scope, [])}
        out = [
            command_response(c, previous.get((c["name"], c.get("type", 1))) or snowflake(), self.application_id, scope)
            for c in body
        ]
        return out

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body = _request().json
        if not isinstance(body, list):
            raise form_error("commands", "BASE_TYPE_REQUIRED", "This field is required")
        self.commands[scope] = self._register(scope, body)
        return json_response(self.commands[scope])

    async def _post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        (cmd,) = self._register(scope, [_request().json])
        others = [c for c in self.commands.get(scope, []) if (c["name"], c["type"]) != (cmd["name"], cmd["type"])]
        self.commands[scope] = [*others, cmd]
        return json_response(cmd, 201)

    def _guild_or_404(self, request: web.Request) -> str:
        gid = request.match_info["guild_id"]
        if gid not in self.guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        return gid

    async def _get_guild(self, request: web.Request) -> web.Response:
        return json_response(guild_payload(self.guilds[self._guild_or_404(request)]))

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        gid = self._guild_or_404(request)
        return json_response(
            [c for c in self.channels.values() if c.get("guild_id") == gid and c["type"] not in THREAD_TYPES]
        )

    async def _get_member(self, request: web.Request) -> web.Response:
        gid = self._guild_or_404(request)
        member = self.guilds[gid]["members"].get(request.match_info["user_id"])
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(member_payload(member, self.users[request.match_info["user_id"]]))

    def _channel_or_404(self, request: web.Request) -> JSON:
        channel = self.channels.get(request.match_info["channel_id"])
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _message_or_404(self, request: web.Request) -> JSON:
        channel = self._channel_or_404(request)
        msg = self.messages.get(request.match_info["message_id"])
        if msg is None or msg["channel_id"] != channel["id"] or msg["flags"] & FLAG_EPHEMERAL:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel_or_404(request))

    async def _patch_channel(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        body = _body()
        if "name" in body:
            validate_thread_name(body["name"])
            channel["name"] = body["name"]
        if channel["type"] in THREAD_TYPES:
            meta = channel["thread_metadata"]
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body and body[key] is not None:
                    meta[key] = body[key]
            if "archived" in body:
                meta["archive_timestamp"] = now_iso()
            self._broadcast("THREAD_UPDATE", channel)
        else:
            for key in ("topic", "nsfw", "rate_limit_per_user"):
                if key in body:
                    channel[key] = body[key]
            self._broadcast("CHANNEL_UPDATE", channel)
        return json_response(channel)

    async def _get_messages(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        q = request.query
        limit = min(int(q.get("limit", 50)), 100)
        msgs = [m for m in self.channel_messages(channel["id"]) if not m["flags"] & FLAG_EPHEMERAL]
        if "before" in q:
            msgs = [m for m in msgs if int(m["id"]) < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if int(m["id"]) > int(q["after"])][:limit]
        return json_response([rest_message(m) for m in reversed(msgs)][:limit])

    async def _post_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        parts = _files()
        is_thread = channel["type"] in THREAD_TYPES
        self._require_permission(channel, SEND_MESSAGES_IN_THREADS if is_thread else SEND_MESSAGES)
        if parts:
            self._require_permission(channel, ATTACH_FILES)
        if is_thread and channel["thread_metadata"].get("locked"):
            raise ApiError(403, 50083, "Thread is locked")
        body = _body()
        flags = int(body.get("flags") or 0) & _MESSAGE_FLAGS_ALLOWED & ~FLAG_EPHEMERAL
        msg = self._bot_message(channel["id"], body, parts, limit=self.upload_limit_for(channel["id"]), flags=flags)
        self._post(msg)
        return json_response(rest_message(msg))

    async def _get_message(self, request: web.Request) -> web.Response:
        return json_response(rest_message(self._message_or_404(request)))

    async def _patch_message(self, request: web.Request) -> web.Response:
        msg = self._message_or_404(request)
        if msg["author"]["id"] != self.bot_user["id"]:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(msg, _body(), _files(), self.upload_limit_for(msg["channel_id"]))
        self._update(msg)
        return json_response(rest_message(msg))

    async def _delete_message(self, request: web.Request) -> web.Response:
        msg = self._message_or_404(request)
        if msg["author"]["id"] != self.bot_user["id"]:
            if not msg.get("guild_id"):
                raise ApiError(403, 50003, "Cannot execute action on a DM channel")
            self._require_permission(self.channels[msg["channel_id"]], MANAGE_MESSAGES)
        self._delete(msg)
        return web.Response(status=204)

    def _open_thread(self, parent: JSON, thread_id: str, body: JSON, kind: int) -> JSON:
        validate_thread_name(body.get("name"))
        thread = thread_payload(
            thread_id,
            parent,
            body["name"],
            self.bot_user["id"],
            type=kind,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            invitable=body.get("invitable", True) is not False,
        )
        self.channels[thread_id] = thread
        self._broadcast("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        parent = self._channel_or_404(request)
        if parent["type"] not in (CHANNEL_TEXT, CHANNEL_NEWS):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        msg = self._message_or_404(request)
        self._require_permission(parent, CREATE_PUBLIC_THREADS)
        if msg["id"] in self.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        kind = CHANNEL_NEWS_THREAD if parent["type"] == CHANNEL_NEWS else CHANNEL_PUBLIC_THREAD
        thread = self._open_thread(parent, msg["id"], _body(), kind)  # thread id == message id
        msg["flags"] |= FLAG_HAS_THREAD
        msg["thread"] = thread
        return json_response(thread, 201)

    async def _thread_without_message(self, request: web.Request) -> web.Response:
        parent = self._channel_or_404(request)
        if parent["type"] not in (CHANNEL_TEXT, CHANNEL_NEWS):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        body = _body()
        kind = int(body.get("type") or CHANNEL_PRIVATE_THREAD)
        if kind not in (CHANNEL_PUBLIC_THREAD, CHANNEL_PRIVATE_THREAD, CHANNEL_NEWS_THREAD):
            raise form_error("type", "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
        need = CREATE_PRIVATE_THREADS if kind == CHANNEL_PRIVATE_THREAD else CREATE_PUBLIC_THREADS
        self._require_permission(parent, need)
        return json_response(self._open_thread(parent, snowflake(), body, kind), 201)

    async def _typing(self, request: web.Request) -> web.Response:
        self.typing.append(self._channel_or_404(request)["id"])
        return web.Response(status=204)

    async def _react(self, request: web.Request) -> web.Response:
        msg = self._message_or_404(request)
        emoji = request.match_info["emoji"]
        entry = {"channel_id": msg["channel_id"], "message_id": msg["id"], "emoji": emoji}
        mine = [r for r in msg["reactions"] if r["emoji"]["name"] == emoji]
        if request.method == "PUT":
            self.reactions.append({**entry, "user_id": self.bot_user["id"]})
            if not mine:
                msg["reactions"].append({"count": 1, "me": True, "emoji": {"id": None, "name": emoji}})
        else:
            self.reactions = [r for r in self.reactions if r != {**entry, "user_id": self.bot_user["id"]}]
            msg["reactions"] = [r for r in msg["reactions"] if r["emoji"]["name"] != emoji]
        return web.Response(status=204)

    # -- interaction and webhook handlers ---------------------------------------------------------------------

    async def _callback(self, request: web.Request) -> web.Response:
        rec = self.interactions.get(request.match_info["interaction_id"])
        if rec is None or rec.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        elapsed = asyncio.get_running_loop().time() - rec.dispatched_at
        if self.ack_timeout is not None and not rec.callbacks and elapsed > self.ack_timeout:
            raise ApiError(404, 10062, "Unknown interaction")
        if rec.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = _body()
        parts = _files()
        kind = int(body.get("type", 0))
        data: JSON = body.get("data") or {}
        limit = rec.payload["attachment_size_limit"]
        message: JSON | None = None
        files_before = set(self.files)
        if kind == 4 or kind == 5:
            flags = int(data.get("flags") or 0) & _MESSAGE_FLAGS_ALLOWED
            if kind == 5:
                loading = (flags & FLAG_EPHEMERAL) | FLAG_LOADING
                message = self._interaction_message(rec, {}, [], loading, require_body=False)
            else:
                message = self._interaction_message(rec, data, parts, flags)
            rec.original_message_id = message["id"]
            self._post(message)
        elif kind in (6, 7):
            # Components (and modals opened from one) update their message; a bare modal may just be acked.
            if rec.type not in (3, 5) or (kind == 7 and rec.message_id is None):
                raise form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid response type {kind}")
            rec.original_message_id = rec.message_id
            if kind == 7 and rec.message_id is not None:
                message = self._message(rec.message_id)
                self._apply_edit(message, data, parts, limit)
                self._update(message)
        elif kind == 9:
            if rec.type == 5:
                raise ApiError(400, 50035, "A modal cannot open another modal")
            validate_modal(data)
            rec.modal = data
        elif kind == 8:
            if rec.type != 4:
                raise form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")
        else:
            raise form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid response type {kind}")
        uploaded = [f for att_id, f in self.files.items() if att_id not in files_before]
        callback = {"type": kind, "data": data, "files": uploaded}
        rec.callbacks.append(callback)
        self.interaction_responses.append({"interaction_id": rec.id, "token": rec.token, **callback})
        out: JSON = {"interaction": {"id": rec.id, "type": rec.type}, "resource": {"type": kind}}
        if rec.original_message_id and kind in (4, 5, 6, 7):
            out["interaction"]["response_message_id"] = rec.original_message_id
            out["interaction"]["response_message_loading"] = kind == 5
            answered = self.messages.get(rec.original_message_id, {})
            out["interaction"]["response_message_ephemeral"] = bool(answered.get("flags", 0) & FLAG_EPHEMERAL)
        if message is not None:
            out["resource"]["message"] = rest_message(message)
        return json_response(out)

    async def _followup(self, request: web.Request) -> web.Response:
        rec = self._interaction_by_token(request.match_info["app_id"], request.match_info["token"])
        if not rec.callbacks:
            raise ApiError(404, 10015, "Unknown Webhook")
        body = _body()
        parts = _files()
        original = self.messages.get(rec.original_message_id or "")
        if original is not None and original["flags"] & FLAG_LOADING:
            # The first followup after a thinking defer resolves the loading message; its flags are ignored.
            self._apply_edit(original, body, parts, rec.payload["attachment_size_limit"])
            original["flags"] &= ~FLAG_LOADING
            self._update(original)
            msg = original
        else:
            flags = int(body.get("flags") or 0) & _MESSAGE_FLAGS_ALLOWED
            msg = self._interaction_message(rec, body, parts, flags)
            thread_id = request.query.get("thread_id")
            if thread_id:
                if thread_id not in self.threads:
                    raise ApiError(404, 10003, "Unknown Channel")
                msg["channel_id"] = thread_id
            self._post(msg)
        rec.followup_message_ids.append(msg["id"])
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(rest_message(msg))
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        rec = self._interaction_by_token(request.match_info["app_id"], request.match_info["token"])
        mid = request.match_info["message_id"]
        if mid == "@original":
            mid = rec.original_message_id or ""
        elif mid not in rec.followup_message_ids:
            raise ApiError(404, 10008, "Unknown Message")
        msg = self.messages.get(mid)
        if msg is None:
            raise ApiError(404, 10008, "Unknown Message")
        if request.method == "DELETE":
            self._delete(msg)
            return web.Response(status=204)
        if request.method == "PATCH":
            self._apply_edit(msg, _body(), _files(), rec.payload["attachment_size_limit"])
            msg["flags"] &= ~FLAG_LOADING
            self._update(msg)
        return json_response(rest_message(msg))
