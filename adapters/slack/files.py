"""Downloads of users' Slack files with the bot token, safely: the token only goes to Slack's own hosts (each
redirect hop is checked again), the size is checked before reading, and a login page is told apart from an image.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

import aiohttp

from adapters.slack.translate import REDIRECTS, FileRef, host_of, looks_like_html, token_allowed
from core.events import BadInput, Forbidden, ImageInput
from core.images import ACCEPTED, MAX_INPUT_BYTES, sniff

log = logging.getLogger(__name__)

MAX_HOPS = 5
CHUNK = 256 * 1024


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

    async def fetch(self, ref: FileRef) -> ImageInput:
        name = ref.name
        if ref.size is not None and ref.size > self._max:
            raise BadInput(f"`{name}` is {ref.size / 2**20:.1f} MiB; images up to {self._max / 2**20:.0f} MiB "
                           "are accepted. Post a smaller copy.")
        if ref.mimetype and not ref.mimetype.startswith("image/"):
            raise BadInput(f"`{name}` is not an image ({ref.mimetype}). Send {ACCEPTED}.")
        if not ref.url:
            raise BadInput(f"Slack did not give me a link to `{name}`. Post the image again.")
        if not self.allowed(ref.url):
            raise Forbidden(
                f"`{name}` is stored on {host_of(ref.url)}, outside Slack, so I did not download it: I only send my "
                "Slack token to Slack's own file hosts. Upload the image into Slack itself and try again."
            )
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = ref.url
        for _ in range(MAX_HOPS + 1):
            # Redirects are followed by hand so the token is attached per hop, only where it may go (a CDN
            # hop off Slack's hosts gets no Authorization header at all).
            headers = {"Authorization": f"Bearer {self._token}"} if self.allowed(url) else {}
            async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status in REDIRECTS and resp.headers.get("Location"):
                    url = urljoin(url, resp.headers["Location"])
                    if urlsplit(url).scheme not in ("http", "https"):
                        raise BadInput(f"Slack redirected `{name}` somewhere I cannot follow. Post it again.")
                    continue
                if resp.status != 200:
                    raise BadInput(
                        f"Slack answered HTTP {resp.status} for `{name}`"
                        + (": it may have been deleted. " if resp.status in (404, 410) else ". ")
                        + "Post the image again."
                    )
                if resp.content_length is not None and resp.content_length > self._max:
                    raise BadInput(f"`{name}` is {resp.content_length / 2**20:.1f} MiB; images up to "
                                   f"{self._max / 2**20:.0f} MiB are accepted. Post a smaller copy.")
                data = await self._read(resp, name)
                if sniff(data) is None and looks_like_html(data, resp.content_type or ""):
                    raise Forbidden(
                        f"Slack sent a sign-in page instead of `{name}`: the app is missing the `files:read` scope. "
                        "The operator should add it (see slack-manifest.yml) and reinstall the app."
                    )
                log.debug("downloaded %s (%d bytes) from %s", ref.id or name, len(data), host_of(url))
                return ImageInput(data, name)
        raise BadInput(f"Slack redirected `{name}` too many times. Post the image again.")

    async def _read(self, resp: aiohttp.ClientResponse, name: str) -> bytes:
        """The body, stopping as soon as it passes the cap (a missing or lying Content-Length cannot exhaust memory)."""
        chunks, total = [], 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            total += len(chunk)
            if total > self._max:
                raise BadInput(f"`{name}` is larger than {self._max / 2**20:.0f} MiB, the most I accept. "
                               "Post a smaller copy.")
            chunks.append(chunk)
        return b"".join(chunks)
