"""What the Discord flows need of the running client, and nothing more: the engine, the work in flight, the
attachment downloader, and the client for its user and channel look-ups. The flows take this instead of the whole
`DiscordBot`, so no flow module imports the client module (not even for type checking)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import discord

from adapters.discord.io import Downloader
from core.engine import Engine
from core.events import Event
from core.inflight import InFlight


@dataclass(frozen=True)
class FlowContext:
    engine: Engine
    work: InFlight
    downloader: Downloader
    client: discord.Client

    async def admit(self, attachments: Sequence[discord.Attachment], probe: Event) -> None:
        """An allow-list, limit or spent budget is said (raised) before any attachment is downloaded."""
        if attachments and (refusal := await self.engine.admit(probe)):
            raise refusal
