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

import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Self

import yarl
from aiohttp import web

from tests.emulators.discord.context import _current
from tests.emulators.discord.gateway import Gateway, _Connection, _Session
from tests.emulators.discord.interactions import Interactions
from tests.emulators.discord.payloads import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_UPLOAD_LIMIT,
    JSON,
    MANAGE_MESSAGES,
    PRIVILEGED_INTENTS,
    ApiError,
    CdnRequest,
    InteractionRecord,
    RecordedRequest,
    StoredFile,
    json_response,
    read_body,
)
from tests.emulators.discord.rest import Rest
from tests.emulators.discord.world import World

__all__ = ["DiscordEmulator", "point_discord_at"]

log = logging.getLogger(__name__)


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


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: JSON
    headers: dict[str, str]
    times: int


class DiscordEmulator(World, Gateway, Interactions, Rest):
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
