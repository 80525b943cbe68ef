"""What the Discord adapter needs from the operator: built by the composition root (`bot/app.py`) from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DiscordConfig:
    """`api_base` / `gateway_url`: a REST or gateway proxy (DISCORD_API_BASE, DISCORD_GATEWAY_URL); `guild_ids`:
    sync commands to these guilds at once instead of globally; `shutdown_grace_s`: how long handlers in flight may
    go on posting once the bot is told to stop (BOT_SHUTDOWN_GRACE)."""

    token: str = field(repr=False)
    guild_ids: tuple[int, ...] = ()
    api_base: str | None = None
    gateway_url: str | None = None
    shutdown_grace_s: float = 30.0
