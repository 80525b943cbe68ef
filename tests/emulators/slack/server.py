"""Local aiohttp servers for the Slack tests: the base the emulator runs on, `ForeignHost` (a host that is not
Slack, for redirects and refused downloads), and `serve_bolt_app` (a Bolt app on a local port)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web


@dataclass
class RecordedRequest:
    """Any request a ForeignHost received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _LocalServer:
    """An aiohttp server on a random port of ``host``; ``url_host`` (default ``host``) is what URLs name."""

    def __init__(self, host: str = "127.0.0.1", url_host: str | None = None) -> None:
        self.host = host
        self.url_host = url_host or host
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.url_host}:{self.port}"

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application(client_max_size=128 * 1024 * 1024)
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class ForeignHost(_LocalServer):
    """A non-Slack host (127.0.0.2 by default) that records every request, to prove no token is sent there."""

    def __init__(self, host: str = "127.0.0.2", url_host: str | None = None) -> None:
        super().__init__(host, url_host)
        self.requests: list[RecordedRequest] = []
        self._content: dict[str, tuple[int, bytes, str, dict[str, str]]] = {}

    def serve(self, path: str, data: bytes, content_type: str = "image/png") -> str:
        """Answer GET ``path`` with ``data``; returns the absolute URL."""
        self._content[path] = (200, data, content_type, {})
        return self.url + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self._content[path] = (status, b"", "text/plain", {"Location": location})
        return self.url + path

    @property
    def authorizations(self) -> list[str]:
        """Every Authorization header this host was sent (should stay empty)."""
        return [r.headers["Authorization"] for r in self.requests if "Authorization" in r.headers]

    def _routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/{tail:.*}", self._handle)]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body))
        if request.path not in self._content:
            return web.Response(status=404, text="not found")
        status, data, ctype, headers = self._content[request.path]
        return web.Response(status=status, body=data, content_type=ctype, headers=headers)


@asynccontextmanager
async def serve_bolt_app(app: Any, *, host: str = "127.0.0.1", path: str = "/slack/events") -> AsyncIterator[str]:
    """Serve a slack_bolt ``AsyncApp`` (or any aiohttp Application) on a random port; yields its events URL."""
    web_app = app if isinstance(app, web.Application) else app.web_app(path=path)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, 0).start()
        yield f"http://{host}:{runner.addresses[0][1]}{path}"
    finally:
        await runner.cleanup()
