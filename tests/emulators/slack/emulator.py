"""Local Slack for tests: a mock Web API for slack-sdk's ``AsyncWebClient(base_url=emu.api_url)``,
token-guarded ``url_private`` files, ``response_url`` hooks, and signed deliveries to a running Bolt app.

Nothing reaches the app unless a ``send_*`` helper is called. Wire facts: /work/shared/notes/slack-protocol.md
"""

from __future__ import annotations

import copy
import json
import mimetypes
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote

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
from tests.emulators.slack.socket_mode import SocketModeLink
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
UPLOAD_STEP = "upload"  # fail_next() key for files_upload_v2's raw POST to the upload URL
SCOPES = (
    "app_mentions:read,channels:history,chat:write,commands,files:read,files:write,"
    "groups:history,im:history,mpim:history,reactions:write,users:read"
)
LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"
_JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")
_Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class ApiCall:
    """One Web API request as the emulator saw it (failed attempts included)."""

    method: str
    args: dict[str, Any]
    token: str | None
    status: int = 200
    response: dict[str, Any] | None = None
    peer: Any = None  # the client's (host, port): which connection carried the call


@dataclass
class UploadedFile:
    """A file completed through files_upload_v2, with its bytes and where it was shared."""

    id: str
    filename: str
    title: str
    data: bytes
    mimetype: str
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None
    alt_txt: str | None
    message_ts: str | None


@dataclass
class FileFetch:
    """A GET on ``url_private``/``url_private_download`` and the Authorization header it carried."""

    path: str
    file_id: str
    authorization: str | None
    status: int
    served_bytes: bool


@dataclass
class HookPost:
    """A POST to a ``response_url`` handed out with a command or an interaction."""

    kind: str
    channel: str
    body: dict[str, Any]


@dataclass
class RecordedRequest:
    """Any request a ForeignHost received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int


class _LocalServer:
    """An aiohttp server on a random port of ``host``; ``url_host`` (default ``host``) is what URLs name."""

    def __init__(self, host: str = "127.0.0.1", url_host: str | None = None) -> None:
        self.host = host
        self.url_host = url_host or host
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.url_host}:{self.port}"

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application(client_max_size=128 * 1024 * 1024)
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class ForeignHost(_LocalServer):
    """A non-Slack host (127.0.0.2 by default) that records every request, to prove no token is sent there."""

    def __init__(self, host: str = "127.0.0.2", url_host: str | None = None) -> None:
        super().__init__(host, url_host)
        self.requests: list[RecordedRequest] = []
        self._content: dict[str, tuple[int, bytes, str, dict[str, str]]] = {}

    def serve(self, path: str, data: bytes, content_type: str = "image/png") -> str:
        """Answer GET ``path`` with ``data``; returns the absolute URL."""
        self._content[path] = (200, data, content_type, {})
        return self.url + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self._content[path] = (status, b"", "text/plain", {"Location": location})
        return self.url + path

    @property
    def authorizations(self) -> list[str]:
        """Every Authorization header this host was sent (should stay empty)."""
        return [r.headers["Authorization"] for r in self.requests if "Authorization" in r.headers]

    def _routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/{tail:.*}", self._handle)]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body))
        if request.path not in self._content:
            return web.Response(status=404, text="not found")
        status, data, ctype, headers = self._content[request.path]
        return web.Response(status=status, body=data, content_type=ctype, headers=headers)


@asynccontextmanager
async def serve_bolt_app(app: Any, *, host: str = "127.0.0.1", path: str = "/slack/events") -> AsyncIterator[str]:
    """Serve a slack_bolt ``AsyncApp`` (or any aiohttp Application) on a random port; yields its events URL."""
    web_app = app if isinstance(app, web.Application) else app.web_app(path=path)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, 0).start()
        yield f"http://{host}:{runner.addresses[0][1]}{path}"
    finally:
        await runner.cleanup()


class SlackEmulator(SignedDeliveries, SocketModeLink, _LocalServer):
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

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        call = ApiCall(UPLOAD_STEP, {"file_id": file_id, "length": len(data)}, request.headers.get("Authorization"),
                       peer=request.transport and request.transport.get_extra_info("peername"))
        self.calls.append(call)
        fault = self._take_fault(UPLOAD_STEP)
        if fault:
            call.status = fault.status
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.Response(status=fault.status, text="rate limited", headers=headers)
        if file_id not in self._pending:
            call.status = 404
            return web.Response(status=404, text="upload not found")
        self._pending[file_id]["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["key"].split("-", 1)[-1]
        auth = request.headers.get("Authorization")
        authorized = auth is not None and auth.startswith("Bearer ") and auth[len("Bearer ") :] in self.tokens
        # without files:read, a valid token still gets the sign-in page, as on real Slack
        authorized = authorized and "files:read" in self.scopes.split(",")
        fetch = FileFetch(request.path, file_id, auth, 200, False)
        self.file_fetches.append(fetch)
        if not authorized:  # real Slack answers a login page, not a 401
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if file_id not in self.file_bytes:
            fetch.status = 404
            return web.Response(status=404, text="<html>File not found</html>", content_type="text/html")
        if file_id in self._redirects:
            fetch.status = 302
            raise web.HTTPFound(self._redirects[file_id])
        fetch.served_bytes = True
        return web.Response(body=self.file_bytes[file_id], content_type=self.files[file_id]["mimetype"])

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

    # ---- Web API methods

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://test.slack.com/",
            "team": "Test Workspace",
            "user": "imagebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(args)
        text, blocks = args.get("text") or "", args.get("blocks")
        if not text and not blocks and not args.get("attachments"):
            raise _SlackError("no_text")
        self._check_content(text, blocks)
        msg = self._bot_message(text, blocks, args.get("thread_ts"), args.get("metadata"))
        self._store(channel, msg)
        return {"channel": channel, "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, msg = self._own_message(args, "cant_update_message")
        self._check_content(args.get("text") or "", args.get("blocks"))
        for key in ("text", "blocks", "metadata"):
            if args.get(key) is not None:
                msg[key] = args[key]
        msg["edited"] = {"user": self.bot_user_id, "ts": next_ts()}
        return {"channel": channel, "ts": msg["ts"], "text": msg["text"], "message": copy.deepcopy(msg)}

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, msg = self._own_message(args, "cant_delete_message")
        self.messages[channel].remove(msg)
        self.deleted.append({"channel": channel, **msg})
        return {"channel": channel, "ts": msg["ts"]}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(args)
        if not args.get("user"):
            raise _SlackError("user_not_in_channel")
        ts = next_ts()
        keys = ("user", "text", "blocks", "thread_ts")
        self.ephemerals.append({"channel": channel, "message_ts": ts, **{k: args.get(k) for k in keys}})
        return {"message_ts": ts}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("message_ts", "")
        msg = self.find_message(channel, ts) or _raise("message_not_found")
        link = f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if msg.get("thread_ts") and msg["thread_ts"] != ts:
            link += f"?thread_ts={msg['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _reaction_add(self, args: dict[str, Any]) -> dict[str, Any]:
        names = self.reactions.setdefault((args.get("channel", ""), args.get("timestamp", "")), [])
        if args.get("name") in names:
            raise _SlackError("already_reacted")
        names.append(args.get("name", ""))
        return {}

    def _reaction_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        names = self.reactions.get((args.get("channel", ""), args.get("timestamp", "")), [])
        if args.get("name") not in names:
            raise _SlackError("no_reaction")
        names.remove(args["name"])
        return {}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("ts", "")
        self._readable_channel(channel)
        msg = self.find_message(channel, ts) or _raise("thread_not_found")
        return _page(self.thread(channel, msg.get("thread_ts", ts)), args, 1000)

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel", "")
        self._readable_channel(channel)
        tops = [m for m in self.messages.get(channel, []) if m.get("thread_ts", m["ts"]) == m["ts"]]
        return _page(list(reversed(tops)), args, 100)

    def _open_view(self, args: dict[str, Any], *, push: bool) -> dict[str, Any]:
        self._use_trigger(args.get("trigger_id"))
        view = self._check_view(args)
        view_id = new_id("V")
        root = list(self.views.values())[-1]["root_view_id"] if push and self.views else view_id
        return {"view": self._store_view(view_id, view, root)}

    def _update_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view(args)
        found = self.views.get(args.get("view_id", "")) or next(
            (v for v in self.views.values() if args.get("external_id") and v["external_id"] == args["external_id"]),
            None,
        )
        if found is None:
            raise _SlackError("not_found")
        if args.get("hash") and args["hash"] != found["hash"]:
            raise _SlackError("hash_conflict")
        return {"view": self._store_view(found["id"], view, found["root_view_id"])}

    def _get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename"):
            raise _SlackError("invalid_arguments")
        if not str(args.get("length", "0")).isdigit() or int(args["length"]) <= 0:
            raise _SlackError("missing_argument")
        if len(args.get("alt_txt") or "") > 1000:
            raise _SlackError("alt_txt_too_large")
        file_id = new_id("F")
        self._pending[file_id] = {**args, "data": None}
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise _SlackError("invalid_arguments")
        if any(self._pending.get(i.get("id", ""), {}).get("data") is None for i in items):
            raise _SlackError("file_not_found")
        targets = [args["channel_id"]] if args.get("channel_id") else _split(args.get("channels"))
        for channel in targets:
            self._writable_channel({"channel": channel})
        thread_ts, comment = args.get("thread_ts"), args.get("initial_comment")
        objs, alts = [], []
        for item in items:
            pending = self._pending.pop(item["id"])
            name = pending["filename"]
            objs.append(self._make_file(item["id"], pending["data"], name, item.get("title") or name, None, None))
            alts.append(pending.get("alt_txt"))
        message_ts = None
        for channel in targets:
            msg = self._bot_message(comment or "", None, thread_ts, files=copy.deepcopy(objs))
            self._store(channel, msg)
            message_ts = message_ts or msg["ts"]
            kind = "public" if channel.startswith("C") else "private"
            share = {"ts": msg["ts"], "channel_name": self.channel_info(channel)["name"], "team_id": self.team_id}
            if thread_ts:
                share["thread_ts"] = thread_ts
            for obj in objs:
                obj.setdefault("shares", {}).setdefault(kind, {})[channel] = [dict(share)]
                self._shared_at[obj["id"]] = time.monotonic() + self.share_delay
        for obj, alt in zip(objs, alts, strict=True):
            self.uploads.append(
                UploadedFile(
                    id=obj["id"],
                    filename=obj["name"],
                    title=obj["title"],
                    data=self.file_bytes[obj["id"]],
                    mimetype=obj["mimetype"],
                    channel=targets[0] if targets else None,
                    thread_ts=thread_ts,
                    initial_comment=comment,
                    alt_txt=alt,
                    message_ts=message_ts,
                )
            )
        return {"files": [self._public_file(o, shares=False) for o in objs]}

    def _file_info(self, args: dict[str, Any]) -> dict[str, Any]:
        obj = self.files.get(args.get("file", "")) or _raise("file_not_found")
        shared = time.monotonic() >= self._shared_at.get(obj["id"], float("inf"))
        return {"file": self._public_file(obj, shares=shared)}

    def _delete_file(self, args: dict[str, Any]) -> dict[str, Any]:
        """A bot may delete the files it uploaded; a message left with neither files nor text goes with them."""
        file_id = args.get("file", "")
        obj = self.files.get(file_id) or _raise("file_not_found")
        if obj.get("user") != self.bot_user_id:
            raise _SlackError("cant_delete_file")
        del self.files[file_id]
        self.file_bytes.pop(file_id, None)
        self.deleted_files.append(file_id)
        for channel, history in self.messages.items():
            for msg in list(history):
                if any(f.get("id") == file_id for f in msg.get("files") or ()):
                    msg["files"] = [f for f in msg["files"] if f.get("id") != file_id]
                    if not msg["files"] and not msg.get("text"):
                        history.remove(msg)
                        self.deleted.append({"channel": channel, **msg})
        return {}

    # ---- helpers for the methods

    def _writable_channel(self, args: dict[str, Any]) -> str:
        channel = args.get("channel") or ""
        if not channel:
            raise _SlackError("channel_not_found")
        if not self.channel_info(channel).get("is_member", True):
            raise _SlackError("not_in_channel")
        return channel

    def _readable_channel(self, channel: str) -> None:
        if not channel:
            raise _SlackError("channel_not_found")
        if not self.channel_info(channel).get("is_member", True):
            raise _SlackError("not_in_channel")

    def _own_message(self, args: dict[str, Any], error: str) -> tuple[str, dict[str, Any]]:
        channel = args.get("channel", "")
        msg = self.find_message(channel, args.get("ts", "")) or _raise("message_not_found")
        if msg.get("bot_id") != self.bot_id:
            raise _SlackError(error)
        return channel, msg

    @staticmethod
    def _check_content(text: str, blocks: Any) -> None:
        if len(text) > 40_000:
            raise _SlackError("msg_too_long")
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > 50):
            raise _SlackError("invalid_blocks")

    def _check_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        if len(json.dumps(view)) > 250_000:
            raise _SlackError("view_too_large")
        return view

    def _use_trigger(self, trigger_id: str | None) -> None:
        if not trigger_id:
            raise _SlackError("invalid_arguments")
        if trigger_id in self._used_triggers:
            raise _SlackError("exchanged_trigger_id")
        issued = self._triggers.get(trigger_id)
        if issued is not None and time.monotonic() - issued > self.trigger_ttl:
            raise _SlackError("expired_trigger_id")
        self._used_triggers.add(trigger_id)

    def _store_view(self, view_id: str, view: dict[str, Any], root: str) -> dict[str, Any]:
        stored = {
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "state": {"values": {}},
            "hash": f"{time.time_ns():x}",
            "root_view_id": root,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = stored
        return copy.deepcopy(stored)

    def _bot_message(
        self,
        text: str,
        blocks: Any,
        thread_ts: str | None,
        metadata: Any = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "ts": next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": text,
        }
        optional = {"blocks": blocks, "thread_ts": thread_ts, "metadata": metadata, "files": files}
        msg.update({k: v for k, v in optional.items() if v})
        return msg

    def _store(self, channel: str, msg: dict[str, Any]) -> None:
        history = self.messages.setdefault(channel, [])
        history.append(msg)
        history.sort(key=lambda m: float(m["ts"]))
        root_ts = msg.get("thread_ts")
        root = self.find_message(channel, root_ts) if root_ts and root_ts != msg["ts"] else None
        if root is not None:
            root["thread_ts"] = root["ts"]
            root["reply_count"] = root.get("reply_count", 0) + 1
            root["latest_reply"] = msg["ts"]
            root["reply_users"] = sorted({*root.get("reply_users", []), msg.get("user") or msg.get("bot_id")})

    def _make_file(
        self, file_id: str, data: bytes, name: str, title: str, mimetype: str | None, user: str | None
    ) -> dict[str, Any]:
        mimetype = mimetype or _sniff(data) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        base = f"{self.url}/files-pri/{self.team_id}-{file_id}"
        user = user or self.bot_user_id
        obj = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": title,
            "mimetype": mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": user,
            "user_team": self.team_id,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "size": len(data),
            "url_private": f"{base}/{quote(name)}",
            "url_private_download": f"{base}/download/{quote(name)}",
            "permalink": f"https://test.slack.com/files/{user}/{file_id}/{quote(name)}",
            "file_access": "visible",
        }
        self.files[file_id], self.file_bytes[file_id] = obj, data
        return obj

    @staticmethod
    def _public_file(obj: dict[str, Any], *, shares: bool) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        if not shares:
            out.pop("shares", None)
        return out

    def _default_user(self, user_id: str) -> dict[str, Any]:
        is_bot = user_id == self.bot_user_id
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": "imagebot" if is_bot else "user",
            "real_name": "Image Bot" if is_bot else "A User",
            "deleted": False,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "tz": "UTC",
            "locale": "en-US",
            "profile": {"display_name": "user", "real_name": "A User"},
        }

    @staticmethod
    def _default_channel(channel_id: str) -> dict[str, Any]:
        is_im = channel_id.startswith("D")
        return {
            "id": channel_id,
            "name": channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_group": channel_id.startswith("G"),
            "is_im": is_im,
            "is_private": not channel_id.startswith("C"),
            "is_member": True,
        }


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Merge the query string and a JSON, form or multipart body, as slack-sdk sends all three."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.text()
        args.update(json.loads(raw) if raw.strip() else {})
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in (await request.post()).items():
            args[key] = value.file.read() if isinstance(value, web.FileField) else value
    for key in _JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                args[key] = json.loads(value)
            except json.JSONDecodeError:
                pass
    return args


def _page(messages: list[dict[str, Any]], args: dict[str, Any], default_limit: int) -> dict[str, Any]:
    inclusive = str(args.get("inclusive", "0")).lower() in ("1", "true")
    oldest, latest = args.get("oldest"), args.get("latest")

    def inside(m: dict[str, Any]) -> bool:
        ts = float(m["ts"])
        if oldest and (ts < float(oldest) or (ts == float(oldest) and not inclusive)):
            return False
        return not (latest and (ts > float(latest) or (ts == float(latest) and not inclusive)))

    selected = [copy.deepcopy(m) for m in messages if inside(m)]
    start = int(args.get("cursor") or 0)
    limit = max(1, min(int(args.get("limit") or default_limit), 1000))
    page = selected[start : start + limit]
    more = start + limit < len(selected)
    return {
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def _split(value: Any) -> list[str]:
    return [v for v in str(value or "").split(",") if v]


def _sniff(data: bytes) -> str | None:
    signatures = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
    for magic, mime in signatures.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _raise(error: str) -> Any:
    raise _SlackError(error)
