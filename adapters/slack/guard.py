"""Signed requests, guarded before Bolt reads them: a `X-Slack-Request-Timestamp` that is not a number is a 401
(Bolt's verifier would raise on it: a 500), and an identical signed slash command, interaction or event delivered
again inside Slack's 5-minute window is answered once (Bolt's signature check still judges every first delivery).
The deliveries are claimed in the database, so a replay sent to another worker behind the load balancer counts too.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

REPLAY_WINDOW_S = 6 * 60  # Slack refuses signatures older than 5 minutes; a minute more covers clock skew
KIND = "slack-request"


class Claims(Protocol):
    """What the guard needs of the engine: claims in the shared store (kept well past the replay window)."""

    async def claim(self, kind: str, name: str) -> bool: ...

    async def unclaim(self, kind: str, name: str) -> None: ...


def _header(req: AsyncBoltRequest, name: str) -> str | None:
    values = req.headers.get(name) or ()
    return values[0] if values else None


class GuardedApp(AsyncApp):
    """Bolt's AsyncApp with the guard in front of its dispatch (both HTTP and Socket Mode go through it)."""

    def __init__(self, *args: Any, claim: Claims, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claims = claim

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        timestamp, signature = _header(req, "x-slack-request-timestamp"), _header(req, "x-slack-signature")
        if timestamp is None and signature is None:  # Socket Mode: Slack's own connection, nothing signed
            return await super().async_dispatch(req)
        if timestamp is None or not (timestamp.isascii() and timestamp.isdigit()):
            return BoltResponse(status=401, body='{"error": "invalid request"}')
        key = hashlib.sha256(f"{timestamp}\n{signature}\n{req.raw_body}".encode()).hexdigest()
        if not await self._claims.claim(KIND, key):
            log.warning("a signed Slack request came again (to this worker or another); answered once")
            return BoltResponse(status=200, body="")
        response = await super().async_dispatch(req)
        if response.status == 401:  # not Slack's: its copies are judged (and refused) the same way
            await self._claims.unclaim(KIND, key)
        return response
