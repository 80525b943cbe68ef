"""An optional health endpoint (`HEALTH_PORT`): liveness plus queue depth, calls in flight, recent failures; and
Prometheus metrics at `/metrics`."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from bot.metrics import CONTENT_TYPE, Metrics


async def start(
    host: str, port: int, stats: Callable[[], dict[str, object]], metrics: Metrics | None = None
) -> web.AppRunner:
    """Serve `GET /healthz` (and `/`), and `GET /metrics` when given, until the returned runner is cleaned up."""
    started = time.monotonic()

    async def healthz(request: web.Request) -> web.Response:
        body = stats()
        status = "stopping" if body.get("closing") else "ok"
        return web.json_response({"status": status, "uptime_s": round(time.monotonic() - started, 1), **body},
                                 status=503 if status == "stopping" else 200)

    async def scrape(request: web.Request) -> web.Response:
        assert metrics is not None
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    if metrics is not None:
        app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
