"""Scenario: two bot processes, each running one of two Discord shards, sharing one PostgreSQL: each guild's
requests reach the process of its shard and are answered once, and only the process of shard 0 syncs commands."""

from __future__ import annotations

import asyncio

import pytest

from core.observe import Observer
from tests.emulators.discord import DiscordEmulator
from tests.scenarios.discord.harness import Bot, imagine

pytestmark = pytest.mark.scenario


class Made(Observer):
    def __init__(self) -> None:
        self.images = 0

    def produced(self, model: str, size: str | None, images: int, usd: float) -> None:
        self.images += images


def shard_of(guild_id: str, count: int = 2) -> int:
    return (int(guild_id) >> 22) % count  # Discord's rule


async def guild_on_the_other_shard(emu: DiscordEmulator) -> str:
    for _ in range(100):  # a guild id's shard follows its timestamp: a new guild a few ms later lands on either
        guild = emu.add_guild("second")
        if shard_of(guild) != shard_of(emu.guild_id):
            return guild
        await asyncio.sleep(0.003)
    raise AssertionError("no guild id fell on the other shard")


async def test_two_shard_processes_each_answer_their_guilds_once(discord_emu: DiscordEmulator, gemini, postgres_url):
    guild = await guild_on_the_other_shard(discord_emu)
    discord_emu.add_member(guild, discord_emu.user)
    second = discord_emu.add_text_channel(guild)
    made = {0: Made(), 1: Made()}
    processes = {shard: Bot(discord_emu, gemini, postgres_url) for shard in (0, 1)}
    try:
        for shard, process in processes.items():
            await process.start(in_guild=False, shard_count=2, shard_ids=(shard,), observer=made[shard])
        assert len(discord_emu.requests_to("PUT", r"/applications/\d+/commands")) == 1  # shard 0's process only

        first = await imagine(discord_emu, {"prompt": "a fox in the first guild"})
        other = await imagine(discord_emu, {"prompt": "a fox in the second guild"}, channel_id=second)
        assert first["attachments"] and other["attachments"]
        assert made[shard_of(discord_emu.guild_id)].images == 1
        assert made[1 - shard_of(discord_emu.guild_id)].images == 1
        assert len(gemini.requests) == 2
    finally:
        for process in reversed(processes.values()):  # each restores the discord.py globals it found
            await process.stop()
