"""What the Discord flows need of the running client, and nothing more: the engine, the work in flight, the
attachment downloader, and the client for its user and channel look-ups. The flows take this instead of the whole
`DiscordBot`, so no flow module imports the client module (not even for type checking)."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from adapters.discord.io import Downloader
from core.engine import Engine
from core.inflight import InFlight


@dataclass(frozen=True)
class FlowContext:
    engine: Engine
    work: InFlight
    downloader: Downloader
    client: discord.Client
