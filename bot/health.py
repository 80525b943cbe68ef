"""An optional health endpoint (`HEALTH_PORT`): liveness plus queue depth, calls in flight, recent failures."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web


async def start(host: str, port: int, stats: Callable[[], dict[str, object]]) -> web.AppRunner:
    """Serve `GET /healthz` (and `/`) until the returned runner is cleaned up."""
    started = time.monotonic()

    async def healthz(request: web.Request) -> web.Response:
        body = stats()
        status = "stopping" if body.get("closing") else "ok"
        return web.json_response({"status": status, "uptime_s": round(time.monotonic() - started, 1), **body},
                                 status=503 if status == "stopping" else 200)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
