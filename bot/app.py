"""The composition root: the one place where settings, store, model, engine and adapters are made and closed.

Nothing is created at import time; `serve()` builds everything, runs the chosen adapters, and closes all of it
in reverse order whatever happens.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from adapters.discord.config import DiscordConfig
from adapters.slack.config import SlackConfig
from bot import health
from bot.metrics import Metrics
from bot.offline import GeminiStandIn
from bot.settings import Settings, SettingsError
from core import images
from core.budget import Accountant, Limits
from core.costs import Prices
from core.discovery import discover
from core.engine import Engine, EngineConfig
from core.model import GeminiConfig, GeminiModel
from core.observe import Observer
from core.policy import Policy
from core.store import STORE_ERRORS, Store, database_url, describe

log = logging.getLogger(__name__)


def gemini_config(settings: Settings, base_url: str | None, api_key: str | None, *, offline: bool) -> GeminiConfig:
    """The model's settings: the Gemini API or Vertex AI (project and ADC, or an express-mode key)."""
    vertexai = settings.vertexai and not offline  # the stand-in speaks the Gemini API's paths
    return GeminiConfig(
        api_key=api_key or "",
        base_url=base_url,
        api_version="v1beta" if offline else settings.gemini_api_version,
        timeout_s=settings.gemini_timeout_s,
        attempts=settings.gemini_retry_attempts,
        initial_delay_s=settings.gemini_retry_delay_s,
        api=settings.gemini_api,
        store=settings.gemini_store,
        vertexai=vertexai,
        project=settings.cloud_project if vertexai else None,
        location=settings.cloud_location if vertexai else None,
    )


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def _freed_memory_goes_back() -> None:
    """glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which blocks that size
    come from per-thread heaps that seldom shrink: a fixed 1 MiB threshold keeps every image-sized buffer mapped, so
    freeing it returns it to the system. Not glibc (musl, macOS): nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        log.debug("not glibc: the allocator's thresholds are left as they are")


async def open_store(settings: Settings) -> Store:
    """The store at BOT_DATABASE_URL or BOT_DB_PATH; SettingsError naming the database and the setting when it
    cannot be opened."""
    try:
        return await Store.open(settings.database)
    except STORE_ERRORS + (SQLAlchemyError, RuntimeError) as error:  # SQLAlchemyError: a file that is no database
        if settings.database_url:
            raise SettingsError([
                f"could not open the database {describe(database_url(settings.database_url))} (BOT_DATABASE_URL): "
                f"{error}. Check that the server is up and reachable, and the user, password and database name"
            ]) from error
        raise SettingsError([
            f"could not open the database {settings.db_path} (BOT_DB_PATH): {error}. Check that the folder exists "
            "and is writable, the disk is not full, and no other program holds the file; or set BOT_DB_PATH to "
            "another file"
        ]) from error


async def build_engine(
    settings: Settings, stack: AsyncExitStack, *, offline: bool, observer: Observer | None = None
) -> Engine:
    base_url, api_key = settings.gemini_base_url, settings.gemini_api_key
    if offline:
        stand_in = GeminiStandIn()
        base_url, api_key = await stand_in.start(), "offline"
        stack.push_async_callback(stand_in.stop)
        log.info("offline: Gemini is the built-in stand-in at %s", base_url)
    images.configure_memory()
    _freed_memory_goes_back()
    store = await open_store(settings)
    stack.push_async_callback(store.close)
    model = GeminiModel(gemini_config(settings, base_url, api_key, offline=offline))
    stack.push_async_callback(model.aclose)
    lineup = await discover(model, settings.gemini_model)  # which models this key offers; never fatal
    limits = Limits(settings.user_daily_images, settings.daily_budget_usd, settings.monthly_budget_usd)
    return Engine(
        store,
        model,
        EngineConfig(
            default_model=settings.gemini_model,
            history_turns=settings.history_turns,
            max_concurrency=settings.max_concurrency,
            quota_attempts=settings.gemini_retry_attempts,
            quota_delay_s=settings.gemini_retry_delay_s,
            search_enabled=settings.search,
        ),
        policy=Policy(settings.allowed_spaces, settings.allowed_channels, settings.admins, settings.admin_roles),
        accountant=Accountant(store, limits, Prices.with_overrides(settings.prices)),
        lineup=lineup,
        observer=observer,
    )


def discord_config(settings: Settings) -> DiscordConfig:
    settings.require(offline=True, platforms=("discord",))
    assert settings.discord_token is not None
    return DiscordConfig(
        token=settings.discord_token,
        guild_ids=settings.discord_guild_ids,
        api_base=settings.discord_api_base,
        gateway_url=settings.discord_gateway_url,
        shard_count=settings.discord_shard_count,
        shard_ids=settings.discord_shard_ids,
        shutdown_grace_s=settings.shutdown_grace_s,
    )


def slack_config(settings: Settings, *, http: bool = False) -> SlackConfig:
    """HTTP mode (no app token, or `--http`) needs the signing secret: said here, before anything starts."""
    settings.require(offline=True, platforms=("slack",))
    assert settings.slack_bot_token is not None
    if http and not settings.slack_signing_secret:
        raise SettingsError(["Slack HTTP mode needs SLACK_SIGNING_SECRET (app settings → Basic Information)"])
    return SlackConfig(
        bot_token=settings.slack_bot_token,
        app_token=settings.slack_app_token,
        signing_secret=settings.slack_signing_secret,
        api_url=settings.slack_api_url,
        port=settings.port,
        shutdown_grace_s=settings.shutdown_grace_s,
    )


async def serve(
    settings: Settings,
    platforms: tuple[str, ...],
    *,
    offline: bool = False,
    out_dir: Path = Path("out"),
    http: bool = False,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    """Run the given platforms ("console", "discord", "slack") until they finish or SIGTERM/SIGINT arrives.

    On a signal: no new work is taken, requests in flight get `BOT_SHUTDOWN_GRACE` seconds to finish (the rest
    are told they were interrupted, their requests kept), then the adapters stop and the database is closed.
    """
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        engine = await build_engine(settings, stack, offline=offline, observer=metrics)
        metrics.watch(engine.stats)
        if settings.health_port is not None:
            runner = await health.start(settings.health_host, settings.health_port, engine.stats, metrics)
            stack.push_async_callback(runner.cleanup)
        runs: list[asyncio.Task[None]] = []
        for platform in platforms:
            if platform == "console":
                from adapters import console

                grace = settings.shutdown_grace_s
                runs.append(asyncio.create_task(console.run(engine, stdin, stdout, out_dir, grace)))
            elif platform == "discord":
                from adapters.discord import app as discord_app

                runs.append(asyncio.create_task(discord_app.run(engine, discord_config(settings))))
            elif platform == "slack":
                from adapters.slack import app as slack_app

                runs.append(asyncio.create_task(slack_app.run(engine, slack_config(settings, http=http), http=http)))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        stack.callback(lambda: [loop.remove_signal_handler(s) for s in (signal.SIGTERM, signal.SIGINT)])
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({*runs, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                log.info("stopping: finishing requests in flight (up to %.0f s)", settings.shutdown_grace_s)
            await engine.shutdown(settings.shutdown_grace_s)
        finally:
            stopping.cancel()
            for run in runs:
                run.cancel()  # adapters finish posting what they have, then close their connections
            results = await asyncio.gather(*runs, return_exceptions=True)
            failures = [r for r in results if isinstance(r, Exception)]
            for failure in failures:
                log.error("adapter failed", exc_info=failure)
        if failures:
            raise failures[0]
