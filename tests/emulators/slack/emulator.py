"""Local Slack for tests: a mock Web API for slack-sdk's ``AsyncWebClient(base_url=emu.api_url)``,
token-guarded ``url_private`` files, ``response_url`` hooks, and signed deliveries to a running Bolt app.

Nothing reaches the app unless a ``send_*`` helper is called. Wire facts: /work/shared/notes/slack-protocol.md
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.emulators.slack.events import (
    DEFAULT_CHANNEL,
    DEFAULT_USER,
    SendOptions,
    SentRequest,
    SignedDeliveries,
    SignedResponse,
    app_mention_event,
    message_event,
    new_id,
    next_ts,
    sign,
)
from tests.emulators.slack.files import UPLOAD_STEP, FileFetch, Files, UploadedFile
from tests.emulators.slack.server import ForeignHost, RecordedRequest, _LocalServer, serve_bolt_app
from tests.emulators.slack.socket_mode import SocketModeLink
from tests.emulators.slack.web_api import ApiCall, WebApi, _read_args, _SlackError
from tests.support import until

__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "DEFAULT_CHANNEL",
    "DEFAULT_USER",
    "SIGNING_SECRET",
    "UPLOAD_STEP",
    "ApiCall",
    "FileFetch",
    "ForeignHost",
    "HookPost",
    "RecordedRequest",
    "SendOptions",
    "SentRequest",
    "SignedResponse",
    "SlackEmulator",
    "UploadedFile",
    "app_mention_event",
    "message_event",
    "next_ts",
    "serve_bolt_app",
    "sign",
]

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"  # Socket Mode: only apps.connections.open takes it
SIGNING_SECRET = "test-signing-secret"
SCOPES = (
    "app_mentions:read,channels:history,chat:write,commands,files:read,files:write,"
    "groups:history,im:history,mpim:history,reactions:write,users:read"
)
_Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class HookPost:
    """A POST to a ``response_url`` handed out with a command or an interaction."""

    kind: str
    channel: str
    body: dict[str, Any]


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int


class SlackEmulator(WebApi, Files, SignedDeliveries, SocketModeLink, _LocalServer):
    """The Slack Web API, file hosting and response_url hooks on one local port, plus signed-request senders."""

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        signing_secret: str = SIGNING_SECRET,
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        scopes: str = SCOPES,
        host: str = "127.0.0.1",
        app_url: str | None = None,
    ) -> None:
        super().__init__(host)
        self.bot_token, self.signing_secret, self.scopes = bot_token, signing_secret, scopes
        self.team_id, self.bot_user_id, self.bot_id, self.app_id = team_id, bot_user_id, bot_id, app_id
        self.app_url = app_url
        self.tokens: set[str] = {bot_token}
        self.app_token = app_token
        self._init_socket_mode()
        self.trigger_ttl = 3.0  # Slack's trigger_id lifetime
        self.share_delay = 0.0  # files.info shows shares only this long after completeUploadExternal
        self.calls: list[ApiCall] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.deleted: list[dict[str, Any]] = []
        self.deleted_files: list[str] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.reactions: dict[tuple[str, str], list[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.file_bytes: dict[str, bytes] = {}
        self.uploads: list[UploadedFile] = []
        self.file_fetches: list[FileFetch] = []
        self.hook_posts: list[HookPost] = []
        self.sent: list[SentRequest] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._redirects: dict[str, str] = {}
        self._shared_at: dict[str, float] = {}
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._handlers: dict[str, _Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "reactions.add": self._reaction_add,
            "reactions.remove": self._reaction_remove,
            "conversations.replies": self._replies,
            "conversations.history": self._history,
            "conversations.info": lambda a: {"channel": self.channel_info(a.get("channel", ""))},
            "conversations.open": lambda a: {"channel": {"id": "D" + str(a.get("users", "")).split(",")[0]}},
            "users.info": lambda a: {"user": self.user_info(a.get("user", ""))},
            "bots.info": lambda a: {"bot": {"id": self.bot_id, "app_id": self.app_id, "user_id": self.bot_user_id}},
            "views.open": lambda a: self._open_view(a, push=False),
            "views.push": lambda a: self._open_view(a, push=True),
            "views.update": self._update_view,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._file_info,
            "files.delete": self._delete_file,
            "assistant.threads.setStatus": lambda a: {},
            "apps.connections.open": self._connections_open,
        }

    # ---- lifecycle and URLs

    @property
    def api_url(self) -> str:
        """Pass as ``AsyncWebClient(base_url=...)`` (or SLACK_API_URL)."""
        return f"{self.url}/api/"

    async def stop(self) -> None:
        await self.close_deliveries()
        await self.close_sockets()
        await super().stop()

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/api/{method}", self._api),
            web.post("/upload/v1/{file_id}", self._upload),
            web.get("/files-pri/{key}/{tail:.*}", self._serve_file),
            web.post("/hooks/{kind}/{channel}/{n}", self._hook),
            web.get("/link/", self._link),
        ]

    # ---- scripting

    def fail_next(
        self, method: str, times: int = 1, *, status: int = 429, retry_after: int | None = 1, error: str | None = None
    ) -> None:
        """Make the next ``times`` calls to ``method`` (or UPLOAD_STEP) fail: HTTP ``status`` (429 sends
        ``Retry-After``), or with ``status=200, error=...`` an ``{"ok": false, "error": ...}`` answer."""
        self._faults.setdefault(method, []).append(_Fault(status, retry_after, error, times))

    def add_user(self, user_id: str, name: str = "user", *, is_admin: bool = False, **extra: Any) -> dict[str, Any]:
        self.users[user_id] = {**self._default_user(user_id), "name": name, "is_admin": is_admin, **extra}
        return self.users[user_id]

    def add_channel(self, channel_id: str, name: str = "general", **extra: Any) -> dict[str, Any]:
        """Register a channel; e.g. ``is_member=False`` makes posts answer ``not_in_channel``."""
        self.channels[channel_id] = {**self._default_channel(channel_id), "name": name, **extra}
        return self.channels[channel_id]

    def register_file(
        self,
        data: bytes,
        name: str = "image.png",
        mimetype: str | None = None,
        *,
        size: int | None = None,
        user: str = DEFAULT_USER,
        redirect_to: str | None = None,
    ) -> dict[str, Any]:
        """Host a user's file; returns the Slack file object to embed in events. ``redirect_to`` makes an
        authorized fetch answer 302 there (as Slack redirects to its CDN)."""
        obj = self._make_file(new_id("F"), data, name, name, mimetype, user)
        if size is not None:
            obj["size"] = size
        if redirect_to is not None:
            self._redirects[obj["id"]] = redirect_to
        return copy.deepcopy(obj)

    def user_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = DEFAULT_USER,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Store a human's message in the channel history and return its ``message`` event (for send_event)."""
        event = message_event(channel, text, user=user, thread_ts=thread_ts, files=files, team=self.team_id)
        stored = {k: v for k, v in event.items() if k not in ("channel", "event_ts", "channel_type")}
        self._store(channel, stored)
        return event

    # ---- inspection

    def calls_to(self, method: str, *, ok_only: bool = False) -> list[ApiCall]:
        """Calls to ``method`` in order, scripted failures included unless ``ok_only``."""
        return [
            c
            for c in self.calls
            if c.method == method and (not ok_only or (c.status == 200 and (c.response or {"ok": True})["ok"]))
        ]

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        ok_only: bool = False,
    ) -> list[ApiCall]:
        """Wait until ``method`` was called at least ``count`` times; returns those calls."""

        def enough() -> list[ApiCall]:
            calls = self.calls_to(method, ok_only=ok_only)
            return calls if len(calls) >= count else []

        try:
            return await until(enough, timeout)
        except TimeoutError:
            got = len(self.calls_to(method, ok_only=ok_only))
            raise TimeoutError(f"expected {count} call(s) to {method} within {timeout} s, got {got}") from None

    def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The root and its replies, oldest first."""
        return [m for m in self.messages.get(channel, []) if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    def bot_messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        chans = [channel] if channel else list(self.messages)
        return [m for c in chans for m in self.messages.get(c, []) if m.get("bot_id") == self.bot_id]

    def channel_info(self, channel_id: str) -> dict[str, Any]:
        return self.channels.get(channel_id) or self._default_channel(channel_id)

    def user_info(self, user_id: str) -> dict[str, Any]:
        return self.users.get(user_id) or self._default_user(user_id)

    def hook_url(self, kind: str, channel: str) -> str:
        """A ``response_url`` on this emulator; what is POSTed there lands in ``hook_posts``."""
        return f"{self.url}/hooks/{kind}/{channel}/{new_id('')}"

    def issue_trigger(self) -> str:
        trigger = f"{new_id('')}.{self.team_id}.{time.time_ns():x}"
        self._triggers[trigger] = time.monotonic()
        return trigger

    # ---- HTTP handlers

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.pop("token", None)
        args.pop("token", None)
        call = ApiCall(method, args, token, peer=request.transport and request.transport.get_extra_info("peername"))
        self.calls.append(call)
        fault = self._take_fault(method)
        headers = {"x-oauth-scopes": self.scopes, "x-accepted-oauth-scopes": ""}
        if fault and fault.status != 200:
            call.status = fault.status
            call.response = {"ok": False, "error": "ratelimited" if fault.status == 429 else "internal_error"}
            if fault.status == 429 and fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return web.json_response(call.response, status=fault.status, headers=headers)
        handler = self._handlers.get(method)
        try:
            if token is None:
                raise _SlackError("not_authed")
            if method == "apps.connections.open":  # the one method that wants the xapp- token
                if token != self.app_token:
                    raise _SlackError("not_allowed_token_type" if token in self.tokens else "invalid_auth")
            elif token not in self.tokens:
                raise _SlackError("invalid_auth")
            if fault:
                raise _SlackError(fault.error or "fatal_error")
            if handler is None:
                raise _SlackError("unknown_method")
            call.response = {"ok": True, **handler(args)}
        except _SlackError as exc:
            call.response = {"ok": False, "error": exc.error}
        return web.json_response(call.response, headers=headers)

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.text()
        body = json.loads(raw) if raw.strip().startswith("{") else {"text": raw}
        channel = request.match_info["channel"]
        self.hook_posts.append(HookPost(request.match_info["kind"], channel, body))
        if body.get("response_type") == "in_channel" and not body.get("replace_original"):
            self._store(channel, self._bot_message(body.get("text", ""), body.get("blocks"), body.get("thread_ts")))
        return web.Response(text="ok")

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault


