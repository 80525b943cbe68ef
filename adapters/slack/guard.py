"""Signed requests, guarded before Bolt reads them: a `X-Slack-Request-Timestamp` that is not a number is a 401
(Bolt's verifier would raise on it: a 500), and an identical signed slash command, interaction or event delivered
again inside Slack's 5-minute window is answered once (Bolt's signature check still judges every first delivery).
"""

from __future__ import annotations

import hashlib
import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from core.recent import Recent

log = logging.getLogger(__name__)

REPLAY_WINDOW_S = 6 * 60  # Slack refuses signatures older than 5 minutes; a minute more covers clock skew


def _header(req: AsyncBoltRequest, name: str) -> str | None:
    values = req.headers.get(name) or ()
    return values[0] if values else None


class GuardedApp(AsyncApp):
    """Bolt's AsyncApp with the guard in front of its dispatch (both HTTP and Socket Mode go through it)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._delivered = Recent(REPLAY_WINDOW_S)

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        timestamp, signature = _header(req, "x-slack-request-timestamp"), _header(req, "x-slack-signature")
        if timestamp is None and signature is None:  # Socket Mode: Slack's own connection, nothing signed
            return await super().async_dispatch(req)
        if timestamp is None or not (timestamp.isascii() and timestamp.isdigit()):
            return BoltResponse(status=401, body='{"error": "invalid request"}')
        key = hashlib.sha256(f"{timestamp}\n{signature}\n{req.raw_body}".encode()).hexdigest()
        if not self._delivered.claim(key):
            log.warning("a signed Slack request came again within %d s; answered once", REPLAY_WINDOW_S)
            return BoltResponse(status=200, body="")
        response = await super().async_dispatch(req)
        if response.status == 401:  # not Slack's: its copies are judged (and refused) the same way
            self._delivered.forget(key)
        return response
