"""Socket Mode for the Slack emulator: ``apps.connections.open`` hands out a WebSocket URL on the emulator, which
pushes envelopes (``slash_commands``, ``events_api``, ``interactive``) and records the app's acknowledgements.

Wire shapes: /work/shared/notes/slack-protocol.md (a.1, "Socket Mode").
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulators.slack.events import DEFAULT_CHANNEL, DEFAULT_USER, event_envelope, new_id, slash_command_body


class SocketModeLink:
    """Mixin for SlackEmulator: the host provides the attributes below and ``wait_for``-style polling."""

    url: str
    app_token: str
    team_id: str
    app_id: str
    bot_user_id: str

    def _init_socket_mode(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: dict[str, dict[str, Any]] = {}  # envelope_id -> what the app answered

    def hook_url(self, kind: str, channel: str) -> str:
        raise NotImplementedError

    def issue_trigger(self) -> str:
        raise NotImplementedError

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self.url.replace('http://', 'ws://')}/link/?ticket={new_id('tk')}&app_id={self.app_id}"}

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": self.app_id}})
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    ack = json.loads(message.data)
                    if "envelope_id" in ack:
                        self.socket_acks[ack["envelope_id"]] = ack
        finally:
            self.sockets.remove(ws)
        return ws

    async def push_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one envelope on the newest connection; returns its envelope_id (see ``socket_acks``)."""
        if not self.sockets:
            raise RuntimeError("no Socket Mode connection is open")
        envelope_id = new_id("env-")
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        await self.sockets[-1].send_json(envelope)
        return envelope_id

    async def push_slash_command(
        self, command: str, text: str = "", *, user_id: str = DEFAULT_USER, channel_id: str = DEFAULT_CHANNEL
    ) -> str:
        body = slash_command_body(
            command,
            text,
            user_id=user_id,
            channel_id=channel_id,
            team_id=self.team_id,
            api_app_id=self.app_id,
            response_url=self.hook_url("commands", channel_id),
            trigger_id=self.issue_trigger(),
        )
        return await self.push_envelope("slash_commands", dict(body))

    async def push_event(self, event: dict[str, Any]) -> str:
        body = event_envelope(event, team_id=self.team_id, api_app_id=self.app_id, bot_user_id=self.bot_user_id)
        return await self.push_envelope("events_api", body)

    async def close_sockets(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
