"""The Discord emulator's gateway: the websocket discord.py connects to (IDENTIFY, RESUME, heartbeats, member
requests), sessions that replay what a dropped connection missed, and the dispatch of events to them."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from tests.emulators.discord.payloads import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    JSON,
    PRIVILEGED_INTENTS,
    member_payload,
)

_GUILD_EVENTS = ("GUILD_", "CHANNEL_", "THREAD_")


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


class Gateway:
    """Part of `DiscordEmulator`: gateway sessions, connections and event dispatch."""

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
        """Route and apply intents as Discord does: a guild's events go to the shard that owns the guild
        (`(guild_id >> 22) % shard_count`); drop events the session did not ask for, blank message content."""
        guild = data.get("id" if event == "GUILD_CREATE" else "guild_id") if isinstance(data, dict) else None
        if session.shard is not None and guild and (int(guild) >> 22) % session.shard[1] != session.shard[0]:
            return None
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
