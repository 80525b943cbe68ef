"""The Slack emulator's Web API methods (auth, chat, reactions, conversations, views, users) and the checks they
share: how slack-sdk sends arguments, Slack's errors, paging."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.emulators.slack.events import new_id, next_ts

_JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")


@dataclass
class ApiCall:
    """One Web API request as the emulator saw it (failed attempts included)."""

    method: str
    args: dict[str, Any]
    token: str | None
    status: int = 200
    response: dict[str, Any] | None = None
    peer: Any = None  # the client's (host, port): which connection carried the call


class _SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


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


def _raise(error: str) -> Any:
    raise _SlackError(error)


class WebApi:
    """Part of `SlackEmulator`: the Web API methods other than files, and the message store they share."""

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
