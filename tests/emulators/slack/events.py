"""What Slack sends a Bolt app: v0 signatures, Events API envelopes, interactive payloads, and the
``SignedDeliveries`` mixin that POSTs them, signed, to a running app (used by ``SlackEmulator``).

Shapes follow bolt-python's test fixtures (slack-bolt 1.30); see /work/shared/notes/slack-protocol.md (a.2).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict, Unpack
from urllib.parse import urlencode

import aiohttp

DEFAULT_USER = "U0USER"
DEFAULT_CHANNEL = "C0GENERAL"
_FORM = "application/x-www-form-urlencoded"

_ts_lock = threading.Lock()
_last_ts = 0.0
_ids = itertools.count(1)


def next_ts() -> str:
    """A Slack message ts ("seconds.micros"), strictly increasing across the whole test process."""
    global _last_ts
    with _ts_lock:
        _last_ts = max(round(time.time(), 6), round(_last_ts + 0.000001, 6))
        return f"{_last_ts:.6f}"


def new_id(prefix: str) -> str:
    """A unique Slack-style id such as ``F000012`` or ``Ev000013``."""
    return f"{prefix}{next(_ids):06d}"


def sign(body: str | bytes, secret: str, timestamp: int | str) -> str:
    """Slack's v0 request signature: ``v0=`` + HMAC-SHA256(secret, ``v0:{timestamp}:{body}``)."""
    raw = body.decode() if isinstance(body, bytes) else body
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{raw}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


def message_event(
    channel: str,
    text: str = "",
    *,
    user: str | None = DEFAULT_USER,
    ts: str | None = None,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
    files: list[dict[str, Any]] | None = None,
    bot_id: str | None = None,
    subtype: str | None = None,
    channel_type: str | None = None,
    team: str = "T0TEAM",
) -> dict[str, Any]:
    """A ``message`` event: plain, a reply (``thread_ts``), ``file_share`` (``files``), or from a bot."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel": channel,
        "channel_type": channel_type or ("im" if channel.startswith("D") else "channel"),
        "team": team,
    }
    if user is not None:
        event["user"] = user
    if bot_id is not None:
        event["bot_id"] = bot_id
        subtype = subtype or ("bot_message" if user is None else None)
    if files:
        event["files"] = files
        event["upload"] = False
        subtype = subtype or "file_share"
    if subtype is not None:
        event["subtype"] = subtype
    if thread_ts is not None and thread_ts != ts:
        event["thread_ts"] = thread_ts
        if parent_user_id is not None:
            event["parent_user_id"] = parent_user_id
    return event


def app_mention_event(
    channel: str,
    text: str,
    *,
    user: str = DEFAULT_USER,
    ts: str | None = None,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
    team: str = "T0TEAM",
) -> dict[str, Any]:
    """An ``app_mention`` event; ``text`` should contain ``<@BOT_USER_ID>``."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "text": text,
        "user": user,
        "ts": ts,
        "event_ts": ts,
        "channel": channel,
        "team": team,
        "client_msg_id": new_id("cm-"),
    }
    if thread_ts is not None and thread_ts != ts:
        event["thread_ts"] = thread_ts
    if files:
        event["files"] = files
    return event


def event_envelope(
    event: dict[str, Any],
    *,
    team_id: str,
    api_app_id: str,
    bot_user_id: str,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The Events API ``event_callback`` body around ``event``."""
    return {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_id("Ev"),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str,
    channel_id: str,
    team_id: str,
    api_app_id: str,
    response_url: str,
    trigger_id: str,
    user_name: str = "user",
    channel_name: str = "general",
) -> dict[str, str]:
    """The form fields of a slash command delivery (there is never a ``thread_ts``)."""
    return {
        "token": "verification-token",
        "team_id": team_id,
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def interactive_base(
    kind: str,
    *,
    user_id: str,
    team_id: str,
    api_app_id: str,
    trigger_id: str,
) -> dict[str, Any]:
    """Fields every interactive payload shares."""
    return {
        "type": kind,
        "token": "verification-token",
        "api_app_id": api_app_id,
        "team": {"id": team_id, "domain": "test"},
        "user": {"id": user_id, "username": "user", "name": "user", "team_id": team_id},
        "trigger_id": trigger_id,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_state(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Expand ``{block: {action: "text"}}`` shorthand into ``state.values`` input objects."""
    return {
        block: {
            action: value if isinstance(value, dict) else {"type": "plain_text_input", "value": value}
            for action, value in actions.items()
        }
        for block, actions in values.items()
    }


def form_body(fields: dict[str, str]) -> str:
    """``application/x-www-form-urlencoded`` body, as Slack sends commands."""
    return urlencode(fields)


def payload_body(payload: dict[str, Any]) -> str:
    """Interactive deliveries are a form with one ``payload`` field holding JSON."""
    return urlencode({"payload": json.dumps(payload)})


class SignedResponse(NamedTuple):
    """What the Bolt app answered to a signed delivery, and how long it took."""

    status: int
    body: str
    elapsed: float


@dataclass
class SentRequest:
    """A delivery made by a ``send_*`` helper: its payload and the app's answer."""

    kind: str
    payload: dict[str, Any]
    response: SignedResponse
    url: str = ""
    body: str = ""  # the exact bytes and headers sent, for `replay`
    headers: dict[str, str] = field(default_factory=dict)


class SendOptions(TypedDict, total=False):
    url: str  # the app's events URL (default: app_url)
    timestamp: int  # X-Slack-Request-Timestamp; pass an old one to get 401
    bad_signature: bool  # sign with a wrong secret
    retry_num: int  # X-Slack-Retry-Num, as on Slack's redelivery
    retry_reason: str
    timeout: float


class SignedDeliveries:
    """``send_*`` helpers: build a payload, sign it with ``signing_secret`` and POST it to ``app_url``.

    The host class provides the attributes below and the four lookup methods.
    """

    signing_secret: str
    team_id: str
    app_id: str
    bot_user_id: str
    app_url: str | None
    views: dict[str, dict[str, Any]]
    sent: list[SentRequest]
    _session: aiohttp.ClientSession | None = None

    def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def channel_info(self, channel_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def issue_trigger(self) -> str:
        raise NotImplementedError

    def hook_url(self, kind: str, channel: str) -> str:
        raise NotImplementedError

    async def close_deliveries(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send_slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str = DEFAULT_USER,
        channel_id: str = DEFAULT_CHANNEL,
        team_id: str | None = None,
        channel_name: str = "general",
        trigger_id: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> SignedResponse:
        """POST a form-encoded slash command; its ``response_url`` points at this emulator (see hook_posts)."""
        fields = slash_command_body(
            command,
            text,
            user_id=user_id,
            channel_id=channel_id,
            team_id=team_id or self.team_id,
            api_app_id=self.app_id,
            response_url=self.hook_url("commands", channel_id),
            trigger_id=trigger_id or self.issue_trigger(),
            channel_name=channel_name,
        )
        return await self._send("command", dict(fields), form_body(fields), _FORM, opts)

    async def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        team_id: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> SignedResponse:
        """POST an Events API ``event_callback`` envelope around ``event`` (JSON)."""
        body = event_envelope(
            event,
            team_id=team_id or self.team_id,
            api_app_id=self.app_id,
            bot_user_id=self.bot_user_id,
            event_id=event_id,
        )
        return await self._send("event", body, json.dumps(body), "application/json", opts)

    async def send_block_action(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user_id: str = DEFAULT_USER,
        channel_id: str = DEFAULT_CHANNEL,
        message_ts: str | None = None,
        message: dict[str, Any] | None = None,
        block_id: str = "actions",
        trigger_id: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> SignedResponse:
        """POST a ``block_actions`` payload for a button click on a message (looked up by ``message_ts``)."""
        message = self._message_for(channel_id, message, message_ts)
        payload = self._interactive("block_actions", user_id, trigger_id)
        container = {"type": "message", "message_ts": message["ts"], "channel_id": channel_id, "is_ephemeral": False}
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        action = {"action_id": action_id, "block_id": block_id, "type": "button", "action_ts": next_ts()}
        if value is not None:
            action["value"] = value
        payload.update(
            container=container,
            channel={"id": channel_id, "name": self.channel_info(channel_id)["name"]},
            message=message,
            state={"values": {}},
            response_url=self.hook_url("actions", channel_id),
            actions=[action],
        )
        return await self._send("block_actions", payload, payload_body(payload), _FORM, opts)

    async def send_message_shortcut(
        self,
        callback_id: str,
        message: dict[str, Any] | str,
        *,
        user_id: str = DEFAULT_USER,
        channel_id: str = DEFAULT_CHANNEL,
        trigger_id: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> SignedResponse:
        """POST a ``message_action`` (message shortcut) on ``message`` (a message dict or a stored ts)."""
        msg = self._message_for(channel_id, None, message) if isinstance(message, str) else message
        payload = self._interactive("message_action", user_id, trigger_id)
        payload.update(
            callback_id=callback_id,
            action_ts=next_ts(),
            message_ts=msg["ts"],
            message=msg,
            channel={"id": channel_id, "name": self.channel_info(channel_id)["name"]},
            response_url=self.hook_url("shortcuts", channel_id),
        )
        return await self._send("message_action", payload, payload_body(payload), _FORM, opts)

    async def send_view_submission(
        self,
        callback_id: str | None = None,
        values: dict[str, dict[str, Any]] | None = None,
        *,
        private_metadata: str | None = None,
        user_id: str = DEFAULT_USER,
        view_id: str | None = None,
        trigger_id: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> SignedResponse:
        """POST a ``view_submission``. ``values`` is ``{block_id: {action_id: "text" | input dict}}``; with
        ``view_id`` of a view the app opened, its callback_id, private_metadata and blocks are reused."""
        view = copy.deepcopy(self.views.get(view_id or "", {}))
        view.setdefault("id", view_id or new_id("V"))
        view.setdefault("type", "modal")
        view.setdefault("blocks", [])
        view.update(team_id=self.team_id, app_id=self.app_id, bot_id=self.bot_id)
        if callback_id is not None:
            view["callback_id"] = callback_id
        if private_metadata is not None:
            view["private_metadata"] = private_metadata
        view.setdefault("private_metadata", "")
        view["state"] = {"values": view_state(values or {})}
        payload = self._interactive("view_submission", user_id, trigger_id)
        payload.update(view=view, response_urls=[])
        return await self._send("view_submission", payload, payload_body(payload), _FORM, opts)

    def _interactive(self, kind: str, user_id: str, trigger_id: str | None) -> dict[str, Any]:
        return interactive_base(
            kind,
            user_id=user_id,
            team_id=self.team_id,
            api_app_id=self.app_id,
            trigger_id=trigger_id or self.issue_trigger(),
        )

    def _message_for(self, channel: str, message: dict[str, Any] | None, ts: str | None) -> dict[str, Any]:
        if message is not None:
            return message
        if ts is None:
            raise ValueError("give message or message_ts")
        found = self.find_message(channel, ts)
        return copy.deepcopy(found) if found else {"type": "message", "ts": ts, "text": ""}

    async def _send(
        self, kind: str, payload: dict[str, Any], body: str, content_type: str, opts: SendOptions
    ) -> SignedResponse:
        url = opts.get("url") or self.app_url
        if url is None:
            raise RuntimeError("set app_url (or pass url=) before sending")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timestamp = opts.get("timestamp", int(time.time()))
        secret = self.signing_secret + ("-wrong" if opts.get("bad_signature") else "")
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, secret, timestamp),
        }
        if "retry_num" in opts:
            headers["X-Slack-Retry-Num"] = str(opts["retry_num"])
            headers["X-Slack-Retry-Reason"] = opts.get("retry_reason", "http_timeout")
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=opts.get("timeout", 10.0))
        async with self._session.post(url, data=body.encode(), headers=headers, timeout=timeout) as resp:
            result = SignedResponse(resp.status, await resp.text(), time.perf_counter() - started)
        self.sent.append(SentRequest(kind, payload, result, url, body, headers))
        return result

    async def replay(self, nth: int = -1) -> SignedResponse:
        """Deliver the `nth` request sent again, byte for byte, signature and timestamp included (an attacker who
        captured it, or a proxy that repeats it)."""
        original = self.sent[nth]
        assert self._session is not None
        async with self._session.post(original.url, data=original.body.encode(), headers=original.headers) as resp:
            result = SignedResponse(resp.status, await resp.text(), 0.0)
        self.sent.append(SentRequest(original.kind, original.payload, result, original.url, original.body,
                                     original.headers))
        return result
