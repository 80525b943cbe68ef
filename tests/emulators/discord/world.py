"""The Discord emulator's world: users, guilds, roles and permissions, channels, threads, DMs, messages and
attachments; building it, reading it back, and the helpers every other section uses to change it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from urllib.parse import quote

from tests.emulators.discord.payloads import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    CHANNEL_DM,
    CHANNEL_NEWS,
    CHANNEL_TEXT,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    JSON,
    MSG_DEFAULT,
    MSG_REPLY,
    THREAD_TYPES,
    TIER_UPLOAD_LIMITS,
    InteractionRecord,
    RecordedRequest,
    StoredFile,
    dm_channel_payload,
    form_error,
    guild_payload,
    member_payload,
    now_iso,
    rest_message,
    role_payload,
    sniff_image,
    snowflake,
    text_channel_payload,
    thread_payload,
    user_payload,
)
from tests.support import until

UserRef = JSON | str | None  # a user payload, a user id, or None for the default user


class World:
    """Part of `DiscordEmulator`: the state it holds, and the methods that build, change and read it."""

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
