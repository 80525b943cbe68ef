"""Downloads of users' Slack files with the bot token, safely: the token only goes to Slack's own hosts (each
redirect hop is checked again), the size is checked before reading, and a login page is told apart from an image.
"""

from __future__ import annotations

import logging

import aiohttp

from adapters.http import clean_url, fetch, host_of, unparseable
from adapters.slack.translate import FileRef, looks_like_html, token_allowed
from core import video
from core.events import ImageInput
from core.failures import BadInput, Forbidden
from core.images import MAX_INPUT_BYTES, check_declared, sniff

log = logging.getLogger(__name__)

MAX_HOPS = 5


class Downloader:
    """Fetches `url_private` bytes with one aiohttp session; every refusal is a Failure naming cause and remedy."""

    def __init__(
        self, token: str, api_url: str | None, *, max_bytes: int = MAX_INPUT_BYTES, timeout_s: float = 60.0
    ) -> None:
        self._token = token
        self._api_url = api_url
        self._max = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def allowed(self, url: str) -> bool:
        return token_allowed(url, self._api_url)

    def _headers(self, url: str) -> dict[str, str]:
        # Per hop: a CDN hop off Slack's hosts gets no Authorization header at all.
        return {"Authorization": f"Bearer {self._token}"} if self.allowed(url) else {}

    async def fetch(self, ref: FileRef) -> ImageInput:
        name = ref.name
        cap = max(self._max, video.MAX_VIDEO_BYTES) if ref.is_video else self._max
        check_declared(name, ref.size, is_image=ref.is_image or ref.is_video or not ref.mimetype,
                       mime_type=ref.mimetype, cap=cap)
        if not ref.url:
            raise BadInput(f"Slack did not give me a link to `{name}`. Post the image again.")
        if not clean_url(ref.url):
            raise unparseable(name, "Slack")
        if not self.allowed(ref.url):
            raise Forbidden(
                f"`{name}` is stored on {host_of(ref.url)}, outside Slack, so I did not download it: I only send my "
                "Slack token to Slack's own file hosts. Upload the image into Slack itself and try again."
            )
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        got = await fetch(self._session, ref.url, name, source="Slack", headers_for=self._headers,
                          max_hops=MAX_HOPS, cap=cap)
        if got.status != 200:
            raise BadInput(
                f"Slack answered HTTP {got.status} for `{name}`"
                + (": it may have been deleted. " if got.status in (404, 410) else ". ")
                + "Post the image again."
            )
        if sniff(got.data) is None and looks_like_html(got.data, got.content_type):
            raise Forbidden(
                f"Slack sent a sign-in page instead of `{name}`: the app is missing the `files:read` scope. "
                "The operator should add it (see slack-manifest.yml) and reinstall the app."
            )
        log.debug("downloaded %s (%d bytes) from %s", ref.id or name, len(got.data), host_of(got.url))
        return ImageInput(got.data, name)
