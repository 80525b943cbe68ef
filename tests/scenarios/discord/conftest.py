"""The Discord scenarios' fixtures: the Discord emulator, the bot under test on it, plain discord.py clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.emulators.discord import DiscordEmulator, point_discord_at
from tests.emulators.gemini import GeminiEmulator
from tests.scenarios.discord.harness import Bot, EmuClient, Start, stop_client


@pytest.fixture
async def discord_emu() -> AsyncIterator[DiscordEmulator]:
    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordEmulator() as emulator:
        yield emulator
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == before, "discord.py's globals must be restored"
    assert emulator.errors == []


@pytest.fixture
async def discord_bot(discord_emu: DiscordEmulator, gemini: GeminiEmulator, tmp_path: Path) -> AsyncIterator[Bot]:
    harness = Bot(discord_emu, gemini, tmp_path / "bot.db")
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def start_client(discord_emu: DiscordEmulator) -> AsyncIterator[Start]:
    """Start plain clients pointed at the emulator, in this loop, waiting for on_ready (surfacing startup errors);
    close them all and restore discord.py's globals afterwards."""
    restore = point_discord_at(discord_emu.api_base, discord_emu.gateway_url)
    running: list[tuple[EmuClient, asyncio.Task[None]]] = []

    async def run(client: EmuClient) -> EmuClient:
        task = asyncio.create_task(client.start(discord_emu.token))
        running.append((client, task))
        ready = asyncio.create_task(client.ready.wait())
        done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()  # raises the startup error
            raise TimeoutError("client did not become ready")
        return client

    try:
        yield run
        for client, task in running:
            await stop_client(client, task)
    finally:
        restore()
