"""The Discord emulator's interactions: what a user does (messages, slash and message commands, buttons, selects,
modals) sent to the bot, and the callback and webhook endpoints the bot answers them on."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.emulators.discord.context import _body, _files
from tests.emulators.discord.payloads import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    JSON,
    MESSAGE_FLAGS_ALLOWED,
    MSG_CHAT_INPUT,
    MSG_CONTEXT_MENU,
    MSG_DEFAULT,
    ApiError,
    InteractionRecord,
    StoredFile,
    UploadedPart,
    form_error,
    iter_components,
    json_response,
    member_payload,
    modal_submit_components,
    rest_message,
    snowflake,
    validate_modal,
)
from tests.emulators.discord.world import UserRef


class Interactions:
    """Part of `DiscordEmulator`: injecting user actions, and the interaction callback and webhook routes."""

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
            flags = int(data.get("flags") or 0) & MESSAGE_FLAGS_ALLOWED
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
            flags = int(body.get("flags") or 0) & MESSAGE_FLAGS_ALLOWED
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
