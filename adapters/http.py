"""What both platforms need from HTTP: a download capped in size (whatever the sender claimed), redirects followed
by hand when asked (so credentials go only where they may, hop by hop), and the same-origin check behind it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from core.failures import BadInput
from core.images import MAX_INPUT_BYTES, too_large

REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 256 * 1024
_DEFAULT_PORTS = {"https": 443, "http": 80, "wss": 443, "ws": 80}


def port_of(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_origin(url: str, base: str) -> bool:
    """Is `url` on exactly the scheme, host and port of `base` (a configured API base)?"""
    a, b = urlsplit(url), urlsplit(base)
    return (
        a.scheme == b.scheme
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and port_of(a.scheme, a.port) == port_of(b.scheme, b.port)
    )


def clean_url(url: str) -> bool:
    """Does `url` parse one way only? An http(s) URL with a host, and no backslash, whitespace, control character
    or user name: parsers disagree about such URLs (which host a backslash ends), so they are refused, not guessed."""
    if not url.isascii() or any(c in url for c in "\\ \t\r\n") or any(ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc


def unparseable(name: str, source: str) -> BadInput:
    return BadInput(f"{source} gave a link to `{name}` that does not parse cleanly, so I did not open it. "
                    "Upload the image again.")


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url


@dataclass(frozen=True)
class Fetched:
    """An answer: `data` is read only for a 200; `url` is where it finally came from."""

    status: int
    url: str
    data: bytes = b""
    content_type: str = ""


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    name: str,
    *,
    source: str,
    headers_for: Callable[[str], Mapping[str, str]] | None = None,
    max_hops: int = 0,
    cap: int = MAX_INPUT_BYTES,
) -> Fetched:
    """GET `url`, following at most `max_hops` redirects (each hop's headers from `headers_for`), and read a 200's
    body up to `cap` bytes. BadInput names `name` and `source` ("Slack", "Discord") when it cannot."""
    for _ in range(max_hops + 1):
        if not clean_url(url):
            raise unparseable(name, source)
        headers = dict(headers_for(url)) if headers_for else {}
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            if max_hops and response.status in REDIRECTS and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                if urlsplit(url).scheme not in ("http", "https"):
                    raise BadInput(f"{source} redirected `{name}` somewhere I cannot follow. Send it again.")
                continue
            if response.status != 200:
                return Fetched(response.status, url)
            if response.content_length is not None and response.content_length > cap:
                raise BadInput(too_large(name, response.content_length, cap))
            data = await read_capped(response, cap, name)
            return Fetched(200, url, data, response.content_type or "")
    raise BadInput(f"{source} redirected `{name}` too many times. Send the image again.")


async def read_capped(response: aiohttp.ClientResponse, cap: int, name: str) -> bytes:
    """The body, stopping as soon as it passes `cap` (a missing or lying Content-Length cannot exhaust memory)."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(CHUNK):
        total += len(chunk)
        if total > cap:
            raise BadInput(too_large(name, None, cap))
        chunks.append(chunk)
    return b"".join(chunks)
