"""The composition root: the one place where settings, store, model, engine and adapters are made and closed.

Nothing is created at import time; `serve()` builds everything, runs the chosen adapters, and closes all of it
in reverse order whatever happens.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TextIO

from bot.offline import GeminiStandIn
from bot.settings import Settings
from core.engine import Engine, EngineConfig
from core.model import GeminiConfig, GeminiModel
from core.store import Store

log = logging.getLogger(__name__)


async def build_engine(settings: Settings, stack: AsyncExitStack, *, offline: bool) -> Engine:
    base_url, api_key = settings.gemini_base_url, settings.gemini_api_key
    if offline:
        stand_in = GeminiStandIn()
        base_url, api_key = await stand_in.start(), "offline"
        stack.push_async_callback(stand_in.stop)
        log.info("offline: Gemini is the built-in stand-in at %s", base_url)
    store = await Store.open(settings.db_path)
    stack.push_async_callback(store.close)
    model = GeminiModel(
        GeminiConfig(
            api_key=api_key or "",
            base_url=base_url,
            api_version=settings.gemini_api_version,
            timeout_s=settings.gemini_timeout_s,
            attempts=settings.gemini_retry_attempts,
            initial_delay_s=settings.gemini_retry_delay_s,
        )
    )
    stack.push_async_callback(model.aclose)
    return Engine(
        store,
        model,
        EngineConfig(
            default_model=settings.gemini_model,
            history_turns=settings.history_turns,
            max_concurrency=settings.max_concurrency,
        ),
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
    """Run the given platforms ("console", "discord", "slack") until they finish or are cancelled."""
    async with AsyncExitStack() as stack:
        engine = await build_engine(settings, stack, offline=offline)
        runs = []
        for platform in platforms:
            if platform == "console":
                from adapters import console_adapter

                runs.append(console_adapter.run(engine, stdin, stdout, out_dir))
            elif platform == "discord":
                from adapters import discord_adapter

                runs.append(discord_adapter.run(engine, settings))
            elif platform == "slack":
                from adapters import slack_adapter

                runs.append(slack_adapter.run(engine, settings, http=http))
        await asyncio.gather(*runs)
