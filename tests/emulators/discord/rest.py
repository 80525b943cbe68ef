"""The Discord emulator's REST routes (users, application commands, guilds, channels, messages, threads, typing,
reactions) and the message building and upload checks they share with the interaction webhooks."""

from __future__ import annotations

import re

from aiohttp import web

from tests.emulators.discord.context import _body, _files, _request
from tests.emulators.discord.payloads import (
    ATTACH_FILES,
    CHANNEL_NEWS,
    CHANNEL_NEWS_THREAD,
    CHANNEL_PRIVATE_THREAD,
    CHANNEL_PUBLIC_THREAD,
    CHANNEL_TEXT,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    JSON,
    MANAGE_MESSAGES,
    MESSAGE_FLAGS_ALLOWED,
    MSG_DEFAULT,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_TYPES,
    ApiError,
    UploadedPart,
    command_response,
    form_error,
    guild_payload,
    json_response,
    member_payload,
    now_iso,
    rest_message,
    snowflake,
    thread_payload,
    validate_commands,
    validate_message,
    validate_thread_name,
)


class Rest:
    """Part of `DiscordEmulator`: the REST API's handlers."""

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
            msg["flags"] = keep | (int(body["flags"]) & MESSAGE_FLAGS_ALLOWED & ~FLAG_EPHEMERAL)
        if "attachments" in body or parts:
            msg["attachments"] = self._uploads(msg["channel_id"], body.get("attachments"), parts, msg["attachments"])
        if "content" in body:
            msg["mentions"] = self._mentions(msg["content"])

    def _require_permission(self, channel: JSON, permission: int) -> None:
        gid = channel.get("guild_id")
        if gid and not self.member_permissions(gid, self.bot_user["id"]) & permission:
            raise ApiError(403, 50013, "Missing Permissions")

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
        flags = int(body.get("flags") or 0) & MESSAGE_FLAGS_ALLOWED & ~FLAG_EPHEMERAL
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
