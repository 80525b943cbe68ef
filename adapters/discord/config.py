"""What the Discord adapter needs from the operator: built by the composition root (`bot/app.py`) from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DiscordConfig:
    """`api_base` / `gateway_url`: a REST or gateway proxy (DISCORD_API_BASE, DISCORD_GATEWAY_URL); `guild_ids`:
    sync commands to these guilds at once instead of globally; `shard_count`/`shard_ids`: run discord.py's sharded
    client over these shards of that many (DISCORD_SHARD_COUNT, DISCORD_SHARD_IDS; no ids: all of them);
    `shutdown_grace_s`: how long handlers in flight may
    go on posting once the bot is told to stop (BOT_SHUTDOWN_GRACE)."""

    token: str = field(repr=False)
    guild_ids: tuple[int, ...] = ()
    api_base: str | None = None
    gateway_url: str | None = None
    shard_count: int | None = None
    shard_ids: tuple[int, ...] = ()
    shutdown_grace_s: float = 30.0

    @property
    def syncs_commands(self) -> bool:
        """One process syncs the commands: the one running shard 0 (or the only one)."""
        return self.shard_count is None or not self.shard_ids or 0 in self.shard_ids
