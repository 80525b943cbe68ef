"""The Discord scenarios' harness: the adapter's `run()` over a real engine (`Bot`), a plain discord.py client for
the emulator's own tests (`EmuClient`), and readers of what the bot posted. Fixtures live in conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from adapters.discord.app import run
from adapters.discord.config import DiscordConfig
from core.engine import Engine, EngineConfig
from core.model import GeminiModel
from core.observe import Observer
from core.store import Store
from tests.emulators.discord import JSON, DiscordEmulator, InteractionRecord
from tests.emulators.gemini import GeminiEmulator
from tests.support import gemini_config, until

FLASH = "gemini-2.5-flash-image"
PRO = "gemini-3-pro-image"


class Bot:
    """The adapter's `run()` as a task over a fresh engine on one database (restartable on the same one): a SQLite
    file, or a PostgreSQL URL that several `Bot`s (processes) share."""

    def __init__(self, emu: DiscordEmulator, gemini: GeminiEmulator, db: Path | str) -> None:
        self.emu, self.gemini, self.db = emu, gemini, db
        self.task: asyncio.Task[None] | None = None
        self.engine: Engine | None = None
        self._closers: list = []

    async def start(
        self, *, model: str = FLASH, max_concurrency: int = 4, in_guild: bool = True,
        shard_count: int | None = None, shard_ids: tuple[int, ...] = (), observer: Observer | None = None,
    ) -> Engine:
        """`in_guild`: commands synced to the emulator's guild (DISCORD_GUILD_IDS), else globally (DMs too);
        `shard_count`/`shard_ids`: run these shards (DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS)."""
        store = await Store.open(self.db)
        gemini_model = GeminiModel(gemini_config(self.gemini))
        self._closers = [gemini_model.aclose, store.close]
        self.engine = Engine(
            store, gemini_model, EngineConfig(default_model=model, max_concurrency=max_concurrency, quota_delay_s=0.01),
            observer=observer,
        )
        config = DiscordConfig(
            token=self.emu.token,
            api_base=self.emu.api_base,
            gateway_url=self.emu.gateway_url,
            guild_ids=(int(self.emu.guild_id),) if in_guild else (),
            shutdown_grace_s=5,
            shard_count=shard_count,
            shard_ids=shard_ids,
        )
        ready = asyncio.Event()
        self.task = asyncio.create_task(run(self.engine, config, ready=ready, guild_ready_timeout=0.05))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self.task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            if self.task in done:
                self.task.result()
            raise TimeoutError("the bot did not become ready")
        return self.engine

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)
            self.task = None
        for close in self._closers:
            await close()
        self._closers = []

    async def restart(self, **kwargs: object) -> Engine:
        await self.stop()
        await until(lambda: not self.emu.connected, what="the old client to disconnect")
        return await self.start(**kwargs)  # type: ignore[arg-type]


def components(message: JSON) -> list[JSON]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


def custom_ids(message: JSON) -> list[str]:
    return [c["custom_id"] for c in components(message) if "custom_id" in c]


async def imagine_result(emu: DiscordEmulator, rec: InteractionRecord, *, thread: bool = True) -> JSON:
    """The finished /imagine result (the deferred response edited into the upload), once its thread is open."""

    def finished() -> bool:
        message = emu.messages.get(rec.original_message_id or "")
        return bool(message and message["attachments"] and (not thread or message["id"] in emu.threads))

    await until(finished, timeout=10, what="the /imagine result")
    return emu.messages[rec.original_message_id or ""]


async def imagine(emu: DiscordEmulator, options: JSON, **kwargs: Any) -> JSON:
    return await imagine_result(emu, await emu.invoke_slash("imagine", options, **kwargs))


class EmuClient(discord.Client):
    """A plain client with a command tree synced globally in setup_hook, as the bot does."""

    def __init__(self, *, message_content: bool = True, views: tuple[discord.ui.View, ...] = ()) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.ready = asyncio.Event()
        self.views_to_add = views
        self.received: list[discord.Message] = []
        self.resumed = asyncio.Event()

    async def setup_hook(self) -> None:
        for view in self.views_to_add:
            self.add_view(view)
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_resumed(self) -> None:
        self.resumed.set()

    async def on_message(self, message: discord.Message) -> None:
        if not message.author.bot:
            self.received.append(message)


Start = Callable[[EmuClient], Awaitable[EmuClient]]


async def stop_client(client: discord.Client, task: asyncio.Task[None]) -> None:
    await client.close()
    await asyncio.wait_for(task, 5)
    assert client.is_closed()
