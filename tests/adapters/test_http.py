"""The HTTP both platforms share: same-origin checks, downloads capped whatever the server claims, redirects followed
by hand with each hop's own headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from adapters.http import fetch, same_origin
from core.failures import BadInput

pytestmark = pytest.mark.timeout(30)


def test_same_origin_means_scheme_host_and_port() -> None:
    assert same_origin("http://127.0.0.1:8080/files/a.png", "http://127.0.0.1:8080/api/")
    assert same_origin("https://Proxy.example/a", "https://proxy.example:443/api")  # default port, any case
    assert not same_origin("http://127.0.0.1:8081/a", "http://127.0.0.1:8080/api")
    assert not same_origin("http://proxy.example/a", "https://proxy.example/api")
    assert not same_origin("https://proxy.example.evil.test/a", "https://proxy.example/api")


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A local server: /img (small), /big (no Content-Length), /hop -> /img, /loop -> /loop, /gone (404)."""
    seen: list[dict[str, str]] = []

    async def img(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "auth": request.headers.get("Authorization", "")})
        return web.Response(body=b"x" * 100, content_type="image/png")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(20):
            await response.write(b"y" * 1000)
        await response.write_eof()
        return response

    async def hop(request: web.Request) -> web.Response:
        seen.append({"path": request.path, "auth": request.headers.get("Authorization", "")})
        raise web.HTTPFound("/img")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    app = web.Application()
    app.router.add_get("/img", img)
    app.router.add_get("/big", big)
    app.router.add_get("/hop", hop)
    app.router.add_get("/loop", loop)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_a_redirect_is_followed_by_hand_with_each_hops_own_headers(server) -> None:
    base, seen = server

    def headers_for(url: str) -> dict[str, str]:
        return {"Authorization": "Bearer t"} if url.endswith("/hop") else {}

    async with aiohttp.ClientSession() as session:
        got = await fetch(session, f"{base}/hop", "a.png", source="Slack", headers_for=headers_for, max_hops=2)
        assert got.status == 200 and got.data == b"x" * 100 and got.url == f"{base}/img"
        assert seen == [{"path": "/hop", "auth": "Bearer t"}, {"path": "/img", "auth": ""}]
        unfollowed = await fetch(session, f"{base}/hop", "a.png", source="Discord")
        assert unfollowed.status == 302 and unfollowed.data == b""  # no hops allowed: the caller says why
        with pytest.raises(BadInput, match="redirected `a.png` too many times"):
            await fetch(session, f"{base}/loop", "a.png", source="Slack", max_hops=3)
        assert (await fetch(session, f"{base}/gone", "a.png", source="Slack")).status == 404


async def test_a_body_is_cut_off_at_the_cap_whatever_was_claimed(server) -> None:
    base, _ = server
    async with aiohttp.ClientSession() as session:
        with pytest.raises(BadInput, match="larger than"):
            await fetch(session, f"{base}/big", "big.png", source="Discord", cap=5000)
        with pytest.raises(BadInput, match="images up to"):
            await fetch(session, f"{base}/img", "a.png", source="Discord", cap=50)  # Content-Length tells first
        assert len((await fetch(session, f"{base}/big", "big.png", source="Discord")).data) == 20_000
